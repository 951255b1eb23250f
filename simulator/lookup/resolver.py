"""The resolver adapter: one MX (and SPF TXT) lookup of a MAIL FROM domain with
dnspython, classified into an `MxLookup`. Every dnspython outcome and exception
is translated here, in `classify`, and nowhere else.
"""
from __future__ import annotations

import ipaddress
import logging
import re
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import dns.exception
import dns.message
import dns.name
import dns.nameserver
import dns.rdatatype
import dns.resolver

from simulator.core.model import LookupOutcome, MxLookup

from . import pipeline

__all__ = [
    "SPF_RECORD",
    "MxResolver",
    "classify",
    "classify_reply",
    "feedback_host",
    "parse_resolver_spec",
    "records_to_publish",
]

log = logging.getLogger(__name__)

FOUND, MISSING, TRANSIENT = LookupOutcome.FOUND, LookupOutcome.MISSING, LookupOutcome.TRANSIENT

SPF_RECORD = "v=spf1 include:amazonses.com ~all"
# EDNS0 at the DNS Flag Day 2020 size: answers that do not fit come back
# truncated and dnspython retries them over TCP.
EDNS_PAYLOAD = 1232
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*\.?")
# Names dns.name.from_text would take letter for letter (no escapes, no IDNA,
# labels of 1-63 characters, at most 253 without the final dot).
_PLAIN_NAME = re.compile(r"(?:[A-Za-z0-9_-]{1,63}\.)*[A-Za-z0-9_-]{1,63}\.?")
# Under this much remaining budget the advisory SPF lookup is not worth it.
_MIN_SPF_BUDGET = 0.05
# lookup_many without the pipeline (system resolver): lookup() on this many threads.
_FALLBACK_THREADS = 8


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
        self.last_batch_stats: dict | None = None  # the latest pipelined lookup_many's counters
        # Pipelined batches take turns: each fills the server's receive queue
        # up to the window, and two at once could overflow it.
        self._batch_lock = threading.Lock()
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
            return _failed(error)

    def _lookup(self, mail_from_domain: str, region: str, check_spf: bool) -> MxLookup:
        qname = self._qname(mail_from_domain)
        if isinstance(qname, MxLookup):
            return qname
        started = time.monotonic()
        try:
            answer, error = self._resolver.resolve(qname, dns.rdatatype.MX, search=False, lifetime=self.timeout), None
        except Exception as failure:
            answer, error = None, failure
        outcome, answers, message = classify(qname, region, self.timeout, answer=answer, error=error)
        spf = None
        # SPF is advice: worth a query only when the name exists and answered.
        if check_spf and _wants_spf(outcome, error):
            spf = self._spf(qname, started)
        return MxLookup(outcome, answers, message, spf)

    def _qname(self, mail_from_domain: str) -> dns.name.Name | MxLookup:
        """The name to query, or the lookup's result already when there is nothing to ask."""
        if self._config_error is not None:
            return MxLookup(TRANSIENT, error=self._config_error)
        text = mail_from_domain.strip()
        if len(text) - text.endswith(".") <= 253 and _PLAIN_NAME.fullmatch(text):
            # What from_text makes of a plain host name, without its escape parser.
            return dns.name.Name([*text.rstrip(".").encode("ascii").split(b"."), b""])
        try:
            qname = dns.name.from_text(text)
        except (dns.exception.DNSException, ValueError) as error:
            # Such a name can hold no records at all, now or later.
            return MxLookup(MISSING, error=f"{mail_from_domain!r} is not a valid domain name: {error}")
        if qname == dns.name.root:
            return MxLookup(MISSING, error="the domain name is empty")
        return qname

    def _spf(self, qname: dns.name.Name, started: float) -> str | None:
        """The SPF TXT at the name, as advice; any failure is just None."""
        budget = self.timeout - (time.monotonic() - started)
        if budget < _MIN_SPF_BUDGET:
            return None
        try:
            answer = self._resolver.resolve(qname, dns.rdatatype.TXT, search=False, lifetime=budget)
        except Exception:
            return None
        return _spf_of(b"".join(rdata.strings) for rdata in answer.rrset)

    # --- many at once ------------------------------------------------------------------

    def lookup_many(self, items: list[tuple[str, str]], *, check_spf: bool = True) -> list[MxLookup]:
        """`lookup` of each (mail_from_domain, region), results in the same order. Never raises.

        With one nameserver the queries are pipelined over one UDP socket
        (simulator.lookup.pipeline), a window of them in flight, the SPF TXT
        query following each MX answer that calls for it; every result is the
        one `lookup` would give, down to the error text. A name given twice
        (spelt the same) is queried once. Batches of one resolver take turns.
        The system resolver falls back to `lookup` on a few threads.
        """
        try:
            items = list(items)
        except Exception:
            return []
        results: list[MxLookup | None] = [None] * len(items)
        if self.nameserver is not None and self._config_error is None and pipeline.Pipeline.supports(self._resolver):
            try:
                with self._batch_lock:
                    self._lookup_pipelined(items, check_spf, results)
            except Exception:  # an engine bug must not cost the sweep: the rest go one by one
                log.exception("pipelined lookups failed; falling back to one lookup per name")
        left = [index for index, result in enumerate(results) if result is None]
        if left:
            try:
                self._lookup_threaded(items, left, check_spf, results)
            except Exception as error:  # e.g. no thread to be had
                for index in left:
                    if results[index] is None:
                        results[index] = _failed(error)
        return results

    def _lookup_pipelined(self, items: list, check_spf: bool, results: list) -> None:
        engine = pipeline.Pipeline(self._resolver)
        # One query per name as written: names differing in letter case are
        # asked apart, since dnspython's NXDOMAIN text quotes the name it asked.
        groups: dict[tuple[bytes, ...], tuple[dns.name.Name, list[tuple[int, str]]]] = {}
        for index, item in enumerate(items):
            try:
                domain, region = item
                qname = self._qname(domain)
            except Exception as error:
                results[index] = _failed(error)
                continue
            if isinstance(qname, MxLookup):
                results[index] = qname
            else:
                groups.setdefault(qname.labels, (qname, []))[1].append((index, region))
        for qname, members in groups.values():
            engine.submit(qname, dns.rdatatype.MX, self.timeout, self._on_mx(engine, qname, members, check_spf, results))
        try:
            engine.run()
        finally:
            self.last_batch_stats = dict(engine.stats, names=len(groups))
            log.debug("pipelined lookups: %s", self.last_batch_stats)

    def _on_mx(self, engine: pipeline.Pipeline, qname: dns.name.Name, members: list, check_spf: bool, results: list):
        """The MX callback of one name (and every item asking for it)."""

        def on_mx(reply: pipeline.Reply, started: float) -> None:
            waiting = []
            for index, region in members:
                try:
                    outcome, answers, message = classify_reply(qname, region, self.timeout, reply)
                except Exception as error:  # as lookup(): e.g. a region that is not a string
                    results[index] = _failed(error)
                    continue
                if check_spf and _wants_spf(outcome, reply.error, reply.kind):
                    waiting.append((index, outcome, answers, message))
                else:
                    results[index] = MxLookup(outcome, answers, message, None)
            if not waiting:
                return
            budget = self.timeout - (time.monotonic() - started)
            if budget < _MIN_SPF_BUDGET:
                for index, outcome, answers, message in waiting:
                    results[index] = MxLookup(outcome, answers, message, None)
                return

            def on_txt(reply: pipeline.Reply, _started: float) -> None:
                spf = _spf_of_reply(reply)
                for index, outcome, answers, message in waiting:
                    results[index] = MxLookup(outcome, answers, message, spf)

            engine.submit(qname, dns.rdatatype.TXT, budget, on_txt, first=True)

        return on_mx

    def _lookup_threaded(self, items: list, indexes: list[int], check_spf: bool, results: list) -> None:
        def one(index: int) -> MxLookup:
            try:
                domain, region = items[index]
            except Exception as error:
                return _failed(error)
            return self.lookup(domain, region, check_spf=check_spf)

        if len(indexes) == 1:
            results[indexes[0]] = one(indexes[0])
            return
        with ThreadPoolExecutor(max_workers=min(_FALLBACK_THREADS, len(indexes)), thread_name_prefix="mx-lookup") as pool:
            for index, result in zip(indexes, pool.map(one, indexes)):
                results[index] = result


def _failed(error: Exception) -> MxLookup:
    return MxLookup(TRANSIENT, error=f"lookup failed: {type(error).__name__}: {error}")


def _wants_spf(outcome: LookupOutcome, error: Exception | None, kind: str | None = None) -> bool:
    """SPF is advice: worth a query only when the name exists and the MX lookup got an answer."""
    if outcome is TRANSIENT or kind == pipeline.NXDOMAIN:
        return False
    return not isinstance(error, dns.resolver.NXDOMAIN)


def _spf_of(texts) -> str | None:
    """The SPF record among TXT texts (bytes, each record's strings joined), or None."""
    found = []
    for joined in texts:
        text = joined.decode("utf-8", "replace")
        if text.lower() == "v=spf1" or text.lower().startswith("v=spf1 "):
            found.append(text)
    return min(found) if found else None  # several SPF records are an error anyway; be deterministic


def _spf_of_reply(reply: pipeline.Reply) -> str | None:
    try:
        if reply.kind == pipeline.RECORDS:
            return _spf_of(reply.records)
        if reply.answer is not None and reply.error is None:
            return _spf_of(b"".join(rdata.strings) for rdata in reply.answer.rrset)
    except Exception:
        pass
    return None


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
        records = ((rdata.preference, rdata.exchange.to_text().lower()) for rdata in answer.rrset)
        return _classify_mx(records, feedback_host(region))
    if error is None:
        error = dns.resolver.NoAnswer()
    if isinstance(error, dns.resolver.NXDOMAIN):
        return _nxdomain(name, _nxdomain_name(error, qname))
    if isinstance(error, dns.resolver.NoAnswer):
        return _no_mx(name)
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


def classify_reply(
    qname: dns.name.Name, region: str, timeout: float, reply: pipeline.Reply
) -> tuple[LookupOutcome, tuple[str, ...], str | None]:
    """`classify` for a pipelined MX query: the shapes read from the wire meet
    the same rules as dnspython's objects, everything else is dnspython's."""
    if reply.kind == pipeline.RECORDS:
        return _classify_mx(reply.records, feedback_host(region))
    if reply.kind == pipeline.NODATA:
        return _no_mx(qname.to_text(omit_final_dot=True))
    if reply.kind == pipeline.NXDOMAIN:  # plain: the name itself does not exist
        name = qname.to_text(omit_final_dot=True)
        return _nxdomain(name, name)
    return classify(qname, region, timeout, answer=reply.answer, error=reply.error)


def _classify_mx(records, expected: str) -> tuple[LookupOutcome, tuple[str, ...], str | None]:
    """(preference, lower-case exchange text) of each distinct MX record -> the verdict."""
    records = sorted(records)
    answers = tuple(f"{preference} {exchange}" for preference, exchange in records)
    if len(records) != 1:
        return MISSING, answers, f"{len(records)} MX records; exactly one is required"
    exchange = records[0][1]
    if exchange.rstrip(".") != expected:
        return MISSING, answers, f"MX points to {exchange}, expected {expected}"
    return FOUND, answers, None


def _nxdomain(name: str, canonical: str) -> tuple[LookupOutcome, tuple[str, ...], str | None]:
    if canonical != name:
        return MISSING, (), f"NXDOMAIN: {name} is an alias of {canonical}, which does not exist"
    return MISSING, (), f"NXDOMAIN: {name} does not exist"


def _no_mx(name: str) -> tuple[LookupOutcome, tuple[str, ...], str | None]:
    return MISSING, (), f"no MX record at {name} (NOERROR, no data)"


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
