"""The embedded DNS server's data: a thread-safe in-memory record set plus
per-name faults, with input validation and the authoritative answer logic
(NXDOMAIN vs NODATA, CNAME chasing). It also keeps each RRset's answer
section pre-rendered (wire.py) and a log of which names each change touched,
so the server neither renders everyday answers per query nor drops every
cached answer on every change. No sockets here; server.py does those.

The zone's public face, all the server (or any other cache of its answers)
relies on: `answer()`, and the change feed `generation` + `changes_since()`,
which says which names' answers a change may have altered. The resolver
client (simulator.lookup) knows nothing of the zone: it asks over the wire.
"""
from __future__ import annotations

import ipaddress
import re
import secrets
import threading
from collections import deque
from dataclasses import dataclass
from typing import Iterable, Mapping, NamedTuple

import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import dns.rrset

from simulator.core.names import host_name_problem, normalize_domain

from .wire import EMPTY_SECTION, RdataWire, Section, rdata_wire, render_section

__all__ = [
    "DuplicateRecordError",
    "FAULTS",
    "MAX_TXT_BYTES",
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


@dataclass(frozen=True, slots=True)
class ZoneAnswer:
    """What the server should say: rcode (None: stay silent), answer RRsets, the fault if any.

    `section` is the answer section ready to send behind the question, when
    the answer is at most one RRset owned by the asked name (no CNAME chased,
    not ANY); None otherwise. Such an answer depends on nothing but the asked
    name, its ancestors' faults and whether names exist below it, which is
    what changes_since() reports on.
    """

    rcode: dns.rcode.Rcode | None
    answer: tuple[dns.rrset.RRset, ...] = ()
    fault: str | None = None
    section: Section | None = None


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

    RRsets are rebuilt on every change and never mutated afterwards, so an
    answer handed to the server stays valid while the zone changes.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._records: dict[str, _Record] = {}  # insertion order is records()' order
        self._by_name: dict[str, list[_Record]] = {}
        self._rrsets: dict[str, dict[int, dns.rrset.RRset]] = {}
        # Each RRset's answer when asked at its own name, section included:
        # built once per change, not per question.
        self._direct: dict[str, dict[int, ZoneAnswer]] = {}
        self._below: dict[str, int] = {}  # how many names with records lie under each name
        self._faults: dict[str, str] = {}
        self._generation = 0
        # (generation, names whose plain answers it may have changed, or None
        # for "any name"), oldest first.
        self._changes: deque[tuple[int, frozenset[str] | None]] = deque(maxlen=CHANGE_LOG_LENGTH)

    # --- changes -----------------------------------------------------------

    def add(self, name: str, type: str, value: str, ttl: int = 300, id: str | None = None, *,
            system: bool = False) -> dict:
        """Add one record; return it as {"id","name","type","value","ttl"}.

        `system`: a record SES publishes (simulator.mailauth), served like any
        other but left out of records() and kept by load() and clear().
        """
        record = self._validate(name, type, value, ttl, id, system)
        with self._lock:
            self._check_fits(record)
            if record.id == "":
                record = _replace_id(record, self._new_id())
            self._changed(self._insert(record))
        return record.to_dict()

    def prepare(self, name: str, type: str, value: str, ttl: int = 300) -> dict:
        """The record `add` would add now, with its new id, without adding it: so a caller
        can store it first. Raises as `add` would."""
        record = self._validate(name, type, value, ttl, None)
        with self._lock:
            self._check_fits(record)
            return _replace_id(record, self._new_id()).to_dict()

    @staticmethod
    def check_fault(name: str, fault: str) -> tuple[str, str]:
        """(name, fault) as `set_fault` would set them; raises as it would."""
        return normalize_name(name), _parse_fault(fault)

    def remove(self, id: str) -> bool:
        with self._lock:
            record = self._records.pop(id, None)
            if record is None:
                return False
            siblings = self._by_name[record.name]
            siblings.remove(record)
            touched = [record.name]
            if siblings:
                self._rebuild(record.name)
            else:
                del self._by_name[record.name]
                del self._rrsets[record.name]
                del self._direct[record.name]
                for ancestor in _ancestors(record.name):
                    left = self._below[ancestor] - 1
                    if left:
                        self._below[ancestor] = left
                    else:
                        del self._below[ancestor]
                        touched.append(ancestor)  # NODATA becomes NXDOMAIN
            self._changed(touched)
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
        """Replace everything with persisted records and faults; all or nothing."""
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
        with self._lock:
            for record in self._records.values():
                if record.system:
                    try:
                        staged._check_fits(record)
                    except ZoneError:
                        continue  # a user's record took its place; the user's stays
                    staged._insert(record)
            self._records = staged._records
            self._by_name = staged._by_name
            self._rrsets = staged._rrsets
            self._direct = staged._direct
            self._below = staged._below
            self._faults = staged._faults
            self._changed(None)

    def clear(self) -> None:
        """Drop the user's records and every fault; SES's (system) records stay."""
        self.load(())

    # --- reads -------------------------------------------------------------

    def records(self) -> list[dict]:
        """The user's records (system records are listed by system_records())."""
        with self._lock:
            return [record.to_dict() for record in self._records.values() if not record.system]

    def system_records(self) -> list[dict]:
        with self._lock:
            return [record.to_dict() for record in self._records.values() if record.system]

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
        """How many records are served, system records included."""
        return len(self._records)

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
            direct = self._direct.get(name)
            if direct is None:
                # RFC 8020: a name with nothing at or below it does not exist;
                # one with names below it is an empty non-terminal (NODATA).
                return _NODATA if name in self._below else _NXDOMAIN
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
            rrsets = self._rrsets.get(current)
            if rrsets is None:
                exists = current in self._below  # as in answer()
                return ZoneAnswer(dns.rcode.NOERROR if exists else dns.rcode.NXDOMAIN, tuple(answer))
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

    @staticmethod
    def _validate(name: object, rtype: object, value: object, ttl: object, record_id: object,
                  system: bool = False) -> _Record:
        key = normalize_name(name)
        if not isinstance(rtype, str) or rtype.upper() not in SUPPORTED_TYPES:
            raise ZoneError(f"type {rtype!r} is not one of: {', '.join(SUPPORTED_TYPES)}")
        rtype = rtype.upper()
        if record_id is None:
            record_id = ""  # filled in under the lock
        elif not isinstance(record_id, str) or not _RECORD_ID.fullmatch(record_id):
            raise ZoneError(f"record id {record_id!r} must be 1-64 letters, digits, '_', '.', '-'")
        text, rdata = _parse_value(rtype, value)
        return _Record(record_id, key, rtype, text, _parse_ttl(ttl), rdata, rdata_wire(rdata), system)

    def _check_fits(self, record: _Record) -> None:
        if record.id and record.id in self._records:
            raise ZoneError(f"record id {record.id!r} is already in use")
        for other in self._by_name.get(record.name, ()):
            if other.type == record.type and other.rdata == record.rdata:
                raise DuplicateRecordError(
                    f"{record.type} record {other.value!r} already exists at {record.name} (id {other.id})"
                )
            # RFC 1034 §3.6.2: a CNAME owns its name alone.
            if record.type == "CNAME" or other.type == "CNAME":
                raise ZoneError(
                    f"{record.name} already has a {other.type} record; "
                    "a CNAME cannot share its name with any other record"
                )

    def _new_id(self) -> str:
        while True:
            record_id = secrets.token_hex(4)
            if record_id not in self._records:
                return record_id

    def _insert(self, record: _Record) -> list[str]:
        """Add a record; return the names whose answers it changes."""
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

    def _changed(self, names: Iterable[str] | None) -> None:
        """Count a change (under the lock) and log the names it touched (None: any)."""
        self._generation += 1
        self._changes.append((self._generation, None if names is None else frozenset(names)))

    def _rebuild(self, name: str) -> None:
        owner = dns.name.from_text(name)
        rrsets: dict[int, dns.rrset.RRset] = {}
        members: dict[int, list[_Record]] = {}
        for record in self._by_name[name]:
            rdtype = record.rdata.rdtype
            rrset = rrsets.get(rdtype)
            if rrset is None:
                rrset = rrsets[rdtype] = dns.rrset.RRset(owner, _IN, rdtype)
                members[rdtype] = []
            rrset.add(record.rdata, record.ttl)  # an RRset's TTL is its lowest
            members[rdtype].append(record)
        self._rrsets[name] = rrsets
        # Rendered in the RRset's own order (insertion; duplicates are refused above).
        self._direct[name] = {
            rdtype: ZoneAnswer(
                dns.rcode.NOERROR, (rrsets[rdtype],), None,
                render_section(name, rdtype, rrsets[rdtype].ttl, [record.wire for record in records]),
            )
            for rdtype, records in members.items()
        }


_NXDOMAIN = ZoneAnswer(dns.rcode.NXDOMAIN, (), None, EMPTY_SECTION)
_NODATA = ZoneAnswer(dns.rcode.NOERROR, (), None, EMPTY_SECTION)
_FAULT_ANSWERS = {fault: ZoneAnswer(rcode, (), fault, EMPTY_SECTION) for fault, rcode in _FAULT_RCODES.items()}


def _replace_id(record: _Record, record_id: str) -> _Record:
    return _Record(record_id, record.name, record.type, record.value, record.ttl, record.rdata, record.wire,
                   record.system)
