"""Plain record lookups for the receiving side's checks (SPF, DKIM keys, DMARC
policies; simulator.mailauth): any type, through the simulator's own DNS (the
same nameserver as the MX checks), within a deadline.

Answers are cached while `generation()` (the embedded zone's change counter)
stays the same, so a burst of sends asks DNS once per name and the very next
message after a change to the zone sees it. Without a generation (a
--resolver other than the embedded server) nothing is cached. Failures that
may be passing (timeouts, an unreachable server) are never cached.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import NamedTuple

import dns.name
import dns.rdatatype
import dns.resolver

from simulator.core.model import DnsFacts, DnsStatus

from . import facts
from .resolver import MxResolver

__all__ = ["Answer", "RecordResolver"]

_NOT_CACHED = frozenset({DnsStatus.TIMEOUT, DnsStatus.UNREACHABLE, DnsStatus.ERROR})
_CACHE_LIMIT = 20000


class Answer(NamedTuple):
    """What one query found: the status, the records' values, and a DnsFacts for TXT-reading rules.

    values by type: TXT -> tuple of the record's strings (bytes); A/AAAA ->
    address text; MX -> (preference, exchange text); PTR/CNAME -> target text.
    """

    status: DnsStatus
    values: tuple
    facts: DnsFacts


def _values(rdtype: int, rrset) -> tuple:
    if rdtype == dns.rdatatype.TXT:
        return tuple(tuple(rdata.strings) for rdata in rrset)
    if rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
        return tuple(rdata.address for rdata in rrset)
    if rdtype == dns.rdatatype.MX:
        return tuple((rdata.preference, rdata.exchange.to_text()) for rdata in rrset)
    if rdtype in (dns.rdatatype.PTR, dns.rdatatype.CNAME):
        return tuple(rdata.target.to_text() for rdata in rrset)
    return tuple(rdata.to_text() for rdata in rrset)


class RecordResolver:
    """Queries of any type to the nameserver `nameserver` ((host, port); None: the system's)."""

    def __init__(self, nameserver: tuple[str, int] | None, timeout: float = 2.0,
                 generation: Callable[[], int] | None = None) -> None:
        # MxResolver configures dnspython as every lookup here wants it (EDNS, no
        # SERVFAIL retries, no cache, the system configuration's errors); reuse its Resolver.
        self._mx = MxResolver(nameserver, timeout)
        self._resolver = self._mx._resolver
        self.timeout = self._mx.timeout
        self._generation = generation
        self._cache: dict[tuple[str, int], Answer] = {}
        self._cache_generation: int | None = None
        self._lock = threading.Lock()

    def generation(self) -> int | None:
        """The embedded zone's change counter now; None: answers are not cached."""
        return self._generation() if self._generation is not None else None

    def query(self, name: str | bytes, rdtype: str | int, lifetime: float | None = None) -> Answer:
        """One query, never raising; `lifetime` bounds its time (at most the resolver's timeout)."""
        if isinstance(name, bytes):
            name = name.decode("ascii", "replace")
        key_name = name.rstrip(".").lower()
        try:
            kind = dns.rdatatype.RdataType.make(rdtype)
        except Exception as error:
            return Answer(DnsStatus.ERROR, (), facts.failed(error, str(rdtype)))
        key = (key_name, int(kind))
        generation = self._generation() if self._generation is not None else None
        if generation is not None:
            with self._lock:
                if generation != self._cache_generation:
                    self._cache.clear()
                    self._cache_generation = generation
                found = self._cache.get(key)
            if found is not None:
                return found
        answer = self._ask(key_name, kind, min(self.timeout, lifetime if lifetime is not None else self.timeout))
        if generation is not None and answer.status not in _NOT_CACHED:
            with self._lock:
                if generation == self._cache_generation:
                    if len(self._cache) >= _CACHE_LIMIT:
                        self._cache.clear()
                    self._cache[key] = answer
        return answer

    def _ask(self, name: str, kind: dns.rdatatype.RdataType, lifetime: float) -> Answer:
        text = facts.type_text(kind)
        if lifetime <= 0:
            return Answer(DnsStatus.TIMEOUT, (), facts.timed_out(name, text, 0))
        try:
            qname = dns.name.from_text(name)
        except Exception as error:
            return Answer(DnsStatus.BAD_NAME, (), facts.bad_name(name, f"{name!r} is not a valid name: {error}", text))
        if self._mx._config_error is not None:
            return Answer(DnsStatus.ERROR, (), DnsFacts(name, text, DnsStatus.ERROR, error=self._mx._config_error))
        try:
            answer = self._resolver.resolve(qname, kind, search=False, lifetime=lifetime)
        except Exception as error:
            found = facts.from_resolve(qname, kind, lifetime, error=error)
            return Answer(found.status, (), found)
        found = facts.from_resolve(qname, kind, lifetime, answer=answer)
        try:
            values = _values(kind, answer.rrset) if answer.rrset is not None else ()
        except Exception as error:  # an rdata this reader does not know how to read
            return Answer(DnsStatus.MALFORMED, (), DnsFacts(name, text, DnsStatus.MALFORMED, error=str(error)))
        return Answer(found.status, values, found)


def deadline_left(deadline: float) -> float:
    return deadline - time.monotonic()
