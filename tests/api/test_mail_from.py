"""PutEmailIdentityMailFromAttributes through real boto3 clients: SPEC §3 and the Put rows of §4."""
import pytest
from botocore.exceptions import ClientError

from tests.api.test_identities import error_of


@pytest.fixture
def domain(sesv2):
    sesv2.create_email_identity(EmailIdentity="example.com")
    return "example.com"


def mail_from(client, identity="example.com") -> dict:
    return client.get_email_identity(EmailIdentity=identity)["MailFromAttributes"]


@pytest.mark.parametrize("client_name", ["sesv2", "pinpoint"])
def test_setting_a_mail_from_domain_makes_it_pending(request, domain, client_name):
    client = request.getfixturevalue(client_name)
    client.put_email_identity_mail_from_attributes(
        EmailIdentity="example.com", MailFromDomain="Mail.Example.com.", BehaviorOnMxFailure="REJECT_MESSAGE")
    assert mail_from(client) == {"MailFromDomain": "mail.example.com", "MailFromDomainStatus": "PENDING",
                                 "BehaviorOnMxFailure": "REJECT_MESSAGE"}


def test_v2_and_pinpoint_share_one_state(domain, sesv2, pinpoint):
    pinpoint.put_email_identity_mail_from_attributes(EmailIdentity="example.com", MailFromDomain="mail.example.com")
    assert mail_from(sesv2)["MailFromDomain"] == "mail.example.com"


def test_a_put_without_a_domain_disables_it_and_stores_the_behavior(domain, sesv2):
    sesv2.put_email_identity_mail_from_attributes(EmailIdentity="example.com", MailFromDomain="mail.example.com")
    sesv2.put_email_identity_mail_from_attributes(EmailIdentity="example.com", BehaviorOnMxFailure="REJECT_MESSAGE")
    assert mail_from(sesv2) == {"BehaviorOnMxFailure": "REJECT_MESSAGE"}


def test_the_put_is_recorded_in_the_history(domain, sesv2, control):
    sesv2.put_email_identity_mail_from_attributes(EmailIdentity="example.com", MailFromDomain="mail.example.com")
    sesv2.put_email_identity_mail_from_attributes(EmailIdentity="example.com", MailFromDomain="bounce.example.com")
    history = control.history("example.com")
    assert [(h["from"], h["to"], h["domain"]) for h in history] == [
        (None, "PENDING", "mail.example.com"), ("PENDING", "PENDING", "bounce.example.com")]


BAD_DOMAINS = [
    ("example.com", "is not subdomain"), ("evilexample.com", "is not subdomain"),
    ("mail.example.org", "is not subdomain"), ("sibling.com", "is not subdomain"),
    ("mail..example.com", "empty label"), ("-x.example.com", "characters"), ("a" * 64 + ".example.com", "63"),
    (("abcdefghi." * 26) + "example.com", "253"), ("1.2.3.4", "IP address"), ("mäil.example.com", "non-ASCII"),
]


@pytest.mark.parametrize("bad, reason", BAD_DOMAINS)
def test_a_bad_mail_from_domain_is_refused_and_changes_nothing(domain, sesv2, control, bad, reason):
    sesv2.put_email_identity_mail_from_attributes(EmailIdentity="example.com", MailFromDomain="mail.example.com")
    before, history = mail_from(sesv2), control.history("example.com")
    with pytest.raises(ClientError) as excinfo:
        sesv2.put_email_identity_mail_from_attributes(EmailIdentity="example.com", MailFromDomain=bad)
    assert error_of(excinfo) == ("BadRequestException", 400)
    assert reason in excinfo.value.response["Error"]["Message"]
    assert mail_from(sesv2) == before and control.history("example.com") == history


@pytest.mark.parametrize("behavior", ["RejectMessage", "UseDefaultValue", "reject_message", ""])
def test_a_behavior_outside_the_enum_is_refused_naming_the_allowed_values(domain, sesv2, behavior):
    with pytest.raises(ClientError) as excinfo:
        sesv2.put_email_identity_mail_from_attributes(
            EmailIdentity="example.com", MailFromDomain="mail.example.com", BehaviorOnMxFailure=behavior)
    assert error_of(excinfo) == ("BadRequestException", 400)
    assert excinfo.value.response["Error"]["Message"] == (  # live AWS's wording (SPEC §16)
        "1 validation error detected: Value at 'behaviorOnMxFailure' failed to satisfy constraint: "
        "Member must satisfy enum value set: [REJECT_MESSAGE, USE_DEFAULT_VALUE]")
    assert mail_from(sesv2) == {"BehaviorOnMxFailure": "USE_DEFAULT_VALUE"}


def test_an_unknown_identity_is_a_bad_request_with_the_aws_message(sesv2):
    # SPEC §16 (floci PR #716, checked against live AWS): 400 BadRequestException, not 404.
    with pytest.raises(ClientError) as excinfo:
        sesv2.put_email_identity_mail_from_attributes(EmailIdentity="nobody.com", MailFromDomain="mail.nobody.com")
    assert error_of(excinfo) == ("BadRequestException", 400)
    assert excinfo.value.response["Error"]["Message"] == "Identity <nobody.com> does not exist."


def test_pinpoint_keeps_not_found_for_an_unknown_identity(pinpoint):
    with pytest.raises(ClientError) as excinfo:
        pinpoint.put_email_identity_mail_from_attributes(EmailIdentity="nobody.com", MailFromDomain="mail.nobody.com")
    assert error_of(excinfo) == ("NotFoundException", 404)
    assert excinfo.value.response["Error"]["Message"] == "Email identity nobody.com does not exist."


def test_an_email_identity_takes_a_subdomain_of_its_address_domain(sesv2):
    sesv2.create_email_identity(EmailIdentity="app@example.com")
    sesv2.put_email_identity_mail_from_attributes(EmailIdentity="app@example.com", MailFromDomain="bounce.example.com")
    assert mail_from(sesv2, "app@example.com")["MailFromDomainStatus"] == "PENDING"
