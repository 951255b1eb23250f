"""The /_sim control plane over real HTTP: envelope, clock, verification, account, reset."""
import pytest



def test_health_reports_version_dns_address_and_clock(control, live):
    health = control.ok("GET", "/_sim/health")
    assert health["status"] == "ok" and health["dns"] == live.dns_address and health["clock"]["now"] > 0


def test_advancing_the_clock_moves_now_forward(control):
    before = control.ok("GET", "/_sim/clock")["now"]
    after = control.ok("POST", "/_sim/clock/advance", {"seconds": 3600})
    assert after["now"] >= before + 3600 and after["offset"] == 3600


def test_a_bad_advance_is_a_validation_error_and_leaves_the_clock(control):
    for body in ({"seconds": -1}, {"seconds": "10"}, {}, {"seconds": True}):
        status, payload = control.call("POST", "/_sim/clock/advance", body)
        assert status == 400 and payload["error"]["code"] == "VALIDATION_ERROR"
    assert control.ok("GET", "/_sim/clock")["offset"] == 0


def test_verification_status_can_be_set_and_is_seen_through_v2(control, sesv2):
    sesv2.create_email_identity(EmailIdentity="example.com")
    control.ok("PUT", "/_sim/identities/example.com/verification", {"status": "PENDING"})
    identity = sesv2.get_email_identity(EmailIdentity="example.com")
    assert identity["VerificationStatus"] == "PENDING" and identity["VerifiedForSendingStatus"] is False


def test_verification_of_an_unknown_identity_or_status_is_refused(control, sesv2):
    status, payload = control.call("PUT", "/_sim/identities/nobody.com/verification", {"status": "SUCCESS"})
    assert (status, payload["error"]["code"]) == (404, "NOT_FOUND")
    sesv2.create_email_identity(EmailIdentity="example.com")
    status, payload = control.call("PUT", "/_sim/identities/example.com/verification", {"status": "MAYBE"})
    assert (status, payload["error"]["code"]) == (400, "VALIDATION_ERROR")


def test_sandbox_switches_per_account_and_shows_in_get_account(control, sesv2):
    assert control.ok("PUT", "/_sim/account", {"sandbox": True})["sandbox"] is True
    assert sesv2.get_account()["ProductionAccessEnabled"] is False
    status, payload = control.call("PUT", "/_sim/account", {"sandbox": "yes"})
    assert status == 400 and payload["error"]["code"] == "VALIDATION_ERROR"


def test_reset_empties_everything(control, sesv2):
    sesv2.create_email_identity(EmailIdentity="example.com")
    control.ok("POST", "/_sim/clock/advance", {"seconds": 10})
    control.ok("POST", "/_sim/reset")
    assert sesv2.list_email_identities()["EmailIdentities"] == []
    assert control.ok("GET", "/_sim/clock")["offset"] == 0


def test_a_duplicate_dns_record_is_a_conflict_and_is_not_added_twice(control):
    record = {"name": "mail.example.com", "type": "MX", "value": "10 feedback-smtp.us-east-1.amazonses.com"}
    control.ok("POST", "/_sim/dns/records", record)
    status, payload = control.call("POST", "/_sim/dns/records", record)
    assert (status, payload["error"]["code"]) == (409, "CONFLICT")
    assert len(control.ok("GET", "/_sim/dns/records")["records"]) == 1


def test_reset_and_clearing_the_outbox_refuse_a_malformed_body_and_keep_everything(control, sesv2):
    sesv2.create_email_identity(EmailIdentity="example.com")
    for method, path in (("POST", "/_sim/reset"), ("DELETE", "/_sim/outbox")):
        status, payload = control.call(method, path, raw=b"junk")
        assert (status, payload["error"]["code"]) == (400, "VALIDATION_ERROR"), path
    assert [i["IdentityName"] for i in sesv2.list_email_identities()["EmailIdentities"]] == ["example.com"]


@pytest.mark.parametrize("query, problem", [
    ("account=%D9%A1%D9%A2%D9%A3%D9%A4%D9%A5%D9%A6%D9%A7%D9%A8%D9%A9%D9%A0%D9%A1%D9%A2", "account must be 12 digits"),
    ("region=%CE%91%CE%92%CE%93", "region must be a region name"),
    ("region=" + "b" * 5000, "region must be a region name"),
])
def test_a_scope_that_is_not_an_aws_account_or_region_is_refused_and_stores_nothing(control, query, problem):
    status, payload = control.call("PUT", f"/_sim/account?{query}", {"sandbox": True})
    assert (status, payload["error"]["code"]) == (400, "VALIDATION_ERROR") and problem in payload["error"]["message"]


def test_an_outbox_limit_is_ascii_digits(control):
    status, payload = control.call("GET", "/_sim/outbox?limit=%EF%BC%91")  # a full-width 1
    assert (status, payload["error"]["message"]) == (400, "limit must be an integer")


def test_clearing_a_fault_at_a_name_no_fault_could_be_at_is_refused(control):
    status, payload = control.call("PUT", "/_sim/dns/faults/a..b", {"fault": "none"})
    assert (status, payload["error"]["code"]) == (400, "VALIDATION_ERROR")
    status, payload = control.call("DELETE", "/_sim/dns/faults/a..b")
    assert (status, payload["error"]["code"]) == (400, "VALIDATION_ERROR")
    control.ok("PUT", "/_sim/dns/faults/mail.example.com", {"fault": "servfail"})  # a good name still clears
    assert control.ok("PUT", "/_sim/dns/faults/mail.example.com", {"fault": "none"}) == {
        "name": "mail.example.com", "fault": None}


@pytest.mark.parametrize("method", ["OPTIONS", "TRACE", "PROPFIND"])
def test_a_method_no_call_takes_is_answered_in_the_envelope(control, method):
    status, payload = control.call(method, "/_sim/health")
    assert (status, payload["success"], payload["error"]["code"]) == (404, False, "NOT_FOUND")


def test_options_on_an_aws_path_is_answered_as_aws_does(endpoint):
    import json
    import urllib.error
    import urllib.request

    request = urllib.request.Request(endpoint + "/v2/email/account", method="OPTIONS")
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        urllib.request.urlopen(request, timeout=30)
    assert excinfo.value.code == 404 and excinfo.value.headers["x-amzn-ErrorType"] == "UnknownOperationException"
    assert "message" in json.loads(excinfo.value.read())
