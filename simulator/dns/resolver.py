"""The resolver adapter: one MX (and SPF TXT) lookup of a MAIL FROM domain with
dnspython, classified into an `MxLookup`. Every dnspython outcome and exception
is translated here, in `classify`, and nowhere else.
"""
from __future__ import annotations

import ipaddress
import re
import socket
import time

import dns.exception
import dns.message
import dns.name
import dns.nameserver
import dns.rdatatype
import dns.resolver

from simulator.core.model import LookupOutcome, MxLookup

__all__ = [
    "SPF_RECORD",
    "MxResolver",
    "classify",
    "feedback_host",
    "parse_resolver_spec",
    "records_to_publish",
]

FOUND, MISSING, TRANSIENT = LookupOutcome.FOUND, LookupOutcome.MISSING, LookupOutcome.TRANSIENT

SPF_RECORD = "v=spf1 include:amazonses.com ~all"
# EDNS0 at the DNS Flag Day 2020 size: answers that do not fit come back
# truncated and dnspython retries them over TCP.
EDNS_PAYLOAD = 1232
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*\.?")
# Under this much remaining budget the advisory SPF lookup is not worth it.
_MIN_SPF_BUDGET = 0.05


def feedback_host(region: str) -> str:
    """The host SES wants the MAIL FROM domain's single MX to point at."""
    return f"feedback-smtp.{region.strip().lower()}.amazonses.com"


def records_to_publish(mail_from_domain: str, region: str) -> list[str]:
    """The two records AWS asks for, as zone-file lines (MX first)."""
    name = mail_from_domain.strip().rstrip(".").lower()
    return [
        f"{name}. MX 10 {feedback_host(region)}.",
        f'{name}. TXT "{SPF_RECORD}"',
    ]


class MxResolver:
    """Looks up a MAIL FROM domain's MX and SPF with one reused dnspython Resolver.

    `nameserver` None means the system configuration (/etc/resolv.conf);
    otherwise (host, port) of one DNS server. Answers are never cached: a
    change to DNS must show in the very next check.
    """

    records_to_publish = staticmethod(records_to_publish)

    def __init__(self, nameserver: tuple[str, int] | None = None, timeout: float = 2.0) -> None:
        if not timeout > 0:
            raise ValueError(f"timeout must be positive, got {timeout!r}")
        self.timeout = float(timeout)
        self.nameserver = nameserver
        self._config_error: str | None = None
        if nameserver is None:
            try:
                resolver = dns.resolver.Resolver(configure=True)
            except Exception as error:  # no or unreadable resolv.conf: every lookup says why
                resolver = dns.resolver.Resolver(configure=False)
                self._config_error = f"no usable system resolver configuration: {error}"
        else:
            host, port = nameserver
            resolver = dns.resolver.Resolver(configure=False)
            # A Nameserver object, not an address string: dnspython would
            # otherwise re-parse the string on every query.
            resolver.nameservers = [dns.nameserver.Do53Nameserver(_address_of(host), _valid_port(port))]
        resolver.cache = None
        resolver.lifetime = self.timeout
        # Per attempt, a share of the budget: a lost datagram is retried, and a
        # silent first server of several leaves time for the next.
        resolver.timeout = self.timeout / max(2, len(resolver.nameservers))
        resolver.retry_servfail = False  # SERVFAIL is an outcome (TRANSIENT), not something to wait out
        resolver.use_edns(0, 0, EDNS_PAYLOAD)
        self._resolver = resolver

    @property
    def description(self) -> str:
        """Where lookups go, for logs and health output."""
        if self.nameserver is None:
            servers = ", ".join(str(server) for server in self._resolver.nameservers)
            return f"system ({servers or 'no nameservers'})"
        host, port = self.nameserver
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    def __repr__(self) -> str:
        return f"MxResolver({self.description}, timeout={self.timeout})"

    def lookup(self, mail_from_domain: str, region: str, *, check_spf: bool = True) -> MxLookup:
        """Check the domain's MX for SES in `region`. Never raises.

        `check_spf=False` skips the advisory TXT query, halving the DNS work
        for bulk re-checks where nobody reads the advice.
        """
        try:
            return self._lookup(mail_from_domain, region, check_spf)
        except Exception as error:  # the last line of the "never raises" promise
            return MxLookup(TRANSIENT, error=f"lookup failed: {type(error).__name__}: {error}")

    def _lookup(self, mail_from_domain: str, region: str, check_spf: bool) -> MxLookup:
        if self._config_error is not None:
            return MxLookup(TRANSIENT, error=self._config_error)
        try:
            qname = dns.name.from_text(mail_from_domain.strip())
        except (dns.exception.DNSException, ValueError) as error:
            # Such a name can hold no records at all, now or later.
            return MxLookup(MISSING, error=f"{mail_from_domain!r} is not a valid domain name: {error}")
        if qname == dns.name.root:
            return MxLookup(MISSING, error="the domain name is empty")
        started = time.monotonic()
        try:
            answer, error = self._resolver.resolve(qname, dns.rdatatype.MX, search=False, lifetime=self.timeout), None
        except Exception as failure:
            answer, error = None, failure
        outcome, answers, message = classify(qname, region, self.timeout, answer=answer, error=error)
        spf = None
        # SPF is advice: worth a query only when the name exists and answered.
        if check_spf and outcome is not TRANSIENT and not isinstance(error, dns.resolver.NXDOMAIN):
            spf = self._spf(qname, started)
        return MxLookup(outcome, answers, message, spf)

    def _spf(self, qname: dns.name.Name, started: float) -> str | None:
        """The SPF TXT at the name, as advice; any failure is just None."""
        budget = self.timeout - (time.monotonic() - started)
        if budget < _MIN_SPF_BUDGET:
            return None
        try:
            answer = self._resolver.resolve(qname, dns.rdatatype.TXT, search=False, lifetime=budget)
        except Exception:
            return None
        found = []
        for rdata in answer.rrset:
            text = b"".join(rdata.strings).decode("utf-8", "replace")
            if text.lower() == "v=spf1" or text.lower().startswith("v=spf1 "):
                found.append(text)
        return min(found) if found else None  # several SPF records are an error anyway; be deterministic


def classify(
    qname: dns.name.Name,
    region: str,
    timeout: float,
    *,
    answer: dns.resolver.Answer | None = None,
    error: Exception | None = None,
) -> tuple[LookupOutcome, tuple[str, ...], str | None]:
    """The one mapping from what dnspython returned or raised to (outcome, answers, error).

    FOUND: exactly one MX, whose exchange is feedback-smtp.<region>.amazonses.com.
    MISSING: the name does not exist, has no MX, or has the wrong or too many MX.
    TRANSIENT: anything that says nothing about the records (timeouts, SERVFAIL,
    REFUSED, unreachable or misbehaving servers, CNAME loops, any other error).
    """
    name = qname.to_text(omit_final_dot=True)
    if error is None and answer is not None and answer.rrset is not None:
        return _classify_mx(answer.rrset, feedback_host(region))
    if error is None:
        error = dns.resolver.NoAnswer()
    if isinstance(error, dns.resolver.NXDOMAIN):
        canonical = _nxdomain_name(error, qname)
        if canonical != name:
            return MISSING, (), f"NXDOMAIN: {name} is an alias of {canonical}, which does not exist"
        return MISSING, (), f"NXDOMAIN: {name} does not exist"
    if isinstance(error, dns.resolver.NoAnswer):
        return MISSING, (), f"no MX record at {name} (NOERROR, no data)"
    if isinstance(error, dns.exception.Timeout):  # LifetimeTimeout included
        return TRANSIENT, (), f"timeout: no answer for {name} MX within {timeout:g} s"
    if isinstance(error, dns.resolver.NoNameservers):
        return TRANSIENT, (), _describe_nameserver_errors(error, name)
    if isinstance(error, dns.resolver.YXDOMAIN):
        return TRANSIENT, (), f"YXDOMAIN: {name} is too long after DNAME substitution"
    if isinstance(error, dns.resolver.NoResolverConfiguration):
        return TRANSIENT, (), f"no resolver configured: {error}"
    if isinstance(error, dns.exception.DNSException):
        return TRANSIENT, (), f"DNS error: {type(error).__name__}: {error}"
    if isinstance(error, OSError):
        return TRANSIENT, (), f"network error: {error}"
    return TRANSIENT, (), f"lookup failed: {type(error).__name__}: {error}"


def _classify_mx(rrset, expected: str) -> tuple[LookupOutcome, tuple[str, ...], str | None]:
    records = sorted((rdata.preference, rdata.exchange.to_text().lower()) for rdata in rrset)
    answers = tuple(f"{preference} {exchange}" for preference, exchange in records)
    if len(records) != 1:
        return MISSING, answers, f"{len(records)} MX records; exactly one is required"
    exchange = records[0][1]
    if exchange.rstrip(".") != expected:
        return MISSING, answers, f"MX points to {exchange}, expected {expected}"
    return FOUND, answers, None


def _describe_nameserver_errors(error: dns.resolver.NoNameservers, name: str) -> str:
    """'SERVFAIL from 127.0.0.1:53' and the like, one entry per failed attempt."""
    reasons = []
    for server, tcp, port, problem, _response in error.kwargs.get("errors") or ():
        where = _server_text(server, port) + (" over TCP" if tcp else "")
        if isinstance(problem, str):
            reasons.append(f"{problem} from {where}")  # the rcode: SERVFAIL, REFUSED, NOTIMP...
        elif isinstance(problem, dns.message.ChainTooLong):
            reasons.append(f"CNAME chain too long or looping at {where}")
        elif isinstance(problem, dns.message.AnswerForNXDOMAIN):
            reasons.append(f"malformed answer from {where}: NXDOMAIN with answer records")
        elif isinstance(problem, (dns.exception.FormError, EOFError, dns.message.Truncated)):
            reasons.append(f"malformed answer from {where}: {type(problem).__name__}: {problem}")
        elif isinstance(problem, OSError):
            reasons.append(f"{where} unreachable: {problem.strerror or problem}")
        else:
            reasons.append(f"{type(problem).__name__} from {where}: {problem}")
    detail = "; ".join(dict.fromkeys(reasons)) or "no nameserver could answer"
    return f"no usable answer for {name} MX: {detail}"


def _server_text(server: str, port: int) -> str:
    """'127.0.0.1:53' from dnspython's 'Do53:127.0.0.1@53'."""
    if server.startswith("Do53:"):
        host = server[len("Do53:") :].rsplit("@", 1)[0]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return server


def _nxdomain_name(error: dns.resolver.NXDOMAIN, qname: dns.name.Name) -> str:
    """The name that does not exist: the query name, or the end of its CNAME chain."""
    try:
        return error.canonical_name.to_text(omit_final_dot=True)
    except Exception:
        return qname.to_text(omit_final_dot=True)


def _address_of(host: str) -> str:
    """An IP literal for `host` (dnspython's Resolver takes addresses only)."""
    if not isinstance(host, str) or not host:
        raise ValueError("the nameserver host must not be empty")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if not _HOSTNAME.fullmatch(host):
        raise ValueError(f"nameserver host {host!r} is neither an IP address nor a host name")
    try:
        infos = socket.getaddrinfo(host, 53, type=socket.SOCK_DGRAM)
    except (socket.gaierror, UnicodeError) as error:
        raise ValueError(f"cannot resolve nameserver host {host!r}: {error}") from None
    return infos[0][4][0]


def _valid_port(port: object) -> int:
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ValueError(f"nameserver port {port!r} must be an integer from 1 to 65535")
    return port


def parse_resolver_spec(
    spec: str, embedded_address: tuple[str, int] | None, timeout: float = 2.0
) -> MxResolver:
    """`embedded`, `system` or `HOST:PORT` (IPv6 as `[::1]:53`) -> an MxResolver."""
    text = spec.strip() if isinstance(spec, str) else ""
    usage = "use 'embedded', 'system' or HOST:PORT (e.g. 127.0.0.1:53 or [::1]:53)"
    if text.lower() == "embedded":
        if embedded_address is None:
            raise ValueError("resolver 'embedded' needs the embedded DNS server, which is not running")
        return MxResolver(embedded_address, timeout)
    if text.lower() == "system":
        return MxResolver(None, timeout)
    if text.startswith("["):
        host, sep, port_text = text[1:].partition("]:")
        if not sep or ":" not in host:
            raise ValueError(f"invalid resolver {spec!r}: {usage}")
    else:
        host, sep, port_text = text.rpartition(":")
        if not sep or not host or ":" in host:
            raise ValueError(f"invalid resolver {spec!r}: {usage}")
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ValueError(f"invalid resolver {spec!r}: the port must be a number from 1 to 65535")
    return MxResolver((host, int(port_text)), timeout)
