"""What is refused before any view runs (SPEC §14), one `before_request` per blueprint,
each raising its own API's error so its own renderer answers:

- a `Host` that is not loopback, the `--host` value or an `--allowed-host` (DNS rebinding);
- an `Origin` other than the simulator's own, or `Sec-Fetch-Site: cross-site` (browsers);
- on AWS paths with `--auth strict`: a request not signed (SigV4) by a key of the file;
- on /_sim (the control plane, the event stream, the dashboard): a missing
  `--control-token` (a header, or the dashboard's session cookie), and a state change
  not sent as application/json.
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
from functools import lru_cache

from flask import current_app, request

from ..core.errors import AccessDeniedException, Forbidden, Unauthorized, UnsupportedMediaType
from . import sigv4
from .wire import CREDENTIAL_KEY

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def _hostname(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if host.count(":") == 1 else host


def host_allowed(host: str, allowed) -> bool:
    name = _hostname(host)
    if "*" in allowed or name in allowed or name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


@lru_cache(maxsize=256)
def _host_allowed_cached(host: str, allowed: frozenset) -> bool:
    return host_allowed(host, allowed)


def cross_site_refusal() -> str | None:
    """Why this request may not be served to whoever sent it, or None."""
    environ = request.environ  # read directly: this runs on every request
    host = environ.get("HTTP_HOST")
    allowed = current_app.config.get("ALLOWED_HOSTS", frozenset())
    if not isinstance(allowed, frozenset):  # the cache needs it hashable (runtime.py gives a frozenset)
        allowed = frozenset(allowed)
    if host is not None and not _host_allowed_cached(host, allowed):
        return (f"Host {host!r} is not an address of this simulator "
                f"(start it with --allowed-host {_hostname(host) or 'NAME'} to allow it).")
    origin = environ.get("HTTP_ORIGIN")
    if origin is not None and origin.lower() != f"{request.scheme}://{host or ''}".lower():
        return f"Cross-site request refused: Origin {origin!r} is not this simulator's own."
    fetch_site = environ.get("HTTP_SEC_FETCH_SITE")
    if fetch_site is not None and fetch_site.strip().lower() == "cross-site":
        return "Cross-site request refused (Sec-Fetch-Site: cross-site)."
    return None


def guard_aws() -> None:
    reason = cross_site_refusal()
    if reason:
        raise AccessDeniedException(reason)
    credentials = current_app.config.get("CREDENTIALS")
    if credentials is not None:
        request.environ[CREDENTIAL_KEY] = sigv4.verify(credentials)


SESSION_COOKIE = "mailfrom_sim_session"  # the dashboard's sign-in (see `session_value`)


def session_value(token: str) -> str:
    """What the dashboard's cookie holds once signed in with `token`: derived from it, so the
    browser never stores the token itself."""
    return hmac.new(token.encode(), b"mailfrom-sim dashboard session", hashlib.sha256).hexdigest()


def control_token_given() -> bool:
    """No `--control-token`, or this request carries it: `Authorization: Bearer TOKEN`, or
    the dashboard's session cookie (a browser cannot put a header on a page or an EventSource)."""
    token = current_app.config.get("CONTROL_TOKEN")
    if not token:
        return True
    given = request.headers.get("Authorization", "")
    if hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return True
    cookie = request.cookies.get(SESSION_COOKIE, "")
    return hmac.compare_digest(cookie.encode(), session_value(token).encode())


def refuse_cross_site() -> None:
    reason = cross_site_refusal()
    if reason:
        raise Forbidden(reason)


def require_control_token() -> None:
    if not control_token_given():
        raise Unauthorized("this simulator's control plane requires Authorization: Bearer <--control-token>")


def require_json_for_changes() -> None:
    if request.method not in SAFE_METHODS and (request.mimetype != "application/json"
                                               and (request.method != "DELETE" or request.get_data(cache=True))):
        raise UnsupportedMediaType(f"{request.method} {request.path} changes state: "
                                   "send it with Content-Type: application/json")


def guard_control() -> None:
    """Every /_sim request: the control plane, the event stream and the dashboard's data
    (the dashboard's page, its sign-in and static files: dashboard/__init__.py)."""
    refuse_cross_site()
    require_control_token()
    require_json_for_changes()
