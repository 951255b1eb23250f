"""The AWS side of the wire: who is asking (region and account from SigV4), request
ids, JSON bodies, and AWS-shaped error responses. The botocore service models are
the contract: response members are filtered through them, not typed by hand.
"""
from __future__ import annotations

import json
import logging
import re
from functools import lru_cache
from typing import TYPE_CHECKING, Callable

from flask import Blueprint, Response, current_app, request
from werkzeug.exceptions import HTTPException

from ..core.errors import (
    AwsError,
    BadRequestException,
    InternalFailure,
    RequestEntityTooLarge,
    SerializationException,
    UnknownOperationException,
)
from ..core.jsoninput import loads_object
from ..core.model import Scope
from ..credentials import DEFAULT_ACCOUNT, account_for_access_key
from ..mail.ids import random_uuid
from ..models import error_codes, operation_error_codes, service_model

if TYPE_CHECKING:
    from ..service import Simulator

log = logging.getLogger("mailfrom_sim.api")

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/\d{8}/([a-z0-9-]+)/")
MAX_BODY = 10 * 1024 * 1024


def sim() -> "Simulator":
    """The facade this app serves (wired in by `create_app`)."""
    return current_app.extensions["mailfrom_sim"]


def new_request_id() -> str:
    """A random (version 4) UUID, as AWS's request ids are."""
    return str(random_uuid())


REQUEST_ID_KEY = "mailfrom_sim.request_id"  # in the WSGI environ, set as each request arrives


def request_id() -> str:
    """This request's id, as its x-amzn-RequestId header says (the app sets both)."""
    environ = request.environ
    rid = environ.get(REQUEST_ID_KEY)
    if rid is None:
        rid = environ[REQUEST_ID_KEY] = new_request_id()
    return rid


def _credential_part(authorization: str) -> str:
    """The `Credential=key/date/region/...` part of an Authorization header: the same for
    every request a client signs on one day, while the signature around it changes."""
    start = authorization.find("Credential=")
    if start < 0:
        return ""
    end = authorization.find(",", start)
    return authorization[start:] if end < 0 else authorization[start:end + 1]


@lru_cache(maxsize=1024)
def _scope_of(credential: str, default_region: str) -> tuple[str | None, Scope]:
    """(access key, scope) a credential part names (the key None when it names none)."""
    match = _CREDENTIAL.search(credential)
    if not match:
        return None, Scope(DEFAULT_ACCOUNT, default_region)
    key, region = match.group(1), match.group(2)
    return key, Scope(account_for_access_key(key), region)


SCOPE_KEY = "mailfrom_sim.scope"  # in the WSGI environ, once a view has asked
CREDENTIAL_KEY = "mailfrom_sim.credential"  # in the WSGI environ: --auth strict's verified key (guard.py)


def scope() -> Scope:
    """(account, region) of this request: from the SigV4 credential scope, else the defaults.
    Kept in the request's environ (one lookup; `flask.g` costs a context-variable hop per use)."""
    environ = request.environ
    cached = environ.get(SCOPE_KEY)
    if cached is not None:
        return cached
    key, found = _scope_of(_credential_part(environ.get("HTTP_AUTHORIZATION", "")),
                           current_app.config["DEFAULT_REGION"])
    credential = environ.get(CREDENTIAL_KEY)  # --auth strict: the verified key's account
    if key is not None and credential is not None:
        found = Scope(credential.account, found.region)
    environ[SCOPE_KEY] = found
    return found


def json_object(error: type[Exception], text_error: type[Exception] | None = None) -> dict:
    """The request's JSON object; an empty body is {}; anything else raises `error`, as do
    non-finite numbers and nesting deeper than MAX_JSON_DEPTH (SPEC §14). A lone surrogate
    (well-formed JSON, but no text) raises `text_error` (default `error`), naming the member."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    return loads_object(raw, error, text_error)


def json_body() -> dict:
    """An AWS rest-json request body: malformed JSON is a SerializationException; a lone
    surrogate in a member is that member's bad value (BadRequestException)."""
    return json_object(SerializationException, BadRequestException)


def optional_string(body: dict, key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise BadRequestException(f"{key} must be a string.")
    return value


def json_response(payload: dict, status: int = 200) -> Response:
    return json_text_response(json.dumps(payload), status)


class WholeResponse(Response):
    """werkzeug's Response, handed to the server the short way when its body is whole in
    memory (every answer here but the event stream): the body list itself, not a closing
    iterator over it, and the headers as they are, not a copy checked for Location headers
    and content lengths that such an answer never needs. Anything else (HEAD, 1xx/204/304,
    a Location header, a streamed body, close callbacks) goes werkzeug's own way."""

    def _whole(self, environ) -> bool:
        """A body set whole (`set_data`, which also sets Content-Length: bytes, not text)."""
        status = self.status_code
        return (isinstance(self.response, list) and not self._on_close and status >= 200
                and status != 204 and status != 304 and environ["REQUEST_METHOD"] != "HEAD"
                and "Content-Length" in self.headers)

    def get_wsgi_headers(self, environ):
        headers = self.headers
        if self._whole(environ) and "Location" not in headers and "Content-Location" not in headers:
            return headers
        return super().get_wsgi_headers(environ)

    def get_app_iter(self, environ):
        if self._whole(environ):
            return self.response
        return super().get_app_iter(environ)


def json_text_response(text: str, status: int = 200) -> Response:
    return WholeResponse(text, status=status, mimetype="application/json")


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
    shaper = _output_shaper(service, operation)
    return shaper(payload) if shaper is not None else {}


@lru_cache(maxsize=None)
def _output_shaper(service: str, operation: str):
    shape = service_model(service).operation_model(operation).output_shape
    return _shaper(shape, {}) if shape is not None else None


def _identity(value):
    return value


def _shaper(shape, made: dict):
    """A function keeping only `shape`'s members of a value, at every depth; built once per
    operation (walking the model for every answer showed in the profile). Scalars pass as
    they are. `made` ends recursion on shapes that contain themselves."""
    kind = shape.type_name
    if kind not in ("structure", "list", "map"):
        return _identity
    key = id(shape)
    if key in made:  # made before its members: a shape containing itself finds it here
        return made[key]
    if kind == "structure":
        members: dict = {}

        def shape_structure(value):
            if not isinstance(value, dict):
                return value
            return {k: (v if f is _identity else f(v)) for k, v in value.items()
                    if (f := members.get(k)) is not None}
        made[key] = shape_structure
        members.update((name, _shaper(member, made)) for name, member in shape.members.items())
        return shape_structure
    if kind == "list":
        item: list = []

        def shape_list(value):
            return [item[0](v) for v in value] if isinstance(value, list) else value
        made[key] = shape_list
        item.append(_shaper(shape.member, made))
        return shape_list
    values: list = []

    def shape_map(value):
        return {k: values[0](v) for k, v in value.items()} if isinstance(value, dict) else value
    made[key] = shape_map
    values.append(_shaper(shape.value, made))
    return shape_map


def in_model(service: str, error: AwsError, operation: str | None = None) -> AwsError:
    """`error` as `service` can answer it: a model error code this service's model does not
    define (e.g. InvalidNextTokenException on Pinpoint), or that `operation`'s errors do not
    list (InvalidNextTokenException on sesv2 ListEmailTemplates), is its BadRequestException."""
    known = error_codes("sesv2") | error_codes("pinpoint-email")
    if error.code in known and (error.code not in error_codes(service) or (
            operation is not None and error.code not in operation_error_codes(service, operation))):
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
