"""The resolver adapter: the MX (and SPF TXT) queries of a MAIL FROM domain
with dnspython, one at a time or pipelined. What each query found is
reported as the core's `DnsFacts` (translated from dnspython in facts.py,
nowhere else) and judged by simulator.core.verdicts into an `MxLookup`.
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
import dns.name
import dns.nameserver
import dns.rdatatype
import dns.resolver

from simulator.core import verdicts
from simulator.core.model import DnsFacts, DnsStatus, MxLookup
from simulator.core.names import host_name_problem, host_port_text, normalize_domain, parse_host_port

from . import facts, pipeline

__all__ = ["MxResolver", "parse_resolver_spec"]

log = logging.getLogger(__name__)

# EDNS0 at the DNS Flag Day 2020 size: answers that do not fit come back
# truncated and dnspython retries them over TCP.
EDNS_PAYLOAD = 1232
# Names dns.name.from_text would take letter for letter (no escapes, no IDNA,
# labels of 1-63 characters, at most 253 without the final dot).
_PLAIN_NAME = re.compile(r"(?:[A-Za-z0-9_-]{1,63}\.)*[A-Za-z0-9_-]{1,63}\.?")
# Under this much remaining budget the advisory SPF lookup is not worth it.
_MIN_SPF_BUDGET = 0.05
# lookup_many without the pipeline (system resolver): lookup() on this many threads.
_FALLBACK_THREADS = 8
# A batch (lookup_many, resolve_many) asks nothing more after this long, plus a
# little per name so that a healthy sweep of thousands is never cut short; what
# it did ask then ends within the per-query timeout. A slow or hostile server
# thus never holds a sweep (and the sweep lock) for long.
SWEEP_SECONDS = 8.0
SWEEP_SECONDS_PER_NAME = 0.001


class MxResolver:
    """Looks up a MAIL FROM domain's MX and SPF with one reused dnspython Resolver.

    `nameserver` None means the system configuration (/etc/resolv.conf);
    otherwise (host, port) of one DNS server. Answers are never cached: a
    change to DNS must show in the very next check.
    """

    records_to_publish = staticmethod(verdicts.records_to_publish)  # for callers holding only the resolver

    def __init__(self, nameserver: tuple[str, int] | None = None, timeout: float = 2.0,
                 sweep_seconds: float = SWEEP_SECONDS) -> None:
        if not timeout > 0:
            raise ValueError(f"timeout must be positive, got {timeout!r}")
        if not sweep_seconds > 0:
            raise ValueError(f"sweep_seconds must be positive, got {sweep_seconds!r}")
        self.timeout = float(timeout)
        self.sweep_seconds = float(sweep_seconds)
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
        return host_port_text(*self.nameserver)

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
        if isinstance(qname, DnsFacts):
            return verdicts.mx_verdict(qname, region)
        started = time.monotonic()
        mx = self._resolve(qname, dns.rdatatype.MX, self.timeout)
        verdict = verdicts.mx_verdict(mx, region)
        if not (check_spf and verdicts.wants_spf(mx)):
            return verdict
        budget = self.timeout - (time.monotonic() - started)
        if budget < _MIN_SPF_BUDGET:
            return verdict
        return verdicts.mx_verdict(mx, region, verdicts.spf_advice(self._resolve(qname, dns.rdatatype.TXT, budget)))

    def _resolve(self, qname: dns.name.Name, rdtype: int, lifetime: float) -> DnsFacts:
        """One query through dnspython's Resolver, as facts."""
        try:
            answer = self._resolver.resolve(qname, rdtype, search=False, lifetime=lifetime)
        except Exception as error:
            return facts.from_resolve(qname, rdtype, lifetime, error=error)
        return facts.from_resolve(qname, rdtype, lifetime, answer=answer)

    def _qname(self, mail_from_domain: str) -> dns.name.Name | DnsFacts:
        """The name to query, or the facts already when there is nothing to ask."""
        return _as_name(self._question(mail_from_domain))

    def _question(self, mail_from_domain: str) -> str | dns.name.Name | DnsFacts:
        """`_qname`, but a plain host name (the pipeline's fast path) as its text without the final dot."""
        if self._config_error is not None:
            return DnsFacts("", "MX", DnsStatus.ERROR, error=self._config_error)
        text = mail_from_domain.strip()
        if len(text) - text.endswith(".") <= 253 and _PLAIN_NAME.fullmatch(text):
            return text[:-1] if text.endswith(".") else text
        try:
            qname = dns.name.from_text(text)
        except (dns.exception.DNSException, ValueError) as error:
            return facts.bad_name(text, f"{mail_from_domain!r} is not a valid domain name: {error}")
        if qname == dns.name.root:
            return facts.bad_name("", "the domain name is empty")
        return qname

    # --- many at once ------------------------------------------------------------------

    def batch_deadline(self, names: int) -> float:
        """The time.monotonic() after which a batch of `names` asks nothing more."""
        return time.monotonic() + self.sweep_seconds + SWEEP_SECONDS_PER_NAME * max(0, names)

    def resolve_many(self, questions: list[tuple[str, str]], *, deadline: float | None = None,
                     cancel: threading.Event | None = None) -> list[DnsFacts | None]:
        """The facts of each (name, record type) query, in the same order. Never raises.

        Any kind of check asks through here (the MX check has its own `lookup_many`,
        which follows each MX answer with its SPF query): pipelined over one UDP
        socket with one nameserver, a few threads with the system resolver.
        None for a question not asked: the batch's `deadline` (time.monotonic();
        default `batch_deadline`) passed first, or `cancel` was set.
        """
        if deadline is None:
            deadline = self.batch_deadline(len(questions))
        results: list[DnsFacts | None] = [None] * len(questions)
        asks: list[tuple[int, str | dns.name.Name, int]] = []
        for index, (name, rdtype_text) in enumerate(questions):
            try:
                rdtype = dns.rdatatype.from_text(rdtype_text)
                qname = self._question(name)
            except Exception as error:
                results[index] = facts.failed(error, str(rdtype_text))
                continue
            if isinstance(qname, DnsFacts):
                results[index] = DnsFacts(qname.name, rdtype_text, qname.status, error=qname.error)
            else:
                asks.append((index, qname, rdtype))
        if asks and self.nameserver is not None and self._config_error is None \
                and pipeline.Pipeline.supports(self._resolver):
            try:
                if not self._take_batch_turn(deadline, cancel):
                    return results
                try:
                    engine = pipeline.Pipeline(self._resolver)
                    for index, qname, rdtype in asks:
                        engine.submit(qname, rdtype, self.timeout,
                                      lambda found, _started, index=index: results.__setitem__(index, found))
                    engine.run(deadline=deadline, cancel=cancel)
                finally:
                    self._batch_lock.release()
                return results  # every question answered, or not asked
            except Exception:  # an engine bug must not cost the sweep: the rest go one by one
                log.exception("pipelined queries failed; falling back to one query per name")
        for index, qname, rdtype in asks:
            if results[index] is None and _may_ask(deadline, cancel):
                results[index] = self._resolve(_as_name(qname), rdtype, self.timeout)
        return results

    def _take_batch_turn(self, deadline: float, cancel: threading.Event | None) -> bool:
        """The batch lock, waited for no later than `deadline` and no longer than a cancel."""
        while _may_ask(deadline, cancel):
            if self._batch_lock.acquire(timeout=max(0.0, min(0.05, deadline - time.monotonic()))):
                return True
        return False


    def lookup_many(self, items: list[tuple[str, str]], *, check_spf: bool = True, deadline: float | None = None,
                    cancel: threading.Event | None = None) -> list[MxLookup | None]:
        """`lookup` of each (mail_from_domain, region), results in the same order. Never raises.

        With one nameserver the queries are pipelined over one UDP socket
        (simulator.lookup.pipeline), a window of them in flight, the SPF TXT
        query following each MX answer that calls for it; every result is the
        one `lookup` would give, down to the error text. A name given twice
        (spelt the same) is queried once. Batches of one resolver take turns.
        The system resolver falls back to `lookup` on a few threads.

        None for an item not looked up: the batch's `deadline` (time.monotonic();
        default `batch_deadline`) passed before its query was sent, or `cancel`
        was set. A query that was sent ends within the timeout; one unanswered
        by then is a timeout (TRANSIENT) as always.
        """
        try:
            items = list(items)
        except Exception:
            return []
        if deadline is None:
            deadline = self.batch_deadline(len(items))
        results: list[MxLookup | None] = [None] * len(items)
        if self.nameserver is not None and self._config_error is None and pipeline.Pipeline.supports(self._resolver):
            try:
                if not self._take_batch_turn(deadline, cancel):
                    return results
                try:
                    self._lookup_pipelined(items, check_spf, results, deadline, cancel)
                finally:
                    self._batch_lock.release()
                return results  # every item looked up, or not asked
            except Exception:  # an engine bug must not cost the sweep: the rest go one by one
                log.exception("pipelined lookups failed; falling back to one lookup per name")
        left = [index for index, result in enumerate(results) if result is None]
        if left:
            try:
                self._lookup_threaded(items, left, check_spf, results, deadline, cancel)
            except Exception as error:  # e.g. no thread to be had
                for index in left:
                    if results[index] is None:
                        results[index] = _failed(error)
        return results

    def _lookup_pipelined(self, items: list, check_spf: bool, results: list, deadline: float,
                          cancel: threading.Event | None) -> None:
        engine = pipeline.Pipeline(self._resolver)
        # One query per name as written: names differing in letter case are
        # asked apart, since dnspython's NXDOMAIN text quotes the name it asked.
        groups: dict[str | tuple[bytes, ...], tuple[str | dns.name.Name, list[tuple[int, str]]]] = {}
        for index, item in enumerate(items):
            try:
                domain, region = item
                qname = self._question(domain)
            except Exception as error:
                results[index] = _failed(error)
                continue
            if isinstance(qname, DnsFacts):
                try:
                    results[index] = verdicts.mx_verdict(qname, region)
                except Exception as error:
                    results[index] = _failed(error)
            else:  # a plain name's text spells its labels
                groups.setdefault(qname if isinstance(qname, str) else qname.labels, (qname, []))[1].append(
                    (index, region))
        for qname, members in groups.values():
            engine.submit(qname, dns.rdatatype.MX, self.timeout, self._on_mx(engine, qname, members, check_spf, results))
        try:
            engine.run(deadline=deadline, cancel=cancel)
        finally:
            self.last_batch_stats = dict(engine.stats, names=len(groups))
            log.debug("pipelined lookups: %s", self.last_batch_stats)

    def _on_mx(self, engine: pipeline.Pipeline, qname: str | dns.name.Name, members: list, check_spf: bool, results: list):
        """The MX callback of one name (and every item asking for it)."""

        def on_mx(mx: DnsFacts, started: float) -> None:
            waiting = []
            for index, region in members:
                try:
                    verdict = verdicts.mx_verdict(mx, region)
                except Exception as error:  # as lookup(): e.g. a region that is not a string
                    results[index] = _failed(error)
                    continue
                results[index] = verdict
                if check_spf:
                    waiting.append((index, verdict))
            if not waiting or not verdicts.wants_spf(mx):
                return
            budget = self.timeout - (time.monotonic() - started)
            if budget < _MIN_SPF_BUDGET:
                return

            def on_txt(txt: DnsFacts, _started: float) -> None:
                spf = verdicts.spf_advice(txt)
                if spf is None:
                    return  # the verdicts already stand, without advice
                for index, verdict in waiting:
                    results[index] = MxLookup(verdict.outcome, verdict.answers, verdict.error, spf)

            engine.submit(qname, dns.rdatatype.TXT, budget, on_txt, first=True, name=mx.name)

        return on_mx

    def _lookup_threaded(self, items: list, indexes: list[int], check_spf: bool, results: list, deadline: float,
                         cancel: threading.Event | None) -> None:
        def one(index: int) -> MxLookup | None:
            if not _may_ask(deadline, cancel):
                return None  # not asked: the batch's time is up
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


def _as_name(qname):
    """A plain name's text (MxResolver._question) as dnspython's name; anything else as it is."""
    return pipeline.plain_name(qname) if isinstance(qname, str) else qname


def _may_ask(deadline: float, cancel: threading.Event | None) -> bool:
    return time.monotonic() < deadline and not (cancel is not None and cancel.is_set())


def _failed(error: Exception) -> MxLookup:
    return verdicts.mx_verdict(facts.failed(error), "")


def _address_of(host: str) -> str:
    """An IP literal for `host` (dnspython's Resolver takes addresses only)."""
    if not isinstance(host, str) or not host:
        raise ValueError("the nameserver host must not be empty")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if host_name_problem(normalize_domain(host), dns_labels=True):
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
    try:
        host, port = parse_host_port(text)
    except ValueError as problem:
        raise ValueError(f"invalid resolver {spec!r}: {problem}; {usage}") from None
    return MxResolver((host, port), timeout)
