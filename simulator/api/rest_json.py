"""SES v2 (`/v2/email/...`) and Pinpoint Email (`/v1/email/...`) rest-json routes.

Both APIs share semantics and spelling, so each view serves both prefixes; views
parse, call the facade and serialise, nothing more.
"""
from __future__ import annotations

from flask import Blueprint, request

from ..core import rules
from ..core.errors import BadRequestException
from ..core.model import Identity, IdentityType
from .guard import guard_aws
from .wire import (
    aws_error_response,
    install_error_renderer,
    json_body,
    json_response,
    mail_from_attributes,
    optional_string,
    scope,
    shaped,
    sim,
)

bp = Blueprint("rest_json", __name__)
install_error_renderer(bp, aws_error_response)
bp.before_request(guard_aws)

SERVICE = {"v1": "pinpoint-email", "v2": "sesv2"}


def _route(rule: str, methods: list[str], endpoint: str, versions=("v1", "v2")):
    def decorator(view):
        for version in versions:
            bp.add_url_rule(f"/{version}/email{rule}", f"{endpoint}_{version}", view, methods=methods,
                            defaults={"api": version})
        return view
    return decorator


def dkim_attributes(identity: Identity) -> dict:
    if identity.type is IdentityType.DOMAIN:
        return {"SigningEnabled": True, "Status": "SUCCESS", "Tokens": list(identity.dkim_tokens),
                "SigningAttributesOrigin": "AWS_SES", "NextSigningKeyLength": "RSA_2048_BIT",
                "CurrentSigningKeyLength": "RSA_2048_BIT", "LastKeyGenerationTimestamp": identity.created_at}
    return {"SigningEnabled": False, "Status": "NOT_STARTED", "Tokens": [], "SigningAttributesOrigin": "AWS_SES"}


@_route("/identities", ["POST"], "create_email_identity")
def create_email_identity(api: str):
    body = json_body()
    name = body.get("EmailIdentity")
    if not isinstance(name, str):
        raise BadRequestException("EmailIdentity is required and must be a string.")
    identity = sim().create_identity(scope(), name)
    return json_response(shaped(SERVICE[api], "CreateEmailIdentity", {
        "IdentityType": identity.type.value,
        "VerifiedForSendingStatus": identity.verified,
        "DkimAttributes": dkim_attributes(identity),
    }))


@_route("/identities/<path:identity>", ["GET"], "get_email_identity")
def get_email_identity(api: str, identity: str):
    found = sim().get_identity(scope(), identity)
    return json_response(shaped(SERVICE[api], "GetEmailIdentity", {
        "IdentityType": found.type.value,
        "FeedbackForwardingStatus": True,
        "VerifiedForSendingStatus": found.verified,
        "DkimAttributes": dkim_attributes(found),
        "MailFromAttributes": mail_from_attributes(found),
        "Policies": {},
        "Tags": [],
        "VerificationStatus": found.verification_status.value,
    }))


@_route("/identities/<path:identity>", ["DELETE"], "delete_email_identity")
def delete_email_identity(api: str, identity: str):
    sim().delete_identity(scope(), identity)
    return json_response({})


@_route("/identities/<path:identity>/mail-from", ["PUT"], "put_mail_from")
def put_email_identity_mail_from_attributes(api: str, identity: str):
    body = json_body()
    domain = optional_string(body, "MailFromDomain")
    raw_behavior = body.get("BehaviorOnMxFailure")
    behavior = rules.parse_behavior(raw_behavior) if raw_behavior is not None else None
    sim().put_mail_from(scope(), identity, domain, behavior)
    return json_response({})


def _page_size(value) -> int | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            raise BadRequestException("PageSize must be an integer.") from None
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequestException("PageSize must be an integer.")
    return value


def _list(api: str, page_size, next_token):
    if next_token is not None and not isinstance(next_token, str):
        raise BadRequestException("NextToken must be a string.")
    page, token = sim().list_identities(scope(), _page_size(page_size), next_token)
    payload = {"EmailIdentities": [
        {"IdentityType": i.type.value, "IdentityName": i.name, "SendingEnabled": i.verified,
         "VerificationStatus": i.verification_status.value}
        for i in page
    ]}
    if token:
        payload["NextToken"] = token
    return json_response(payload)


@_route("/identities", ["GET"], "list_email_identities")
def list_email_identities(api: str):
    return _list(api, request.args.get("PageSize"), request.args.get("NextToken"))


@_route("/list-identities", ["POST"], "list_email_identities_post", versions=("v2",))
def list_email_identities_post(api: str):
    body = json_body()
    return _list(api, body.get("PageSize"), body.get("NextToken"))


@_route("/account", ["GET"], "get_account")
def get_account(api: str):
    s = sim()
    account = s.account_summary(scope())
    return json_response(shaped(SERVICE[api], "GetAccount", {
        "DedicatedIpAutoWarmupEnabled": False,
        "EnforcementStatus": "HEALTHY",
        "ProductionAccessEnabled": not account["sandbox"],
        "SendingEnabled": True,
        "SendQuota": {"Max24HourSend": account["max_24_hour_send"], "MaxSendRate": account["max_send_rate"],
                      "SentLast24Hours": account["sent_last_24_hours"]},
    }))


@_route("/outbound-emails", ["POST"], "send_email")
def send_email(api: str):
    body = json_body()
    content = body.get("Content")
    if not isinstance(content, dict):
        raise BadRequestException("Content is required.")
    destination = body.get("Destination")
    if destination is not None and not isinstance(destination, dict):
        raise BadRequestException("Destination must be a structure.")
    reply_to = body.get("ReplyToAddresses")
    if reply_to is not None and (not isinstance(reply_to, list) or not all(isinstance(a, str) for a in reply_to)):
        raise BadRequestException("ReplyToAddresses must be a list of strings.")
    message_id = sim().send_email(scope(), from_address=optional_string(body, "FromEmailAddress"),
                                  destination=destination, content=content, reply_to=reply_to)
    return json_response({"MessageId": message_id})
