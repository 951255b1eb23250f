"""Pure rules: identity and MAIL FROM domain validation (SPEC §3) and what a Put
does to a configuration (§4). Takes `now` and settings as arguments; touches no
I/O. The send decision (§6) is in `sending`.
"""
from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import replace

from . import machine
from .errors import BadRequestException
from .model import (
    BehaviorOnMxFailure,
    HistoryEntry,
    Identity,
    IdentityType,
    MailFromStatus,
    Settings,
)
from .names import host_name_problem, normalize_domain  # noqa: F401  (their home is names.py)

_LOCAL_PART = re.compile(r"^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~.]{1,64}$")


def validate_identity_name(raw: str) -> tuple[str, IdentityType]:
    """The stored name and type of an identity to create, or BadRequestException."""
    if not isinstance(raw, str) or not raw.strip():
        raise BadRequestException("EmailIdentity must be a non-empty string.")
    raw = raw.strip()
    if "@" in raw:
        local, _, domain = raw.rpartition("@")
        domain = normalize_domain(domain)
        problem = host_name_problem(domain)
        if not _LOCAL_PART.match(local) or local.startswith(".") or local.endswith(".") or ".." in local:
            problem = problem or "the local part is not valid"
        if problem:
            raise BadRequestException(f"Invalid email address {raw!r}: {problem}.")
        return f"{local}@{domain}", IdentityType.EMAIL_ADDRESS
    domain = normalize_domain(raw)
    problem = host_name_problem(domain)
    if problem:
        raise BadRequestException(f"Invalid domain identity {raw!r}: {problem}.")
    return domain, IdentityType.DOMAIN


def verification_token(identity: Identity) -> str:
    """The v1 domain verification token: stable per identity without storage, 44 base64
    characters like AWS's."""
    seed = f"{identity.account}:{identity.region}:{identity.name}:{identity.created_at!r}"
    return base64.b64encode(hashlib.sha256(seed.encode()).digest()).decode()


def identity_key(raw: str) -> str:
    """How an identity named in a request is looked up (no validation: unknown is NotFound)."""
    raw = raw.strip()
    if "@" in raw:
        local, _, domain = raw.rpartition("@")
        return f"{local}@{normalize_domain(domain)}"
    return normalize_domain(raw)


def parse_behavior(value: object, spelling: str = "v2") -> BehaviorOnMxFailure:
    """BehaviorOnMxFailure from the wire; v1 spells it UseDefaultValue/RejectMessage."""
    if spelling == "v1":
        try:
            return BehaviorOnMxFailure.from_v1(value)  # type: ignore[arg-type]
        except ValueError:
            allowed = ", ".join(b.v1 for b in BehaviorOnMxFailure)
    else:
        if isinstance(value, str) and value in BehaviorOnMxFailure.__members__:
            return BehaviorOnMxFailure(value)
        allowed = ", ".join(sorted(b.value for b in BehaviorOnMxFailure))
        raise BadRequestException(  # live AWS's wording (SPEC §16)
            "1 validation error detected: Value at 'behaviorOnMxFailure' failed to satisfy constraint: "
            f"Member must satisfy enum value set: [{allowed}]")
    raise BadRequestException(
        f"Invalid value {value!r} for BehaviorOnMXFailure: must be one of {allowed}."
    )


def validate_mail_from_domain(identity: Identity, raw: str) -> str:
    """The normalised MAIL FROM domain, or BadRequestException (SPEC §3)."""
    domain = normalize_domain(raw)
    # A bare label ("com") is a host name, just not under the identity: SPEC §3's words say so.
    problem = host_name_problem(domain, min_labels=1)
    if problem:
        raise BadRequestException(
            f"Invalid MAIL FROM domain '{raw}': {problem}.",
        )
    parent = identity.domain
    if not domain.endswith("." + parent):  # label boundary: evilexample.com is not under example.com
        raise BadRequestException(
            f"Provided MAIL-FROM domain '{domain}' is not subdomain of the domain of the identity '{identity.name}'."
        )
    return domain


def apply_put(
    identity: Identity,
    raw_domain: str | None,
    behavior: BehaviorOnMxFailure,
    now: float,
    settings: Settings,
) -> tuple[Identity, list[HistoryEntry]]:
    """What PutEmailIdentityMailFromAttributes does to an identity (validated first)."""
    current = identity.mail_from
    if raw_domain is None or raw_domain == "":
        entries = []
        if current is not None:
            entries.append(HistoryEntry(now, current.status, None, "PUT", domain=None, detail="MAIL FROM domain removed"))
        return replace(identity, behavior=behavior, mail_from=None), entries
    domain = validate_mail_from_domain(identity, raw_domain)
    if current is None:
        config, entry = machine.start(domain, now, settings)
        return replace(identity, behavior=behavior, mail_from=config), [entry]
    if current.domain != domain or current.status is MailFromStatus.FAILED:
        config, entry = machine.fire(current, machine.RESTART, now, settings)
        config = replace(config, domain=domain)
        entry = replace(entry, domain=domain, detail=f"MAIL FROM domain set (was {current.domain})"
                        if current.domain != domain else "setup restarted")
        return replace(identity, behavior=behavior, mail_from=config), [entry]
    # Same domain while PENDING, SUCCESS or TEMPORARY_FAILURE: only the behaviour changes (choice).
    return replace(identity, behavior=behavior), []
