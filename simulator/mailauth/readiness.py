"""`mailfrom-sim check`'s SPF and DMARC readiness of a MAIL FROM domain: is
SES allowed by its SPF record, and what does the DMARC policy of the domain
mail will be From (its organisational domain, the usual From) make of it."""
from __future__ import annotations

from simulator.core import mailauth
from simulator.core.model import DnsStatus
from simulator.lookup.records import RecordResolver

from .receiver import org_domain

__all__ = ["readiness"]


def _spf_records(resolver: RecordResolver, name: str) -> tuple[list[str], str | None]:
    answer = resolver.query(name, "TXT")
    if answer.status not in (DnsStatus.ANSWER, DnsStatus.NODATA, DnsStatus.NXDOMAIN):
        return [], answer.facts.error or answer.status.value
    return [t for t in answer.facts.txt if t.lower() == "v=spf1" or t.lower().startswith("v=spf1 ")], None


def readiness(resolver: RecordResolver, mail_from_domain: str) -> list[str]:
    """Lines saying whether SPF and DMARC are ready for mail sent with this MAIL FROM domain."""
    lines = []
    spf, problem = _spf_records(resolver, mail_from_domain)
    if problem:
        lines.append(f"SPF readiness: unknown ({problem})")
    elif not spf:
        lines.append(f"SPF readiness: NOT READY, no SPF record at {mail_from_domain}; "
                     f'publish "v=spf1 include:{mailauth.AMAZONSES} ~all"')
    elif len(spf) > 1:
        lines.append(f"SPF readiness: NOT READY, {len(spf)} SPF records at {mail_from_domain} (a permerror)")
    elif f"include:{mailauth.AMAZONSES}" not in spf[0].lower().split():
        lines.append(f"SPF readiness: NOT READY, {spf[0]!r} does not include:{mailauth.AMAZONSES}")
    else:
        lines.append(f"SPF readiness: ready ({spf[0]})")
    from_domain = org_domain(mail_from_domain)
    dmarc = mailauth.evaluate_dmarc(from_domain, mailauth.SpfResult("pass", mail_from_domain), [],
                                    lambda name: resolver.query(name, "TXT").facts, org_domain)
    if dmarc.result == "none":
        lines.append(f"DMARC ({from_domain}): no record at _dmarc.{from_domain}; "
                     f'receivers apply no policy (e.g. publish "v=DMARC1; p=none")')
    elif dmarc.result in ("temperror", "permerror"):
        lines.append(f"DMARC ({from_domain}): {dmarc.result}: {dmarc.reason}")
    else:
        aligned = "aligns" if dmarc.spf_aligned else "does NOT align"
        lines.append(f"DMARC ({from_domain}): policy p={dmarc.policy}; SPF for {mail_from_domain} {aligned} "
                     f"with From: ...@{from_domain}")
    return lines
