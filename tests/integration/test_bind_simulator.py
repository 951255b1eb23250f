"""The whole simulator against BIND 9: `serve --resolver 127.0.0.1:PORT`, records
changed with RFC 2136 updates, states moved by real lookups (SPEC §4)."""
import pytest

from tests.helpers import SimControl, SimulatorProcess, aws_client

FEEDBACK = "10 feedback-smtp.us-east-1.amazonses.com."


@pytest.fixture(scope="module")
def against_bind(bind_server):
    host, port = bind_server.address
    process = SimulatorProcess("--db", ":memory:", "--resolver", f"{host}:{port}", "--dns-timeout", "1").start()
    yield process, bind_server
    process.stop()


@pytest.fixture
def sim(against_bind):
    process, bind = against_bind
    control = SimControl(process.url)
    control.ok("POST", "/_sim/reset")
    sesv2 = aws_client("sesv2", process.url)
    sesv2.create_email_identity(EmailIdentity="example.com")
    return sesv2, control, bind


def put(sesv2, domain):
    sesv2.put_email_identity_mail_from_attributes(EmailIdentity="example.com", MailFromDomain=domain)


def status(sesv2) -> str:
    return sesv2.get_email_identity(EmailIdentity="example.com")["MailFromAttributes"]["MailFromDomainStatus"]


def check(control) -> dict:
    return control.ok("POST", "/_sim/checks/run", {})["checks"][0]


def test_pending_success_failed_and_restart_through_bind(sim):
    sesv2, control, bind = sim
    put(sesv2, "m1.example.com")
    assert check(control)["lookup"]["outcome"] == "MISSING" and status(sesv2) == "PENDING"
    bind.update("m1.example.com", "MX", FEEDBACK)
    assert check(control)["lookup"]["answers"] == [FEEDBACK] and status(sesv2) == "SUCCESS"
    assert check(control)["to"] == "SUCCESS"
    bind.delete("m1.example.com", "MX")
    check(control)
    assert status(sesv2) == "FAILED"
    bind.update("m1.example.com", "MX", FEEDBACK)
    control.ok("POST", "/_sim/clock/advance", {"seconds": 3600})
    assert status(sesv2) == "FAILED"  # FAILED is not checked again until the next Put
    put(sesv2, "m1.example.com")
    assert status(sesv2) == "PENDING"
    control.ok("POST", "/_sim/clock/advance", {"seconds": 60})
    assert status(sesv2) == "SUCCESS"
    bind.delete("m1.example.com")


def test_two_mx_records_are_missing_and_the_timeout_fails_it(sim):
    sesv2, control, bind = sim
    bind.update("m2.example.com", "MX", FEEDBACK)
    bind.update("m2.example.com", "MX", "20 mx.elsewhere.example.")
    put(sesv2, "m2.example.com")
    assert "exactly one" in check(control)["lookup"]["error"]
    control.ok("POST", "/_sim/clock/advance", {"seconds": 259200})
    assert status(sesv2) == "FAILED"
    bind.delete("m2.example.com")


def test_a_refusing_server_is_temporary_failure_and_recovers(sim):
    sesv2, control, bind = sim
    sesv2.create_email_identity(EmailIdentity="example.org")
    # BIND is authoritative for example.com only: it REFUSES example.org questions.
    sesv2.put_email_identity_mail_from_attributes(EmailIdentity="example.org", MailFromDomain="mail.example.org")
    result = control.ok("POST", "/_sim/checks/run", {"identity": "example.org"})["checks"][0]
    assert result["lookup"]["outcome"] == "TRANSIENT" and result["to"] == "TEMPORARY_FAILURE"
    put(sesv2, "m3.example.com")
    control.ok("POST", "/_sim/checks/run", {"identity": "example.com"})
    assert status(sesv2) == "PENDING"
    bind.update("m3.example.com", "MX", FEEDBACK)
    control.ok("POST", "/_sim/checks/run", {"identity": "example.com"})
    assert status(sesv2) == "SUCCESS"
    bind.delete("m3.example.com")


def test_the_spf_record_in_bind_is_reported(sim):
    sesv2, control, bind = sim
    bind.update("m4.example.com", "TXT", "v=spf1 include:amazonses.com ~all")
    put(sesv2, "m4.example.com")
    assert check(control)["lookup"]["spf"] == "v=spf1 include:amazonses.com ~all"
    bind.delete("m4.example.com")
