"""The AWS side of the wire: who is asking (region and account from SigV4), request
ids, JSON bodies, and AWS-shaped error responses. The botocore service models are
the contract: response members are filtered through them, not typed by hand.
"""
from __future__ import annotations

import json
import re
import uuid

from flask import Response, current_app, g, request

from ..core.errors import AwsError, SerializationException
from ..core.model import Scope
from ..models import output_members

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/\d{8}/([a-z0-9-]+)/")
DEFAULT_ACCOUNT = "000000000000"
MAX_BODY = 10 * 1024 * 1024


def request_id() -> str:
    rid = getattr(g, "request_id", None)
    if rid is None:
        rid = g.request_id = str(uuid.uuid4())
    return rid


def scope() -> Scope:
    """(account, region) of this request: from the SigV4 credential scope, else the defaults."""
    cached = getattr(g, "scope", None)
    if cached is not None:
        return cached
    account, region = DEFAULT_ACCOUNT, current_app.config["DEFAULT_REGION"]
    match = _CREDENTIAL.search(request.headers.get("Authorization", ""))
    if match:
        key, region = match.group(1), match.group(2)
        if len(key) == 12 and key.isdigit():
            account = key
    g.scope = Scope(account, region)
    return g.scope


def json_object(error: type[Exception]) -> dict:
    """The request's JSON object; an empty body is {}; anything else raises `error`."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise error("The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise error("The request body must be a JSON object.")
    return body


def json_body() -> dict:
    """An AWS rest-json request body: malformed JSON is a SerializationException."""
    return json_object(SerializationException)


def optional_string(body: dict, key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        from ..core.errors import BadRequestException

        raise BadRequestException(f"{key} must be a string.")
    return value


def json_response(payload: dict, status: int = 200) -> Response:
    return Response(json.dumps(payload), status=status, mimetype="application/json")


def aws_error_response(error: AwsError) -> Response:
    response = json_response({"message": error.message}, error.status)
    response.headers["x-amzn-ErrorType"] = error.code
    return response


def shaped(service: str, operation: str, payload: dict) -> dict:
    """Keep only the members the service model has for this operation's output."""
    allowed = output_members(service, operation)
    return {k: v for k, v in payload.items() if k in allowed}


def mail_from_attributes(identity, spelling: str = "v2") -> dict:
    """MailFromAttributes as live AWS returns them: only the behaviour when no MAIL FROM
    domain is set. v1 spells the member BehaviorOnMXFailure and the values Pending, ..."""
    v1 = spelling == "v1"
    attributes = {"BehaviorOnMXFailure" if v1 else "BehaviorOnMxFailure":
                  identity.behavior.v1 if v1 else identity.behavior.value}
    if identity.mail_from is not None:
        attributes["MailFromDomain"] = identity.mail_from.domain
        attributes["MailFromDomainStatus"] = identity.mail_from.status.v1 if v1 else identity.mail_from.status.value
    return attributes
