"""The Flask application factory: wires the facade in and registers every API.

Each blueprint renders its own errors in its own wire format (rest_json: AWS
JSON, query: AWS XML, control: the /_sim envelope); what matches no blueprint is
answered as the rest-json APIs would. No request ends in HTML or, for bad input,
in a 5xx.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Flask, Response, request
from flask.sessions import NullSession, SessionInterface
from werkzeug.exceptions import NotFound, RequestHeaderFieldsTooLarge
from werkzeug.routing import PathConverter

from .. import dashboard
from ..activity import Activity
from ..models import load_models
from . import control, query, rest_json, stream
from .wire import MAX_BODY, REQUEST_ID_KEY, WholeResponse, as_aws_error, aws_error_response, new_request_id

if TYPE_CHECKING:
    from ..service import Simulator

# SendEmail carries whole messages (40 MB of MIME, base64 in JSON); everything else is small.
_LARGE_BODY_PATHS = ("/v2/email/outbound-emails", "/v1/email/outbound-emails", "/")
LARGE_BODY = 60 * 1024 * 1024
# A request head larger than this is refused in the caller's protocol (SPEC §14). The HTTP
# server accepts heads up to simulator/api/server.py's MAX_HEAD_BYTES, so they get here.
MAX_HEAD = 256 * 1024
# A body refused as too large is read and thrown away (up to this much) before the answer
# goes out: a client still sending would otherwise see its connection reset, not the 413.
DISCARD_LIMIT = 256 * 1024 * 1024


def _discard_body(response: Response) -> None:
    """Read the rest of a refused body in small pieces (nothing kept), so the client reads
    the 413; past DISCARD_LIMIT the connection is closed instead."""
    length = request.content_length
    if length is None or length > DISCARD_LIMIT:
        response.headers["Connection"] = "close"
        return
    stream = request.environ["wsgi.input"]
    while length > 0:
        chunk = stream.read(min(length, 1 << 20))
        if not chunk:
            break
        length -= len(chunk)


class AnyPath(PathConverter):
    """A path segment run that may hold any character: werkzeug's own stops at a line
    feed, so `/_sim/identities/a%0Ab/history` matched no rule and left its blueprint."""

    regex = r"[^/](?s:.)*?"


class _NoSessions(SessionInterface):
    """No view here uses Flask's cookie session (the control plane's token is a header):
    every request gets the one null session, with no cookie parsed or signed."""

    _null = NullSession()

    def open_session(self, app, request):
        return self._null

    def is_null_session(self, obj) -> bool:
        return obj is self._null

    def save_session(self, app, session, response) -> None:  # never called: the session is null
        return None


class _App(Flask):
    activity: Activity
    response_class = WholeResponse
    session_interface = _NoSessions()
    # No automatic OPTIONS answer (an empty text/html 200): OPTIONS is a method no route
    # takes, answered as any other, in the caller's protocol or the /_sim envelope.
    default_config = {**Flask.default_config, "PROVIDE_AUTOMATIC_OPTIONS": False}

    def ensure_sync(self, func):
        """Every view and hook here is a plain function: skip Flask's per-call check for
        coroutines (inspect's flag tests showed in every request's profile)."""
        return func

    def wsgi_app(self, environ, start_response):
        """Every answer carries the request's id (x-amzn-RequestId), made here rather than
        in a Flask hook: this runs for every request and a hook cost twice as much."""
        rid = environ[REQUEST_ID_KEY] = new_request_id()

        def start_with_id(status, headers, exc_info=None):
            headers.append(("x-amzn-RequestId", rid))
            return start_response(status, headers, exc_info)
        activity = self.activity
        activity.enter()  # background sealing waits while requests are served (simulator/activity.py)
        try:
            return super().wsgi_app(environ, start_with_id)
        finally:
            activity.leave()


def create_app(simulator: "Simulator", config: dict | None = None) -> Flask:
    app = _App(__name__)
    app.url_map.converters["path"] = AnyPath  # before any blueprint's rules are built
    # `//v2/...` is no path of any API: answered as one (404, AWS-shaped), never an HTML 308.
    app.url_map.merge_slashes = False
    app.config.update(DEFAULT_REGION="us-east-1", MAX_CONTENT_LENGTH=LARGE_BODY)
    app.config.update(config or {})
    app.extensions["mailfrom_sim"] = simulator
    app.activity = simulator.activity if simulator is not None else Activity()  # None: the app's routes only
    load_models()

    app.register_blueprint(rest_json.bp)
    app.register_blueprint(control.bp)
    app.register_blueprint(stream.bp)
    app.register_blueprint(dashboard.bp)
    app.register_blueprint(query.bp)

    @app.before_request
    def limit_body():
        environ = request.environ
        if "//" in environ["PATH_INFO"]:  # routing strips leading slashes: `//v2/...` would be served
            raise NotFound()
        if sum(len(k) + len(v) for k, v in environ.items() if k[:5] == "HTTP_") > MAX_HEAD:
            raise RequestHeaderFieldsTooLarge(f"The request's header fields exceed {MAX_HEAD // 1024} KB.")
        if environ["PATH_INFO"] not in _LARGE_BODY_PATHS:
            request.max_content_length = MAX_BODY

    @app.after_request
    def discard_refused_body(response: Response) -> Response:
        if response.status_code == 413:
            _discard_body(response)
        return response

    @app.errorhandler(Exception)
    def unmatched(error: Exception) -> Response:
        # Only requests no blueprint took get here (no route matched): answer as rest-json,
        # but a /_sim path (a method no control-plane call takes) in the /_sim envelope; a
        # `//` path is the HTTP layer's, AWS-shaped (SPEC §14).
        if (request.path == "/_sim" or request.path.startswith("/_sim/")) and "//" not in request.path:
            return control.render_error(error)
        return aws_error_response(as_aws_error(error))

    return app
