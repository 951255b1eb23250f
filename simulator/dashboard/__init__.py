"""The dashboard (SPEC §13): server-rendered Jinja pages under /_sim/dashboard, kept
live by a little vanilla JavaScript that listens to /_sim/events and re-fetches
the fragments an event touches. Views are thin: they read through the facade
(model.py) and render; every button calls an existing /_sim JSON endpoint.
"""
from __future__ import annotations

from flask import Blueprint, Response, redirect, render_template, request

from ..api.control import ok, render_error, sim_scope
from ..api.wire import sim as _sim
from . import model
from .diagram import state_diagram_svg

bp = Blueprint("dashboard", __name__, url_prefix="/_sim/dashboard",
               template_folder="templates", static_folder="static")
bp.register_error_handler(Exception, render_error)  # the /_sim envelope, as the control plane

FRAGMENTS = ("clock", "identities", "detail", "outbox", "zone")


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
