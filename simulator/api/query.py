"""The SES v1 query API (`POST /` with `Action=`, form in, XML out) over the same
state as the rest-json APIs. The botocore `ses` model is the contract: requests are
parsed and responses serialised by walking its shapes, not by hand-typed field lists.
"""
from __future__ import annotations

import math
import re
import urllib.parse
from xml.sax.saxutils import escape

from flask import Blueprint, Response, request

from ..core import rules
from .. import dashboard, mail
from ..core.errors import (
    AccessDeniedException,
    AwsError,
    InvalidAction,
    InvalidParameterValue,
    MalformedQueryString,
    MissingAction,
    MissingParameter,
    NoSuchVersion,
    NotFoundException,
    QueryValidationError,
)
from ..core.clock import rfc3339
from ..core.model import IdentityType
from ..models import service_model as wire_service_model
from ..mail.templates import TemplateContent
from ..service import VIA_V1
from .guard import guard_aws
from .wire import WholeResponse, install_error_renderer, mail_from_attributes, request_id, scope, sim

bp = Blueprint("query", __name__)

SERVICE = "ses"
VERSION = "2010-12-01"
XMLNS = "http://ses.amazonaws.com/doc/2010-12-01/"
MAX_FIELDS = 10_000  # far above any real request (50 recipients, 100 identities)
MAX_IDENTITIES = 100  # GetIdentity*Attributes: AWS's limit, not in the model
MAX_LIST_ITEMS = 1000
MAX_DEPTH = 16  # dotted segments of a form key the parser reads; the ses model's deepest has 8 (a test checks)

_INDEX = re.compile(r"^[1-9][0-9]{0,5}$")
_INTEGER = re.compile(r"^-?[0-9]{1,18}$")
# XML 1.0 cannot carry these even as character references.
_CR = {"\r": "&#13;"}
_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


# --------------------------------------------------------------------------- the model


def service_model():
    return wire_service_model(SERVICE)


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


# --------------------------------------------------------------------------- form -> params


class _Parser:
    """Turns the flat form (`Destination.ToAddresses.member.1=...`) into the input
    shape's nested value, collecting what AWS reports: missing required members and
    constraint violations."""

    def __init__(self, form: dict[str, str]):
        self.form = form
        self.missing: list[str] = []
        self.violations: list[str] = []
        # The dotted prefixes of each field ("a." and "a.b." of "a.b.c"), and the numbered
        # items below each: built once, so a list or an absent structure is found without
        # reading the whole form (a 50-entry SendBulkTemplatedEmail has ~100 fields and looks
        # for ~200 lists). At most MAX_DEPTH prefixes a field: no key of the model is deeper,
        # and a hostile field of many dots costs no more than its length times MAX_DEPTH.
        self._prefixes: set[str] = set()
        self._items: dict[str, dict[int, str]] = {}
        for field in form:
            dot = -1
            for _ in range(MAX_DEPTH):
                dot = field.find(".", dot + 1)
                if dot < 0:
                    break
                prefix = field[:dot + 1]
                self._prefixes.add(prefix)
                segment = field[dot + 1:].partition(".")[0]
                if _INDEX.match(segment):
                    self._items.setdefault(prefix, {})[int(segment)] = prefix + segment

    def parse(self, shape, key: str, path: str):
        kind = shape.type_name
        if kind == "structure":
            return self._structure(shape, key, path)
        if kind == "list":
            return self._list(shape, key, path)
        if kind == "map":
            return self._map(shape, key, path)
        if key not in self.form:
            return None
        return self._scalar(shape, self.form[key], key, path)

    def _structure(self, shape, key: str, path: str):
        if key and f"{key}." not in self._prefixes:
            return None  # no field below it: every member would be absent
        value = {}
        for name, member in shape.members.items():
            wire_name = member.serialization.get("name", name)
            member_key = f"{key}.{wire_name}" if key else wire_name
            member_path = f"{path}.{_camel(name)}" if path else _camel(name)
            parsed = self.parse(member, member_key, member_path)
            if parsed is not None:
                value[name] = parsed
        if not value and key:
            return None
        for name in shape.required_members:
            if name not in value:
                wire_name = shape.members[name].serialization.get("name", name)
                self.missing.append(f"{key}.{wire_name}" if key else wire_name)
        return value

    def _indexed(self, prefix: str) -> list[tuple[int, str]]:
        return sorted(self._items.get(prefix, {}).items())

    def _list(self, shape, key: str, path: str):
        flattened = shape.serialization.get("flattened")
        prefix = f"{key}." if flattened else f"{key}.{shape.member.serialization.get('name', 'member')}."
        items = [self.parse(shape.member, item_key, path) for _, item_key in self._indexed(prefix)]
        items = [item for item in items if item is not None]
        if not items:
            # botocore sends an empty list as `Key=`.
            return [] if self.form.get(key) == "" else None
        return items

    def _map(self, shape, key: str, path: str):
        result = {}
        for _, entry_key in self._indexed(f"{key}.entry."):
            k = self.parse(shape.key, f"{entry_key}.key", path)
            v = self.parse(shape.value, f"{entry_key}.value", path)
            if k is not None:
                result[k] = v
        return result or None

    def _scalar(self, shape, raw: str, key: str, path: str):
        kind = shape.type_name
        if kind in ("integer", "long"):
            if not _INTEGER.match(raw):
                raise InvalidParameterValue(f"Value '{raw}' for parameter {key} is invalid: it must be an integer.")
            return int(raw)
        if kind in ("double", "float"):
            try:
                number = float(raw)
            except ValueError:
                number = math.nan
            if not math.isfinite(number):
                raise InvalidParameterValue(f"Value '{raw}' for parameter {key} is invalid: it must be a finite number.")
            return number
        if kind == "boolean":
            if raw not in ("true", "false"):
                raise InvalidParameterValue(f"Value '{raw}' for parameter {key} is invalid: it must be true or false.")
            return raw == "true"
        enum = getattr(shape, "enum", None)
        if enum and raw not in enum:
            allowed = ", ".join(sorted(enum))
            self.violations.append(f"Value at '{path}' failed to satisfy constraint: "  # AWS's words (SPEC §16)
                                   f"Member must satisfy enum value set: [{allowed}]")
        return raw  # strings; blobs stay base64 until the handler decodes them


def _pairs(source: bytes) -> list[tuple[str, str]]:
    try:
        return urllib.parse.parse_qsl(source.decode("utf-8"), keep_blank_values=True, encoding="utf-8",
                                      errors="strict", max_num_fields=MAX_FIELDS)
    except UnicodeDecodeError:
        raise MalformedQueryString("The request is not valid UTF-8.") from None
    except ValueError:
        raise MalformedQueryString(f"The request has more than {MAX_FIELDS} parameters.") from None


def _form() -> dict[str, str]:
    """The request's parameters: the query string's, then the form body's, which win.
    A key given twice keeps its first value."""
    body = request.get_data(cache=True) if request.method == "POST" else b""
    fields: dict[str, str] = {}
    for source in (body, request.query_string):
        for key, value in _pairs(source) if source else ():
            fields.setdefault(key, value)
    return fields


def _parse_input(operation: str, form: dict[str, str]) -> dict:
    op_model = service_model().operation_model(operation)
    if op_model.input_shape is None:
        return {}
    parser = _Parser(form)
    params = parser.parse(op_model.input_shape, "", "")
    if parser.missing:
        raise MissingParameter(f"The request must contain the parameter {parser.missing[0]}.")
    violations = parser.violations + _limit_violations(operation, params)
    if violations:
        count = len(violations)
        raise QueryValidationError(f"{count} validation error{'s' if count > 1 else ''} detected: "
                          + "; ".join(violations))
    return params


def _limit_violations(operation: str, params: dict) -> list[str]:
    if operation in ("GetIdentityMailFromDomainAttributes", "GetIdentityVerificationAttributes"):
        identities = params.get("Identities") or []
        if len(identities) > MAX_IDENTITIES:
            shown = ", ".join(identities[:MAX_IDENTITIES + 1]) + (", ..." if len(identities) > MAX_IDENTITIES + 1 else "")
            return [f"Value '[{shown}]' at 'identities' failed to satisfy constraint: "
                    f"Member must have length less than or equal to {MAX_IDENTITIES}"]
    return []


# --------------------------------------------------------------------------- result -> XML


def _text(value) -> str:
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, float):
        text = repr(value)
    else:
        text = str(value)
    # A literal CR would reach the client as LF (XML parsers normalise line ends): a character
    # reference keeps it, so a rendered template's CRLF lines arrive as sent.
    return escape(_NOT_XML.sub("\ufffd", text), _CR)


def _xml(shape, value) -> str:
    kind = shape.type_name
    if kind == "structure":
        parts = []
        for name, member in shape.members.items():
            if value.get(name) is None:
                continue
            tag = member.serialization.get("name", name)
            parts.append(f"<{tag}>{_xml(member, value[name])}</{tag}>")
        return "".join(parts)
    if kind == "list":
        tag = shape.member.serialization.get("name", "member")
        return "".join(f"<{tag}>{_xml(shape.member, item)}</{tag}>" for item in value)
    if kind == "map":
        return "".join(f"<entry><key>{_xml(shape.key, k)}</key><value>{_xml(shape.value, v)}</value></entry>"
                       for k, v in value.items())
    return _text(value)


def _xml_response(body: str, status: int = 200) -> Response:
    return WholeResponse('<?xml version="1.0" encoding="UTF-8"?>\n' + body, status=status,
                         content_type="text/xml; charset=utf-8")


def result_response(operation: str, result: dict) -> Response:
    output = service_model().operation_model(operation).output_shape
    wrapper = output.serialization.get("resultWrapper", f"{operation}Result") if output is not None else None
    inner = f"<{wrapper}>{_xml(output, result)}</{wrapper}>" if wrapper else ""
    return _xml_response(
        f'<{operation}Response xmlns="{XMLNS}">{inner}'
        f"<ResponseMetadata><RequestId>{request_id()}</RequestId></ResponseMetadata></{operation}Response>")


def error_response(error: AwsError) -> Response:
    """The query API's error document. Every sender fault is a 400 (the v1 query API
    has no 404s); a body over the size limit keeps its 413; our own faults are 5xx."""
    if error.status >= 500:
        status, fault = error.status, "Receiver"
    else:
        status, fault = (error.status if error.status in (403, 413) else 400), "Sender"
    return _xml_response(
        f'<ErrorResponse xmlns="{XMLNS}"><Error><Type>{fault}</Type><Code>{_text(error.query_code)}</Code>'
        f"<Message>{_text(error.v1_message)}</Message></Error><RequestId>{request_id()}</RequestId></ErrorResponse>",
        status)


# --------------------------------------------------------------------------- operations


def verify_domain_identity(params: dict) -> dict:
    domain = params["Domain"]
    if "@" in domain:
        raise InvalidParameterValue(f"Invalid domain name {domain}.")
    return {"VerificationToken": rules.verification_token(sim().ensure_identity(scope(), domain, request.host_url))}


def verify_email_identity(params: dict) -> dict:
    address = params["EmailAddress"]
    if "@" not in address:
        raise InvalidParameterValue(f"Invalid email address {address}.")
    sim().ensure_identity(scope(), address, request.host_url)
    return {}


_IDENTITY_TYPES = {"EmailAddress": IdentityType.EMAIL_ADDRESS, "Domain": IdentityType.DOMAIN}


def list_identities(params: dict) -> dict:
    max_items = _max_items(params, MAX_LIST_ITEMS)
    type_ = _IDENTITY_TYPES.get(params.get("IdentityType"))
    page, token = sim().list_identities(scope(), max_items, params.get("NextToken") or None, type_)
    result = {"Identities": [i.name for i in page]}
    if token:
        result["NextToken"] = token
    return result


def delete_identity(params: dict) -> dict:
    try:
        sim().delete_identity(scope(), params["Identity"])
    except NotFoundException:
        pass  # AWS answers success for an identity that does not exist
    return {}


def get_identity_verification_attributes(params: dict) -> dict:
    found = sim().find_identities(scope(), params.get("Identities") or [])
    attributes = {}
    for asked, identity in found.items():
        entry = {"VerificationStatus": identity.verification_status.v1}
        if identity.type is IdentityType.DOMAIN:
            entry["VerificationToken"] = rules.verification_token(identity)
        attributes[asked] = entry
    return {"VerificationAttributes": attributes}


def set_identity_mail_from_domain(params: dict) -> dict:
    raw_behavior = params.get("BehaviorOnMXFailure")
    behavior = rules.parse_behavior(raw_behavior, "v1") if raw_behavior is not None else None
    sim().put_mail_from(scope(), params["Identity"], params.get("MailFromDomain") or None, behavior)
    return {}


def get_identity_mail_from_domain_attributes(params: dict) -> dict:
    found = sim().find_identities(scope(), params.get("Identities") or [])
    return {"MailFromDomainAttributes": {asked: mail_from_attributes(i, "v1") for asked, i in found.items()}}


def get_send_quota(params: dict) -> dict:
    summary = sim().account_summary(scope())
    return {"Max24HourSend": summary["max_24_hour_send"], "MaxSendRate": summary["max_send_rate"],
            "SentLast24Hours": summary["sent_last_24_hours"]}


def _send(params: dict, **kwargs) -> dict:
    message_id = sim().send_email(
        scope(), reply_to=params.get("ReplyToAddresses"), max_bytes=mail.V1_MAX_MESSAGE_BYTES,
        max_recipients=mail.MAX_RECIPIENTS, via=VIA_V1, configuration_set=params.get("ConfigurationSetName"),
        tags=params.get("Tags"), **kwargs)
    return {"MessageId": message_id}


def send_email(params: dict) -> dict:
    message = params["Message"]
    simple = {"Subject": message["Subject"], "Body": message["Body"]}
    return _send(params, from_address=params["Source"], destination=params["Destination"], content={"Simple": simple})


def send_raw_email(params: dict) -> dict:
    destinations = params.get("Destinations")
    return _send(params, from_address=params.get("Source") or None,
                 destination={"ToAddresses": destinations} if destinations else None,
                 content={"Raw": {"Data": params["RawMessage"]["Data"]}})  # base64, decoded by the facade


def _template_ref(params: dict, data_member: str) -> dict:
    """v1's Template/TemplateArn and data, in the v2 `Template` form the facade takes."""
    ref = {"TemplateArn": params["TemplateArn"]} if params.get("TemplateArn") else {"TemplateName": params["Template"]}
    return {**ref, "TemplateData": params.get(data_member)}


def send_templated_email(params: dict) -> dict:
    return _send(params, from_address=params["Source"], destination=params["Destination"],
                 content={"Template": _template_ref(params, "TemplateData")})


_V1_BULK_STATUS = {"SUCCESS": "Success", "MESSAGE_REJECTED": "MessageRejected",
                   "MAIL_FROM_DOMAIN_NOT_VERIFIED": "MailFromDomainNotVerified"}


def send_bulk_templated_email(params: dict) -> dict:
    entries = [{"destination": d["Destination"], "data": d.get("ReplacementTemplateData"),
                "tags": d.get("ReplacementTags")} for d in params["Destinations"]]
    results = sim().send_bulk_email(
        scope(), from_address=params["Source"], template=_template_ref(params, "DefaultTemplateData"),
        entries=entries, reply_to=params.get("ReplyToAddresses"), default_tags=params.get("DefaultTags"),
        configuration_set=params.get("ConfigurationSetName"), via=VIA_V1, max_bytes=mail.V1_MAX_MESSAGE_BYTES)
    return {"Status": [{"Status": _V1_BULK_STATUS[r.status], "MessageId": r.message_id,
                        "Error": r.error.v1_message if r.error else None} for r in results]}


# --- templates and configuration sets ------------------------------------------------------
def _template_content(template: dict) -> TemplateContent:
    return TemplateContent(template.get("SubjectPart"), template.get("TextPart"), template.get("HtmlPart"))


def create_template(params: dict) -> dict:
    template = params["Template"]
    sim().create_template(scope(), template["TemplateName"], _template_content(template))
    return {}


def update_template(params: dict) -> dict:
    template = params["Template"]
    sim().update_template(scope(), template["TemplateName"], _template_content(template))
    return {}


def get_template(params: dict) -> dict:
    row = sim().get_template(scope(), params["TemplateName"])
    return {"Template": {"TemplateName": row["name"], "SubjectPart": row["subject"], "TextPart": row["text"],
                         "HtmlPart": row["html"]}}


def delete_template(params: dict) -> dict:
    try:
        sim().delete_template(scope(), params["TemplateName"])
    except NotFoundException:
        pass  # v1 DeleteTemplate models no error for a template that does not exist
    return {}


def _max_items(params: dict, limit: int) -> int | None:
    max_items = params.get("MaxItems")
    if max_items is not None and not 1 <= max_items <= limit:
        raise InvalidParameterValue(f"MaxItems must be between 1 and {limit}.")
    return max_items


def list_templates(params: dict) -> dict:
    # The model: "If more than 100 items are requested, the page size will automatically set to
    # 100. If you do not specify a value, 10 is the default page size."
    max_items = params.get("MaxItems")
    if max_items is not None and max_items < 1:
        raise InvalidParameterValue("MaxItems must be at least 1.")
    page_size = 10 if max_items is None else min(max_items, 100)
    page, token = sim().list_templates(scope(), page_size, params.get("NextToken") or None)
    return {"TemplatesMetadata": [{"Name": t["name"], "CreatedTimestamp": rfc3339(t["created_at"])} for t in page],
            "NextToken": token}


def test_render_template(params: dict) -> dict:
    return {"RenderedTemplate": sim().test_render_template(scope(), params["TemplateName"], params["TemplateData"])}


def create_configuration_set(params: dict) -> dict:
    sim().create_configuration_set(scope(), params["ConfigurationSet"]["Name"])
    return {}


def describe_configuration_set(params: dict) -> dict:
    row = sim().get_configuration_set(scope(), params["ConfigurationSetName"])
    return {"ConfigurationSet": {"Name": row["name"]}}


def delete_configuration_set(params: dict) -> dict:
    sim().delete_configuration_set(scope(), params["ConfigurationSetName"])
    return {}


def list_configuration_sets(params: dict) -> dict:
    page, token = sim().list_configuration_sets(scope(), _max_items(params, MAX_LIST_ITEMS),
                                                params.get("NextToken") or None)
    return {"ConfigurationSets": [{"Name": row["name"]} for row in page], "NextToken": token}


OPERATIONS = {
    "VerifyDomainIdentity": verify_domain_identity,
    "VerifyEmailIdentity": verify_email_identity,
    "ListIdentities": list_identities,
    "DeleteIdentity": delete_identity,
    "GetIdentityVerificationAttributes": get_identity_verification_attributes,
    "SetIdentityMailFromDomain": set_identity_mail_from_domain,
    "GetIdentityMailFromDomainAttributes": get_identity_mail_from_domain_attributes,
    "GetSendQuota": get_send_quota,
    "SendEmail": send_email,
    "SendRawEmail": send_raw_email,
    "SendTemplatedEmail": send_templated_email,
    "SendBulkTemplatedEmail": send_bulk_templated_email,
    "CreateTemplate": create_template,
    "GetTemplate": get_template,
    "UpdateTemplate": update_template,
    "DeleteTemplate": delete_template,
    "ListTemplates": list_templates,
    "TestRenderTemplate": test_render_template,
    "CreateConfigurationSet": create_configuration_set,
    "DescribeConfigurationSet": describe_configuration_set,
    "ListConfigurationSets": list_configuration_sets,
    "DeleteConfigurationSet": delete_configuration_set,
}


def _dispatch() -> Response:
    form = _form()
    action = form.get("Action")
    if not action:
        raise MissingAction("The request must contain the parameter Action.")
    handler = OPERATIONS.get(action)
    if handler is None:
        if action in service_model().operation_names:
            raise InvalidAction(f"The action {action} is not simulated by mailfrom-sim.")
        raise InvalidAction(f"The action {action} is not valid for this web service.")
    if request.method != "POST" and not action.startswith(("Get", "List")):
        # A GET is what an <img> on any page can send: nothing that changes state is served over it.
        raise AccessDeniedException(f"The action {action} changes state and is served over POST only.")
    version = form.get("Version")
    if version is None:
        raise MissingParameter("The request must contain the parameter Version.")
    if version != VERSION:
        raise NoSuchVersion(f"The requested version ({version}) of service AmazonSES does not exist.")
    return result_response(action, handler(_parse_input(action, form)))


@bp.route("/", methods=["GET", "POST"])
def query_api():
    if dashboard.wants_dashboard():  # a person opening the API's URL in a browser
        return dashboard.redirect_to_dashboard()
    return _dispatch()  # a GET (which AWS's query APIs also accept) is answered in XML too


install_error_renderer(bp, error_response)
bp.before_request(guard_aws)
