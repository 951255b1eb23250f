"""The AWS side of the wire: who is asking (region and account from SigV4), request
ids, JSON bodies, and AWS-shaped error responses. The botocore service models are
the contract: response members are filtered through them, not typed by hand.
"""
from __future__ import annotations

import json
import logging
import re
import uuid
from typing import TYPE_CHECKING, Callable

from flask import Blueprint, Response, current_app, g, request
from werkzeug.exceptions import HTTPException

from ..core.errors import (
    AwsError,
    BadRequestException,
    InternalFailure,
    RequestEntityTooLarge,
    SerializationException,
    UnknownOperationException,
)
from ..core.model import Scope
from ..credentials import DEFAULT_ACCOUNT, account_for_access_key
from ..models import error_codes, service_model

if TYPE_CHECKING:
    from ..service import Simulator

log = logging.getLogger("mailfrom_sim.api")

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/\d{8}/([a-z0-9-]+)/")
MAX_BODY = 10 * 1024 * 1024


def sim() -> "Simulator":
    """The facade this app serves (wired in by `create_app`)."""
    return current_app.extensions["mailfrom_sim"]


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
        account, region = account_for_access_key(match.group(1)), match.group(2)
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
        raise BadRequestException(f"{key} must be a string.")
    return value


def json_response(payload: dict, status: int = 200) -> Response:
    return Response(json.dumps(payload), status=status, mimetype="application/json")


def aws_error_response(error: AwsError) -> Response:
    response = json_response({"message": error.message}, error.status)
    response.headers["x-amzn-ErrorType"] = error.code
    return response


def as_aws_error(error: Exception) -> AwsError:
    """Any exception raised while serving an AWS request, as the AWS error to answer with."""
    if isinstance(error, AwsError):
        return error
    if isinstance(error, HTTPException):
        if error.code == 413:
            return RequestEntityTooLarge("The request body is too large.")
        if error.code in (404, 405):
            return UnknownOperationException(f"No operation matches {request.method} {request.path}.")
        return BadRequestException(error.description or "Bad request.")
    log.exception("unexpected error on %s %s", request.method, request.path)
    return InternalFailure(f"Internal failure: {type(error).__name__}")


def install_error_renderer(bp: Blueprint, render: Callable[[AwsError], Response]) -> None:
    """Every error raised in `bp`'s views is answered by `render`, in that API's own format."""
    bp.register_error_handler(Exception, lambda error: render(as_aws_error(error)))


def shaped(service: str, operation: str, payload: dict) -> dict:
    """Keep only the members the service model has for this operation's output, at every
    depth: a Pinpoint answer never carries a member only SES v2 defines (SPEC §16)."""
    shape = service_model(service).operation_model(operation).output_shape
    return _shaped(shape, payload) if shape is not None else {}


def _shaped(shape, value):
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        members = shape.members
        return {k: _shaped(members[k], v) for k, v in value.items() if k in members}
    if kind == "list" and isinstance(value, list):
        return [_shaped(shape.member, item) for item in value]
    if kind == "map" and isinstance(value, dict):
        return {k: _shaped(shape.value, v) for k, v in value.items()}
    return value


def in_model(service: str, error: AwsError) -> AwsError:
    """`error` as `service` can answer it: a model error code this service's model does not
    define (e.g. InvalidNextTokenException on Pinpoint) is its BadRequestException."""
    known = error_codes("sesv2") | error_codes("pinpoint-email")
    if error.code in known and error.code not in error_codes(service):
        return BadRequestException(error.message, error.v1_message)
    return error


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
