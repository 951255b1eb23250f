"""The SES v1 query API (`POST /`, form in, XML out) through a real boto3 `ses` client
and raw HTTP: its operations, one state shared with v2, v1 enum spellings, and
query-format errors that change nothing."""
import base64
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.helpers import aws_client

NS = "{http://ses.amazonaws.com/doc/2010-12-01/}"
VERSION = "2010-12-01"
SIMPLE = {"Subject": {"Data": "hi"}, "Body": {"Text": {"Data": "hello"}}}
RAW_MIME = b"From: app@example.com\r\nTo: user@example.org\r\nSubject: raw\r\n\r\nbody\r\n"


def error_of(excinfo) -> tuple[str, int]:
    response = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def post(endpoint: str, data, method: str = "POST", headers: dict | None = None, path: str = "/"):
    """Raw HTTP: (status, headers, parsed XML root)."""
    if isinstance(data, dict):
        data = urllib.parse.urlencode(data).encode()
    elif isinstance(data, str):
        data = data.encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8", **(headers or {})}
    request = urllib.request.Request(endpoint + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.headers, ET.fromstring(response.read())
    except urllib.error.HTTPError as error:
        return error.code, error.headers, ET.fromstring(error.read())


def query_error(status, headers, root) -> tuple[str, int]:
    """The (Code, status) of a query-format error, after checking its whole shape."""
    assert root.tag == f"{NS}ErrorResponse"
    assert root.findtext(f"{NS}Error/{NS}Type") == "Sender"
    assert root.findtext(f"{NS}Error/{NS}Message")
    assert headers["Content-Type"].startswith("text/xml")
    assert headers["x-amzn-RequestId"] == root.findtext(f"{NS}RequestId")
    return root.findtext(f"{NS}Error/{NS}Code"), status


def query(**params) -> dict:
    return {"Version": VERSION, **params}


def v1_mail_from(ses, identity="example.com") -> dict:
    return ses.get_identity_mail_from_domain_attributes(Identities=[identity])["MailFromDomainAttributes"][identity]


def snapshot(ses, control) -> tuple:
    """Everything a refused request must leave alone."""
    identities = ses.list_identities()["Identities"]
    attributes = ses.get_identity_mail_from_domain_attributes(Identities=identities)["MailFromDomainAttributes"] \
        if identities else {}
    return identities, attributes, len(control.ok("GET", "/_sim/outbox")["messages"])


@pytest.fixture
def domain(ses):
    ses.verify_domain_identity(Domain="example.com")
    return "example.com"


@pytest.fixture
def configured(ses, domain):
    """example.com with a PENDING MAIL FROM domain under RejectMessage."""
    ses.set_identity_mail_from_domain(Identity="example.com", MailFromDomain="mail.example.com",
                                      BehaviorOnMXFailure="RejectMessage")
    return "example.com"


# --------------------------------------------------------------------------- identities


def test_verify_domain_identity_creates_a_domain_identity_and_returns_an_aws_shaped_token(ses, sesv2):
    token = ses.verify_domain_identity(Domain="Example.COM")["VerificationToken"]
    assert len(token) == 44 and base64.b64decode(token)
    assert sesv2.get_email_identity(EmailIdentity="example.com")["IdentityType"] == "DOMAIN"


def test_verify_domain_identity_is_idempotent_and_keeps_its_token(ses, sesv2):
    first = ses.verify_domain_identity(Domain="example.com")["VerificationToken"]
    assert ses.verify_domain_identity(Domain="example.com")["VerificationToken"] == first
    assert ses.verify_domain_identity(Domain="other.example")["VerificationToken"] != first
    assert [i["IdentityName"] for i in sesv2.list_email_identities()["EmailIdentities"]] == [
        "example.com", "other.example"]


def test_verify_email_identity_creates_an_email_identity_once(ses, sesv2):
    ses.verify_email_identity(EmailAddress="app@example.com")
    ses.verify_email_identity(EmailAddress="app@example.com")
    assert sesv2.get_email_identity(EmailIdentity="app@example.com")["IdentityType"] == "EMAIL_ADDRESS"
    assert ses.list_identities()["Identities"] == ["app@example.com"]


@pytest.mark.parametrize("call, kwargs", [
    ("verify_domain_identity", {"Domain": "not a domain"}),
    ("verify_domain_identity", {"Domain": "app@example.com"}),
    ("verify_email_identity", {"EmailAddress": "example.com"}),
    ("verify_email_identity", {"EmailAddress": "bad..local@example.com"}),
])
def test_verifying_a_malformed_name_is_an_invalid_parameter_value_and_stores_nothing(ses, call, kwargs):
    with pytest.raises(ClientError) as excinfo:
        getattr(ses, call)(**kwargs)
    assert error_of(excinfo) == ("InvalidParameterValue", 400)
    assert ses.list_identities()["Identities"] == []


def test_list_identities_filters_by_type_and_pages(ses):
    for name in ["a.example", "b.example", "c.example"]:
        ses.verify_domain_identity(Domain=name)
    ses.verify_email_identity(EmailAddress="app@a.example")
    assert ses.list_identities(IdentityType="EmailAddress")["Identities"] == ["app@a.example"]
    seen, token = [], None
    while True:
        page = ses.list_identities(IdentityType="Domain", MaxItems=2, **({"NextToken": token} if token else {}))
        assert len(page["Identities"]) <= 2
        seen += page["Identities"]
        token = page.get("NextToken")
        if not token:
            break
    assert seen == ["a.example", "b.example", "c.example"]


def test_delete_identity_removes_it_and_its_mail_from_configuration(ses, sesv2, configured):
    ses.delete_identity(Identity="example.com")
    assert ses.list_identities()["Identities"] == []
    assert ses.get_identity_mail_from_domain_attributes(Identities=["example.com"])["MailFromDomainAttributes"] == {}


def test_deleting_an_unknown_identity_succeeds_as_on_aws(ses, domain):
    assert ses.delete_identity(Identity="nobody.example")["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert ses.list_identities()["Identities"] == ["example.com"]


def test_verification_attributes_in_v1_spelling_with_the_domain_token_and_unknowns_omitted(ses, control):
    token = ses.verify_domain_identity(Domain="example.com")["VerificationToken"]
    ses.verify_email_identity(EmailAddress="app@example.org")
    control.ok("PUT", "/_sim/identities/app@example.org/verification", {"status": "PENDING"})
    attributes = ses.get_identity_verification_attributes(
        Identities=["example.com", "app@example.org", "nobody.example"])["VerificationAttributes"]
    assert attributes == {
        "example.com": {"VerificationStatus": "Success", "VerificationToken": token},
        "app@example.org": {"VerificationStatus": "Pending"},
    }


def test_identities_are_isolated_per_region_and_account(ses, client_for):
    ses.verify_domain_identity(Domain="example.com")
    assert client_for("ses", region="eu-west-1").list_identities()["Identities"] == []
    assert client_for("ses", account="123456789012").list_identities()["Identities"] == []


# --------------------------------------------------------------------------- MAIL FROM


def test_an_identity_without_a_mail_from_domain_reports_only_the_behavior(ses, domain):
    assert v1_mail_from(ses) == {"BehaviorOnMXFailure": "UseDefaultValue"}


def test_unknown_identities_are_omitted_from_mail_from_attributes(ses, domain):
    attributes = ses.get_identity_mail_from_domain_attributes(Identities=["example.com", "nobody.example"])
    assert list(attributes["MailFromDomainAttributes"]) == ["example.com"]


def test_set_through_v1_is_read_through_v2_in_v2_spelling(ses, sesv2, configured):
    assert sesv2.get_email_identity(EmailIdentity="example.com")["MailFromAttributes"] == {
        "MailFromDomain": "mail.example.com", "MailFromDomainStatus": "PENDING",
        "BehaviorOnMxFailure": "REJECT_MESSAGE"}


def test_set_through_v2_is_read_through_v1_in_v1_spelling(ses, sesv2):
    sesv2.create_email_identity(EmailIdentity="example.com")
    sesv2.put_email_identity_mail_from_attributes(EmailIdentity="example.com", MailFromDomain="mail.example.com",
                                                  BehaviorOnMxFailure="REJECT_MESSAGE")
    assert v1_mail_from(ses) == {"MailFromDomain": "mail.example.com", "MailFromDomainStatus": "Pending",
                                 "BehaviorOnMXFailure": "RejectMessage"}


def test_an_email_identity_takes_a_domain_under_its_address_domain(ses):
    ses.verify_email_identity(EmailAddress="app@example.com")
    ses.set_identity_mail_from_domain(Identity="app@example.com", MailFromDomain="bounce.example.com")
    assert v1_mail_from(ses, "app@example.com")["MailFromDomain"] == "bounce.example.com"


def test_a_published_mx_record_makes_it_success_in_v1_spelling(ses, configured, control):
    control.add_mx("mail.example.com")
    control.ok("POST", "/_sim/checks/run", {})
    assert v1_mail_from(ses)["MailFromDomainStatus"] == "Success"


def test_no_record_until_the_deadline_makes_it_failed_in_v1_spelling(ses, configured, control):
    control.ok("POST", "/_sim/clock/advance", {"seconds": 260000})
    assert v1_mail_from(ses)["MailFromDomainStatus"] == "Failed"


def test_a_dns_failure_makes_it_temporary_failure_in_v1_spelling(ses, configured, control):
    control.ok("PUT", "/_sim/dns/faults/mail.example.com", {"fault": "servfail"})
    control.ok("POST", "/_sim/checks/run", {})
    assert v1_mail_from(ses)["MailFromDomainStatus"] == "TemporaryFailure"


@pytest.mark.parametrize("kwargs", [{}, {"MailFromDomain": ""}])
def test_setting_no_mail_from_domain_disables_it_and_stores_the_behavior(ses, configured, kwargs):
    ses.set_identity_mail_from_domain(Identity="example.com", BehaviorOnMXFailure="RejectMessage", **kwargs)
    assert v1_mail_from(ses) == {"BehaviorOnMXFailure": "RejectMessage"}


def test_a_set_without_a_behavior_falls_back_to_use_default_value(ses, configured):
    ses.set_identity_mail_from_domain(Identity="example.com", MailFromDomain="mail.example.com")
    assert v1_mail_from(ses)["BehaviorOnMXFailure"] == "UseDefaultValue"


@pytest.mark.parametrize("kwargs, code", [
    ({"Identity": "nobody.example", "MailFromDomain": "mail.nobody.example"}, "InvalidParameterValue"),
    ({"Identity": "example.com", "MailFromDomain": "evilexample.com"}, "InvalidParameterValue"),
    ({"Identity": "example.com", "MailFromDomain": "example.com"}, "InvalidParameterValue"),
    ({"Identity": "example.com", "MailFromDomain": "mail..example.com"}, "InvalidParameterValue"),
    ({"Identity": "example.com", "MailFromDomain": "bounce.example.com", "BehaviorOnMXFailure": "REJECT_MESSAGE"},
     "ValidationError"),
    ({"Identity": "example.com", "MailFromDomain": "bounce.example.com", "BehaviorOnMXFailure": "rejectmessage"},
     "ValidationError"),
])
def test_a_refused_set_is_a_query_error_and_changes_nothing(ses, control, configured, kwargs, code):
    before = snapshot(ses, control)
    with pytest.raises(ClientError) as excinfo:
        ses.set_identity_mail_from_domain(**kwargs)
    assert error_of(excinfo) == (code, 400)
    assert snapshot(ses, control) == before


def test_an_unknown_identity_is_named_as_aws_names_it(ses):
    with pytest.raises(ClientError) as excinfo:
        ses.set_identity_mail_from_domain(Identity="nobody.example", MailFromDomain="mail.nobody.example")
    assert excinfo.value.response["Error"]["Message"] == "Identity <nobody.example> does not exist."  # SPEC §16


def test_a_v2_behavior_spelling_gets_aws_validation_message(ses, configured):
    with pytest.raises(ClientError) as excinfo:
        ses.set_identity_mail_from_domain(Identity="example.com", MailFromDomain="mail.example.com",
                                          BehaviorOnMXFailure="REJECT_MESSAGE")
    assert excinfo.value.response["Error"]["Message"] == (
        "1 validation error detected: Value at 'behaviorOnMXFailure' failed to satisfy "
        "constraint: Member must satisfy enum value set: [RejectMessage, UseDefaultValue]")


@pytest.mark.parametrize("call", ["get_identity_mail_from_domain_attributes", "get_identity_verification_attributes"])
def test_more_than_100_identities_is_a_validation_error(ses, domain, call):
    assert getattr(ses, call)(Identities=["example.com"] + [f"d{i}.example" for i in range(99)])
    with pytest.raises(ClientError) as excinfo:
        getattr(ses, call)(Identities=["example.com"] + [f"d{i}.example" for i in range(100)])
    assert error_of(excinfo) == ("ValidationError", 400)
    assert "less than or equal to 100" in excinfo.value.response["Error"]["Message"]


def test_an_unknown_identity_type_filter_is_a_validation_error(ses, domain):
    with pytest.raises(ClientError) as excinfo:
        ses.list_identities(IdentityType="DOMAIN")
    assert error_of(excinfo) == ("ValidationError", 400)


@pytest.mark.parametrize("max_items", [0, 1001])
def test_an_out_of_range_max_items_is_an_invalid_parameter_value(ses, domain, max_items):
    with pytest.raises(ClientError) as excinfo:
        ses.list_identities(MaxItems=max_items)
    assert error_of(excinfo) == ("InvalidParameterValue", 400)


def test_a_forged_next_token_is_an_invalid_parameter_value(ses, domain):
    with pytest.raises(ClientError) as excinfo:
        ses.list_identities(NextToken="%%%not-a-token")
    assert error_of(excinfo) == ("InvalidParameterValue", 400)


def test_a_missing_required_parameter_is_missing_parameter_even_past_client_validation(endpoint, control, configured):
    unchecked = boto3.client("ses", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
                             aws_secret_access_key="testing",
                             config=Config(parameter_validation=False, retries={"max_attempts": 1}))
    ses = aws_client("ses", endpoint)
    before = snapshot(ses, control)
    with pytest.raises(ClientError) as excinfo:
        unchecked.set_identity_mail_from_domain(MailFromDomain="mail.example.com")
    assert error_of(excinfo) == ("MissingParameter", 400)
    assert snapshot(ses, control) == before


# --------------------------------------------------------------------------- quota and sending


def test_get_send_quota_reports_the_account_quota_and_what_was_sent(ses, domain):
    assert ses.get_send_quota()["SentLast24Hours"] == 0.0
    ses.send_email(Source="app@example.com", Destination={"ToAddresses": ["user@example.org"]}, Message=SIMPLE)
    quota = ses.get_send_quota()
    assert (quota["Max24HourSend"], quota["MaxSendRate"], quota["SentLast24Hours"]) == (50000.0, 14.0, 1.0)


def test_send_email_uses_the_default_mail_from_with_none_set(ses, control, domain):
    message_id = ses.send_email(Source="app@example.com", Destination={"ToAddresses": ["user@example.org"]},
                                Message=SIMPLE, ReplyToAddresses=["reply@example.com"])["MessageId"]
    last = control.ok("GET", "/_sim/outbox")["messages"][0]
    assert message_id.startswith("0100") and last["message_id"] == message_id
    assert (last["envelope_from"], last["mail_from_decision"]) == (f"{message_id}@amazonses.com", "default")
    assert "Reply-To: reply@example.com" in last["raw"]


def test_send_email_is_refused_under_reject_message_while_pending(ses, control, configured):
    with pytest.raises(ClientError) as excinfo:
        ses.send_email(Source="app@example.com", Destination={"ToAddresses": ["user@example.org"]}, Message=SIMPLE)
    assert error_of(excinfo) == ("MailFromDomainNotVerifiedException", 400)
    last = control.ok("GET", "/_sim/outbox")["messages"][0]
    assert (last["mail_from_decision"], last["envelope_from"], last["mail_from_status"]) == (
        "rejected", None, "PENDING")


def test_send_email_uses_the_custom_mail_from_once_it_is_success(ses, control, configured):
    control.add_mx("mail.example.com")
    control.ok("POST", "/_sim/checks/run", {})
    message_id = ses.send_email(Source="app@example.com", Destination={"ToAddresses": ["user@example.org"]},
                                Message=SIMPLE)["MessageId"]
    last = control.ok("GET", "/_sim/outbox")["messages"][0]
    assert (last["envelope_from"], last["mail_from_decision"]) == (f"{message_id}@mail.example.com", "custom")


def test_send_email_outside_us_east_1_uses_the_regional_default(client_for, endpoint, control):
    ses = client_for("ses", region="eu-west-1")
    ses.verify_domain_identity(Domain="example.com")
    message_id = ses.send_email(Source="app@example.com", Destination={"ToAddresses": ["user@example.org"]},
                                Message=SIMPLE)["MessageId"]
    last = control.ok("GET", "/_sim/outbox?region=eu-west-1")["messages"][0]
    assert last["envelope_from"] == f"{message_id}@eu-west-1.amazonses.com"


def test_send_email_from_an_unverified_sender_is_message_rejected(ses, control, domain):
    with pytest.raises(ClientError) as excinfo:
        ses.send_email(Source="app@elsewhere.example", Destination={"ToAddresses": ["user@example.org"]},
                       Message=SIMPLE)
    assert error_of(excinfo) == ("MessageRejected", 400)
    assert control.ok("GET", "/_sim/outbox")["messages"] == []


def test_send_raw_email_takes_sender_and_recipients_from_the_headers(ses, control, domain):
    message_id = ses.send_raw_email(RawMessage={"Data": RAW_MIME})["MessageId"]
    last = control.ok("GET", "/_sim/outbox")["messages"][0]
    assert (last["message_id"], last["from"], last["destinations"], last["subject"]) == (
        message_id, "app@example.com", ["user@example.org"], "raw")
    assert last["raw"].startswith(f"Return-Path: <{message_id}@amazonses.com>")


def test_send_raw_email_source_and_destinations_override_the_headers(ses, control, domain):
    ses.send_raw_email(Source="other@example.com", Destinations=["bcc@example.net"], RawMessage={"Data": RAW_MIME})
    last = control.ok("GET", "/_sim/outbox")["messages"][0]
    assert (last["from"], last["destinations"]) == ("other@example.com", ["bcc@example.net"])


def test_send_raw_email_is_refused_under_reject_message_while_pending(ses, configured):
    with pytest.raises(ClientError) as excinfo:
        ses.send_raw_email(RawMessage={"Data": RAW_MIME})
    assert error_of(excinfo) == ("MailFromDomainNotVerifiedException", 400)


def test_send_raw_email_over_10_mb_is_message_rejected(endpoint, ses, control, domain):
    # Raw HTTP: boto3 spends a second url-quoting 14 MB of base64.
    data = base64.b64encode(RAW_MIME + b"x" * (10 * 1024 * 1024)).replace(b"+", b"%2B")
    body = b"Action=SendRawEmail&Version=2010-12-01&RawMessage.Data=" + data
    assert query_error(*post(endpoint, body)) == ("MessageRejected", 400)
    assert control.ok("GET", "/_sim/outbox")["messages"] == []


def test_send_raw_email_with_bad_base64_is_an_invalid_parameter_value(endpoint, ses, control, domain):
    before = snapshot(ses, control)
    response = post(endpoint, query(Action="SendRawEmail", **{"RawMessage.Data": "not base64!"}))
    assert query_error(*response) == ("InvalidParameterValue", 400)
    assert snapshot(ses, control) == before


# --------------------------------------------------------------------------- the wire


def test_responses_are_the_models_xml_with_the_request_id_of_the_header(endpoint, domain):
    status, headers, root = post(endpoint, query(Action="GetIdentityMailFromDomainAttributes",
                                                 **{"Identities.member.1": "example.com"}))
    assert status == 200 and headers["Content-Type"].startswith("text/xml")
    assert root.tag == f"{NS}GetIdentityMailFromDomainAttributesResponse"
    entry = root.find(f"{NS}GetIdentityMailFromDomainAttributesResult/{NS}MailFromDomainAttributes/{NS}entry")
    assert entry.findtext(f"{NS}key") == "example.com"
    assert entry.findtext(f"{NS}value/{NS}BehaviorOnMXFailure") == "UseDefaultValue"
    assert root.findtext(f"{NS}ResponseMetadata/{NS}RequestId") == headers["x-amzn-RequestId"]


def test_a_get_with_query_parameters_is_served_like_aws_query_apis(endpoint, domain):
    status, _, root = post(endpoint, None, method="GET", path="/?Action=ListIdentities&Version=2010-12-01")
    assert status == 200
    assert [m.text for m in root.iter(f"{NS}member")] == ["example.com"]


BAD_REQUESTS = [
    ("missing Action", {"Version": VERSION, "Domain": "new.example"}, "MissingAction"),
    ("empty Action", {"Action": "", "Version": VERSION}, "MissingAction"),
    ("unknown Action", query(Action="MakeCoffee"), "InvalidAction"),
    ("unsimulated Action", query(Action="CreateReceiptRule", RuleSetName="r"), "InvalidAction"),
    ("missing Version", {"Action": "VerifyDomainIdentity", "Domain": "new.example"}, "MissingParameter"),
    ("wrong Version", {"Action": "VerifyDomainIdentity", "Version": "2019-09-27", "Domain": "new.example"},
     "NoSuchVersion"),
    ("missing Domain", query(Action="VerifyDomainIdentity"), "MissingParameter"),
    ("missing Identity", query(Action="SetIdentityMailFromDomain", MailFromDomain="mail.example.com"),
     "MissingParameter"),
    ("missing Identities", query(Action="GetIdentityMailFromDomainAttributes"), "MissingParameter"),
    ("missing Message.Subject", query(Action="SendEmail", Source="app@example.com",
                                      **{"Destination.ToAddresses.member.1": "u@example.org",
                                         "Message.Body.Text.Data": "x"}), "MissingParameter"),
    ("missing RawMessage", query(Action="SendRawEmail"), "MissingParameter"),
    ("v2 behaviour spelling", query(Action="SetIdentityMailFromDomain", Identity="example.com",
                                    MailFromDomain="bounce.example.com", BehaviorOnMXFailure="REJECT_MESSAGE"),
     "ValidationError"),
    ("unknown identity", query(Action="SetIdentityMailFromDomain", Identity="nobody.example",
                               MailFromDomain="mail.nobody.example"), "InvalidParameterValue"),
    ("MaxItems not a number", query(Action="ListIdentities", MaxItems="ten"), "InvalidParameterValue"),
    ("101 identities", query(Action="GetIdentityVerificationAttributes",
                             **{f"Identities.member.{i}": f"d{i}.example" for i in range(1, 102)}),
     "ValidationError"),
]


@pytest.mark.parametrize("case, params, code", BAD_REQUESTS, ids=[c[0] for c in BAD_REQUESTS])
def test_bad_requests_over_raw_http_are_query_errors_and_change_nothing(endpoint, ses, control, configured,
                                                                        case, params, code):
    before = snapshot(ses, control)
    assert query_error(*post(endpoint, params)) == (code, 400)
    assert snapshot(ses, control) == before


MALFORMED_BODIES = [
    ("non-UTF-8 bytes", b"Action=VerifyDomainIdentity&Version=2010-12-01&Domain=\xff\xfe.example",
     "MalformedQueryString"),
    ("percent-encoded non-UTF-8", b"Action=VerifyDomainIdentity&Version=2010-12-01&Domain=%FF%FE.example",
     "MalformedQueryString"),
    ("too many parameters", b"Action=ListIdentities&Version=2010-12-01" + b"&x=1" * 10_001, "MalformedQueryString"),
    ("form syntax soup", b"&&==&%%%&=&Action", "MissingAction"),
    ("empty body", b"", "MissingAction"),
    ("JSON", b'{"Action": "VerifyDomainIdentity", "Version": "2010-12-01", "Domain": "new.example"}',
     "MissingAction"),
]


@pytest.mark.parametrize("case, body, code", MALFORMED_BODIES, ids=[c[0] for c in MALFORMED_BODIES])
def test_malformed_bodies_are_query_errors_and_change_nothing(endpoint, ses, control, configured, case, body, code):
    before = snapshot(ses, control)
    content_type = "application/json" if body.startswith(b"{") else "application/x-www-form-urlencoded"
    assert query_error(*post(endpoint, body, headers={"Content-Type": content_type})) == (code, 400)
    assert snapshot(ses, control) == before


def test_a_bare_get_is_a_query_error(endpoint):
    assert query_error(*post(endpoint, None, method="GET")) == ("MissingAction", 400)


def test_a_body_over_the_limit_is_a_query_error_not_a_crash(endpoint, ses, control, configured):
    before = snapshot(ses, control)
    body = b"Action=SendRawEmail&Version=2010-12-01&RawMessage.Data=" + b"A" * (61 * 1024 * 1024)
    code, status = query_error(*post(endpoint, body))
    assert (code, status) == ("RequestEntityTooLargeException", 413)
    assert snapshot(ses, control) == before


@pytest.mark.parametrize("name", ["<b>&amp;\"'</b>", "ctl\x01\x1fchars", "ünï.example"])
def test_awkward_characters_are_escaped_into_well_formed_xml(ses, name):
    with pytest.raises(ClientError) as excinfo:
        ses.set_identity_mail_from_domain(Identity=name, MailFromDomain="mail.example.com")
    assert error_of(excinfo) == ("InvalidParameterValue", 400)
    assert excinfo.value.response["Error"]["Message"].startswith("Identity <")
