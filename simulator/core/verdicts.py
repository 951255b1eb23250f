"""DNS verdicts (SPEC §4): what the facts of DNS queries mean for a check.

The lookup adapter (simulator/lookup) asks DNS and reports each query as
`DnsFacts` (what happened, the records found, an error text); the rules
deciding FOUND / MISSING / TRANSIENT live here, one function per kind of
check, all over the same facts type. Pure: no dnspython, no sockets.

- `mx_verdict`: the custom MAIL FROM domain's MX check;
- `spf_advice`: the SPF TXT shown alongside it (advice, never a verdict);
- `records_to_publish`: what the user is told to publish.
A later check (Easy DKIM CNAMEs, the `_amazonses` TXT token) is one more
function here over the `cname` / `txt` of its queries' facts.
"""
from __future__ import annotations

from .model import DnsFacts, DnsStatus, LookupOutcome, MxLookup
from .names import normalize_domain

__all__ = [
    "SPF_RECORD",
    "feedback_host",
    "mx_verdict",
    "records_to_publish",
    "spf_advice",
    "wants_spf",
]

FOUND, MISSING, TRANSIENT = LookupOutcome.FOUND, LookupOutcome.MISSING, LookupOutcome.TRANSIENT

SPF_RECORD = "v=spf1 include:amazonses.com ~all"


def feedback_host(region: str) -> str:
    """The host SES wants the MAIL FROM domain's single MX to point at."""
    return f"feedback-smtp.{region.strip().lower()}.amazonses.com"


def records_to_publish(mail_from_domain: str, region: str) -> list[str]:
    """The two records AWS asks for, as zone-file lines (MX first)."""
    name = normalize_domain(mail_from_domain)
    return [
        f"{name}. MX 10 {feedback_host(region)}.",
        f'{name}. TXT "{SPF_RECORD}"',
    ]


def mx_verdict(facts: DnsFacts, region: str, spf: str | None = None) -> MxLookup:
    """The MX check of a MAIL FROM domain in `region`, from its MX query's facts.

    FOUND: exactly one MX, whose exchange is feedback-smtp.<region>.amazonses.com.
    MISSING: the name does not exist (or cannot), has no MX, or has the wrong
    or too many MX.
    TRANSIENT: anything that says nothing about the records (timeouts,
    SERVFAIL, REFUSED, unreachable or misbehaving servers, CNAME loops, any
    other error).
    `spf` is carried along as advice (see `spf_advice`).
    """
    status = facts.status
    if status is DnsStatus.ANSWER:
        expected = feedback_host(region)
        records = facts.mx
        answers = tuple(f"{preference} {exchange}" for preference, exchange in records)
        if len(records) != 1:
            return MxLookup(MISSING, answers, f"{len(records)} MX records; exactly one is required", spf)
        exchange = records[0][1]
        if exchange.rstrip(".") != expected:
            return MxLookup(MISSING, answers, f"MX points to {exchange}, expected {expected}", spf)
        return MxLookup(FOUND, answers, None, spf)
    if status is DnsStatus.NXDOMAIN:
        if facts.canonical is not None:
            return MxLookup(MISSING, (), f"NXDOMAIN: {facts.name} is an alias of {facts.canonical}, which does not exist", spf)
        return MxLookup(MISSING, (), f"NXDOMAIN: {facts.name} does not exist", spf)
    if status is DnsStatus.NODATA:
        return MxLookup(MISSING, (), f"no MX record at {facts.name} (NOERROR, no data)", spf)
    if status is DnsStatus.BAD_NAME:  # such a name can hold no records at all, now or later
        return MxLookup(MISSING, (), facts.error, spf)
    return MxLookup(TRANSIENT, (), facts.error, spf)


def wants_spf(facts: DnsFacts) -> bool:
    """SPF is advice: worth a TXT query only when the name exists and its MX query got an answer."""
    return facts.status is DnsStatus.ANSWER or facts.status is DnsStatus.NODATA


def spf_advice(facts: DnsFacts | None) -> str | None:
    """The SPF record among a TXT query's records, or None (no answer is just no advice)."""
    if facts is None or facts.status is not DnsStatus.ANSWER:
        return None
    found = [text for text in facts.txt if text.lower() == "v=spf1" or text.lower().startswith("v=spf1 ")]
    return min(found) if found else None  # several SPF records are an error anyway; be deterministic
