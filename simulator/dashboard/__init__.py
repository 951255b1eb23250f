"""The dashboard (SPEC §13): server-rendered Jinja pages under /_sim/dashboard, kept
live by a little vanilla JavaScript that listens to /_sim/events and re-fetches
the fragments an event touches. Views are thin: they read through the facade
(model.py) and render; every button calls an existing /_sim JSON endpoint.

Guarded as the rest of /_sim (api/guard.py). With `--control-token` the page asks for
the token once: without it the page is a sign-in form (401), which posts it to
`/_sim/dashboard/session`; that sets an HttpOnly, SameSite=Strict cookie holding a
value derived from the token, which the page's own requests (fragments, the event
stream, the buttons' /_sim calls) then carry, since a browser cannot add a header to
a page load or an EventSource.
"""
from __future__ import annotations

import hmac

from flask import Blueprint, Response, current_app, redirect, render_template, request

from ..api.control import body, ok, render_error, sim_scope
from ..api.guard import (SESSION_COOKIE, control_token_given, refuse_cross_site, require_control_token,
                         require_json_for_changes, session_value)
from ..api.wire import sim as _sim
from ..core.errors import Unauthorized, ValidationError
from . import model
from .diagram import state_diagram_svg

bp = Blueprint("dashboard", __name__, url_prefix="/_sim/dashboard",
               template_folder="templates", static_folder="static")
bp.register_error_handler(Exception, render_error)  # the /_sim envelope, as the control plane

FRAGMENTS = ("clock", "identities", "detail", "outbox", "zone")
OPEN_ENDPOINTS = ("dashboard.static", "dashboard.sign_in")  # served without the token (still same-site only)


@bp.before_request
def guard():
    refuse_cross_site()
    require_json_for_changes()
    if request.endpoint in OPEN_ENDPOINTS or control_token_given():
        return None
    if request.endpoint == "dashboard.page":  # a person opening the page: ask for the token
        return Response(render_template("dashboard/sign_in.html"), 401, mimetype="text/html",
                        headers={"WWW-Authenticate": 'Bearer realm="mailfrom-sim /_sim"'})
    require_control_token()
    return None


@bp.post("/session")
def sign_in():
    """{"token": "..."}: the --control-token; answered with the session cookie."""
    token = current_app.config.get("CONTROL_TOKEN")
    given = body().get("token")
    if not isinstance(given, str):
        raise ValidationError("token is required: the simulator's --control-token")
    if token and not hmac.compare_digest(given.encode(), token.encode()):
        raise Unauthorized("that is not this simulator's --control-token")
    response = ok({"signed_in": True})
    if token:
        response.set_cookie(SESSION_COOKIE, session_value(token), path="/_sim", httponly=True, samesite="Strict")
    return response


@bp.app_template_filter("sim_duration")
def sim_duration(seconds: float) -> str:
    """3725 -> "1 h 2 m 5 s"; the clock offset and the timing settings, for people."""
    seconds = int(round(seconds or 0))
    parts = [(seconds // 86400, "d"), (seconds % 86400 // 3600, "h"), (seconds % 3600 // 60, "m"), (seconds % 60, "s")]
    return " ".join(f"{value} {unit}" for value, unit in parts if value) or "0 s"


def _context(parts) -> dict:
    sim, scope = _sim(), sim_scope()
    selected = request.args.get("identity") or None
    context = {"scope": scope, "selected": selected}
    if "clock" in parts:
        context["clock"] = model.clock(sim)
    if "identities" in parts:
        context["identities"] = model.identities(sim, scope)
    if "detail" in parts:
        context["detail"] = model.detail(sim, scope, selected)
        context["diagram"] = state_diagram_svg(context["detail"]["current"] if context["detail"] else None)
    if "outbox" in parts:
        context["outbox"] = model.outbox(sim, scope)
    if "zone" in parts:
        context["zone"] = model.zone(sim)
    return context


@bp.get("")
@bp.get("/")
def page():
    context = _context(FRAGMENTS)
    return render_template("dashboard/page.html", fragments=FRAGMENTS, **context,
                           last_event_id=_sim().events.last_id)


@bp.get("/fragments")
def fragments():
    """{"<name>": "<html>"} for the named fragments: what the page swaps in on an event."""
    wanted = [p for p in request.args.get("parts", "").split(",") if p in FRAGMENTS]
    context = _context(wanted)
    html = {part: render_template(f"dashboard/_{part}.html", **context) for part in wanted}
    return ok(html)


def wants_dashboard() -> bool:
    """A browser opening the API's root URL: GET / without Action, accepting text/html."""
    return (request.method == "GET" and "Action" not in request.args
            and "text/html" in request.headers.get("Accept", ""))


def redirect_to_dashboard() -> Response:
    return redirect("/_sim/dashboard", 302)
