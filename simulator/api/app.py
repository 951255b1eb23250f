"""The Flask application factory: wires the facade in, registers every API, and
turns each typed error into its wire format. No request ends in HTML or, for
bad input, in a 5xx.
"""
from __future__ import annotations

import json
import logging

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from .. import dashboard
from ..core.errors import AwsError, SimError, UnknownOperationException, RequestEntityTooLarge
from . import control, query, rest_json, stream
from .wire import MAX_BODY, aws_error_response, load_models, request_id

log = logging.getLogger("mailfrom_sim.api")

# SendEmail carries whole messages (40 MB of MIME, base64 in JSON); everything else is small.
_LARGE_BODY_PATHS = ("/v2/email/outbound-emails", "/v1/email/outbound-emails", "/")
LARGE_BODY = 60 * 1024 * 1024


def _sim_envelope(code: str, message: str, status: int) -> Response:
    return Response(json.dumps({"success": False, "error": {"code": code, "message": message}}),
                    status=status, mimetype="application/json")


def _is_query_request() -> bool:
    return request.path == "/" and request.method == "POST"


def create_app(simulator, config: dict | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(DEFAULT_REGION="us-east-1", MAX_CONTENT_LENGTH=LARGE_BODY)
    app.config.update(config or {})
    app.extensions["mailfrom_sim"] = simulator
    load_models()

    app.register_blueprint(rest_json.bp)
    app.register_blueprint(control.bp)
    app.register_blueprint(stream.bp)
    app.register_blueprint(dashboard.bp)
    app.before_request(dashboard.redirect_browsers)  # GET / from a browser: the dashboard
    app.register_blueprint(query.bp)

    @app.before_request
    def limit_body():
        request_id()
        if request.path not in _LARGE_BODY_PATHS:
            request.max_content_length = MAX_BODY

    @app.after_request
    def add_request_id(response: Response) -> Response:
        response.headers["x-amzn-RequestId"] = request_id()
        return response

    def render_aws(error: AwsError) -> Response:
        if request.path.startswith("/_sim"):
            return _sim_envelope("NOT_FOUND" if error.status == 404 else "VALIDATION_ERROR", error.message,
                                 404 if error.status == 404 else 400)
        if _is_query_request():
            return query.error_response(error)
        return aws_error_response(error)

    @app.errorhandler(AwsError)
    def on_aws_error(error: AwsError):
        return render_aws(error)

    @app.errorhandler(SimError)
    def on_sim_error(error: SimError):
        return _sim_envelope(error.code, error.message, error.status)

    @app.errorhandler(HTTPException)
    def on_http_error(error: HTTPException):
        if error.code == 413:
            return render_aws(RequestEntityTooLarge("The request body is too large."))
        if request.path.startswith("/_sim"):
            return _sim_envelope("NOT_FOUND" if error.code in (404, 405) else "VALIDATION_ERROR",
                                 f"{request.method} {request.path}: {error.description}",
                                 404 if error.code in (404, 405) else 400)
        if error.code in (404, 405):
            return render_aws(UnknownOperationException(f"No operation matches {request.method} {request.path}."))
        from ..core.errors import BadRequestException

        return render_aws(BadRequestException(error.description or "Bad request."))

    @app.errorhandler(Exception)
    def on_unexpected(error: Exception):
        log.exception("unexpected error on %s %s", request.method, request.path)
        if request.path.startswith("/_sim"):
            return _sim_envelope("INTERNAL_ERROR", f"{type(error).__name__}: {error}", 500)
        failure = AwsError(f"Internal failure: {type(error).__name__}")
        failure.code, failure.status = "InternalFailure", 500
        return render_aws(failure)

    return app
