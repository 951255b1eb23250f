"""Identity verification through DNS (SPEC §12, the `dns` mode): real boto3 clients, the
embedded DNS server over loopback, the clock moved through /_sim."""
import re
import urllib.error
import urllib.parse
import urllib.request

import pytest
from botocore.exceptions import ClientError

SEND = {"FromEmailAddress": "app@example.com", "Destination": {"ToAddresses": ["user@example.org"]},
        "Content": {"Simple": {"Subject": {"Data": "hi"}, "Body": {"Text": {"Data": "hello"}}}}}


@pytest.fixture
def dns_mode(control):
    control.ok("PUT", "/_sim/account", {"identity_verification": "dns"})
    return control


def publish_dkim(control, domain: str, tokens: list[str], only: int = 3) -> None:
    for token in tokens[:only]:
        control.ok("POST", "/_sim/dns/records", {"name": f"{token}._domainkey.{domain}", "type": "CNAME",
                                                 "value": f"{token}.dkim.amazonses.com"})


def verification_history(control, identity: str) -> list[dict]:
    return [e for e in control.history(identity) if e["check"] == "verification"]


def test_instant_mode_is_the_default_and_verifies_at_once(control, sesv2):
    assert control.ok("GET", "/_sim/account")["identity_verification"] == "instant"
    created = sesv2.create_email_identity(EmailIdentity="example.com")
    assert created["VerifiedForSendingStatus"] is True and created["DkimAttributes"]["Status"] == "SUCCESS"


def test_a_domain_verifies_once_its_three_dkim_cnames_resolve(dns_mode, sesv2):
    created = sesv2.create_email_identity(EmailIdentity="example.com")
    assert created["VerifiedForSendingStatus"] is False and created["DkimAttributes"]["Status"] == "PENDING"
    tokens = created["DkimAttributes"]["Tokens"]
    with pytest.raises(ClientError) as refused:
        sesv2.send_email(**SEND)
    assert refused.value.response["Error"]["Code"] == "MessageRejected"

    publish_dkim(dns_mode, "example.com", tokens, only=2)
    [check] = dns_mode.ok("POST", "/_sim/checks/run", {"identity": "example.com"})["checks"]
    assert (check["check"], check["to"], check["lookup"]["outcome"]) == ("verification", "PENDING", "MISSING")
    assert f"{tokens[2]}._domainkey.example.com" in check["lookup"]["error"]

    publish_dkim(dns_mode, "example.com", tokens[2:], only=1)
    [check] = dns_mode.ok("POST", "/_sim/checks/run", {"identity": "example.com"})["checks"]
    assert (check["from"], check["to"]) == ("PENDING", "SUCCESS")
    identity = sesv2.get_email_identity(EmailIdentity="example.com")
    assert identity["VerificationStatus"] == "SUCCESS" and identity["VerifiedForSendingStatus"] is True
    assert identity["DkimAttributes"]["Status"] == "SUCCESS"
    assert sesv2.send_email(**SEND)["MessageId"].startswith("0100")
    [entry] = [e for e in verification_history(dns_mode, "example.com") if e["to"] == "SUCCESS"]
    assert entry["event"] == "FOUND" and len(entry["answers"]) == 3


def test_a_domain_whose_records_never_appear_fails_after_the_pending_timeout(dns_mode, sesv2):
    sesv2.create_email_identity(EmailIdentity="example.com")
    dns_mode.ok("POST", "/_sim/clock/advance", {"seconds": 72 * 3600 - 120})
    assert sesv2.get_email_identity(EmailIdentity="example.com")["VerificationStatus"] == "PENDING"
    dns_mode.ok("POST", "/_sim/clock/advance", {"seconds": 240})
    assert sesv2.get_email_identity(EmailIdentity="example.com")["VerificationStatus"] == "FAILED"
    assert verification_history(dns_mode, "example.com")[-1]["event"] == "DEADLINE_PASSED"


def test_a_dns_failure_is_a_temporary_failure_not_a_verdict(dns_mode, sesv2):
    tokens = sesv2.create_email_identity(EmailIdentity="example.com")["DkimAttributes"]["Tokens"]
    dns_mode.ok("PUT", f"/_sim/dns/faults/{tokens[0]}._domainkey.example.com", {"fault": "servfail"})
    [check] = dns_mode.ok("POST", "/_sim/checks/run", {"identity": "example.com"})["checks"]
    assert (check["to"], check["lookup"]["outcome"]) == ("TEMPORARY_FAILURE", "TRANSIENT")


def test_v1_verify_domain_identity_verifies_through_its_amazonses_txt_token(dns_mode, ses):
    token = ses.verify_domain_identity(Domain="example.com")["VerificationToken"]
    attributes = ses.get_identity_verification_attributes(Identities=["example.com"])["VerificationAttributes"]
    assert attributes["example.com"]["VerificationStatus"] == "Pending"
    dns_mode.ok("POST", "/_sim/dns/records", {"name": "_amazonses.example.com", "type": "TXT", "value": "wrong"})
    assert dns_mode.ok("POST", "/_sim/checks/run", {"identity": "example.com"})["checks"][0]["to"] == "PENDING"
    dns_mode.ok("POST", "/_sim/dns/records", {"name": "_amazonses.example.com", "type": "TXT", "value": token})
    assert dns_mode.ok("POST", "/_sim/checks/run", {"identity": "example.com"})["checks"][0]["to"] == "SUCCESS"
    attributes = ses.get_identity_verification_attributes(Identities=["example.com"])["VerificationAttributes"]
    assert attributes["example.com"]["VerificationStatus"] == "Success"


def test_a_v2_domain_verifies_through_the_token_v1_shows_for_it(dns_mode, sesv2, ses):
    sesv2.create_email_identity(EmailIdentity="example.com")
    token = ses.verify_domain_identity(Domain="example.com")["VerificationToken"]
    dns_mode.ok("POST", "/_sim/dns/records", {"name": "_amazonses.example.com", "type": "TXT", "value": token})
    assert dns_mode.ok("POST", "/_sim/checks/run", {"identity": "example.com"})["checks"][0]["to"] == "SUCCESS"
    assert sesv2.get_email_identity(EmailIdentity="example.com")["VerifiedForSendingStatus"] is True


def test_a_v1_domain_verifies_through_the_dkim_records_v2_shows_for_it(dns_mode, sesv2, ses):
    ses.verify_domain_identity(Domain="example.com")
    tokens = sesv2.get_email_identity(EmailIdentity="example.com")["DkimAttributes"]["Tokens"]
    publish_dkim(dns_mode, "example.com", tokens)
    assert dns_mode.ok("POST", "/_sim/checks/run", {"identity": "example.com"})["checks"][0]["to"] == "SUCCESS"
    attributes = ses.get_identity_verification_attributes(Identities=["example.com"])["VerificationAttributes"]
    assert attributes["example.com"]["VerificationStatus"] == "Success"


def test_verifying_a_failed_domain_again_restarts_it(dns_mode, ses):
    token = ses.verify_domain_identity(Domain="example.com")["VerificationToken"]
    dns_mode.ok("POST", "/_sim/clock/advance", {"seconds": 73 * 3600})
    status = lambda: ses.get_identity_verification_attributes(  # noqa: E731
        Identities=["example.com"])["VerificationAttributes"]["example.com"]["VerificationStatus"]
    assert status() == "Failed"
    assert ses.verify_domain_identity(Domain="example.com")["VerificationToken"] == token
    assert status() == "Pending"
    assert verification_history(dns_mode, "example.com")[-1]["detail"] == "verification restarted (Verify*Identity)"
    dns_mode.ok("POST", "/_sim/dns/records", {"name": "_amazonses.example.com", "type": "TXT", "value": token})
    dns_mode.ok("POST", "/_sim/clock/advance", {"seconds": 120})
    assert status() == "Success"
    ses.verify_domain_identity(Domain="example.com")  # asking again once verified changes nothing
    assert status() == "Success"


def test_an_email_address_is_verified_by_the_link_in_its_verification_message(dns_mode, sesv2, endpoint):
    sesv2.create_email_identity(EmailIdentity="ada@example.org")
    assert sesv2.get_email_identity(EmailIdentity="ada@example.org")["VerificationStatus"] == "PENDING"
    [message] = dns_mode.ok("GET", "/_sim/outbox")["messages"]
    assert message["destinations"] == ["ada@example.org"] and message["via"] == "verification"
    assert message["subject"].startswith("Amazon Web Services") and "Email Address Verification Request" in \
        message["subject"]
    link = re.search(r"http://\S+/_sim/verify/\S+", message["raw"]).group(0)
    assert link.startswith(endpoint)
    status, answer = dns_mode.call("GET", urllib.parse.urlsplit(link).path)
    assert status == 200 and answer["data"]["status"] == "SUCCESS"
    assert sesv2.get_email_identity(EmailIdentity="ada@example.org")["VerificationStatus"] == "SUCCESS"
    status, answer = dns_mode.call("GET", urllib.parse.urlsplit(link).path)  # a link verifies once
    assert (status, answer["error"]["code"]) == (404, "NOT_FOUND")
    assert dns_mode.ok("GET", "/_sim/account")["sent_last_24_hours"] == 0  # SES's own mail is not your quota


def _links(control) -> list[str]:
    """The verification links in the outbox, oldest first."""
    return [urllib.parse.urlsplit(re.search(r"http://\S+/_sim/verify/\S+", m["raw"]).group(0)).path
            for m in reversed(control.ok("GET", "/_sim/outbox")["messages"]) if m["via"] == "verification"]


def test_an_unopened_link_expires_after_24_hours_and_verifying_again_sends_a_new_one(dns_mode, ses):
    ses.verify_email_identity(EmailAddress="ada@example.org")
    status = lambda: ses.get_identity_verification_attributes(  # noqa: E731
        Identities=["ada@example.org"])["VerificationAttributes"]["ada@example.org"]["VerificationStatus"]
    dns_mode.ok("POST", "/_sim/clock/advance", {"seconds": 24 * 3600 - 60})
    assert status() == "Pending"
    dns_mode.ok("POST", "/_sim/clock/advance", {"seconds": 120})
    assert status() == "Failed"
    [expired] = _links(dns_mode)
    code, answer = dns_mode.call("GET", expired)
    assert (code, answer["error"]["code"]) == (404, "NOT_FOUND") and "expired" in answer["error"]["message"]
    assert status() == "Failed"

    ses.verify_email_identity(EmailAddress="ada@example.org")  # SES sends a new message each time
    assert status() == "Pending"
    old, new = _links(dns_mode)
    assert old == expired and new != old
    assert dns_mode.call("GET", old)[0] == 404  # the old link died with its token
    assert dns_mode.ok("GET", new)["status"] == "SUCCESS"
    assert status() == "Success"
    dns_mode.ok("POST", "/_sim/clock/advance", {"seconds": 48 * 3600})
    assert status() == "Success"  # an opened link has nothing left to expire


def test_a_link_past_its_24_hours_is_refused_before_any_sweep_has_run():
    """No scheduler here: nothing has turned the address FAILED yet, and the link is still dead."""
    import time

    from simulator.runtime import Options, Runtime
    from tests.helpers import SimControl, aws_client

    runtime = Runtime(Options(port=0, dns_port=0, db=":memory:", identity_verification="dns",
                              scheduler=False)).start()
    try:
        ses, control = aws_client("ses", runtime.url), SimControl(runtime.url)
        ses.verify_email_identity(EmailAddress="ada@example.org")
        control.ok("POST", "/_sim/clock/advance", {"seconds": 24 * 3600 - 0.2})
        time.sleep(0.3)  # real time carries the clock past the deadline; no sweep runs
        [link] = _links(control)
        code, answer = control.call("GET", link)
        assert (code, answer["error"]["code"]) == (404, "NOT_FOUND") and "expired" in answer["error"]["message"]
    finally:
        runtime.stop()


def test_the_mode_is_per_account(dns_mode, client_for):
    other = client_for("sesv2", account="111122223333")
    assert other.create_email_identity(EmailIdentity="example.com")["VerifiedForSendingStatus"] is True


@pytest.mark.parametrize("published", ["us-east-1", "eu-west-1"])
def test_one_domain_in_two_regions_is_checked_against_each_ones_own_tokens(control, client_for, published):
    regions = ("us-east-1", "eu-west-1")
    clients = {}
    for region in regions:
        control.ok("PUT", f"/_sim/account?region={region}", {"identity_verification": "dns"})
        clients[region] = client_for("sesv2", region=region)
    tokens = {region: clients[region].create_email_identity(EmailIdentity="example.com")["DkimAttributes"]["Tokens"]
              for region in regions}
    publish_dkim(control, "example.com", tokens[published])

    control.ok("POST", "/_sim/clock/advance", {"seconds": 3600})  # one sweep checks both regions

    statuses = {region: clients[region].get_email_identity(EmailIdentity="example.com")["VerificationStatus"]
                for region in regions}
    assert statuses == {region: "SUCCESS" if region == published else "PENDING" for region in regions}


def test_setting_the_status_by_hand_stops_the_dns_check(dns_mode, sesv2):
    sesv2.create_email_identity(EmailIdentity="example.com")
    dns_mode.ok("PUT", "/_sim/identities/example.com/verification", {"status": "SUCCESS"})
    dns_mode.ok("POST", "/_sim/clock/advance", {"seconds": 100 * 3600})
    assert sesv2.get_email_identity(EmailIdentity="example.com")["VerificationStatus"] == "SUCCESS"


def test_a_bad_mode_is_refused_and_changes_nothing(control):
    status, answer = control.call("PUT", "/_sim/account", {"identity_verification": "sometimes"})
    assert (status, answer["error"]["code"]) == (400, "VALIDATION_ERROR")
    assert control.ok("GET", "/_sim/account")["identity_verification"] == "instant"


def test_dkim_signing_is_switched_per_identity(sesv2, pinpoint):
    sesv2.create_email_identity(EmailIdentity="example.com")
    sesv2.put_email_identity_dkim_attributes(EmailIdentity="example.com", SigningEnabled=False)
    assert sesv2.get_email_identity(EmailIdentity="example.com")["DkimAttributes"]["SigningEnabled"] is False
    pinpoint.put_email_identity_dkim_attributes(EmailIdentity="example.com", SigningEnabled=True)
    assert sesv2.get_email_identity(EmailIdentity="example.com")["DkimAttributes"]["SigningEnabled"] is True
    with pytest.raises(ClientError) as missing:
        sesv2.put_email_identity_dkim_attributes(EmailIdentity="nobody.example", SigningEnabled=True)
    assert missing.value.response["Error"]["Code"] == "NotFoundException"
