"""DNS wire format by hand, for the embedded server's everyday answers: the
answer section of one RRset rendered once per zone change, and the reply to a
plain query assembled from it. It renders byte for byte what dnspython's
`make_response` + `to_wire` would (same name compression, same OPT record,
same truncation point), minus dnspython's random shuffling of an RRset's
records, at a small fraction of the cost. Which queries qualify is the
server's business; what to answer is the zone's.
"""
from __future__ import annotations

import struct
from typing import Iterable, NamedTuple

import dns.rdata
import dns.rdatatype

__all__ = [
    "RdataWire",
    "Section",
    "EMPTY_SECTION",
    "name_key",
    "name_to_wire",
    "opt_record",
    "rdata_wire",
    "render_reply",
    "render_section",
]

QR, AA, TC, RD = 0x8000, 0x0400, 0x0200, 0x0100
_HEADER = struct.Struct("!HHHHHH")
_RR_FIXED = struct.Struct("!HHIH")  # type, class, TTL, rdata length
_POINTER = struct.Struct("!H")
_QUESTION_POINTER = b"\xc0\x0c"  # the question's name always starts at offset 12
_MAX_POINTER_TARGET = 0x3FFF
_IN = 1
# The bytes a name may hold to be looked up by hand: those of a zone name, in
# either case, and the dots joining labels. Anything else (escapes, dots
# inside a label) is left to dnspython, whose answer is then "no such name".
_NAME_BYTES = b".-_0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


class RdataWire(NamedTuple):
    """One record's rdata in two parts, split so its domain name (if any) can
    be compressed against the rest of a reply: the bytes before the name, and
    the name's labels (lower case, root omitted; None: the type has no name)."""

    head: bytes
    target: tuple[bytes, ...] | None


class Section(NamedTuple):
    """An answer section rendered for a reply whose question is the RRset's
    owner name: record count and bytes. The bytes hold pointers into the
    question (offset 12), which any spelling of that name satisfies."""

    count: int
    wire: bytes


EMPTY_SECTION = Section(0, b"")

# Types whose rdata is a domain name that dnspython compresses, and the fixed
# bytes before it. Every other supported type is opaque bytes.
_NAME_AFTER = {dns.rdatatype.MX: 2, dns.rdatatype.NS: 0, dns.rdatatype.CNAME: 0}


def rdata_wire(rdata: dns.rdata.Rdata) -> RdataWire:
    """The rdata of a zone record, rendered once when the record is added."""
    offset = _NAME_AFTER.get(rdata.rdtype)
    if offset is None:
        return RdataWire(rdata.to_wire(), None)
    full = rdata.to_wire()  # uncompressed: fixed part, then the name
    name = rdata.exchange if rdata.rdtype == dns.rdatatype.MX else rdata.target
    return RdataWire(full[:offset], tuple(label.lower() for label in name.labels[:-1]))


def opt_record(payload: int) -> bytes:
    """The OPT record of a reply to an EDNS query, as dnspython's
    make_response(our_payload=payload) renders it: root owner, the payload
    size, extended rcode 0 (the server's rcodes all fit the header), version
    0, no flags (DO is not echoed: nothing here is signed), no options."""
    return b"\x00" + _RR_FIXED.pack(dns.rdatatype.OPT, payload, 0, 0)


def name_to_wire(name: str) -> bytes:
    """A zone name's (lower-case, no final dot) uncompressed wire form."""
    out = bytearray()
    for label in name.encode("ascii").split(b"."):
        out.append(len(label))
        out += label
    out.append(0)
    return bytes(out)


def name_key(wire: bytes) -> str | None:
    """The zone key (lower-case text, no final dot) of an uncompressed wire name,
    or None if a label holds bytes a zone name never has."""
    if len(wire) > 255:
        return None  # dnspython rejects the query (FORMERR)
    labels = []
    position = 0
    length = wire[0]
    while length:
        end = position + 1 + length
        labels.append(wire[position + 1 : end])
        position = end
        length = wire[position]
    if not labels:
        return None  # the root: dnspython's path answers it
    text = b".".join(labels)
    # Dots beyond the joins would be dots inside a label.
    if text.translate(None, _NAME_BYTES) or text.count(b".") != len(labels) - 1:
        return None
    return text.lower().decode("ascii")


def render_section(owner: str, rdtype: int, ttl: int, records: Iterable[RdataWire]) -> Section:
    """The answer section of a reply carrying one RRset, compressed exactly as
    dnspython's renderer would compress it behind a question for `owner`.

    dnspython records every non-root suffix of each name it writes, at the
    offset where it was written (while below 0x4000), and writes a pointer for
    the longest suffix already recorded. The question comes first, so each
    record's owner is a pointer to it, and names inside rdata may point into
    the question or into earlier records.
    """
    labels = tuple(owner.encode("ascii").split(b"."))
    compress: dict[tuple[bytes, ...], int] = {}
    position = 12
    for index, label in enumerate(labels):
        compress[labels[index:]] = position
        position += 1 + len(label)
    base = position + 1 + 4  # the question's root byte, type and class
    out = bytearray()
    count = 0
    for record in records:
        count += 1
        out += _QUESTION_POINTER
        length_at = len(out) + 8
        out += _RR_FIXED.pack(rdtype, _IN, ttl, 0)
        rdata_start = len(out)
        out += record.head
        target = record.target
        if target is not None:
            for index in range(len(target)):
                suffix = target[index:]
                pointer = compress.get(suffix)
                if pointer is not None:
                    out += _POINTER.pack(0xC000 | pointer)
                    break
                here = base + len(out)
                if here <= _MAX_POINTER_TARGET:
                    compress[suffix] = here
                out.append(len(target[index]))
                out += target[index]
            else:
                out.append(0)
        out[length_at : length_at + 2] = _POINTER.pack(len(out) - rdata_start)
    return Section(count, bytes(out))


def render_reply(query: bytes, question_end: int, rcode: int, authoritative: bool,
                 section: Section, opt: bytes, limit: int, truncate: bool) -> bytes | None:
    """The reply to a plain query (one uncompressed question ending at
    `question_end`), with `opt` (an opt_record(), or b"" without EDNS), at
    most `limit` bytes; None if it does not fit and may not be truncated
    (TCP: the dnspython path then says what it says).

    Truncating drops the answer records and sets TC (RFC 2181 §9), as the
    dnspython path does when to_wire raises TooBig.
    """
    flags = QR | ((query[2] << 8) & RD) | rcode
    if authoritative:
        flags |= AA
    count, answer = section
    if question_end + len(answer) + len(opt) > limit:
        if not truncate:
            return None
        count, answer = 0, b""
        flags |= TC
    header = _HEADER.pack((query[0] << 8) | query[1], flags, 1, count, 0, 1 if opt else 0)
    return header + query[12:question_end] + answer + opt
