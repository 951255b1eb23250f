"""DNS verdicts (SPEC §4): what the facts of DNS queries mean for a check.

The lookup adapter (simulator/lookup) asks DNS and reports each query as
`DnsFacts` (what happened, the records found, an error text); the rules
deciding FOUND / MISSING / TRANSIENT live here, one function per kind of
check, all over the same facts type. Pure: no dnspython, no sockets.

- `mx_verdict`: the custom MAIL FROM domain's MX check;
- `spf_advice`: the SPF TXT shown alongside it (advice, never a verdict);
- `records_to_publish`: what the user is told to publish.
- `verification_questions` / `verification_verdict`: a domain's verification through
  DNS (SPEC §12): its three Easy DKIM CNAMEs or v1's `_amazonses` TXT token, either.
"""
from __future__ import annotations

from .model import DnsFacts, DnsStatus, LookupOutcome, MxLookup, VerificationMethod
from .names import normalize_domain

__all__ = [
    "SPF_RECORD",
    "feedback_host",
    "mx_verdict",
    "records_to_publish",
    "spf_advice",
    "method_verdict",
    "verification_questions",
    "verification_verdict",
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


def dkim_target(token: str) -> str:
    """Where SES wants `<token>._domainkey.<domain>` to point."""
    return f"{token}.dkim.amazonses.com"


def verification_questions(domain: str, tokens: tuple[str, ...]) -> list[tuple[str, str]]:
    """The DNS queries (name, type) whose facts decide a domain's verification: the v1 TXT
    token's record, then the three Easy DKIM CNAMEs. Either set verifies the domain, as on
    SES, whichever API created it (a v2 domain published with v1's token, or the reverse)."""
    return [(f"_amazonses.{domain}", "TXT"), *((f"{token}._domainkey.{domain}", "CNAME") for token in tokens)]


def verification_verdict(method: VerificationMethod, tokens: tuple[str, ...], txt_token: str | None,
                         answers: list[DnsFacts]) -> MxLookup:
    """The domain's verification from the facts of `verification_questions`, in order: FOUND
    when either way's records are all there; else TRANSIENT when a query failed to say; else
    MISSING. The evidence and problems of `method` (how the identity was created) come first."""
    txt = method_verdict(VerificationMethod.TXT, tokens, txt_token, answers[:1])
    dkim = method_verdict(VerificationMethod.DKIM, tokens, txt_token, answers[1:])
    own, other = (txt, dkim) if method is VerificationMethod.TXT else (dkim, txt)
    for verdict in (own, other):
        if verdict.outcome is FOUND:
            return verdict
    for verdict in (own, other):
        if verdict.outcome is TRANSIENT:
            return verdict
    return MxLookup(MISSING, own.answers + other.answers, f"{own.error}; {other.error}")


def method_verdict(method: VerificationMethod, tokens: tuple[str, ...], txt_token: str | None,
                   answers: list[DnsFacts]) -> MxLookup:
    """One way's verdict: FOUND when every record it asks for is there; TRANSIENT when any
    query failed to say; MISSING otherwise. `answers`: its TXT facts, or its CNAMEs' in order."""
    seen: list[str] = []
    missing: list[str] = []
    for i, facts in enumerate(answers):
        if facts.status is DnsStatus.ANSWER:
            if method is VerificationMethod.TXT:
                seen += [f'"{text}"' for text in facts.txt]
                if txt_token not in facts.txt:
                    missing.append(f"TXT {facts.name} does not hold the verification token")
            else:
                wanted = dkim_target(tokens[i])
                seen += [f"{facts.name} CNAME {target}" for target in facts.cname]
                if [t.rstrip(".") for t in facts.cname] != [wanted]:
                    missing.append(f"{facts.name} points to {', '.join(facts.cname)}, expected {wanted}")
        elif facts.status is DnsStatus.NXDOMAIN:
            missing.append(f"NXDOMAIN: {facts.name} does not exist")
        elif facts.status is DnsStatus.NODATA:
            missing.append(f"no {facts.rdtype} record at {facts.name} (NOERROR, no data)")
        elif facts.status is DnsStatus.BAD_NAME:
            missing.append(facts.error or f"{facts.name} is not a valid name")
        else:
            return MxLookup(TRANSIENT, tuple(seen), facts.error or f"{facts.name}: {facts.status.value}")
    if missing:
        return MxLookup(MISSING, tuple(seen), "; ".join(missing))
    return MxLookup(FOUND, tuple(seen), None)
