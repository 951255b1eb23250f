"""The embedded DNS server's data: a thread-safe record set plus per-name
faults, with input validation and the authoritative answer logic (NXDOMAIN vs
NODATA, CNAME chasing). It also keeps each RRset's answer section
pre-rendered (wire.py) and a log of which names each change touched, so the
server neither renders everyday answers per query nor drops every cached
answer on every change. No sockets here; server.py does those.

Where records live: without a `RecordStore`, all in memory. With one (the
simulator's database, stored.py), the user's records stay there: the zone
reads a name's records when it is asked about it and keeps the views of the
names asked most recently (CACHE_NAMES), so start-up and memory do not grow
with the records stored. Changes are written to the store first, then drop
the views they touched. SES's records are held in memory (amazonses.com's SPF)
or read per name from a `RecordSource` (the DKIM keys, simulator.mailauth).

The zone's public face, all the server (or any other cache of its answers)
relies on: `answer()`, and the change feed `generation` + `changes_since()`,
which says which names' answers a change may have altered. The resolver
client (simulator.lookup) knows nothing of the zone: it asks over the wire.
"""
from __future__ import annotations

import ipaddress
import logging
import re
import secrets
import threading
from collections import deque
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Callable, Iterable, Mapping, NamedTuple, Protocol

import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import dns.rrset

from simulator.core.names import host_name_problem, normalize_domain
from simulator.lru import Lru

from .wire import EMPTY_SECTION, RdataWire, Section, rdata_wire, render_section

__all__ = [
    "CACHE_NAMES",
    "DuplicateRecordError",
    "FAULTS",
    "MAX_TXT_BYTES",
    "RecordSource",
    "RecordStore",
    "SUPPORTED_TYPES",
    "Zone",
    "ZoneAnswer",
    "ZoneChanges",
    "ZoneError",
    "normalize_name",
]

SUPPORTED_TYPES = ("A", "AAAA", "CNAME", "MX", "NS", "TXT")
FAULTS = ("timeout", "servfail", "refused")
# Big enough for any real SPF/DKIM/verification TXT, small enough that an
# answer always fits one TCP message.
MAX_TXT_BYTES = 4000
MAX_TTL = 2147483647
# Longer than dnspython's MAX_CHAIN (16) so a too-long chain is reported by
# the resolver rather than silently cut short here.
MAX_CNAME_CHASE = 32
# Changes remembered for changes_since(); a reader further behind is told
# that anything may have changed.
CHANGE_LOG_LENGTH = 1024
# Names whose views (records, RRsets, rendered answers) a zone reading a store
# or a source keeps; the server keeps its own rendered replies besides.
CACHE_NAMES = 4096
PARSED_VALUES = 1024  # record values kept parsed (dnspython's parsing is most of what a read costs)

log = logging.getLogger(__name__)

_RECORD_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_UNQUOTED_TXT = re.compile(r'"([^"]*)"', re.DOTALL)
_FAULT_RCODES = {
    "timeout": None,  # the server stays silent
    "servfail": dns.rcode.SERVFAIL,
    "refused": dns.rcode.REFUSED,
}
_IN = dns.rdataclass.IN


class ZoneError(ValueError):
    """Invalid zone input; the zone is left unchanged."""


class DuplicateRecordError(ZoneError):
    """The same record (name, type, value) is already in the zone."""


def normalize_name(name: object, what: str = "name") -> str:
    """A DNS name normalised (core.names) and valid as an owner name, or ZoneError."""
    if not isinstance(name, str):
        raise ZoneError(f"{what} must be a string")
    text = normalize_domain(name)
    problem = host_name_problem(text, dns_labels=True, subject="the name")
    if problem is not None:
        raise ZoneError(f"invalid {what} {name!r}: {problem}")
    return text


@dataclass(frozen=True, slots=True)
class _Record:
    id: str
    name: str
    type: str
    value: str
    ttl: int
    rdata: dns.rdata.Rdata
    wire: RdataWire  # rendered once here rather than in every answer
    system: bool = False  # SES's side (DKIM keys, amazonses.com SPF): not the user's to list or remove

    def to_dict(self) -> dict:
        return {"id": self.id, "name": self.name, "type": self.type, "value": self.value, "ttl": self.ttl}


class ZoneChanges(NamedTuple):
    """What `Zone.changes_since` reports: the zone's generation now, and the
    names (lower-case, no final dot) whose plain answers may have changed
    since the generation asked about; None: any name's may have."""

    generation: int
    names: set[str] | None


class ZoneAnswer:
    """What the server should say: rcode (None: stay silent), answer RRsets, the fault if any.

    `section` is the answer section ready to send behind the question, when
    the answer is at most one RRset owned by the asked name (no CNAME chased,
    not ANY); None otherwise. Such an answer depends on nothing but the asked
    name, its ancestors' faults and whether names exist below it, which is
    what changes_since() reports on.

    `answer` may be given as a function making the RRsets: they are built when
    first asked for (dnspython's path), not for the everyday answers sent from
    `section`. Treat a ZoneAnswer as immutable.
    """

    __slots__ = ("rcode", "fault", "section", "_answer")

    def __init__(self, rcode: dns.rcode.Rcode | None,
                 answer: tuple[dns.rrset.RRset, ...] | Callable[[], tuple[dns.rrset.RRset, ...]] = (),
                 fault: str | None = None, section: Section | None = None) -> None:
        self.rcode = rcode
        self._answer = answer
        self.fault = fault
        self.section = section

    @property
    def answer(self) -> tuple[dns.rrset.RRset, ...]:
        answer = self._answer
        if callable(answer):
            answer = self._answer = answer()  # two threads may both build it: the same RRsets
        return answer

    def __repr__(self) -> str:
        return f"ZoneAnswer(rcode={self.rcode!r}, answer={self.answer!r}, fault={self.fault!r}, section={self.section!r})"


class RecordSource(Protocol):
    """Records the zone serves without holding them, read per name as it is asked
    about (SES's DKIM keys, simulator.mailauth): each a dict {"type", "value", "ttl"}.
    Their owner calls `Zone.touch` when they change."""

    def records_at(self, name: str) -> list[dict]: ...
    def has_names_below(self, name: str) -> bool: ...


class RecordStore(Protocol):
    """Where the user's records live when not in the zone's memory (the simulator's
    database, stored.py): read per name, written through. A record is a dict
    {"id", "name", "type", "value", "ttl"}; records_at() gives the oldest first."""

    def records_at(self, name: str) -> list[dict]: ...
    def has_names_below(self, name: str) -> bool: ...
    def records_among(self, names: list[str]) -> dict[str, list[dict]]: ...  # name -> its records, if any
    def names_below_among(self, names: list[str]) -> set[str]: ...
    def record(self, id: str) -> dict | None: ...
    def records(self) -> list[dict]: ...
    def add(self, record: dict) -> None: ...
    def remove(self, id: str) -> None: ...
    def clear(self) -> None: ...


class _View:
    """What the zone serves at one name: its records and each type's prebuilt answer
    at that name (sections rendered, RRsets built when first needed); and, for a name
    without records, whether names with records lie below it (NODATA rather than
    NXDOMAIN, RFC 8020). Not changed once built."""

    __slots__ = ("name", "records", "direct", "below", "_rrsets")

    def __init__(self, name: str, records: tuple[_Record, ...], below: bool = False) -> None:
        self.name = name
        self.records = records
        self.below = below
        self._rrsets: dict[int, dns.rrset.RRset] | None = None
        members: dict[int, list[_Record]] = {}
        for record in records:
            members.setdefault(record.rdata.rdtype, []).append(record)
        # Rendered in the records' order (duplicates are refused when added); an RRset's TTL is its lowest.
        self.direct = {
            rdtype: ZoneAnswer(
                dns.rcode.NOERROR, partial(_answer_rrsets, name, rdtype, tuple(of_type)), None,
                render_section(name, rdtype, min(record.ttl for record in of_type), [r.wire for r in of_type]),
            )
            for rdtype, of_type in members.items()
        }

    def rrsets(self) -> dict[int, dns.rrset.RRset]:
        rrsets = self._rrsets
        if rrsets is None:
            rrsets = self._rrsets = _build_rrsets(self.name, self.records)
        return rrsets


def _build_rrsets(name: str, records: Iterable[_Record]) -> dict[int, dns.rrset.RRset]:
    owner = dns.name.from_text(name)
    rrsets: dict[int, dns.rrset.RRset] = {}
    for record in records:
        rdtype = record.rdata.rdtype
        rrset = rrsets.get(rdtype)
        if rrset is None:
            rrset = rrsets[rdtype] = dns.rrset.RRset(owner, _IN, rdtype)
        rrset.add(record.rdata, record.ttl)  # an RRset's TTL is its lowest
    return rrsets


def _answer_rrsets(name: str, rdtype: int, records: tuple[_Record, ...]) -> tuple[dns.rrset.RRset, ...]:
    return (_build_rrsets(name, records)[rdtype],)


_NOTHING = _View("", (), False)
_EMPTY_NON_TERMINAL = _View("", (), True)


def _parse_value(rtype: str, value: object) -> tuple[str, dns.rdata.Rdata]:
    """Validate a record value; return its normalised text and its rdata."""
    if not isinstance(value, str):
        raise ZoneError(f"{rtype} value must be a string")
    if rtype == "MX":
        parts = value.split()
        if len(parts) != 2:
            raise ZoneError(f"MX value {value!r} must be '<preference> <host>', e.g. '10 mail.example.com.'")
        pref_text, host = parts
        if not pref_text.isdigit() or not 0 <= int(pref_text) <= 65535:
            raise ZoneError(f"MX preference {pref_text!r} must be an integer from 0 to 65535")
        # "0 ." is a null MX (RFC 7505): a domain saying it accepts no mail.
        exchange = "." if host == "." else normalize_name(host, "MX host") + "."
        text = f"{int(pref_text)} {exchange}"
    elif rtype in ("CNAME", "NS"):
        text = normalize_name(value.strip(), f"{rtype} target") + "."
    elif rtype == "A":
        try:
            text = str(ipaddress.IPv4Address(value.strip()))
        except ValueError:
            raise ZoneError(f"A value {value!r} is not an IPv4 address") from None
    elif rtype == "AAAA":
        try:
            address = ipaddress.IPv6Address(value.strip())
        except ValueError:
            raise ZoneError(f"AAAA value {value!r} is not an IPv6 address") from None
        if address.scope_id:
            raise ZoneError(f"AAAA value {value!r} must not carry a scope id")
        text = str(address)
    else:  # TXT
        # Accept the quoted form DNS consoles show ("v=spf1 ..."), so the
        # records the preflight prints can be pasted as they are.
        quoted = _UNQUOTED_TXT.fullmatch(value)
        text = quoted.group(1) if quoted else value
        raw = text.encode("utf-8")
        if len(raw) > MAX_TXT_BYTES:
            raise ZoneError(f"TXT value is {len(raw)} bytes; at most {MAX_TXT_BYTES} are allowed")
        chunks = [raw[i : i + 255] for i in range(0, len(raw), 255)] or [b""]
        return text, dns.rdtypes.ANY.TXT.TXT(_IN, dns.rdatatype.TXT, chunks)
    return text, dns.rdata.from_text(_IN, rtype, text)


@lru_cache(maxsize=PARSED_VALUES)
def _parsed(rtype: str, value: str) -> tuple[str, dns.rdata.Rdata, RdataWire]:
    """_parse_value's result and the rdata's wire form, remembered: records read from the
    store again and again, and the many alike (every MAIL FROM's MX), are parsed once."""
    text, rdata = _parse_value(rtype, value)
    return text, rdata, rdata_wire(rdata)


def _parse_ttl(ttl: object) -> int:
    if isinstance(ttl, bool) or not isinstance(ttl, int) or not 0 <= ttl <= MAX_TTL:
        raise ZoneError(f"ttl {ttl!r} must be an integer from 0 to {MAX_TTL}")
    return ttl


def _parse_fault(fault: object) -> str:
    if not isinstance(fault, str) or fault.lower() not in FAULTS:
        raise ZoneError(f"fault {fault!r} is not one of: {', '.join(FAULTS)}")
    return fault.lower()


def _ancestors(name: str) -> Iterable[str]:
    """The strict ancestors of a name, nearest first (the root excluded)."""
    while "." in name:
        name = name.split(".", 1)[1]
        yield name


def _query_key(qname: dns.name.Name | str) -> str:
    if isinstance(qname, dns.name.Name):
        text = qname.to_text(omit_final_dot=True)
        return "" if text == "." else text.lower()
    return qname[:-1].lower() if qname.endswith(".") else qname.lower()


class Zone:
    """Records and faults for the embedded server; safe to share between threads.

    `store`: where the user's records live (None: in memory). Views are rebuilt
    on every change and never mutated afterwards, so an answer handed to the
    server stays valid while the zone changes.
    """

    def __init__(self, store: RecordStore | None = None, *, cache_names: int = CACHE_NAMES) -> None:
        self._lock = threading.RLock()
        # One change at a time, held across a store's write: what was checked stays true until written.
        self._change_lock = threading.RLock()
        self._store = store
        self._sources: list[RecordSource] = []
        self._cache_names = cache_names
        # The views of names read from the store or a source; None: everything is in memory.
        self._cache: Lru[str, _View] | None = Lru(cache_names) if store is not None else None
        # Held in memory: every record without a store; with one, SES's (system) records.
        self._records: dict[str, _Record] = {}  # insertion order is records()' order
        self._by_name: dict[str, list[_Record]] = {}
        # Each held name's view, answers included: built once per change, not per question.
        self._views: dict[str, _View] = {}
        self._below: dict[str, int] = {}  # how many held names with records lie under each name
        self._faults: dict[str, str] = {}
        self._generation = 0
        # (generation, names whose plain answers it may have changed, or None
        # for "any name"), oldest first.
        self._changes: deque[tuple[int, frozenset[str] | None]] = deque(maxlen=CHANGE_LOG_LENGTH)

    # --- changes -----------------------------------------------------------

    def add(self, name: str, type: str, value: str, ttl: int = 300, id: str | None = None, *,
            system: bool = False) -> dict:
        """Add one record; return it as {"id","name","type","value","ttl"}.

        With a store, a user's record is written there first (an error it raises
        leaves the zone unchanged) and served from there.
        `system`: a record SES publishes (simulator.mailauth), held in memory and
        served like any other, but left out of records() and kept by load() and clear().
        """
        record = self._validate(name, type, value, ttl, id, system)
        with self._change_lock:
            with self._lock:
                self._check_fits(record)
                if record.id == "":
                    record = _replace_id(record, self._new_id())
                if self._store is None or system:
                    self._changed(self._insert(record))
                    return record.to_dict()
            self._store.add(record.to_dict())
            self._stored_changed(record.name)
        return record.to_dict()

    @staticmethod
    def check_fault(name: str, fault: str | None) -> tuple[str, str | None]:
        """(name, fault) as `set_fault` would set them (None: clearing, only the name is
        checked); raises as it would."""
        return normalize_name(name), None if fault is None else _parse_fault(fault)

    def remove(self, id: str, *, system: bool = False) -> bool:
        """Remove the user's record `id` (system: SES's); False if there is none.
        With a store, a user's record is removed there first."""
        with self._change_lock:
            with self._lock:
                record = self._records.get(id)
                if record is not None:
                    if record.system != system:
                        return False
                    self._changed(self._delete(record))
                    return True
            if self._store is None or system:
                return False
            stored = self._store.record(id)
            if stored is None:
                return False
            self._store.remove(id)
            self._stored_changed(stored["name"])
            return True

    def set_fault(self, name: str, fault: str) -> None:
        """Make the server misbehave for `name` and every name below it."""
        key = normalize_name(name)
        value = _parse_fault(fault)
        with self._lock:
            self._faults[key] = value
            self._changed(None)  # the name and everything below it

    def clear_fault(self, name: str) -> bool:
        try:
            key = normalize_name(name)
        except ZoneError:
            return False
        with self._lock:
            if self._faults.pop(key, None) is None:
                return False
            self._changed(None)
            return True

    def load(self, records: Iterable[Mapping], faults: Mapping[str, str] | None = None) -> None:
        """Replace everything with persisted records and faults; all or nothing.
        With a store, the user's records are the store's: `records` must be empty."""
        records = list(records)
        if records and self._store is not None:
            raise ZoneError("this zone's records are read from its store, not loaded")
        staged = Zone()
        for index, item in enumerate(records):
            try:
                staged.add(item["name"], item["type"], item["value"], item.get("ttl", 300), item.get("id"))
            except KeyError as missing:
                raise ZoneError(f"record #{index} has no {missing.args[0]!r}") from None
            except ZoneError as error:
                raise type(error)(f"record #{index}: {error}") from None
        for name, fault in (faults or {}).items():
            staged.set_fault(name, fault)
        with self._change_lock, self._lock:
            for record in self._records.values():
                if record.system:
                    try:
                        staged._check_fits(record)
                    except ZoneError:
                        continue  # a user's record took its place; the user's stays
                    staged._insert(record)
            self._records = staged._records
            self._by_name = staged._by_name
            self._views = staged._views
            self._below = staged._below
            self._faults = staged._faults
            self._changed(None)

    def clear(self) -> None:
        """Drop the user's records (from the store too, with one) and every fault;
        SES's (system) records stay."""
        with self._change_lock:
            if self._store is not None:
                self._store.clear()
            self.load(())

    def add_source(self, source: RecordSource) -> None:
        """Serve the records `source` holds as well (SES's): read per name, as asked."""
        with self._change_lock, self._lock:
            self._sources.append(source)
            if self._cache is None:
                self._cache = Lru(self._cache_names)
            self._changed(None)

    def touch(self, names: Iterable[str] | None) -> None:
        """The records a source serves at `names` (None: anywhere) changed: read them again."""
        with self._lock:
            if names is None:
                self._changed(None)
                return
            touched: set[str] = set()
            for name in names:
                touched.add(name)
                touched.update(_ancestors(name))  # whether names lie below them may have changed too
            self._changed(touched)

    # --- reads -------------------------------------------------------------

    @property
    def reads_per_name(self) -> bool:
        """Whether names are read from a store or a source as asked (prefetch() helps then)."""
        return self._cache is not None

    def prefetch(self, names: Iterable[str]) -> None:
        """Read the views of those of `names` (lower-case, no final dot) not cached yet in
        one go: the server's burst of questions costs one read of the store, not one each
        (which would also hand the GIL back and forth per question). Only a hint: answer()
        reads whatever is missing."""
        cache = self._cache
        if cache is None:
            return
        with self._lock:
            missing = [name for name in dict.fromkeys(names) if name and cache.get(name) is None]
            missing = missing[-self._cache_names:]
            if not missing:
                return
            stored = below = None
            if self._store is not None:
                stored = self._store.records_among(missing)
                below = self._store.names_below_among([name for name in missing if name not in stored])
            for name in missing:
                cache.put(name, self._read(name, stored, below))

    def records(self) -> list[dict]:
        """The user's records, oldest first (SES's are served, not listed)."""
        if self._store is not None:
            return self._store.records()
        with self._lock:
            return [record.to_dict() for record in self._records.values() if not record.system]

    def faults(self) -> dict[str, str]:
        with self._lock:
            return dict(self._faults)

    @property
    def generation(self) -> int:
        """Bumped by every change, so answers cached by the server can be dropped."""
        return self._generation

    def changes_since(self, generation: int) -> ZoneChanges:
        """(the current generation, the names whose answers may differ from
        those at `generation`), the names as lower-case text without the final
        dot; None instead of a set: any name's may (faults, load, clear, or
        too old a generation). Only answers carrying a `section` are covered:
        one that chased a CNAME may change with any change."""
        with self._lock:
            current = self._generation
            if generation == current:
                return ZoneChanges(current, set())
            if generation > current or not self._changes or self._changes[0][0] > generation + 1:
                return ZoneChanges(current, None)
            names: set[str] = set()
            for changed_at, touched in reversed(self._changes):
                if changed_at <= generation:
                    break
                if touched is None:
                    return ZoneChanges(current, None)
                names.update(touched)
            return ZoneChanges(current, names)

    def __len__(self) -> int:
        """How many records are held or stored, SES's held ones included (not a source's)."""
        stored = len(self._store.records()) if self._store is not None else 0
        return stored + len(self._records)

    def answer(self, qname: dns.name.Name | str, qtype: dns.rdatatype.RdataType | int | str) -> ZoneAnswer:
        """The authoritative answer for one question, as the server should give it."""
        name = _query_key(qname)
        if type(qtype) is int and 0 <= qtype <= 0xFFFF:
            rdtype = qtype  # as good a dict key as the enum, without its ~1 µs lookup
        else:
            rdtype = dns.rdatatype.RdataType.make(qtype)
        with self._lock:
            fault = self._fault_for(name)
            if fault is not None:
                return _FAULT_ANSWERS[fault]
            # The everyday answers first: prebuilt, and depending on this name alone.
            view = self._view(name)
            direct = view.direct
            if not direct:
                # RFC 8020: a name with nothing at or below it does not exist;
                # one with names below it is an empty non-terminal (NODATA).
                return _NODATA if view.below else _NXDOMAIN
            if rdtype != dns.rdatatype.ANY:
                found = direct.get(rdtype)
                if found is not None:
                    return found
                if dns.rdatatype.CNAME not in direct:
                    return _NODATA
            return self._chase(name, rdtype)

    # --- internals -----------------------------------------------------------

    def _fault_for(self, name: str) -> str | None:
        if not self._faults:
            return None
        fault = self._faults.get(name)
        if fault is None:
            for ancestor in _ancestors(name):
                fault = self._faults.get(ancestor)
                if fault is not None:
                    break
        return fault

    def _chase(self, name: str, rdtype: int) -> ZoneAnswer:
        """An answer following CNAMEs (or ANY's): rendered by dnspython, as it
        may depend on other names."""
        answer: list[dns.rrset.RRset] = []
        seen: set[str] = set()
        current = name
        for _ in range(MAX_CNAME_CHASE):
            view = self._view(current)
            if not view.records:
                return ZoneAnswer(dns.rcode.NOERROR if view.below else dns.rcode.NXDOMAIN, tuple(answer))
            rrsets = view.rrsets()
            if rdtype == dns.rdatatype.ANY:
                return ZoneAnswer(dns.rcode.NOERROR, tuple(answer) + tuple(rrsets.values()))
            found = rrsets.get(rdtype)
            if found is not None:
                answer.append(found)
                break
            cname = rrsets.get(dns.rdatatype.CNAME)
            if cname is None:
                break  # NODATA
            answer.append(cname)
            seen.add(current)
            current = _query_key(cname[0].target)
            if current in seen:
                break  # a loop: the chain as it stands lets the resolver see it
        return ZoneAnswer(dns.rcode.NOERROR, tuple(answer))

    def _view(self, name: str) -> _View:
        """What is served at `name` (under the lock)."""
        cache = self._cache
        if cache is None:  # everything is in memory
            view = self._views.get(name)
            if view is None:
                return _EMPTY_NON_TERMINAL if name in self._below else _NOTHING
            return view
        view = cache.get(name)
        if view is None:
            view = self._read(name)
            cache.put(name, view)
        return view

    def _read(self, name: str, stored: Mapping[str, list[dict]] | None = None,
              below: set[str] | None = None) -> _View:
        """The view of `name` from the store, memory and sources: the user's records first,
        then SES's that fit with them (a user's record takes the place of SES's, as load() has it).
        `stored`, `below`: what the store holds, read already for several names (prefetch)."""
        if self._store is None or not name:
            items: Iterable[Mapping] = ()
        elif stored is not None:
            items = stored.get(name, ())
        else:
            items = self._store.records_at(name)
        read = [self._revalidate(item, name, item.get("id"), False) for item in items]
        read += self._by_name.get(name, ())
        read += [self._revalidate(item, name, None, True) for source in self._sources
                 for item in source.records_at(name)]
        records: list[_Record] = []
        for record in read:
            if record is not None and _conflict(record, records) is None:
                records.append(record)
        if records:
            return _View(name, tuple(records))
        if self._store is None or not name:
            stored_below = False
        elif below is not None:
            stored_below = name in below
        else:
            stored_below = self._store.has_names_below(name)
        exists_below = name in self._below or stored_below or bool(name) and any(
            source.has_names_below(name) for source in self._sources)
        return _EMPTY_NON_TERMINAL if exists_below else _NOTHING

    def _revalidate(self, item: Mapping, name: str, record_id: object, system: bool) -> _Record | None:
        """A record read at `name` from a store or a source, or None (logged) if it is not one
        the zone takes. The name is the one asked about (what the store matched)."""
        try:
            return self._make(name, item["type"], item["value"], item.get("ttl", 300), record_id, system)
        except (KeyError, ZoneError) as error:
            log.warning("DNS record %r at %s is not served: %s", dict(item), name, error)
            return None

    @classmethod
    def _validate(cls, name: object, rtype: object, value: object, ttl: object, record_id: object,
                  system: bool = False) -> _Record:
        return cls._make(normalize_name(name), rtype, value, ttl, record_id, system)

    @staticmethod
    def _make(key: str, rtype: object, value: object, ttl: object, record_id: object, system: bool) -> _Record:
        """A record at `key` (a normalised name)."""
        if not isinstance(rtype, str) or rtype.upper() not in SUPPORTED_TYPES:
            raise ZoneError(f"type {rtype!r} is not one of: {', '.join(SUPPORTED_TYPES)}")
        rtype = rtype.upper()
        if record_id is None:
            record_id = ""  # filled in under the lock
        elif not isinstance(record_id, str) or not _RECORD_ID.fullmatch(record_id):
            raise ZoneError(f"record id {record_id!r} must be 1-64 letters, digits, '_', '.', '-'")
        if not isinstance(value, str):
            raise ZoneError(f"{rtype} value must be a string")
        text, rdata, wire = _parsed(rtype, value)
        return _Record(record_id, key, rtype, text, _parse_ttl(ttl), rdata, wire, system)

    def _check_fits(self, record: _Record) -> None:
        if record.id and self._id_taken(record.id):
            raise ZoneError(f"record id {record.id!r} is already in use")
        error = _conflict(record, self._view(record.name).records)
        if error is not None:
            raise error

    def _id_taken(self, record_id: str) -> bool:
        return record_id in self._records or (self._store is not None and self._store.record(record_id) is not None)

    def _new_id(self) -> str:
        while True:
            record_id = secrets.token_hex(4)
            if not self._id_taken(record_id):
                return record_id

    def _insert(self, record: _Record) -> list[str]:
        """Hold a record in memory; return the names whose answers it changes."""
        self._records[record.id] = record
        touched = [record.name]
        siblings = self._by_name.get(record.name)
        if siblings is None:
            self._by_name[record.name] = [record]
            for ancestor in _ancestors(record.name):
                below = self._below.get(ancestor, 0)
                if not below:
                    touched.append(ancestor)  # NXDOMAIN becomes NODATA
                self._below[ancestor] = below + 1
        else:
            siblings.append(record)
        self._rebuild(record.name)
        return touched

    def _delete(self, record: _Record) -> list[str]:
        """Drop a record held in memory; return the names whose answers it changes."""
        del self._records[record.id]
        siblings = self._by_name[record.name]
        siblings.remove(record)
        touched = [record.name]
        if siblings:
            self._rebuild(record.name)
        else:
            del self._by_name[record.name]
            del self._views[record.name]
            for ancestor in _ancestors(record.name):
                left = self._below[ancestor] - 1
                if left:
                    self._below[ancestor] = left
                else:
                    del self._below[ancestor]
                    touched.append(ancestor)  # NODATA becomes NXDOMAIN
        return touched

    def _stored_changed(self, name: str) -> None:
        """A record at `name` was written to or removed from the store."""
        with self._lock:
            # Whether the store holds names below each ancestor may have changed: say all may have.
            self._changed([name, *_ancestors(name)])

    def _changed(self, names: Iterable[str] | None) -> None:
        """Count a change (under the lock), log the names it touched (None: any) and
        forget the views of those names read from elsewhere."""
        self._generation += 1
        touched = None if names is None else frozenset(names)
        self._changes.append((self._generation, touched))
        if self._cache is not None:
            if touched is None:
                self._cache.clear()
            else:
                for name in touched:
                    self._cache.pop(name)

    def _rebuild(self, name: str) -> None:
        self._views[name] = _View(name, tuple(self._by_name[name]))


def _conflict(record: _Record, others: Iterable[_Record]) -> ZoneError | None:
    """Why `record` cannot join `others` at its name, or None."""
    for other in others:
        if other.type == record.type and other.rdata == record.rdata:
            return DuplicateRecordError(
                f"{record.type} record {other.value!r} already exists at {record.name} (id {other.id})"
            )
        # RFC 1034 §3.6.2: a CNAME owns its name alone.
        if record.type == "CNAME" or other.type == "CNAME":
            return ZoneError(
                f"{record.name} already has a {other.type} record; "
                "a CNAME cannot share its name with any other record"
            )
    return None


_NXDOMAIN = ZoneAnswer(dns.rcode.NXDOMAIN, (), None, EMPTY_SECTION)
_NODATA = ZoneAnswer(dns.rcode.NOERROR, (), None, EMPTY_SECTION)
_FAULT_ANSWERS = {fault: ZoneAnswer(rcode, (), fault, EMPTY_SECTION) for fault, rcode in _FAULT_RCODES.items()}


def _replace_id(record: _Record, record_id: str) -> _Record:
    return _Record(record_id, record.name, record.type, record.value, record.ttl, record.rdata, record.wire,
                   record.system)
