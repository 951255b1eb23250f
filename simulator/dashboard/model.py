"""What the dashboard shows, read through the facade: plain dicts for the templates.
Nothing here changes state; the page's buttons call the /_sim JSON endpoints.
"""
from __future__ import annotations

from ..api.rest_json import dkim_attributes
from ..core import machine
from ..core.clock import rfc3339
from ..core.model import Identity, IdentityType, Scope
from ..core.names import normalize_domain
from ..core.verdicts import SPF_RECORD, dkim_target, feedback_host

DMARC_SUGGESTION = "v=DMARC1; p=none;"


def _fmt(at: float | None) -> str | None:
    return rfc3339(at) if at is not None else None


def identity_row(identity: Identity) -> dict:
    config = identity.mail_from
    return {
        "name": identity.name,
        "type": identity.type.value,
        "verification": identity.verification_status.value,
        "dkim": dkim_attributes(identity)["Status"] if identity.type is IdentityType.DOMAIN else None,
        "mail_from_domain": config.domain if config else None,
        "mail_from_status": config.status.value if config else None,
        "behavior": identity.behavior.value,
        "status_since": _fmt(config.status_since) if config else None,
        "deadline": _fmt(config.deadline) if config and config.status in machine.WITH_DEADLINE else None,
        "next_check": _fmt(config.next_check_at) if config else None,
    }


def _key(name: str, type_: str, value: str) -> tuple[str, str, str]:
    return normalize_domain(name), type_.upper(), value.strip().lower()


def records_to_publish(identity: Identity, zone_records: list[dict] | None) -> list[dict]:
    """The records SES asks for (MX, SPF on the MAIL FROM domain; DKIM CNAMEs; a DMARC
    suggestion), each with the embedded zone's id when it is published there."""
    wanted = []
    if identity.mail_from is not None:
        domain = identity.mail_from.domain
        wanted.append(("MAIL FROM", domain, "MX", f"10 {feedback_host(identity.region)}.", "required"))
        wanted.append(("SPF", domain, "TXT", SPF_RECORD, "advised"))
    for token in identity.dkim_tokens:
        wanted.append(("DKIM", f"{token}._domainkey.{identity.domain}", "CNAME", f"{dkim_target(token)}.",
                       "Easy DKIM"))
    wanted.append(("DMARC", f"_dmarc.{identity.domain}", "TXT", DMARC_SUGGESTION, "suggested"))
    published = {_key(r["name"], r["type"], r["value"]): r["id"] for r in (zone_records or [])}
    return [{"purpose": purpose, "name": name, "type": type_, "value": value, "role": role,
             "record_id": published.get(_key(name, type_, value))}
            for purpose, name, type_, value, role in wanted]


def identities(sim, scope: Scope) -> list[dict]:
    page, _ = sim.list_identities(scope, 1000, None)
    return [identity_row(i) for i in page]


def detail(sim, scope: Scope, name: str | None) -> dict | None:
    if not name:
        return None
    found = sim.find_identities(scope, [name]).get(name)
    if found is None:
        return None
    zone_records = sim.dns_records() if sim.zone is not None else None
    history = sim.history(scope, found.name)
    return {
        "identity": identity_row(found),
        "current": found.mail_from.status if found.mail_from else None,
        "history": list(reversed(history)),
        "records": records_to_publish(found, zone_records),
        "fault": (sim.dns_faults().get(found.mail_from.domain) if found.mail_from and sim.zone is not None
                  else None),
        "embedded": sim.zone is not None,
    }


def zone(sim) -> dict:
    if sim.zone is None:
        return {"embedded": False, "records": [], "faults": {}}
    records = sorted(sim.dns_records(), key=lambda r: (r["name"], r["type"]))
    return {"embedded": True, "records": records, "faults": sim.dns_faults(), "address": sim.dns_address}


def outbox(sim, scope: Scope, limit: int = 50) -> list[dict]:
    return sim.outbox(scope, limit)


def clock(sim) -> dict:
    health = sim.health()
    return {**health["clock"], "settings": health["settings"]}
