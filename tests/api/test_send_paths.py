"""Every send path meets the MAIL FROM rules (SPEC §10): templated SendEmail (by name, by
ARN, inline; v2 and Pinpoint), SendBulkEmail, v1 SendTemplatedEmail and
SendBulkTemplatedEmail, each in every MAIL FROM state x behaviour, reached through
the embedded DNS server, /_sim/checks/run and /_sim/clock/advance. Real boto3 clients.
"""
import json

import pytest
from botocore.exceptions import ClientError

from tests.api.test_identities import error_of
from tests.api.test_send import MAIL, MESSAGE_ID, outbox, reach

SENDER = "app@example.com"
TEMPLATE = {"TemplateName": "welcome",
            "TemplateContent": {"Subject": "Hi {{name}}", "Text": "Dear {{name}}", "Html": "<p>{{name}}</p>"}}
DATA = json.dumps({"name": "Ada"})
TO = {"ToAddresses": ["user@example.org"]}


def _v2_by_name(c):
    return c["sesv2"].send_email(FromEmailAddress=SENDER, Destination=TO,
                                 Content={"Template": {"TemplateName": "welcome", "TemplateData": DATA}})


def _v2_inline(c):
    return c["sesv2"].send_email(FromEmailAddress=SENDER, Destination=TO, Content={"Template": {
        "TemplateContent": TEMPLATE["TemplateContent"], "TemplateData": DATA}})


def _pinpoint_by_arn(c):
    arn = "arn:aws:ses:us-east-1:000000000000:template/welcome"
    return c["pinpoint"].send_email(FromEmailAddress=SENDER, Destination=TO,
                                    Content={"Template": {"TemplateArn": arn, "TemplateData": DATA}})


def _v1_templated(c):
    return c["ses"].send_templated_email(Source=SENDER, Destination=TO, Template="welcome", TemplateData=DATA)


def _v2_bulk(c):
    return c["sesv2"].send_bulk_email(
        FromEmailAddress=SENDER, DefaultContent={"Template": {"TemplateName": "welcome", "TemplateData": DATA}},
        BulkEmailEntries=[{"Destination": TO}])["BulkEmailEntryResults"][0]


def _v1_bulk(c):
    return c["ses"].send_bulk_templated_email(
        Source=SENDER, Template="welcome", DefaultTemplateData=DATA,
        Destinations=[{"Destination": TO}])["Status"][0]


# path -> (send, via, is bulk, the refusal as that path reports it)
PATHS = {
    "v2 SendEmail Template by name": (_v2_by_name, "api-v2", False, "MailFromDomainNotVerifiedException"),
    "v2 SendEmail inline TemplateContent": (_v2_inline, "api-v2", False, "MailFromDomainNotVerifiedException"),
    "Pinpoint SendEmail TemplateArn": (_pinpoint_by_arn, "api-pinpoint", False, "MailFromDomainNotVerifiedException"),
    "v1 SendTemplatedEmail": (_v1_templated, "api-v1", False, "MailFromDomainNotVerifiedException"),
    "v2 SendBulkEmail": (_v2_bulk, "api-v2", True, "MAIL_FROM_DOMAIN_NOT_VERIFIED"),
    "v1 SendBulkTemplatedEmail": (_v1_bulk, "api-v1", True, "MailFromDomainNotVerified"),
}
SUCCESS_STATUS = {"v2 SendBulkEmail": "SUCCESS", "v1 SendBulkTemplatedEmail": "Success"}
# (MAIL FROM state or None for none set, behaviour) -> the decision SES makes
CASES = [(None, None, "default")] + [
    (state, behavior, "custom" if state == "SUCCESS" else ("default" if behavior == "USE_DEFAULT_VALUE" else "rejected"))
    for state in ("PENDING", "SUCCESS", "TEMPORARY_FAILURE", "FAILED")
    for behavior in ("USE_DEFAULT_VALUE", "REJECT_MESSAGE")
]


@pytest.fixture
def clients(sesv2, pinpoint, ses):
    sesv2.create_email_identity(EmailIdentity="example.com")
    sesv2.create_email_template(**TEMPLATE)
    return {"sesv2": sesv2, "pinpoint": pinpoint, "ses": ses}


def _message_id(path: str, result) -> str:
    if PATHS[path][2]:
        assert result["Status"] == SUCCESS_STATUS[path] and "Error" not in result
    return result["MessageId"]


@pytest.mark.parametrize("state, behavior, decision", CASES)
@pytest.mark.parametrize("path", list(PATHS))
def test_each_path_applies_the_mail_from_decision(clients, control, path, state, behavior, decision):
    send, via, bulk, refusal = PATHS[path]
    if state is not None:
        clients["sesv2"].put_email_identity_mail_from_attributes(
            EmailIdentity="example.com", MailFromDomain=MAIL, BehaviorOnMxFailure=behavior)
        reach(state, control)
    if decision == "rejected":
        if bulk:
            result = send(clients)
            assert (result["Status"], "MessageId" in result) == (refusal, False)
            assert MAIL in result["Error"]
        else:
            with pytest.raises(ClientError) as excinfo:
                send(clients)
            assert error_of(excinfo) == (refusal, 400)
        [entry] = outbox(control)
        assert (entry["envelope_from"], entry["mail_from_decision"], entry["mail_from_status"]) == (None, "rejected", state)
        assert clients["ses"].get_send_quota()["SentLast24Hours"] == 0  # a refusal does not count
    else:
        message_id = _message_id(path, send(clients))
        assert MESSAGE_ID.match(message_id)
        [entry] = outbox(control)
        domain = MAIL if decision == "custom" else "amazonses.com"
        assert (entry["message_id"], entry["envelope_from"], entry["mail_from_decision"]) == (
            message_id, f"{message_id}@{domain}", decision)
        assert entry["subject"] == "Hi Ada" and "Dear Ada" in entry["raw"] and "<p>Ada</p>" in entry["raw"]
        assert clients["ses"].get_send_quota()["SentLast24Hours"] == 1
    expected_template = None if path == "v2 SendEmail inline TemplateContent" else "welcome"
    assert (entry["via"], entry["template"], entry["configuration_set"]) == (via, expected_template, None)


@pytest.mark.parametrize("path", list(PATHS))
def test_an_unverified_sender_refuses_the_whole_call_and_records_nothing(clients, control, path):
    control.ok("PUT", "/_sim/identities/example.com/verification", {"status": "PENDING"})
    with pytest.raises(ClientError) as excinfo:
        PATHS[path][0](clients)
    assert error_of(excinfo) == ("MessageRejected", 400)
    assert outbox(control) == []


def test_bulk_decides_each_entry_and_stores_exactly_the_good_ones(clients, control):
    """In the sandbox one entry's recipient is unverified: that entry alone is rejected."""
    sesv2 = clients["sesv2"]
    control.ok("PUT", "/_sim/account", {"sandbox": True})
    sesv2.create_email_identity(EmailIdentity="ok@example.org")
    entries = [{"Destination": {"ToAddresses": ["ok@example.org"]},
                "ReplacementEmailContent": {"ReplacementTemplate": {"ReplacementTemplateData": '{"name": "Bo"}'}}},
               {"Destination": {"ToAddresses": ["stranger@example.net"]}},
               {"Destination": {"ToAddresses": ["ok@example.org"]}}]
    results = sesv2.send_bulk_email(FromEmailAddress=SENDER, BulkEmailEntries=entries, DefaultContent={
        "Template": {"TemplateName": "welcome", "TemplateData": DATA}})["BulkEmailEntryResults"]
    assert [r["Status"] for r in results] == ["SUCCESS", "MESSAGE_REJECTED", "SUCCESS"]
    assert "stranger@example.net" in results[1]["Error"] and "MessageId" not in results[1]
    stored = outbox(control)
    assert [e["message_id"] for e in reversed(stored)] == [results[0]["MessageId"], results[2]["MessageId"]]
    assert [e["subject"] for e in reversed(stored)] == ["Hi Bo", "Hi Ada"]  # replacement data, else the default


def test_bulk_in_the_sandbox_under_reject_message_refuses_each_entry_its_own_way(clients, control):
    sesv2, ses = clients["sesv2"], clients["ses"]
    control.ok("PUT", "/_sim/account", {"sandbox": True})
    sesv2.create_email_identity(EmailIdentity="ok@example.org")
    sesv2.put_email_identity_mail_from_attributes(EmailIdentity="example.com", MailFromDomain=MAIL,
                                                  BehaviorOnMxFailure="REJECT_MESSAGE")
    statuses = ses.send_bulk_templated_email(
        Source=SENDER, Template="welcome", DefaultTemplateData=DATA,
        Destinations=[{"Destination": {"ToAddresses": ["ok@example.org"]}},
                      {"Destination": {"ToAddresses": ["stranger@example.net"]}}])["Status"]
    assert [s["Status"] for s in statuses] == ["MailFromDomainNotVerified", "MessageRejected"]
    assert all("MessageId" not in s for s in statuses)
    [entry] = outbox(control)
    assert (entry["destinations"], entry["mail_from_decision"]) == (["ok@example.org"], "rejected")


def test_each_bulk_entry_is_its_own_message_and_counts_its_recipients(clients, control):
    entries = [{"Destination": {"ToAddresses": [f"u{i}@example.org"], "CcAddresses": ["cc@example.org"]}}
               for i in range(50)]
    results = clients["sesv2"].send_bulk_email(FromEmailAddress=SENDER, BulkEmailEntries=entries, DefaultContent={
        "Template": {"TemplateName": "welcome", "TemplateData": DATA}})["BulkEmailEntryResults"]
    assert len({r["MessageId"] for r in results}) == 50
    stored = control.ok("GET", "/_sim/outbox?limit=100")["messages"]
    assert sorted(e["destinations"][0] for e in stored) == sorted(f"u{i}@example.org" for i in range(50))
    assert clients["sesv2"].get_account()["SendQuota"]["SentLast24Hours"] == 100
