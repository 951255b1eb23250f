"""SPEC §4 through real DNS: the embedded server answers over loopback, dnspython
looks up, the facade moves the state; time moves only through the clock."""
import pytest

from tests.helpers import SimulatorProcess, SimControl, aws_client

MAIL = "mail.example.com"
HOUR = 3600


@pytest.fixture
def configured(sesv2, control):
    sesv2.create_email_identity(EmailIdentity="example.com")
    sesv2.put_email_identity_mail_from_attributes(EmailIdentity="example.com", MailFromDomain=MAIL,
                                                  BehaviorOnMxFailure="USE_DEFAULT_VALUE")
    return sesv2


def status(sesv2) -> str:
    return sesv2.get_email_identity(EmailIdentity="example.com")["MailFromAttributes"].get("MailFromDomainStatus")


def check(control) -> list[dict]:
    return control.ok("POST", "/_sim/checks/run", {})["checks"]


def advance(control, seconds: float) -> dict:
    return control.ok("POST", "/_sim/clock/advance", {"seconds": seconds})


def servfail(control, name=MAIL):
    control.ok("PUT", f"/_sim/dns/faults/{name}", {"fault": "servfail"})


def clear_fault(control, name=MAIL):
    control.ok("DELETE", f"/_sim/dns/faults/{name}")


def to_success(control, sesv2):
    control.add_mx(MAIL)
    check(control)
    assert status(sesv2) == "SUCCESS"


def to_temporary_failure(control, sesv2):
    servfail(control)
    check(control)
    assert status(sesv2) == "TEMPORARY_FAILURE"


# --- PENDING ----------------------------------------------------------------------
def test_pending_becomes_success_when_the_mx_is_published(configured, control):
    control.add_mx(MAIL)
    assert check(control)[0]["lookup"]["outcome"] == "FOUND"
    assert status(configured) == "SUCCESS"


def test_pending_stays_pending_while_the_mx_is_missing(configured, control):
    assert check(control)[0]["lookup"]["error"].startswith("NXDOMAIN")
    assert status(configured) == "PENDING"


@pytest.mark.parametrize("records, reason", [
    ([("MX", "10 mx.elsewhere.com")], "elsewhere"),
    ([("MX", "10 feedback-smtp.us-east-1.amazonses.com"), ("MX", "20 mx.elsewhere.com")], "exactly one"),
    ([("MX", "10 feedback-smtp.eu-west-1.amazonses.com")], "us-east-1"),
    ([("TXT", "v=spf1 include:amazonses.com ~all")], "MX"),
])
def test_a_wrong_mx_set_counts_as_missing(configured, control, records, reason):
    for type_, value in records:
        control.ok("POST", "/_sim/dns/records", {"name": MAIL, "type": type_, "value": value})
    result = check(control)[0]
    assert result["lookup"]["outcome"] == "MISSING" and reason.lower() in result["lookup"]["error"].lower()
    assert status(configured) == "PENDING"


@pytest.mark.parametrize("fault", ["servfail", "refused", "timeout"])
def test_pending_becomes_temporary_failure_on_a_dns_failure(configured, control, fault):
    control.ok("PUT", f"/_sim/dns/faults/{MAIL}", {"fault": fault})
    assert check(control)[0]["lookup"]["outcome"] == "TRANSIENT"
    assert status(configured) == "TEMPORARY_FAILURE"


def test_pending_fails_after_72_hours_through_the_clock(configured, control):
    advance(control, 72 * HOUR - 120)
    assert status(configured) == "PENDING"
    advance(control, 120)
    assert status(configured) == "FAILED"
    assert control.history("example.com")[-1]["event"] == "DEADLINE_PASSED"


# --- TEMPORARY_FAILURE -------------------------------------------------------------
def test_temporary_failure_recovers_to_success(configured, control):
    to_temporary_failure(control, configured)
    clear_fault(control)
    to_success(control, configured)


def test_temporary_failure_stays_while_dns_keeps_failing(configured, control):
    to_temporary_failure(control, configured)
    advance(control, 10 * 60)
    assert status(configured) == "TEMPORARY_FAILURE"


def test_temporary_failure_back_to_pending_keeps_the_first_deadline(configured, control):
    advance(control, 70 * HOUR)
    to_temporary_failure(control, configured)
    clear_fault(control)
    check(control)
    assert status(configured) == "PENDING"
    advance(control, 2 * HOUR + 60)  # past the deadline set by the original Put
    assert status(configured) == "FAILED"


def test_temporary_failure_fails_at_the_deadline(configured, control):
    to_temporary_failure(control, configured)
    advance(control, 72 * HOUR)
    assert status(configured) == "FAILED"


# --- SUCCESS -----------------------------------------------------------------------
def test_success_stays_success_while_the_record_is_there(configured, control):
    to_success(control, configured)
    advance(control, 7 * 24 * HOUR)
    assert status(configured) == "SUCCESS"


def test_success_fails_when_the_record_disappears(configured, control):
    to_success(control, configured)
    control.remove_records(MAIL)
    check(control)
    assert status(configured) == "FAILED"


def test_success_with_a_dns_outage_gets_a_fresh_72_hours(configured, control):
    advance(control, 71 * HOUR)
    to_success(control, configured)
    to_temporary_failure(control, configured)
    advance(control, 71 * HOUR)  # the original deadline has long passed
    assert status(configured) == "TEMPORARY_FAILURE"
    advance(control, HOUR + 60)
    assert status(configured) == "FAILED"


# --- FAILED and Puts ------------------------------------------------------------
def test_failed_is_not_checked_again_until_the_next_put(configured, control):
    advance(control, 73 * HOUR)
    control.add_mx(MAIL)
    advance(control, HOUR)
    assert status(configured) == "FAILED"
    configured.put_email_identity_mail_from_attributes(EmailIdentity="example.com", MailFromDomain=MAIL)
    assert status(configured) == "PENDING"
    advance(control, 61)
    assert status(configured) == "SUCCESS"


def test_a_put_with_the_same_domain_changes_only_the_behavior(configured, control):
    to_success(control, configured)
    configured.put_email_identity_mail_from_attributes(EmailIdentity="example.com", MailFromDomain=MAIL,
                                                       BehaviorOnMxFailure="REJECT_MESSAGE")
    attributes = configured.get_email_identity(EmailIdentity="example.com")["MailFromAttributes"]
    assert (attributes["MailFromDomainStatus"], attributes["BehaviorOnMxFailure"]) == ("SUCCESS", "REJECT_MESSAGE")


def test_a_put_with_another_domain_restarts_pending(configured, control):
    to_success(control, configured)
    configured.put_email_identity_mail_from_attributes(EmailIdentity="example.com", MailFromDomain="bounce.example.com")
    assert status(configured) == "PENDING"


def test_a_put_without_a_domain_stops_the_checks(configured, control):
    configured.put_email_identity_mail_from_attributes(EmailIdentity="example.com")
    assert check(control) == []
    assert advance(control, 73 * HOUR)["checked"] == 0


def test_deleting_the_identity_stops_the_checks(configured, control):
    configured.delete_email_identity(EmailIdentity="example.com")
    assert advance(control, 73 * HOUR)["checked"] == 0


# --- history and control plane ------------------------------------------------------
def test_history_records_outcome_answers_and_errors(configured, control):
    check(control)
    control.add_mx(MAIL)
    check(control)
    history = control.history("example.com")
    assert [(h["from"], h["to"], h["outcome"]) for h in history] == [
        (None, "PENDING", None), ("PENDING", "PENDING", "MISSING"), ("PENDING", "SUCCESS", "FOUND")]
    assert history[1]["error"].startswith("NXDOMAIN")
    assert history[2]["answers"] == ["10 feedback-smtp.us-east-1.amazonses.com."]


def test_the_spf_record_is_reported_but_does_not_decide(configured, control):
    control.ok("POST", "/_sim/dns/records", {"name": MAIL, "type": "TXT", "value": "v=spf1 include:amazonses.com ~all"})
    result = check(control)[0]
    assert result["lookup"]["spf"] == "v=spf1 include:amazonses.com ~all" and result["to"] == "PENDING"


def test_checks_run_for_one_identity_only_when_asked(configured, control):
    configured.create_email_identity(EmailIdentity="example.org")
    configured.put_email_identity_mail_from_attributes(EmailIdentity="example.org", MailFromDomain="mail.example.org")
    checks = control.ok("POST", "/_sim/checks/run", {"identity": "example.org"})["checks"]
    assert [c["identity"] for c in checks] == ["example.org"]


def test_regions_are_checked_against_their_own_feedback_host(client_for, control):
    eu = client_for("sesv2", region="eu-west-1")
    eu.create_email_identity(EmailIdentity="example.com")
    eu.put_email_identity_mail_from_attributes(EmailIdentity="example.com", MailFromDomain=MAIL)
    control.add_mx(MAIL, "feedback-smtp.eu-west-1.amazonses.com")
    control.ok("POST", "/_sim/checks/run?region=eu-west-1", {})
    assert eu.get_email_identity(EmailIdentity="example.com")["MailFromAttributes"]["MailFromDomainStatus"] == "SUCCESS"


def test_checks_run_without_a_scope_checks_every_account_and_region(configured, client_for, control):
    """SPEC §7: "all active configs" -- not only the default account's region."""
    others = [client_for("sesv2", region="eu-west-1"), client_for("sesv2", account="123456789012")]
    for other in others:
        other.create_email_identity(EmailIdentity="example.net")
        other.put_email_identity_mail_from_attributes(EmailIdentity="example.net", MailFromDomain="mail.example.net")
    checked = {(c["account"], c["region"], c["identity"]) for c in check(control)}
    assert checked == {("000000000000", "us-east-1", "example.com"), ("000000000000", "eu-west-1", "example.net"),
                       ("123456789012", "us-east-1", "example.net")}
    scoped = control.ok("POST", "/_sim/checks/run?region=eu-west-1", {})["checks"]
    assert [(c["region"], c["identity"]) for c in scoped] == [("eu-west-1", "example.net")]


@pytest.mark.parametrize("record", [
    {"name": "bad..name", "type": "MX", "value": "10 x.com"},
    {"name": "mail.example.com", "type": "MX", "value": "ten x.com"},
    {"name": "mail.example.com", "type": "BOGUS", "value": "x"},
    {"name": "mail.example.com", "type": "A", "value": "999.1.1.1"},
    {"name": "mail.example.com", "type": "MX", "value": "10 x.com", "ttl": -1},
])
def test_invalid_records_are_refused_and_change_nothing(control, record):
    status_code, payload = control.call("POST", "/_sim/dns/records", record)
    assert (status_code, payload["error"]["code"]) == (400, "VALIDATION_ERROR")
    assert control.ok("GET", "/_sim/dns/records")["records"] == []


@pytest.mark.parametrize("body", [{"fault": "explode"}, {}, {"faults": "servfail"}])
def test_an_unknown_or_missing_fault_kind_is_refused_and_changes_nothing(live, control, body):
    import dns.message
    import dns.query
    import dns.rcode

    control.ok("PUT", f"/_sim/dns/faults/{MAIL}", {"fault": "servfail"})
    status_code, payload = control.call("PUT", f"/_sim/dns/faults/{MAIL}", body)
    assert (status_code, payload["error"]["code"]) == (400, "VALIDATION_ERROR")
    answer = dns.query.udp(dns.message.make_query(MAIL, "MX"), "127.0.0.1", port=live.dns_server.port, timeout=5)
    assert answer.rcode() == dns.rcode.SERVFAIL  # the fault is still there


def test_the_scheduler_checks_on_its_own_in_real_time(tmp_path):
    process = SimulatorProcess("--db", ":memory:", "--check-interval", "0.2").start()
    try:
        sesv2, control = aws_client("sesv2", process.url), SimControl(process.url)
        sesv2.create_email_identity(EmailIdentity="example.com")
        control.add_mx(MAIL)
        sesv2.put_email_identity_mail_from_attributes(EmailIdentity="example.com", MailFromDomain=MAIL)
        import time
        deadline = time.time() + 10
        while status(sesv2) != "SUCCESS" and time.time() < deadline:
            time.sleep(0.1)
        assert status(sesv2) == "SUCCESS"
    finally:
        process.stop()
