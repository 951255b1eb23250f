"""The one mapping from dnspython to the core's `DnsFacts`: what a query found
(records, NXDOMAIN, NODATA) or how it failed, with an error text saying which
server did what. Every dnspython answer, exception and parsed response the
lookup package meets is translated here, and nothing here judges the records:
that is simulator.core.verdicts' job.

Two sources, one vocabulary:
- `from_resolve`: what `dns.resolver.Resolver.resolve` returned or raised
  (single lookups, the system resolver, truncated answers retried over TCP);
- `from_response`: what `resolve` would make of one parsed response from a
  single nameserver (the pipeline's answers that its wire reader declines),
  using only dnspython's public message API (`resolve_chaining`).
Both describe a failed attempt with `describe_problem`, so a failure reads
the same whichever path met it.
"""
from __future__ import annotations

import dns.exception
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.resolver

from simulator.core.model import DnsFacts, DnsStatus
from simulator.core.names import host_port_text

__all__ = [
    "bad_name",
    "describe_problem",
    "failed",
    "from_resolve",
    "from_response",
    "problem_status",
    "records",
    "timed_out",
    "unusable",
]

_MX, _TXT, _CNAME = dns.rdatatype.MX, dns.rdatatype.TXT, dns.rdatatype.CNAME
_RCODE_STATUS = {"SERVFAIL": DnsStatus.SERVFAIL, "REFUSED": DnsStatus.REFUSED}
_MALFORMED = (dns.message.ChainTooLong, dns.message.AnswerForNXDOMAIN, dns.exception.FormError, EOFError,
              dns.message.Truncated)


def type_text(rdtype: int) -> str:
    return dns.rdatatype.to_text(rdtype)


def records(rdtype: int, rrset) -> dict:
    """The DnsFacts fields holding an answer RRset's records (distinct, sorted)."""
    if rdtype == _MX:
        return {"mx": tuple(sorted({(rdata.preference, rdata.exchange.to_text().lower()) for rdata in rrset}))}
    if rdtype == _TXT:
        return {"txt": tuple(sorted({b"".join(rdata.strings).decode("utf-8", "replace") for rdata in rrset}))}
    if rdtype == _CNAME:
        return {"cname": tuple(sorted({rdata.target.to_text().lower() for rdata in rrset}))}
    return {}


def bad_name(name: str, error: str, rdtype: str = "MX") -> DnsFacts:
    """A name that can hold no records (nothing was asked)."""
    return DnsFacts(name, rdtype, DnsStatus.BAD_NAME, error=error)


def failed(error: BaseException, rdtype: str = "MX") -> DnsFacts:
    """A failure of the adapter itself (a bug, a bad argument): says nothing about DNS."""
    return DnsFacts("", rdtype, DnsStatus.ERROR, error=f"lookup failed: {type(error).__name__}: {error}")


def timed_out(name: str, rdtype: str, seconds: float) -> DnsFacts:
    return DnsFacts(name, rdtype, DnsStatus.TIMEOUT, error=f"timeout: no answer for {name} {rdtype} within {seconds:g} s")


def problem_status(problem: object) -> DnsStatus:
    """The status one failed attempt stands for: `problem` is an rcode's text or an exception."""
    if isinstance(problem, str):
        return _RCODE_STATUS.get(problem, DnsStatus.ERROR)
    if isinstance(problem, _MALFORMED):
        return DnsStatus.MALFORMED
    if isinstance(problem, OSError):
        return DnsStatus.UNREACHABLE
    if isinstance(problem, dns.exception.Timeout):
        return DnsStatus.TIMEOUT
    return DnsStatus.ERROR


def describe_problem(where: str, tcp: bool, problem: object) -> str:
    """'SERVFAIL from 127.0.0.1:53' and the like, for one failed attempt."""
    where = where + (" over TCP" if tcp else "")
    if isinstance(problem, str):
        return f"{problem} from {where}"  # the rcode: SERVFAIL, REFUSED, NOTIMP...
    if isinstance(problem, dns.message.ChainTooLong):
        return f"CNAME chain too long or looping at {where}"
    if isinstance(problem, dns.message.AnswerForNXDOMAIN):
        return f"malformed answer from {where}: NXDOMAIN with answer records"
    if isinstance(problem, _MALFORMED):
        return f"malformed answer from {where}: {type(problem).__name__}: {problem}"
    if isinstance(problem, OSError):
        return f"{where} unreachable: {problem.strerror or problem}"
    return f"{type(problem).__name__} from {where}: {problem}"


def unusable(name: str, rdtype: str, problems: list[tuple[DnsStatus, str]]) -> DnsFacts:
    """No nameserver gave a usable answer: each attempt's (status, description); the last decides the status."""
    detail = "; ".join(dict.fromkeys(text for _, text in problems)) or "no nameserver could answer"
    status = problems[-1][0] if problems else DnsStatus.ERROR
    return DnsFacts(name, rdtype, status, error=f"no usable answer for {name} {rdtype}: {detail}")


def _canonical(canonical: dns.name.Name, qname: dns.name.Name) -> str | None:
    return None if canonical == qname else canonical.to_text(omit_final_dot=True)


def from_response(
    qname: dns.name.Name, rdtype: int, response: dns.message.Message, name: str | None = None
) -> tuple[DnsFacts | None, object]:
    """What `Resolver.resolve` with this one nameserver makes of `response` (a
    response to the query, already checked): (facts, None), or (None, the
    problem) when it would give up on the server (an error rcode, a CNAME
    loop, an NXDOMAIN with records...)."""
    name = qname.to_text(omit_final_dot=True) if name is None else name
    rcode = response.rcode()
    if rcode == dns.rcode.NOERROR or rcode == dns.rcode.NXDOMAIN:
        try:
            chain = response.resolve_chaining()
        except Exception as problem:
            return None, problem
        canonical = _canonical(chain.canonical_name, qname)
        if rcode == dns.rcode.NXDOMAIN:
            return DnsFacts(name, type_text(rdtype), DnsStatus.NXDOMAIN, canonical=canonical), None
        if chain.answer is None:
            return DnsFacts(name, type_text(rdtype), DnsStatus.NODATA, canonical=canonical), None
        return DnsFacts(name, type_text(rdtype), DnsStatus.ANSWER, canonical=canonical,
                        **records(rdtype, chain.answer)), None
    if rcode == dns.rcode.YXDOMAIN:
        return _yxdomain(name, rdtype), None
    return None, dns.rcode.to_text(rcode)


def _yxdomain(name: str, rdtype: int) -> DnsFacts:
    return DnsFacts(name, type_text(rdtype), DnsStatus.ERROR,
                    error=f"YXDOMAIN: {name} is too long after DNAME substitution")


def from_resolve(
    qname: dns.name.Name,
    rdtype: int,
    lifetime: float,
    *,
    answer: dns.resolver.Answer | None = None,
    error: BaseException | None = None,
) -> DnsFacts:
    """What `Resolver.resolve(qname, rdtype, lifetime=lifetime)` returned (`answer`) or raised (`error`)."""
    name = qname.to_text(omit_final_dot=True)
    kind = type_text(rdtype)
    if error is None and answer is not None and answer.rrset is not None:
        return DnsFacts(name, kind, DnsStatus.ANSWER, canonical=_canonical(answer.canonical_name, qname),
                        **records(rdtype, answer.rrset))
    if error is None or isinstance(error, dns.resolver.NoAnswer):
        return DnsFacts(name, kind, DnsStatus.NODATA)
    if isinstance(error, dns.resolver.NXDOMAIN):
        try:
            canonical = _canonical(error.canonical_name, qname)
        except Exception:
            canonical = None
        return DnsFacts(name, kind, DnsStatus.NXDOMAIN, canonical=canonical)
    if isinstance(error, dns.exception.Timeout):  # LifetimeTimeout included
        return timed_out(name, kind, lifetime)
    if isinstance(error, dns.resolver.NoNameservers):
        return unusable(name, kind, _attempts(error))
    if isinstance(error, dns.resolver.YXDOMAIN):
        return _yxdomain(name, rdtype)
    if isinstance(error, dns.resolver.NoResolverConfiguration):
        return DnsFacts(name, kind, DnsStatus.ERROR, error=f"no resolver configured: {error}")
    if isinstance(error, dns.exception.DNSException):
        return DnsFacts(name, kind, DnsStatus.ERROR, error=f"DNS error: {type(error).__name__}: {error}")
    if isinstance(error, OSError):
        return DnsFacts(name, kind, DnsStatus.UNREACHABLE, error=f"network error: {error}")
    return DnsFacts(name, kind, DnsStatus.ERROR, error=f"lookup failed: {type(error).__name__}: {error}")


def _attempts(error: dns.resolver.NoNameservers) -> list[tuple[DnsStatus, str]]:
    """Each failed attempt NoNameservers lists in its `errors`: (server, TCP?, port, problem, response)."""
    attempts = []
    for entry in error.kwargs.get("errors") or ():
        try:
            server, tcp, port, problem, _response = entry
        except (TypeError, ValueError):  # a layout this dnspython does not have: say what it says
            attempts.append((DnsStatus.ERROR, str(entry)))
            continue
        attempts.append((problem_status(problem), describe_problem(_where(server, port), tcp, problem)))
    return attempts


def _where(server: str, port: int) -> str:
    """'127.0.0.1:53' from dnspython's 'Do53:127.0.0.1@53'."""
    if server.startswith("Do53:"):
        return host_port_text(server[len("Do53:") :].rsplit("@", 1)[0], port)
    return server
