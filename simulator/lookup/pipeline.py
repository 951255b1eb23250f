"""Pipelined DNS queries: many questions in flight to one nameserver over one
non-blocking UDP socket, for bulk MX/TXT checks (`MxResolver.lookup_many`).

Each query goes out with the bytes dnspython's Resolver would send (RD, the
resolver's EDNS0 settings), a window of them outstanding at once. A datagram
is accepted only from the nameserver's address, with the id of a query in
flight and that query's question (name case-insensitively, type, class);
anything else is ignored, as dnspython's own UDP client ignores it, so a
garbage, stray or spoofed datagram at worst leaves its query to time out.

How a query ends is the core's `DnsFacts` (simulator.core.model), handed to
its callback:
- the everyday shapes are read straight from the wire (the asked type at the
  asked name, NOERROR without data, plain NXDOMAIN): parsing with dnspython
  costs several times everything else a query needs;
- any other answer is parsed by dnspython and read as
  `dns.resolver.Resolver.resolve` reads it with one nameserver (CNAME chains,
  error rcodes, malformed answers), by `facts.from_response`;
- a truncated answer is handed to `Resolver.resolve` itself on a worker
  thread for the rest of the query's lifetime, counted from when it was first
  sent (it asks again and retries over TCP), and what it returns or raises
  goes through `facts.from_resolve`. A worker still busy past the query's
  deadline (a TCP peer that accepts and then stalls) is not waited for: the
  query ends as a TIMEOUT and the daemon worker ends on its own.

A query unanswered after the resolver's per-attempt timeout is sent again;
at its deadline it ends as a TIMEOUT. At most a window of
queries waits in the server's receive queue at a time (see DEFAULT_WINDOW):
in one process with the embedded server, overflowing its socket buffer would
turn lost datagrams into retries and timeouts.

`run(deadline=..., cancel=...)` bounds a whole batch: after `deadline` no
query is sent any more, and once `cancel` is set the batch stops at once.
Queries never sent (or abandoned by a cancel) get no callback at all: they
were not asked, which is not the same as a timeout.
"""
from __future__ import annotations

import heapq
import logging
import random
import select
import socket
import struct
import threading
import time
from collections import deque
from typing import Callable

import dns.exception
import dns.message
import dns.name
import dns.nameserver
import dns.rdataclass
import dns.rdatatype
import dns.resolver

from simulator.core.model import DnsFacts, DnsStatus
from simulator.core.names import host_port_text

from . import facts

__all__ = ["DEFAULT_WINDOW", "Pipeline", "plain_name"]

log = logging.getLogger(__name__)

# Queries that may sit in the server's receive queue at once. A receive
# buffer of Linux's default size holds ~256 small datagrams (the embedded
# server asks for 4 MiB, but any other server may keep the default); more in
# flight loses queries whenever the server falls behind, and a query lost
# twice ends as a timeout.
DEFAULT_WINDOW = 128
# A query stops counting against the window once an answer arrives to it or to
# any query sent after it (the server has read past it: a "timeout" fault, or
# lost), or once it is this old while the server has said nothing for as long
# (a silent server holds nothing queued) ...
_QUEUE_SECONDS = 0.2
# ... while at most this many are outstanding in all.
_MAX_IN_FLIGHT = 1024
# Room for a window's worth of answers even at a few kB each.
_RECEIVE_BUFFER = 4 * 1024 * 1024
_TRUNCATION_WORKERS = 4
# While a truncated query is being resolved on a worker, look for its end this often.
_WORKER_POLL_SECONDS = 0.005
# A worker gets this long past its query's deadline to report before the query
# ends without it (dnspython's own lifetime check ends it about then anyway).
_WORKER_GRACE_SECONDS = 0.25
# With a cancel to watch, the loop looks at it at least this often.
_CANCEL_POLL_SECONDS = 0.05

_HEADER = struct.Struct("!HHHHHH")
_RR = struct.Struct("!HHIH")  # type, class, TTL, rdata length
_QR, _OPCODE, _TC = 0x8000, 0x7800, 0x0200
_NOERROR, _NXDOMAIN = 0, 3
_IN = dns.rdataclass.IN
_MX, _TXT, _CNAME, _OPT = dns.rdatatype.MX, dns.rdatatype.TXT, dns.rdatatype.CNAME, dns.rdatatype.OPT
_QUESTION_NAME = b"\xc0\x0c"  # a compression pointer to the question's name
_SAFE_LABEL_BYTES = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
# dnspython's limit (dns.name.MAX_COMPRESSION_POINTER_CHAIN), kept low here:
# anything the fast reader accepts, every dnspython version accepts.
_MAX_POINTER_HOPS = 8
_TYPE_TEXT = {_MX: "MX", _TXT: "TXT", _CNAME: "CNAME"}


class _QuestionTails(dict):
    """rdtype -> its question's type and class bytes, packed once."""

    def __missing__(self, rdtype: int) -> bytes:
        tail = self[rdtype] = struct.pack("!HH", rdtype, _IN)
        return tail


_QUESTION_TAIL = _QuestionTails()


def plain_name(name: str) -> dns.name.Name:
    """A plain host name's text (see Pipeline.submit) as dnspython's name: what
    dns.name.from_text makes of it, without its escape parser."""
    return dns.name.Name([*name.encode("ascii").split(b"."), b""])


def _plain_wire(name: str) -> bytes:
    """The uncompressed wire form of a plain host name (see Pipeline.submit)."""
    labels = name.encode("ascii").split(b".")
    return b"".join([bytes((len(label),)) + label for label in labels]) + b"\0"


Callback = Callable[[DnsFacts, float], None]


class _Query:
    __slots__ = (
        "_qname", "name", "rdtype", "kind", "body", "question", "lifetime", "callback",
        "id", "started", "deadline", "attempt", "sequence", "problems", "request", "done",
    )

    def __init__(self, qname: dns.name.Name | None, name: str, rdtype: int, body: bytes, question: bytes,
                 lifetime: float, callback: Callback) -> None:
        self._qname = qname  # None: a plain name's, made from `name` if ever needed
        self.name = name  # qname as text without the final dot, for the facts
        self.rdtype = rdtype
        self.kind = _TYPE_TEXT.get(rdtype) or dns.rdatatype.to_text(rdtype)
        self.body = body  # the query's wire without its id
        self.question = question  # the question's wire, lower-cased
        self.lifetime = lifetime
        self.callback = callback
        self.id = -1
        self.started = 0.0
        self.deadline = 0.0
        self.attempt = 0
        self.sequence = 0  # of its latest transmission
        self.problems: list[tuple[DnsStatus, str]] = []  # each failed attempt, described
        self.request: dns.message.QueryMessage | None = None
        self.done = False

    @property
    def qname(self) -> dns.name.Name:
        """The asked name as dnspython's, for the answers only dnspython reads (rare)."""
        if self._qname is None:
            self._qname = plain_name(self.name)
        return self._qname


class Pipeline:
    """One batch of pipelined queries to the resolver's single Do53 nameserver.

    `submit` queries (a callback may submit more, e.g. a TXT after an MX),
    then `run` until every one has ended. Not thread-safe: one batch, one
    thread, one socket.
    """

    @staticmethod
    def supports(resolver: dns.resolver.Resolver) -> bool:
        """Whether `resolver` is one plain UDP/TCP nameserver this engine can stand in for."""
        servers = resolver.nameservers
        return (
            len(servers) == 1
            and type(servers[0]) is dns.nameserver.Do53Nameserver
            and resolver.keyname is None
            and not resolver.cache
        )

    def __init__(self, resolver: dns.resolver.Resolver, *, window: int = DEFAULT_WINDOW) -> None:
        if not self.supports(resolver):
            raise ValueError("the pipeline needs a resolver with exactly one Do53 nameserver, no TSIG, no cache")
        self._resolver = resolver
        server = resolver.nameservers[0]
        self._where = host_port_text(server.address, server.answer_port())
        self._where_timed_out = facts.describe_problem(self._where, False, dns.exception.Timeout())
        self._family = socket.AF_INET6 if ":" in server.address else socket.AF_INET
        self._peer = (server.address, server.port)
        self._attempt_timeout = float(resolver.timeout)
        self._window = max(1, int(window))
        self._header, self._suffix = _query_template(resolver)
        self._random = random.Random()
        self._pending: deque[_Query] = deque()
        self._inflight: dict[int, _Query] = {}
        self._timers: list[tuple[float, int, _Query, int]] = []
        self._serial = 0  # transmissions so far
        self._pipe: deque[tuple[int, float]] = deque()  # (serial, sent at) of transmissions counting against the window
        self._answered = 0  # the latest transmission (by serial) an answer came for
        self._answered_at = float("-inf")  # when the latest answer came
        self._truncated: deque[_Query] = deque()  # truncated answers waiting for a worker
        self._delegated: list[tuple[_Query, _Worker]] = []  # ... and those on one
        self._sock: socket.socket | None = None
        self._buffer = bytearray(65535)
        # Counters for benchmarks and logs: queries ended, datagrams sent again,
        # answers needing dnspython's parser, truncated answers handed to a worker,
        # workers not waited for past their deadline, queries left unsent at the
        # batch's deadline, batches cancelled.
        self.stats = {"queries": 0, "resent": 0, "parsed_by_dnspython": 0, "truncated": 0,
                      "abandoned": 0, "not_sent": 0, "cancelled": 0}

    # --- the interface --------------------------------------------------------

    def submit(self, qname: dns.name.Name | str, rdtype: int, lifetime: float, callback: Callback, *,
               first: bool = False, name: str | None = None) -> None:
        """Queue a question; `callback(facts, started)` runs when it ends.

        `qname`: a dnspython name, or a plain host name's text without the
        final dot (letters, digits, '-' and '_' in labels of 1-63 characters,
        at most 253 in all: the names dns.name.from_text takes letter for
        letter), whose wire is made here at a fraction of dnspython's cost.
        `lifetime` counts from when the query is first sent (`started`, a
        time.monotonic() value). `first` puts it ahead of queued questions.
        `name`: qname's text without the final dot, if the caller has it.
        """
        if isinstance(qname, str):
            name, wire, qname = qname, _plain_wire(qname), None
        else:
            wire = qname.to_wire()
            if name is None:
                name = qname.to_text(omit_final_dot=True)
        question = wire + _QUESTION_TAIL[rdtype]
        query = _Query(qname, name, rdtype, self._header + question + self._suffix, question.lower(),
                       lifetime, callback)
        if first:
            self._pending.appendleft(query)
        else:
            self._pending.append(query)

    def run(self, *, deadline: float | None = None, cancel: threading.Event | None = None) -> None:
        """Send, receive, retry and finish every submitted query (and any the callbacks add).

        `deadline` (a time.monotonic() value): no query is sent after it; those
        already sent end within their own lifetime. `cancel`: once set, return
        at once. Either way a query never sent or not yet ended gets no callback.
        """
        if cancel is not None and cancel.is_set():
            return
        sock = self._sock = socket.socket(self._family, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RECEIVE_BUFFER)
            except OSError:
                pass  # the kernel's default then; the window is sized for that too
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            while True:
                if not self._inflight:
                    self._pipe.clear()  # nothing of ours can be waiting at the server
                if deadline is None or time.monotonic() < deadline:
                    self._send()
                elif self._pending:
                    self.stats["not_sent"] += len(self._pending)
                    self._pending.clear()  # not asked: their callers hear nothing
                if not self._inflight and not self._delegated and not self._truncated and not self._pending:
                    return
                wait = self._wait_ms()
                if cancel is not None:
                    if cancel.is_set():
                        self.stats["cancelled"] += 1
                        return  # a worker still running is a daemon and ends within its lifetime
                    wait = min(wait, int(_CANCEL_POLL_SECONDS * 1000))
                if deadline is not None and self._pending:
                    wait = min(wait, max(0, int((deadline - time.monotonic()) * 1000) + 1))
                if poller.poll(wait):
                    self._drain(sock)
                self._expire()
                if self._delegated or self._truncated:
                    self._collect_delegated()
        finally:
            self._sock = None
            sock.close()

    # --- sending ---------------------------------------------------------------

    def _send(self) -> None:
        pending, inflight = self._pending, self._inflight
        while pending and len(inflight) < _MAX_IN_FLIGHT:
            now = time.monotonic()
            if self._pipe_length(now) >= self._window:
                return
            query = pending.popleft()
            query.started = now
            query.deadline = now + query.lifetime
            if query.lifetime <= 0:
                self._time_out(query, now)
                continue
            query_id = self._random.getrandbits(16)
            while query_id in inflight:
                query_id = self._random.getrandbits(16)
            query.id = query_id
            inflight[query_id] = query
            self._transmit(query, now)

    def _pipe_length(self, now: float) -> int:
        """Transmissions that may still be queued at the server."""
        pipe = self._pipe
        while pipe and pipe[0][0] <= self._answered:
            pipe.popleft()
        oldest = now - _QUEUE_SECONDS
        if self._answered_at < oldest:
            while pipe and pipe[0][1] < oldest:
                pipe.popleft()
        return len(pipe)

    def _transmit(self, query: _Query, now: float) -> None:
        """Send (or send again) `query` and arm its attempt timer."""
        query.attempt += 1
        attempt_ends = min(query.deadline, now + self._attempt_timeout)
        self._serial += 1
        query.sequence = self._serial
        self._pipe.append((self._serial, now))
        heapq.heappush(self._timers, (attempt_ends, self._serial, query, query.attempt))
        try:
            self._sock.sendto(query.id.to_bytes(2, "big") + query.body, self._peer)
        except (BlockingIOError, InterruptedError):
            pass  # like a datagram lost on the way: the attempt timer resends it
        except OSError as error:
            # As dnspython: an I/O error takes the nameserver out of the mix.
            self._give_up(query, error)

    # --- receiving -------------------------------------------------------------

    def _drain(self, sock: socket.socket) -> None:
        buffer, view = self._buffer, memoryview(self._buffer)
        inflight, peer = self._inflight, self._peer
        while True:
            try:
                size, source = sock.recvfrom_into(buffer)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return  # e.g. an ICMP error surfacing; the affected query times out
            if size < 12 or source[0] != peer[0] or source[1] != peer[1]:
                continue
            query = inflight.get((buffer[0] << 8) | buffer[1])
            if query is None:
                continue  # a late answer to a finished query, or not ours at all
            if query.sequence > self._answered:
                self._answered = query.sequence
            self._answered_at = time.monotonic()
            data = bytes(view[:size])
            found = _fast_reply(data, query)
            if found is None:
                self.stats["parsed_by_dnspython"] += 1
                found = self._dnspython_reply(data, query)
                if found is None:
                    continue  # not an acceptable answer to this query: keep waiting
            if found is _DELEGATE:
                self._delegate(query)
            else:
                self._finish(query, found)

    def _dnspython_reply(self, data: bytes, query: _Query) -> DnsFacts | object | None:
        """What Resolver.resolve makes of this datagram: facts, _DELEGATE
        (truncated), or None: it would ignore it."""
        request = self._request(query)
        try:
            response = dns.message.from_wire(data, raise_on_truncation=True)
        except dns.message.Truncated as truncated:
            # As dns.query.receive_udp: truncation counts only on a response to this query.
            return _DELEGATE if request.is_response(truncated.message()) else None
        except Exception:
            return None  # ignore_errors: malformed datagrams are skipped
        if not request.is_response(response):
            return None
        found, problem = facts.from_response(query.qname, query.rdtype, response, query.name)
        if found is None:
            return self._unusable(query, problem)
        return found

    def _unusable(self, query: _Query, problem: object) -> DnsFacts:
        """The nameserver gave up on: the query ends with every attempt's problem."""
        query.problems.append((facts.problem_status(problem), facts.describe_problem(self._where, False, problem)))
        return facts.unusable(query.name, query.kind, query.problems)

    def _request(self, query: _Query) -> dns.message.QueryMessage:
        """The query as a dnspython message, for its is_response(); built only when needed."""
        if query.request is None:
            request = dns.message.from_wire(query.id.to_bytes(2, "big") + query.body)
            query.request = request
        query.request.id = query.id
        return query.request

    # --- timers ----------------------------------------------------------------

    def _wait_ms(self) -> int:
        timers = self._timers
        while timers and (timers[0][2].done or timers[0][3] != timers[0][2].attempt):
            heapq.heappop(timers)  # stale: the query ended or was sent again
        now = time.monotonic()
        wait = (timers[0][0] - now) if timers else 1.0
        if self._pending and self._pipe:  # the window may open by age alone
            wait = min(wait, max(self._pipe[0][1], self._answered_at) + _QUEUE_SECONDS - now)
        if self._delegated or self._truncated:
            wait = min(wait, _WORKER_POLL_SECONDS)
        return max(0, int(wait * 1000) + 1)

    def _expire(self) -> None:
        timers = self._timers
        now = time.monotonic()
        while timers and timers[0][0] <= now:
            _, _, query, attempt = heapq.heappop(timers)
            if query.done or attempt != query.attempt:
                continue
            if now >= query.deadline:
                self._time_out(query, now)
            else:
                # As Resolver.resolve: the attempt's timeout is a problem on
                # record, and the query goes out again within the lifetime.
                query.problems.append((DnsStatus.TIMEOUT, self._where_timed_out))
                self.stats["resent"] += 1
                self._transmit(query, now)

    def _time_out(self, query: _Query, now: float) -> None:
        self._finish(query, facts.timed_out(query.name, query.kind, query.lifetime))

    # --- truncated answers: Resolver.resolve on a worker ----------------------------

    def _delegate(self, query: _Query) -> None:
        self.stats["truncated"] += 1
        self._inflight.pop(query.id, None)
        query.attempt += 1  # disarms its UDP timer
        self._truncated.append(query)
        self._start_workers()

    def _start_workers(self) -> None:
        """Hand waiting truncated queries to workers, each for what is left of its
        lifetime; one whose lifetime is already spent times out without asking."""
        while self._truncated and len(self._delegated) < _TRUNCATION_WORKERS:
            query = self._truncated.popleft()
            now = time.monotonic()
            remaining = query.deadline - now
            if remaining <= 0:
                self._time_out(query, now)
                continue
            self._delegated.append((query, _Worker(self._resolve, query, remaining)))

    def _resolve(self, query: _Query, lifetime: float) -> DnsFacts:
        try:
            answer = self._resolver.resolve(query.qname, query.rdtype, search=False, lifetime=lifetime)
        except Exception as error:
            return facts.from_resolve(query.qname, query.rdtype, query.lifetime, error=error)
        return facts.from_resolve(query.qname, query.rdtype, query.lifetime, answer=answer)

    def _collect_delegated(self) -> None:
        still = []
        now = time.monotonic()
        for query, worker in self._delegated:
            if worker.done.is_set():
                self._finish(query, worker.found if worker.found is not None else facts.failed(
                    worker.error or RuntimeError("the worker reported nothing"), query.kind))
            elif now >= query.deadline + _WORKER_GRACE_SECONDS:
                self.stats["abandoned"] += 1  # e.g. a TCP peer that accepted and stalls
                self._time_out(query, now)
            else:
                still.append((query, worker))
        self._delegated = still
        self._start_workers()

    # --- endings -----------------------------------------------------------------

    def _give_up(self, query: _Query, error: Exception) -> None:
        self._finish(query, self._unusable(query, error))

    def _finish(self, query: _Query, found: DnsFacts) -> None:
        if query.done:
            return
        query.done = True
        self.stats["queries"] += 1
        if self._inflight.get(query.id) is query:
            del self._inflight[query.id]
        try:
            query.callback(found, query.started)
        except Exception:
            log.exception("a pipelined query's callback failed")


_DELEGATE = object()  # a truncated answer: Resolver.resolve takes over


class _Worker:
    """`resolve(query, lifetime)` on a daemon thread of its own: one the batch no
    longer waits for never holds up the batch or the process's exit."""

    __slots__ = ("found", "error", "done")

    def __init__(self, resolve: Callable[[_Query, float], DnsFacts], query: _Query, lifetime: float) -> None:
        self.found: DnsFacts | None = None
        self.error: BaseException | None = None
        self.done = threading.Event()
        threading.Thread(target=self._run, args=(resolve, query, lifetime), name="dns-pipeline-tc",
                         daemon=True).start()

    def _run(self, resolve, query: _Query, lifetime: float) -> None:
        try:
            self.found = resolve(query, lifetime)
        except BaseException as error:  # reported by the batch, as a failed query
            self.error = error
        finally:
            self.done.set()


def _query_template(resolver: dns.resolver.Resolver) -> tuple[bytes, bytes]:
    """The bytes around the question in the resolver's queries: header without
    the id, and the additional section (EDNS0 OPT), rendered once by dnspython."""
    template = dns.message.make_query(dns.name.root, dns.rdatatype.A)
    template.use_edns(resolver.edns, resolver.ednsflags, resolver.payload, options=resolver.ednsoptions)
    if resolver.flags is not None:
        template.flags = resolver.flags
    wire = template.to_wire()
    question_end = 12 + 1 + 4  # the root name, type, class
    return wire[2:12], wire[question_end:]


def _fast_reply(data: bytes, query: _Query) -> DnsFacts | None:
    try:
        return _read_reply(data, query)
    except (IndexError, struct.error):  # cut short: dnspython's parser will say what it makes of it
        return None


def _read_reply(data: bytes, query: _Query) -> DnsFacts | None:
    """The reply read without dnspython, for the everyday shapes only; None: let dnspython parse it.

    Accepted: a response (QR, opcode QUERY, not truncated) echoing the
    question, rcode NOERROR or NXDOMAIN in the header with no extended rcode,
    answer records all of the asked type (MX, TXT, or one CNAME: dnspython keeps
    only the last of several, CNAME being a singleton type) and class IN owned
    by the question's name (a pointer to it), no authority records, at most an
    EDNS0 OPT without options, nothing after. For NXDOMAIN only without answer
    records. Every check dnspython's parser makes on these shapes is made here too.
    """
    question = query.question
    question_end = 12 + len(question)
    if data[12:question_end].lower() != question:
        return None
    _, flags, qdcount, ancount, nscount, arcount = _HEADER.unpack_from(data)
    if flags & (_QR | _OPCODE | _TC) != _QR or qdcount != 1 or nscount or arcount > 1:
        return None
    rcode = flags & 0xF
    if rcode == _NXDOMAIN:
        if ancount:
            return None
    elif rcode != _NOERROR:
        return None
    size = len(data)
    rdtype = query.rdtype
    if rdtype == _CNAME and ancount > 1:
        return None
    position = question_end
    records = []
    for _ in range(ancount):
        if data[position : position + 2] != _QUESTION_NAME:
            return None
        rtype, rclass, _, rdlength = _RR.unpack_from(data, position + 2)
        start = position + 12
        end = start + rdlength
        if rtype != rdtype or rclass != _IN or end > size:
            return None
        if rdtype == _MX:
            if rdlength < 3:
                return None
            exchange = _read_name(data, start + 2, end)
            if exchange is None:
                return None
            records.append(((data[start] << 8) | data[start + 1], exchange))
        elif rdtype == _TXT:
            text = _read_strings(data, start, end)
            if text is None:
                return None
            records.append(text)
        elif rdtype == _CNAME:
            target = _read_name(data, start, end)
            if target is None:
                return None
            records.append(target)
        else:
            return None
        position = end
    if arcount:
        # The OPT: root owner, type OPT, any payload, extended rcode 0, version 0, no options.
        if position + 11 != size or data[position] != 0:
            return None
        rtype, _, ttl, rdlength = _RR.unpack_from(data, position + 1)
        if rtype != _OPT or ttl & 0xFFFF0000 or rdlength:
            return None
        position = size
    if position != size:
        return None
    if rcode == _NXDOMAIN:
        return DnsFacts(query.name, query.kind, DnsStatus.NXDOMAIN)
    if not records:
        return DnsFacts(query.name, query.kind, DnsStatus.NODATA)
    if rdtype == _MX:
        return DnsFacts(query.name, query.kind, DnsStatus.ANSWER,
                        mx=tuple(records) if len(records) == 1 else tuple(sorted(set(records))))
    if rdtype == _CNAME:
        return DnsFacts(query.name, query.kind, DnsStatus.ANSWER, cname=(records[0],))
    return DnsFacts(query.name, query.kind, DnsStatus.ANSWER,
                    txt=tuple(sorted({text.decode("utf-8", "replace") for text in records})))


def _read_name(data: bytes, position: int, end: int) -> str | None:
    """A name in an rdata ending exactly at `end`, as lower-case text with the
    final dot; None for anything dnspython might read differently or reject:
    bad pointers (dns.name.from_wire_parser's rules), labels with characters
    its text form would escape, too long a name."""
    labels = []
    length = 1
    after = -1  # where the name ends in place: after its first pointer
    limit = end  # reads stay below this
    segment = biggest = position  # where the piece being read starts; pointers must go below it
    hops = 0
    while True:
        if position >= limit:
            return None
        count = data[position]
        if count == 0:
            position += 1
            break
        if count < 64:
            label_end = position + 1 + count
            if label_end > limit:
                return None
            label = data[position + 1 : label_end]
            if not _SAFE_LABEL_BYTES.issuperset(label):
                return None
            labels.append(label)
            length += count + 1
            position = label_end
        elif count >= 192:
            if position + 2 > limit:
                return None
            target = ((count & 0x3F) << 8) | data[position + 1]
            hops += 1
            if target >= biggest or hops > _MAX_POINTER_HOPS:
                return None
            if after < 0:
                after = position + 2
            # The target must not overlap the piece of the name that points to it.
            biggest, limit, segment = target, segment, target
            position = target
        else:
            return None
    if after < 0:
        after = position
    if after != end or length > 255:
        return None
    if not labels:
        return "."
    return b".".join(labels).decode("ascii").lower() + "."


def _read_strings(data: bytes, position: int, end: int) -> bytes | None:
    """A TXT rdata's character-strings, joined; None if empty or malformed."""
    if position >= end:
        return None
    parts = []
    while position < end:
        count = data[position]
        position += 1
        if position + count > end:
            return None
        parts.append(data[position : position + count])
        position += count
    return b"".join(parts)
