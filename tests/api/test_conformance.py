"""Conformance: one case per recorded AWS fact (SPEC §16), with real boto3 clients.

Each case cites where the recording comes from, as SPEC §16 names it, so a change
that drifts from live AWS fails here with the source to check against.
"""
import json

import pytest
from botocore.exceptions import ClientError

from tests.api.test_identities import error_of

SIMPLE_V1 = {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}}


def message(excinfo) -> str:
    return excinfo.value.response["Error"]["Message"]


def raw_body(client, operation: str, **kwargs) -> dict:
    """The JSON body exactly as the server sent it (boto3 itself drops unmodelled members)."""
    seen = {}

    def keep(http_response, **_):
        seen["body"] = json.loads(http_response.content)

    event = f"after-call.{client.meta.service_model.service_id.hyphenize()}.{operation}"
    client.meta.events.register(event, keep)
    try:
        getattr(client, _snake(operation))(**kwargs)
    finally:
        client.meta.events.unregister(event, keep)
    return seen["body"]


def _snake(operation: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in operation).lstrip("_")


def test_v2_put_mail_from_on_an_unknown_identity_is_400_bad_request(sesv2):
    """Source: floci PR #716, checked against live AWS."""
    with pytest.raises(ClientError) as excinfo:
        sesv2.put_email_identity_mail_from_attributes(EmailIdentity="ghost.example", MailFromDomain="m.ghost.example")
    assert error_of(excinfo) == ("BadRequestException", 400)
    assert message(excinfo) == "Identity <ghost.example> does not exist."


def test_v1_set_mail_from_on_an_unknown_identity_names_it_in_angle_brackets(ses):
    """Source: floci's live-AWS corrections (SetIdentityMailFromDomain)."""
    with pytest.raises(ClientError) as excinfo:
        ses.set_identity_mail_from_domain(Identity="ghost.example", MailFromDomain="m.ghost.example")
    assert error_of(excinfo) == ("InvalidParameterValue", 400)
    assert message(excinfo) == "Identity <ghost.example> does not exist."


def test_v1_bad_behaviour_is_a_validation_error_in_aws_words(ses):
    """Source: SPEC §16, the v1 enum wording recorded from live AWS."""
    ses.verify_domain_identity(Domain="example.com")
    with pytest.raises(ClientError) as excinfo:
        ses.set_identity_mail_from_domain(Identity="example.com", MailFromDomain="mail.example.com",
                                          BehaviorOnMXFailure="Explode")
    assert error_of(excinfo) == ("ValidationError", 400)
    assert message(excinfo) == ("1 validation error detected: Value at 'behaviorOnMXFailure' failed to satisfy "
                                "constraint: Member must satisfy enum value set: [RejectMessage, UseDefaultValue]")


def test_v2_bad_behaviour_is_a_bad_request_in_aws_words(sesv2):
    """Source: SPEC §16, the v2 enum wording recorded from live AWS."""
    sesv2.create_email_identity(EmailIdentity="example.com")
    with pytest.raises(ClientError) as excinfo:
        sesv2.put_email_identity_mail_from_attributes(EmailIdentity="example.com", MailFromDomain="mail.example.com",
                                                      BehaviorOnMxFailure="Explode")
    assert error_of(excinfo) == ("BadRequestException", 400)
    assert message(excinfo) == ("1 validation error detected: Value at 'behaviorOnMxFailure' failed to satisfy "
                                "constraint: Member must satisfy enum value set: [REJECT_MESSAGE, USE_DEFAULT_VALUE]")


def test_creating_an_existing_identity_says_already_exist_sic(sesv2):
    """Source: SPEC §16, recorded AlreadyExistsException text ("already exist.", sic)."""
    sesv2.create_email_identity(EmailIdentity="example.com")
    with pytest.raises(ClientError) as excinfo:
        sesv2.create_email_identity(EmailIdentity="example.com")
    assert error_of(excinfo) == ("AlreadyExistsException", 400)
    assert message(excinfo) == "Email identity <example.com> already exist."


def test_an_email_address_identity_create_answer_has_no_dkim_attributes(sesv2):
    """Source: LocalStack snapshots of CreateEmailIdentity for an address."""
    body = raw_body(sesv2, "CreateEmailIdentity", EmailIdentity="app@example.com")
    assert body == {"IdentityType": "EMAIL_ADDRESS", "VerifiedForSendingStatus": True}


def test_an_email_address_identity_get_answer_has_aws_shapes(sesv2):
    """Source: LocalStack snapshots / terraform-provider-aws acceptance runs of GetEmailIdentity."""
    sesv2.create_email_identity(EmailIdentity="app@example.com")
    got = sesv2.get_email_identity(EmailIdentity="app@example.com")
    assert "Tokens" not in got["DkimAttributes"]
    assert got["DkimAttributes"]["NextSigningKeyLength"] == "RSA_1024_BIT"
    assert got["VerificationInfo"] == {}


def test_message_rejected_keeps_the_display_name_as_written(client_for):
    """Source: an error text quoted from a real account (Sendportal, us-west-2)."""
    west = client_for("ses", region="us-west-2")
    with pytest.raises(ClientError) as excinfo:
        west.send_email(Source="Sendportal <nagaraj@example.com>", Destination={"ToAddresses": ["a@example.org"]},
                        Message=SIMPLE_V1)
    assert error_of(excinfo) == ("MessageRejected", 400)
    assert message(excinfo) == ("Email address is not verified. The following identities failed the check in region "
                                "US-WEST-2: Sendportal <nagaraj@example.com>")


TAG_CASES = [  # (tags, the recorded message); source: LocalStack's SES provider, recorded v1 SendEmail Tags
    ([{"Name": "", "Value": "v"}], "The tag name must be specified."),
    ([{"Name": "n", "Value": ""}], "The tag value must be specified."),
    ([{"Name": "n" * 256, "Value": "v"}], "Tag name cannot exceed 255 characters."),
    ([{"Name": "bad name", "Value": "bad value"}],  # the name is reported before the value
     "Invalid tag name <bad name>: only alphanumeric ASCII characters, '_',  '-' are allowed."),
    ([{"Name": "bad!", "Value": ""}],  # an empty value too: every rule on the name comes first
     "Invalid tag name <bad!>: only alphanumeric ASCII characters, '_',  '-' are allowed."),
    ([{"Name": "n" * 300, "Value": ""}], "Tag name cannot exceed 255 characters."),
    ([{"Name": "n", "Value": "v" * 256}], "Tag value cannot exceed 255 characters."),
    ([{"Name": "n", "Value": "bad value"}],
     "Invalid tag value <bad value>: only alphanumeric ASCII characters, '_',  '-' , '.', '@' are allowed."),
]


@pytest.mark.parametrize("tags, expected", TAG_CASES)
def test_v1_tags_are_checked_before_the_sender_with_aws_messages(ses, control, tags, expected):
    """Source: recorded v1 SendEmail Tags errors (SPEC §16); the sender here is not even verified."""
    with pytest.raises(ClientError) as excinfo:
        ses.send_email(Source="nobody@unverified.example", Destination={"ToAddresses": ["a@example.org"]},
                       Message=SIMPLE_V1, Tags=tags)
    assert error_of(excinfo) == ("InvalidParameterValue", 400)
    assert message(excinfo) == expected
    assert control.ok("GET", "/_sim/outbox")["messages"] == []


def test_a_pinpoint_answer_carries_only_pinpoint_members(pinpoint, sesv2):
    """Source: the pinpoint-email model (SPEC §16: each protocol answers in its own model's shapes)."""
    sesv2.create_email_identity(EmailIdentity="example.com")
    body = raw_body(pinpoint, "GetEmailIdentity", EmailIdentity="example.com")
    assert set(body) <= {"IdentityType", "FeedbackForwardingStatus", "VerifiedForSendingStatus", "DkimAttributes",
                         "MailFromAttributes", "Tags"}
    assert set(body["DkimAttributes"]) == {"SigningEnabled", "Status", "Tokens"}
    v2_body = raw_body(sesv2, "GetEmailIdentity", EmailIdentity="example.com")
    assert "SigningAttributesOrigin" in v2_body["DkimAttributes"]  # the same identity, in the v2 shape


def test_an_error_code_the_pinpoint_model_lacks_is_its_bad_request(pinpoint, sesv2):
    """Source: the pinpoint-email model has no InvalidNextTokenException (SPEC §16)."""
    with pytest.raises(ClientError) as excinfo:
        pinpoint.list_email_identities(NextToken="%%%not-a-token")
    assert error_of(excinfo) == ("BadRequestException", 400)
    with pytest.raises(ClientError) as excinfo:  # sesv2 defines it, but not for this operation
        sesv2.list_email_identities(NextToken="%%%not-a-token")
    assert error_of(excinfo) == ("BadRequestException", 400)


def test_every_rest_json_route_names_an_operation_of_its_model():
    """Errors are filtered by the operation's own list; a route naming no operation would
    let any code through."""
    from simulator.api.rest_json import _OPERATIONS
    from simulator.models import service_model

    assert _OPERATIONS
    for endpoint, operation in _OPERATIONS.items():
        service = "pinpoint-email" if endpoint.endswith("_v1") else "sesv2"
        assert operation in service_model(service).operation_names, endpoint
