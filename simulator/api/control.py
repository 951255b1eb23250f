"""The simulator's own control plane, `/_sim`: JSON in and out, one envelope for
every answer ({"success": true, "data": ...} or {"success": false, "error": ...}).
"""
from __future__ import annotations

import json
import logging

from flask import Blueprint, Response, current_app, request
from werkzeug.exceptions import HTTPException

from ..core.clock import rfc3339
from ..core.errors import AwsError, NotFoundException, SimError, SimNotFound, ValidationError
from ..core.model import Scope
from ..core.names import is_region_name
from ..memory import release
from .guard import guard_control
from .wire import WholeResponse, json_object, json_response, json_text_response, sim

log = logging.getLogger("mailfrom_sim.api")
bp = Blueprint("control", __name__, url_prefix="/_sim")
bp.before_request(guard_control)


def envelope_error(code: str, message: str, status: int) -> Response:
    return json_response({"success": False, "error": {"code": code, "message": message}}, status)


@bp.errorhandler(Exception)
def render_error(error: Exception) -> Response:
    """The control plane's envelope for every error raised by its views."""
    if isinstance(error, SimError):
        return envelope_error(error.code, error.message, error.status)
    if isinstance(error, AwsError) and error.status < 500:  # a facade rule refused the input
        not_found = isinstance(error, NotFoundException)
        return envelope_error("NOT_FOUND" if not_found else "VALIDATION_ERROR", error.message,
                              404 if not_found else 400)
    if isinstance(error, HTTPException) and error.code < 500:
        not_found = error.code in (404, 405)
        return envelope_error("NOT_FOUND" if not_found else "VALIDATION_ERROR",
                              f"{request.method} {request.path}: {error.description}", 404 if not_found else 400)
    log.exception("unexpected error on %s %s", request.method, request.path)
    return envelope_error("INTERNAL_ERROR", f"{type(error).__name__}: {error}", 500)


@bp.route("", methods=["GET", "POST", "PUT", "DELETE", "PATCH"], strict_slashes=False)
def no_call():
    raise SimNotFound(f"{request.method} {request.path}: name a control-plane call, e.g. /_sim/health")


@bp.route("/<path:unknown>", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
def unknown_call(unknown: str):
    raise SimNotFound(f"{request.method} /_sim/{unknown}: no such control-plane call")


def ok(data, status: int = 200) -> Response:
    return json_response({"success": True, "data": data}, status)


# Items serialised per json.dumps call by ok_lists: one call over a 100,000-check sweep's
# results would hold the GIL for ~0.3 s, stalling every request served meanwhile.
LIST_PIECE = 256


def ok_lists(data: dict[str, list]) -> Response:
    """`ok(data)` for a dict of long lists, byte for byte, serialised a piece of each list at a time."""
    fields = []
    for key, items in data.items():
        pieces = [json.dumps(items[start:start + LIST_PIECE])[1:-1] for start in range(0, len(items), LIST_PIECE)]
        fields.append(f"{json.dumps(key)}: [{', '.join(pieces)}]")
    return json_text_response(f'{{"success": true, "data": {{{", ".join(fields)}}}}}')


def created(object_id: str, at: float, **extra) -> Response:
    return ok({"id": object_id, "created_at": rfc3339(at), **extra}, 201)


def body() -> dict:
    return json_object(ValidationError)


def sim_scope() -> Scope:
    account = request.args.get("account", "000000000000")
    region = request.args.get("region", current_app.config["DEFAULT_REGION"])
    if not (len(account) == 12 and account.isascii() and account.isdigit()):
        raise ValidationError("account must be 12 digits")
    if not is_region_name(region):
        raise ValidationError("region must be a region name such as us-east-1")
    return Scope(account, region)


def sim_scope_or_all() -> Scope | None:
    """The query's scope, or None (every account and region) when it names neither."""
    return sim_scope() if "account" in request.args or "region" in request.args else None


@bp.get("/health")
def health():
    return ok({**sim().health(), "smtp": current_app.config.get("SMTP")})


@bp.post("/reset")
def reset():
    body()  # a JSON object, or nothing: a malformed body is a mistake, not a go-ahead
    sim().reset()
    return ok({"reset": True})


@bp.get("/clock")
def clock():
    now = sim().now()
    return ok({"now": now, "iso": rfc3339(now), "offset": sim().clock.offset})


@bp.post("/clock/advance")
def advance():
    result = sim().advance(body().get("seconds"))
    return ok({**result, "iso": rfc3339(result["now"])})


@bp.post("/checks/run")
def run_checks():
    identity = body().get("identity")
    if identity is not None and not isinstance(identity, str):
        raise ValidationError("identity must be a string")
    # SPEC §7: all active configurations -- of every account and region unless the query names one
    scope = sim_scope() if identity is not None else sim_scope_or_all()
    result = sim().check_now(scope, identity)  # {"checks": [...], "skipped": [...]}
    response = ok_lists(result)
    release(result["checks"])  # a sweep's results: freed in pieces, not in one long stretch
    return response


@bp.get("/identities/<path:identity>/history")
def history(identity: str):
    return ok({"identity": identity, "history": sim().history(sim_scope(), identity)})


@bp.put("/identities/<path:identity>/verification")
def verification(identity: str):
    status = body().get("status")
    if not isinstance(status, str):
        raise ValidationError("status is required: PENDING, SUCCESS or FAILED")
    updated = sim().set_verification(sim_scope(), identity, status)
    return ok({"identity": updated.name, "status": updated.verification_status.value})


@bp.get("/account")
def get_account():
    return ok(sim().account_summary(sim_scope()))


@bp.put("/account")
def put_account():
    data = body()
    return ok(sim().set_account_settings(sim_scope(), data.get("sandbox"), data.get("identity_verification")))


@bp.get("/verify/<token>")
def verify(token: str):
    """The link in an email address's verification message (SPEC §12): opening it verifies."""
    identity = sim().verify_email_link(token)
    return ok({"identity": identity.name, "account": identity.account, "region": identity.region,
               "status": identity.verification_status.value})


@bp.get("/dns/records")
def dns_records():
    return ok({"records": sim().dns_records()})


@bp.post("/dns/records")
def add_dns_record():
    data = body()
    for key in ("name", "type", "value"):
        if not isinstance(data.get(key), str):
            raise ValidationError(f"{key} is required and must be a string")
    ttl = data.get("ttl", 300)
    if isinstance(ttl, bool) or not isinstance(ttl, int):
        raise ValidationError("ttl must be an integer")
    record = sim().add_dns_record(data["name"], data["type"], data["value"], ttl)
    return created(record["id"], sim().now(), record=record)


@bp.delete("/dns/records/<record_id>")
def remove_dns_record(record_id: str):
    sim().remove_dns_record(record_id)
    return ok({"id": record_id, "deleted": True})


@bp.put("/dns/faults/<path:name>")
def set_dns_fault(name: str):
    given = body()
    if "fault" not in given:  # an empty body is a mistake, not a quiet way to clear
        raise ValidationError('fault is required: "timeout", "servfail", "refused", or "none" (or null) to clear')
    fault = given["fault"]
    if fault in (None, "none"):  # clearing is idempotent here; DELETE reports an absent fault
        try:
            sim().clear_dns_fault(name)
        except SimNotFound:
            pass
        return ok({"name": name, "fault": None})
    return ok(sim().set_dns_fault(name, fault))


@bp.delete("/dns/faults/<path:name>")
def clear_dns_fault(name: str):
    sim().clear_dns_fault(name)
    return ok({"name": name, "fault": None})


@bp.get("/outbox")
def outbox():
    raw_limit = request.args.get("limit", "100")
    if not (raw_limit.isascii() and raw_limit.isdigit() and len(raw_limit) <= 6):
        raise ValidationError("limit must be an integer")
    limit = int(raw_limit)
    if not 1 <= limit <= 10000:
        raise ValidationError("limit must be from 1 to 10000")
    before = request.args.get("before")
    if before is not None and not (before.isascii() and before.isdigit() and len(before) <= 18):
        raise ValidationError("before must be the `next` of an earlier page")
    page = sim().outbox_page(sim_scope(), limit, int(before) if before is not None else None)
    return ok({"messages": page["messages"], **({"next": page["next"]} if page["next"] else {})})


@bp.delete("/outbox")
def clear_outbox():
    body()  # a JSON object, or nothing
    sim().clear_outbox(sim_scope_or_all())
    return ok({"cleared": True})


@bp.get("/outbox/<message_id>/raw")
def raw_message(message_id: str):
    return WholeResponse(sim().raw_message(message_id), mimetype="message/rfc822")


@bp.post("/outbox/<message_id>/relay")
def requeue_relay(message_id: str):
    body()  # a JSON object, or nothing
    return ok(sim().requeue_relay(message_id))
