"""SES v2 (`/v2/email/...`) and Pinpoint Email (`/v1/email/...`) rest-json routes.

Both APIs share semantics and spelling, so each view serves both prefixes; views
parse, call the facade and serialise, nothing more.
"""
from __future__ import annotations

import json

from flask import Blueprint, request

from ..core import rules
from ..core.errors import AwsError, BadRequestException, NotFoundException
from ..core.model import Identity, IdentityType
from ..mail.templates import TemplateContent
from ..service import VIA_PINPOINT, VIA_V2
from .guard import guard_aws
from .wire import (
    aws_error_response,
    in_model,
    install_error_renderer,
    json_body,
    json_response,
    json_text_response,
    mail_from_attributes,
    optional_string,
    scope,
    shaped,
    sim,
)

bp = Blueprint("rest_json", __name__)
bp.before_request(guard_aws)

SERVICE = {"v1": "pinpoint-email", "v2": "sesv2"}
VIA = {"v1": VIA_PINPOINT, "v2": VIA_V2}


# Flask endpoint -> the model operation it serves.
_OPERATIONS: dict[str, str] = {}


def _error_response(error: AwsError):
    """Each API answers only with its own model's error codes, and each operation with the
    codes its model lists (SPEC §16)."""
    rule = request.url_rule
    operation = _OPERATIONS.get(rule.endpoint.rpartition(".")[2]) if rule is not None else None
    return aws_error_response(in_model(SERVICE["v1" if request.path.startswith("/v1/") else "v2"], error, operation))


install_error_renderer(bp, _error_response)


def _route(rule: str, methods: list[str], endpoint: str, versions=("v1", "v2"), operation: str | None = None):
    """A view for `/{version}/email{rule}`; `operation` defaults to the endpoint in CamelCase."""
    def decorator(view):
        for version in versions:
            bp.add_url_rule(f"/{version}/email{rule}", f"{endpoint}_{version}", view, methods=methods,
                            defaults={"api": version})
            _OPERATIONS[f"{endpoint}_{version}"] = operation or "".join(map(str.title, endpoint.split("_")))
        return view
    return decorator


def dkim_attributes(identity: Identity, key_length: str = "RSA_2048_BIT") -> dict:
    """`key_length`: the size of the keys the simulator signs with (--dkim-key-bits)."""
    if identity.type is IdentityType.DOMAIN:
        return {"SigningEnabled": identity.dkim_signing_enabled, "Status": identity.dkim_status.value,
                "Tokens": list(identity.dkim_tokens),
                "SigningAttributesOrigin": "AWS_SES", "NextSigningKeyLength": key_length,
                "CurrentSigningKeyLength": key_length, "LastKeyGenerationTimestamp": identity.created_at}
    # An email address as live AWS shows it: no Tokens, a 1024-bit next key (SPEC §16).
    return {"SigningEnabled": False, "Status": "NOT_STARTED", "SigningAttributesOrigin": "AWS_SES",
            "NextSigningKeyLength": "RSA_1024_BIT"}


def _string(body: dict, key: str, required: bool = False) -> str | None:
    value = optional_string(body, key)
    if required and not value:
        raise BadRequestException(f"{key} is required.")
    return value


@_route("/identities", ["POST"], "create_email_identity")
def create_email_identity(api: str):
    body = json_body()
    identity = sim().create_identity(scope(), _string(body, "EmailIdentity", required=True), tags=body.get("Tags"),
                                     configuration_set=_string(body, "ConfigurationSetName"),
                                     link_base=request.host_url,
                                     dkim_signing_attributes=body.get("DkimSigningAttributes"))
    payload = {"IdentityType": identity.type.value, "VerifiedForSendingStatus": identity.verified}
    if identity.type is IdentityType.DOMAIN:  # an email address's create answer has none (SPEC §16)
        payload["DkimAttributes"] = dkim_attributes(identity, sim().dkim_key_length)
    return json_response(shaped(SERVICE[api], "CreateEmailIdentity", payload))


@_route("/identities/<path:identity>", ["GET"], "get_email_identity")
def get_email_identity(api: str, identity: str):
    s = sim()
    found = s.get_identity(scope(), identity)
    tags = s.identity_tags(found)
    # The answer is a function of the identity, its tags and the protocol. The store hands
    # out the same Identity object until the identity changes, so the answer made for that
    # object (kept with it, compared by `is`) is the answer.
    key = (api, id(found))
    kept = _IDENTITY_ANSWERS.get(key)
    if kept is not None and kept[0] is found and kept[1] == tags:
        return json_text_response(kept[2])
    payload = {
        "IdentityType": found.type.value,
        "FeedbackForwardingStatus": True,
        "VerifiedForSendingStatus": found.verified,
        "DkimAttributes": dkim_attributes(found, sim().dkim_key_length),
        "MailFromAttributes": mail_from_attributes(found),
        "Policies": {},
        "Tags": tags,
        "VerificationStatus": found.verification_status.value,
    }
    if found.type is IdentityType.EMAIL_ADDRESS:
        payload["VerificationInfo"] = {}  # SPEC §16
    text = json.dumps(shaped(SERVICE[api], "GetEmailIdentity", payload))
    if len(_IDENTITY_ANSWERS) >= 4096:
        _IDENTITY_ANSWERS.clear()
    _IDENTITY_ANSWERS[key] = (found, tags, text)
    return json_text_response(text)


_IDENTITY_ANSWERS: dict[tuple[str, int], tuple[Identity, list, str]] = {}


@_route("/identities/<path:identity>", ["DELETE"], "delete_email_identity")
def delete_email_identity(api: str, identity: str):
    sim().delete_identity(scope(), identity)
    return json_response({})


@_route("/identities/<path:identity>/dkim", ["PUT"], "put_dkim_attributes",
        operation="PutEmailIdentityDkimAttributes")
def put_email_identity_dkim_attributes(api: str, identity: str):
    sim().set_dkim_signing(scope(), identity, json_body().get("SigningEnabled", False))
    return json_response({})


@_route("/identities/<path:identity>/mail-from", ["PUT"], "put_mail_from", operation="PutEmailIdentityMailFromAttributes")
def put_email_identity_mail_from_attributes(api: str, identity: str):
    body = json_body()
    domain = optional_string(body, "MailFromDomain")
    raw_behavior = body.get("BehaviorOnMxFailure")
    behavior = rules.parse_behavior(raw_behavior) if raw_behavior is not None else None
    try:
        sim().put_mail_from(scope(), identity, domain, behavior)
    except NotFoundException:
        if api == "v2":  # live SES v2 answers 400 here, not 404 (SPEC §16: floci PR #716)
            raise BadRequestException(f"Identity <{identity}> does not exist.") from None
        raise
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


def _body_page_size(body: dict):
    """PageSize from a JSON body: a number there (only a query string carries it as text)."""
    value = body.get("PageSize")
    if isinstance(value, str):
        raise BadRequestException("PageSize must be an integer.")
    return value


def _list(api: str, page_size, next_token):
    if next_token is not None and not isinstance(next_token, str):
        raise BadRequestException("NextToken must be a string.")
    size = _page_size(page_size)
    # Both models document "at least 0, and can be no more than 1000"; a page of nothing
    # would loop a paginator forever, so 0 means the default page (a choice).
    page, token = sim().list_identities(scope(), size or None, next_token)
    payload = {"EmailIdentities": [
        {"IdentityType": i.type.value, "IdentityName": i.name, "SendingEnabled": i.verified,
         "VerificationStatus": i.verification_status.value}
        for i in page
    ]}
    if token:
        payload["NextToken"] = token
    return json_response(shaped(SERVICE[api], "ListEmailIdentities", payload))  # Pinpoint's items lack a member


@_route("/identities", ["GET"], "list_email_identities")
def list_email_identities(api: str):
    return _list(api, request.args.get("PageSize"), request.args.get("NextToken"))


@_route("/list-identities", ["POST"], "list_email_identities_post", versions=("v2",),
        operation="ListEmailIdentities")
def list_email_identities_post(api: str):
    body = json_body()
    return _list(api, _body_page_size(body), body.get("NextToken"))


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
    reply_to = _reply_to(body)
    message_id = sim().send_email(scope(), from_address=optional_string(body, "FromEmailAddress"),
                                  destination=destination, content=content, reply_to=reply_to, via=VIA[api],
                                  configuration_set=_string(body, "ConfigurationSetName"),
                                  tags=body.get("EmailTags"))
    return json_response({"MessageId": message_id})


def _reply_to(body: dict) -> list[str] | None:
    reply_to = body.get("ReplyToAddresses")
    if reply_to is not None and (not isinstance(reply_to, list) or not all(isinstance(a, str) for a in reply_to)):
        raise BadRequestException("ReplyToAddresses must be a list of strings.")
    return reply_to


def _structure(body: dict, key: str, required: bool = False) -> dict:
    value = body.get(key)
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise BadRequestException(f"{key} is required and must be a structure." if required
                                  else f"{key} must be a structure.")
    return value


@_route("/outbound-bulk-emails", ["POST"], "send_bulk_email", versions=("v2",))
def send_bulk_email(api: str):
    body = json_body()
    template = _structure(_structure(body, "DefaultContent", required=True), "Template", required=True)
    raw_entries = body.get("BulkEmailEntries")
    if not isinstance(raw_entries, list) or not all(isinstance(e, dict) for e in raw_entries):
        raise BadRequestException("BulkEmailEntries is required and must be a list of structures.")
    entries = [{
        "destination": _structure(entry, "Destination", required=True),
        "data": _structure(_structure(entry, "ReplacementEmailContent"), "ReplacementTemplate")
        .get("ReplacementTemplateData"),
        "tags": entry.get("ReplacementTags"),
        "headers": entry.get("ReplacementHeaders"),
    } for entry in raw_entries]
    results = sim().send_bulk_email(
        scope(), from_address=_string(body, "FromEmailAddress"), template=template, entries=entries,
        reply_to=_reply_to(body), default_tags=body.get("DefaultEmailTags"),
        configuration_set=_string(body, "ConfigurationSetName"), via=VIA[api])
    return json_response({"BulkEmailEntryResults": [
        {"Status": r.status, **({"MessageId": r.message_id} if r.message_id else {}),
         **({"Error": r.error.message} if r.error else {})}
        for r in results]})


# --- templates (SES v2 only: the Pinpoint Email model has none) ---------------------------
def _template_content(body: dict) -> TemplateContent:
    content = _structure(body, "TemplateContent", required=True)
    for key in ("Subject", "Text", "Html"):
        optional_string(content, key)
    return TemplateContent(content.get("Subject"), content.get("Text"), content.get("Html"))


@_route("/templates", ["POST"], "create_email_template", versions=("v2",))
def create_email_template(api: str):
    body = json_body()
    sim().create_template(scope(), body.get("TemplateName"), _template_content(body), body.get("Tags"))
    return json_response({})


@_route("/templates/<name>", ["GET"], "get_email_template", versions=("v2",))
def get_email_template(api: str, name: str):
    row = sim().get_template(scope(), name)
    content = {k: v for k, v in (("Subject", row["subject"]), ("Text", row["text"]), ("Html", row["html"]))
               if v is not None}
    return json_response(shaped(SERVICE[api], "GetEmailTemplate", {
        "TemplateName": row["name"], "TemplateContent": content, "Tags": row["tags"]}))


@_route("/templates/<name>", ["PUT"], "update_email_template", versions=("v2",))
def update_email_template(api: str, name: str):
    sim().update_template(scope(), name, _template_content(json_body()))
    return json_response({})


@_route("/templates/<name>", ["DELETE"], "delete_email_template", versions=("v2",))
def delete_email_template(api: str, name: str):
    sim().delete_template(scope(), name)
    return json_response({})


def _next_token() -> str | None:
    return request.args.get("NextToken")


@_route("/templates", ["GET"], "list_email_templates", versions=("v2",))
def list_email_templates(api: str):
    page, token = sim().list_templates(scope(), _page_size(request.args.get("PageSize")), _next_token())
    payload = {"TemplatesMetadata": [{"TemplateName": t["name"], "CreatedTimestamp": t["created_at"]}
                                     for t in page]}
    if token:
        payload["NextToken"] = token
    return json_response(payload)


@_route("/templates/<name>/render", ["POST"], "test_render_email_template", versions=("v2",))
def test_render_email_template(api: str, name: str):
    body = json_body()
    return json_response({"RenderedTemplate": sim().test_render_template(scope(), name, body.get("TemplateData"))})


# --- configuration sets ------------------------------------------------------------------
@_route("/configuration-sets", ["POST"], "create_configuration_set")
def create_configuration_set(api: str):
    body = json_body()
    sim().create_configuration_set(scope(), body.get("ConfigurationSetName"), body.get("Tags"))
    return json_response({})


@_route("/configuration-sets/<name>", ["GET"], "get_configuration_set")
def get_configuration_set(api: str, name: str):
    row = sim().get_configuration_set(scope(), name)
    return json_response(shaped(SERVICE[api], "GetConfigurationSet", {
        "ConfigurationSetName": row["name"], "Tags": row["tags"],
        "SendingOptions": {"SendingEnabled": True}, "ReputationOptions": {"ReputationMetricsEnabled": False},
        "DeliveryOptions": {"TlsPolicy": "OPTIONAL"}}))


@_route("/configuration-sets/<name>", ["DELETE"], "delete_configuration_set")
def delete_configuration_set(api: str, name: str):
    sim().delete_configuration_set(scope(), name)
    return json_response({})


def _list_configuration_sets(page_size, next_token):
    if next_token is not None and not isinstance(next_token, str):
        raise BadRequestException("NextToken must be a string.")
    page, token = sim().list_configuration_sets(scope(), _page_size(page_size), next_token)
    payload = {"ConfigurationSets": [row["name"] for row in page]}
    if token:
        payload["NextToken"] = token
    return json_response(payload)


@_route("/configuration-sets", ["GET"], "list_configuration_sets")
def list_configuration_sets(api: str):
    return _list_configuration_sets(request.args.get("PageSize"), _next_token())


@_route("/list-configuration-sets", ["POST"], "list_configuration_sets_post", versions=("v2",),
        operation="ListConfigurationSets")
def list_configuration_sets_post(api: str):
    body = json_body()
    return _list_configuration_sets(_body_page_size(body), body.get("NextToken"))
