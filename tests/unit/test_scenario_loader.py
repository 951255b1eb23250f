"""The scenario loader refuses a bad file before anything runs, naming the file, the
step and the problem; and the runner's subset matching, which is pure too."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from simulator.scenarios.loader import ScenarioError, collect, duration_seconds, load, parse
from simulator.scenarios.runner import mismatch, wildcard_match
from simulator.scenarios.steps import Advance, Call, DnsFault, ExpectMailFrom, ExpectOutbox, RunChecks

PATH = "scenarios/broken.yaml"
ROOT = Path(__file__).resolve().parents[2]


def scenario(steps: str, header: str = "name: a story\n") -> str:
    return header + "steps:\n" + textwrap.indent(textwrap.dedent(steps).strip() + "\n", "  ")


def error_for(steps: str, header: str = "name: a story\n") -> ScenarioError:
    with pytest.raises(ScenarioError) as caught:
        parse(scenario(steps, header), PATH)
    return caught.value


CREATE = "- call: sesv2.create_email_identity\n  with: {EmailIdentity: example.com}\n"


# --------------------------------------------------------------------------- a good file


def test_a_valid_scenario_parses_into_typed_steps():
    parsed = parse(scenario("""
        - call: sesv2.put_email_identity_mail_from_attributes
          with: {EmailIdentity: example.com, MailFromDomain: mail.example.com, BehaviorOnMxFailure: REJECT_MESSAGE}
          region: eu-west-1
          account: "111122223333"
        - expect_mail_from: {identity: example.com, status: PENDING, domain: null}
        - expect_outbox: {count: 1, last: {mail_from_decision: rejected}}
        - dns_fault: {name: mail.example.com, fault: none}
        - advance: 71h59m
        - run_checks: {}
    """, "name: a story\nregion: ap-southeast-2\n"), PATH)

    assert parsed.name == "a story" and parsed.region == "ap-southeast-2" and parsed.path == PATH
    call, mail_from, outbox, fault, advance, checks = parsed.steps
    assert isinstance(call, Call)
    assert (call.number, call.service, call.method, call.operation) == (
        1, "sesv2", "put_email_identity_mail_from_attributes", "PutEmailIdentityMailFromAttributes")
    assert (call.region, call.account) == ("eu-west-1", "111122223333")
    assert isinstance(mail_from, ExpectMailFrom) and mail_from.expected == {"status": "PENDING", "domain": None}
    assert isinstance(outbox, ExpectOutbox) and outbox.count == 1
    assert isinstance(fault, DnsFault) and fault.fault == "none"
    assert isinstance(advance, Advance) and advance.seconds == 71 * 3600 + 59 * 60
    assert isinstance(checks, RunChecks) and checks.identity is None


def test_region_defaults_to_us_east_1():
    assert parse(scenario(CREATE), PATH).region == "us-east-1"


def test_each_step_knows_its_line():
    parsed = parse(scenario(CREATE + "- advance: 2m\n"), PATH)

    assert [s.line for s in parsed.steps] == [3, 5]


def test_an_unquoted_twelve_digit_account_is_read_as_the_account_id():
    parsed = parse(scenario("- run_checks: {}\n  account: 111122223333\n"), PATH)

    assert parsed.steps[0].account == "111122223333"


def test_every_scenario_in_the_library_loads():
    files = collect([ROOT / "scenarios"])

    assert files, "the scenarios/ folder holds no scenario"
    for path in files:
        load(path)


# --------------------------------------------------------------------------- every message names file and step


def test_an_unknown_step_kind_is_named_with_file_step_and_a_suggestion():
    error = error_for(CREATE + "- dns_ad: {name: mail.example.com, type: MX, value: '10 x.example.com'}\n")

    assert str(error).startswith(f"{PATH}: step 2 (line 5): ")
    assert "unknown step kind 'dns_ad'" in str(error)
    assert "did you mean dns_add?" in str(error)
    assert (error.path, error.step, error.line) == (PATH, 2, 5)


def test_a_step_with_two_kinds_is_refused():
    error = error_for("- advance: 2m\n  run_checks: {}\n")

    assert "step 1" in str(error) and "one step, one kind" in str(error)


def test_a_step_that_is_not_a_mapping_is_refused():
    error = error_for("- advance 2m\n")

    assert "step 1" in str(error) and "a step is a mapping" in str(error)


@pytest.mark.parametrize("step, problem", [
    ("- expect_mail_from: {status: PENDING}", "expect_mail_from is missing 'identity'"),
    ("- dns_add: {name: mail.example.com, type: MX}", "dns_add is missing 'value'"),
    ("- dns_remove: {name: mail.example.com}", "dns_remove is missing 'type'"),
    ("- dns_fault: {name: mail.example.com}", "dns_fault is missing 'fault'"),
    ("- set_verification: {identity: example.com}", "set_verification is missing 'status'"),
])
def test_a_missing_key_is_named(step, problem):
    error = error_for(step)

    assert str(error).startswith(f"{PATH}: step 1 (line 3): ") and problem in str(error)


@pytest.mark.parametrize("step, problem", [
    ("- expect_mail_from: {identity: example.com, state: PENDING}", "unknown key 'state' in expect_mail_from"),
    ("- expect_outbox: {count: 1, first: {}}", "unknown key 'first' in expect_outbox"),
    ("- dns_add: {name: a.example.com, type: A, value: 192.0.2.1, priority: 10}", "unknown key 'priority' in dns_add"),
    ("- run_checks: {domain: mail.example.com}", "unknown key 'domain' in run_checks"),
    ("- call: sesv2.get_account\n  expected: {}", "unknown key 'expected' in the call step"),
    ("- advance: 2m\n  region: eu-west-1", "unknown key 'region' in the advance step"),
    ("- dns_add: {name: a.example.com, type: A, value: 192.0.2.1}\n  account: '111122223333'",
     "unknown key 'account' in the dns_add step"),
])
def test_an_unknown_key_is_named(step, problem):
    error = error_for(step)

    assert "step 1" in str(error) and problem in str(error)


def test_region_inside_the_step_body_points_to_where_it_belongs():
    error = error_for("- expect_outbox: {count: 1, region: eu-west-1}")

    assert "region and account go beside the step kind" in str(error)


@pytest.mark.parametrize("duration", ["2 weeks", "-5s", "5x", "h", "", "1h2", True, None, -1, "3y"])
def test_a_bad_duration_is_named(duration):
    step = f"- advance: {duration!r}" if isinstance(duration, str) else f"- advance: {str(duration).lower() if duration is not None else 'null'}"

    error = error_for(CREATE + step)

    assert str(error).startswith(f"{PATH}: step 2 (line 5): advance: ") and "duration" in str(error)


@pytest.mark.parametrize("text, seconds", [
    (90, 90), (1.5, 1.5), ("90", 90), ("90s", 90), ("2m", 120), ("72h", 259200), ("3d", 259200),
    ("71h59m", 259140), ("1d 12h", 129600), ("0", 0),
])
def test_durations_are_seconds_or_numbers_with_a_unit(text, seconds):
    assert duration_seconds(text) == seconds


def test_a_duration_beyond_the_simulators_limit_is_refused():
    error = error_for("- advance: 11000d")

    assert "step 1" in str(error) and "10 years" in str(error)


def test_an_unknown_service_is_named():
    error = error_for("- call: sns.publish\n  with: {Message: hi}")

    assert "step 1" in str(error) and "unknown service 'sns'" in str(error) and "sesv2, pinpoint-email, ses" in str(error)


def test_an_unknown_boto3_method_is_checked_against_the_service_model():
    error = error_for(CREATE + "- call: sesv2.put_email_identity_mail_from_attribute\n  with: {EmailIdentity: example.com}")

    assert str(error).startswith(f"{PATH}: step 2 (line 5): ")
    assert "sesv2 has no boto3 method 'put_email_identity_mail_from_attribute'" in str(error)
    assert "did you mean put_email_identity_mail_from_attributes?" in str(error)


def test_a_v1_method_called_on_the_v2_service_is_refused():
    error = error_for("- call: sesv2.set_identity_mail_from_domain\n  with: {Identity: example.com}")

    assert "sesv2 has no boto3 method 'set_identity_mail_from_domain'" in str(error)


def test_client_helpers_that_are_not_operations_are_refused():
    error = error_for("- call: ses.get_paginator\n  with: {}")

    assert "ses has no boto3 method 'get_paginator'" in str(error)


def test_a_call_without_a_service_is_refused():
    error = error_for("- call: create_email_identity")

    assert "step 1" in str(error) and "<service>.<boto3 method>" in str(error)


def test_call_parameters_are_checked_against_the_operation():
    error = error_for("- call: sesv2.put_email_identity_mail_from_attributes\n"
                      "  with: {EmailIdentity: example.com, MailFromDomian: mail.example.com}")

    assert "step 1" in str(error) and "MailFromDomian" in str(error) and "PutEmailIdentityMailFromAttributes" in str(error)


def test_a_missing_required_parameter_is_named():
    error = error_for("- call: ses.set_identity_mail_from_domain\n  with: {MailFromDomain: mail.example.com}")

    assert "step 1" in str(error) and "Identity" in str(error)


def test_expect_members_are_checked_against_the_response_shape():
    error = error_for("- call: sesv2.get_email_identity\n  with: {EmailIdentity: example.com}\n"
                      "  expect: {MailFromAttributes: {MailFromDomainState: PENDING}}")

    assert "step 1" in str(error) and "MailFromAttributes.MailFromDomainState is not in it" in str(error)


def test_expect_and_expect_error_together_are_refused():
    error = error_for("- call: sesv2.get_account\n  expect: {SendingEnabled: true}\n  expect_error: NotFoundException")

    assert "step 1" in str(error) and "expect or expect_error, not both" in str(error)


@pytest.mark.parametrize("step, problem", [
    ("- expect_mail_from: {identity: example.com, status: VERIFIED}", "status 'VERIFIED' is not one of"),
    ("- expect_mail_from: {identity: example.com, behavior: UseDefaultValue}", "behavior 'UseDefaultValue' is not one of"),
    ("- expect_outbox: {}", "needs count, last or both"),
    ("- expect_outbox: {count: many}", "count must be a whole number"),
    ("- expect_outbox: {last: envelope}", "last must be a non-empty mapping"),
    ("- dns_fault: {name: mail.example.com, fault: flaky}", "fault 'flaky' is not one of timeout, servfail, refused, none"),
    ("- dns_add: {name: mail.example.com, type: SRV, value: x}", "type 'SRV' is not one of"),
    ("- dns_add: {name: mail.example.com, type: MX, value: '10 x.example.com', ttl: soon}", "ttl must be"),
    ("- run_checks: {identity: example.com}\n  region: Europe", "region 'Europe' is not a region name"),
    ("- run_checks: {}\n  account: '1234'", "account '1234' is not a 12-digit account id"),
    ("- call: sesv2.get_account\n  expect_error: 42", "expect_error must be an error code"),
    ("- set_verification: {identity: example.com, status: VERIFIED}", "status 'VERIFIED' is not one of"),
    ("- set_sandbox: yes please", "set_sandbox must be true or false"),
    ("- advance: " + "9" * 400, "is longer than the simulator's limit of 10 years"),  # too large for a float
    ("- smtp_send: {from: app@example.com, to: []}", "must list at least one recipient"),
    ("- smtp_send: {from: app@example.com, to: [u@example.org]}\n  expect_code: true",
     "must be an SMTP reply code from 200 to 599"),
])
def test_a_bad_value_is_named(step, problem):
    error = error_for(step)

    assert str(error).startswith(f"{PATH}: step 1 (line 3): ") and problem in str(error)


# --------------------------------------------------------------------------- the file as a whole


@pytest.mark.parametrize("text, problem", [
    ("steps:\n  - advance: 1m\n", "name is required"),
    ("name: a story\n", "steps is required"),
    ("name: a story\nsteps: []\n", "steps is required"),
    ("name: a story\nsteps:\n  - advance: 1m\nrepeat: 3\n", "unknown top-level key 'repeat'"),
    ("name: a story\nregion: mars\nsteps:\n  - advance: 1m\n", "region 'mars' is not a region name"),
    ("- advance: 1m\n", "a scenario is a mapping"),
])
def test_a_bad_file_is_named(text, problem):
    with pytest.raises(ScenarioError) as caught:
        parse(text, PATH)

    assert str(caught.value).startswith(f"{PATH}: ") and problem in str(caught.value)


def test_invalid_yaml_is_reported_with_its_line():
    with pytest.raises(ScenarioError) as caught:
        parse("name: a story\nsteps:\n  - advance: [1m\n  - run_checks: {}\n", PATH)

    assert str(caught.value).startswith(f"{PATH}: line ") and "not valid YAML" in str(caught.value)


def test_load_names_the_file_it_read(tmp_path):
    path = tmp_path / "typo.yaml"
    path.write_text(scenario(CREATE + "- expect_mail_from: {identity: example.com, status: DONE}\n"))

    with pytest.raises(ScenarioError) as caught:
        load(path)

    assert str(caught.value).startswith(f"{path}: step 2 (line 5): ")


def test_collect_takes_files_and_folders_sorted_and_skips_the_readme(tmp_path):
    for name in ("b.yaml", "a.yml", "README.md", "notes.txt"):
        (tmp_path / name).write_text("x")

    assert collect([tmp_path]) == [tmp_path / "a.yml", tmp_path / "b.yaml"]
    assert collect([tmp_path / "b.yaml", tmp_path]) == [tmp_path / "b.yaml", tmp_path / "a.yml", tmp_path / "b.yaml"]


def test_collect_refuses_a_path_that_does_not_exist(tmp_path):
    with pytest.raises(ScenarioError) as caught:
        collect([tmp_path / "missing.yaml"])

    assert "no such file or folder" in str(caught.value)


# --------------------------------------------------------------------------- subset matching (runner, pure)


@pytest.mark.parametrize("pattern, text, matches", [
    ("0100*", "0100abc-000000", True),
    ("*@mail.example.com", "0100x@mail.example.com", True),
    ("*@mail.example.com", "0100x@mail.example.com.evil", False),
    ("*@amazonses.com", "0100x@eu-west-1.amazonses.com", False),
    ("a.b", "axb", False),  # only * is special
    ("a?c", "abc", False),
    ("[x]", "[x]", True),
    ("*", "", True),
])
def test_wildcards_are_only_stars(pattern, text, matches):
    assert wildcard_match(pattern, text) is matches


def test_a_subset_of_a_mapping_matches():
    assert mismatch({"a": {"b": "x*"}}, {"a": {"b": "xyz", "c": 1}, "d": 2}) is None


def test_a_differing_value_is_reported_with_its_path():
    assert mismatch({"a": {"b": "SUCCESS"}}, {"a": {"b": "PENDING"}}) == "a.b: expected SUCCESS, got PENDING"


def test_null_matches_an_absent_key_but_not_a_present_value():
    assert mismatch({"MailFromDomain": None}, {}) is None
    assert mismatch({"MailFromDomain": None}, {"MailFromDomain": "mail.example.com"}) is not None


def test_a_missing_key_is_reported():
    assert mismatch({"MessageId": "0100*"}, {}) == "MessageId: expected 0100*, got nothing"


def test_lists_match_element_by_element_with_the_same_length():
    actual = {"items": [{"name": "a", "x": 1}, {"name": "b", "x": 2}]}

    assert mismatch({"items": [{"name": "a"}, {"name": "b"}]}, actual) is None
    assert "expected 1 item(s), got 2" in mismatch({"items": [{"name": "a"}]}, actual)
    assert mismatch({"items": [{"name": "b"}, {"name": "a"}]}, actual) == "items[0].name: expected b, got a"
    assert mismatch({"items": []}, {"items": []}) is None


def test_booleans_and_numbers_compare_strictly():
    assert mismatch({"n": 1}, {"n": 1.0}) is None
    assert mismatch({"flag": True}, {"flag": 1}) is not None
    assert mismatch({"flag": False}, {"flag": False}) is None
    assert mismatch({"n": "1"}, {"n": 1}) is not None


def test_yaml_nested_too_deeply_is_a_scenario_error_not_a_crash():
    error = error_for("- advance: " + "[" * 3000 + "]" * 3000)
    assert str(error) == f"{PATH}: not a scenario: its YAML is nested too deeply"


@pytest.mark.parametrize("status", ["PENDING", "SUCCESS", "FAILED", "TEMPORARY_FAILURE", "NOT_STARTED"])
def test_set_verification_takes_every_status_the_control_plane_does(status):
    parsed = parse(scenario(f"- set_verification: {{identity: example.com, status: {status}}}\n"), PATH)
    assert parsed.steps[0].set_verification.status == status


def test_a_key_given_twice_is_an_error_not_the_last_one_silently():
    error = error_for("- advance: 1m\n", header="name: a story\nsteps:\n  - advance: 2m\n")
    assert "the key 'steps' is given twice" in str(error) and "line 4" in str(error)
