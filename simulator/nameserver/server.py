"""The embedded authoritative DNS server: UDP and TCP on one port, answering
from a `Zone`. It owns the sockets, the threads serving them and a cache of
rendered replies; what to answer is the zone's business.

A plain query (one question, opcode QUERY, at most an EDNS0 OPT without
options) for an answer the zone has pre-rendered (no CNAME chased, not ANY)
is answered by hand (wire.py), byte for byte what dnspython would send; any
other message goes through dnspython. Either way a plain query's reply is
cached, and a zone change drops only the replies it may have changed.
"""
from __future__ import annotations

import logging
import selectors
import socket
import struct
import threading

import dns.exception
import dns.flags
import dns.message
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype

from . import wire
from .zone import Zone, ZoneAnswer

__all__ = ["EmbeddedDnsServer"]

log = logging.getLogger(__name__)

# The largest UDP answer sent, whatever bigger size a client advertises: the
# DNS Flag Day 2020 size, which avoids IP fragmentation. Bigger answers go via TCP.
UDP_PAYLOAD_LIMIT = 1232
# RFC 1035: the UDP limit for a client that does not speak EDNS.
CLASSIC_UDP_LIMIT = 512
TCP_IDLE_TIMEOUT = 10.0
MAX_TCP_CONNECTIONS = 256
ANSWER_CACHE_LIMIT = 50_000
# Datagrams read off the UDP socket before answering them: the zone reads their names together.
MAX_BURST = 256
# Asked of the kernel for the UDP socket (which caps it at net.core.rmem_max):
# a client pipelining a window of queries while this thread waits for the GIL
# must find them all queued, not dropped; a drop costs it a retry timeout.
UDP_RECEIVE_BUFFER = 4 * 1024 * 1024
_HEADER = struct.Struct("!HHHHHH")
_QUESTION_TAIL = struct.Struct("!HH")  # type, class
_OPT_RR = struct.Struct("!BHHBBHH")  # root owner, type, payload, ext-rcode, version, flags, rdlen
_OPT_REPLY = wire.opt_record(UDP_PAYLOAD_LIMIT)  # what make_response(our_payload=...) renders
_QR = 0x8000
_QR_OR_OPCODE = 0xF800
_MISS = object()


class _AnswerCache:
    """Replies to plain queries as of zone generation `generation`, without
    their id (and in the letter case of whichever query was answered first).

    `by_name` holds replies that depend on the asked name alone (see
    ZoneAnswer.section), by lower-case wire name and then by the rest of the
    query's shape: a zone change drops those of the names it touched.
    `volatile` holds every other plain query's reply (a chased CNAME, ANY,
    anything dnspython rendered), dropped on any change.
    """

    __slots__ = ("generation", "by_name", "volatile", "size")

    def __init__(self, generation: int) -> None:
        self.generation = generation
        self.by_name: dict[bytes, dict[tuple, bytes | None]] = {}
        self.volatile: dict[tuple, bytes | None] = {}
        self.size = 0


class EmbeddedDnsServer:
    """Serves `zone` authoritatively on host:port over UDP and TCP (port 0: any free one)."""

    def __init__(self, zone: Zone, host: str = "127.0.0.1", port: int = 8553) -> None:
        self.zone = zone
        self.host = host
        self._requested_port = port
        self._port: int | None = None
        self._udp: socket.socket | None = None
        self._tcp: socket.socket | None = None
        self._wake_r, self._wake_w = None, None
        self._threads: list[threading.Thread] = []
        self._connections: dict[socket.socket, threading.Thread] = {}
        self._connections_lock = threading.Lock()
        self._stopping = threading.Event()
        # Read without a lock (hits); brought up to date with the zone and
        # written under the lock, see _catch_up and _store.
        self._cache = _AnswerCache(-1)
        self._cache_lock = threading.Lock()
        # How plain queries were answered: from the cache, rendered by hand,
        # by dnspython. Unlocked: approximate under concurrent TCP clients.
        self.counters = {"cached": 0, "by_hand": 0, "dnspython": 0}

    # --- lifecycle -----------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the DNS server is not started")
        return self._port

    @property
    def address(self) -> tuple[str, int]:
        return (self.host, self.port)

    @property
    def running(self) -> bool:
        return self._port is not None

    def start(self) -> "EmbeddedDnsServer":
        if self._port is not None:
            raise RuntimeError("the DNS server is already started")
        family = socket.getaddrinfo(self.host, None, type=socket.SOCK_DGRAM)[0][0]
        self._udp, self._tcp = _bind_pair(family, self.host, self._requested_port)
        try:
            self._udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_RECEIVE_BUFFER)
        except OSError:
            pass  # the default then; clients keep at most a window queued anyway
        self._port = self._udp.getsockname()[1]
        self._wake_r, self._wake_w = socket.socketpair()
        self._stopping.clear()
        self._threads = [
            threading.Thread(target=self._serve_udp, name=f"dns-udp-{self._port}", daemon=True),
            threading.Thread(target=self._serve_tcp, name=f"dns-tcp-{self._port}", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        log.debug("embedded DNS server on %s:%d (udp+tcp)", self.host, self._port)
        return self

    def stop(self) -> None:
        if self._port is None:
            return
        self._stopping.set()
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass
        for thread in self._threads:
            thread.join(timeout=5)
        with self._connections_lock:
            connections = list(self._connections.items())
        for connection, thread in connections:
            _shutdown(connection)  # wakes the connection's thread out of recv()
            thread.join(timeout=5)
        for sock in (self._udp, self._tcp, self._wake_r, self._wake_w):
            sock.close()
        self._threads = []
        self._port = None

    def __enter__(self) -> "EmbeddedDnsServer":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # --- UDP -----------------------------------------------------------------

    def _serve_udp(self) -> None:
        sock = self._udp
        sock.setblocking(False)
        with selectors.DefaultSelector() as selector:
            selector.register(sock, selectors.EVENT_READ)
            selector.register(self._wake_r, selectors.EVENT_READ)
            while not self._stopping.is_set():
                selector.select()
                # Drain everything queued before selecting again: one select per burst,
                # and one read of the zone's store for the names it has not cached.
                while not self._stopping.is_set():
                    burst = _receive_burst(sock)
                    if not burst:
                        break
                    if self.zone.reads_per_name:
                        self._prefetch(burst)
                    for data, peer in burst:
                        reply = self._respond(data, udp=True)
                        if reply is not None:
                            try:
                                sock.sendto(reply, peer)
                            except OSError:
                                pass

    def _prefetch(self, burst: list[tuple[bytes, object]]) -> None:
        """Have the zone read, together, the names of a burst's plain queries whose
        replies are not cached here."""
        cache = self._cache
        names = []
        for data, _ in burst:
            shape = _plain_query_shape(data, True)
            if shape is not None:
                name, rest, _ = shape
                group = cache.by_name.get(name)
                if (group is None or rest not in group) and (name, rest) not in cache.volatile:
                    key = wire.name_key(name)
                    if key is not None:
                        names.append(key)
        if names:
            try:
                self.zone.prefetch(names)
            except Exception:  # only a hint: each query is still answered on its own
                log.exception("embedded DNS server failed to read ahead")

    # --- TCP -----------------------------------------------------------------

    def _serve_tcp(self) -> None:
        listener = self._tcp
        listener.setblocking(False)
        serial = 0
        with selectors.DefaultSelector() as selector:
            selector.register(listener, selectors.EVENT_READ)
            selector.register(self._wake_r, selectors.EVENT_READ)
            while not self._stopping.is_set():
                selector.select()
                if self._stopping.is_set():
                    break
                try:
                    connection, _ = listener.accept()
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    # e.g. out of file descriptors: the listener stays readable,
                    # so pause instead of spinning.
                    self._stopping.wait(0.05)
                    continue
                serial += 1
                thread = threading.Thread(
                    target=self._serve_connection,
                    args=(connection,),
                    name=f"dns-tcp-conn-{self._port}-{serial}",
                    daemon=True,
                )
                with self._connections_lock:
                    if len(self._connections) >= MAX_TCP_CONNECTIONS:
                        connection.close()
                        continue
                    self._connections[connection] = thread
                thread.start()

    def _serve_connection(self, connection: socket.socket) -> None:
        # RFC 7766: a client may send several queries on one connection.
        try:
            connection.setblocking(True)
            connection.settimeout(TCP_IDLE_TIMEOUT)
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            while not self._stopping.is_set():
                prefix = _recv_exactly(connection, 2)
                if prefix is None:
                    return
                data = _recv_exactly(connection, struct.unpack("!H", prefix)[0])
                if data is None:
                    return
                reply = self._respond(data, udp=False)
                if reply is not None:
                    connection.sendall(struct.pack("!H", len(reply)) + reply)
        except OSError:
            pass  # timeouts, resets, shutdown by stop()
        finally:
            with self._connections_lock:
                self._connections.pop(connection, None)
            connection.close()

    # --- one message ---------------------------------------------------------

    def _respond(self, data: bytes, *, udp: bool) -> bytes | None:
        """The wire answer to one query, or None to stay silent. Never raises."""
        try:
            shape = _plain_query_shape(data, udp)
            if shape is None:
                return self._answer(data, udp)
            return self._answer_from_cache(data, udp, *shape)
        except Exception:  # a bad packet must never kill a serving thread
            log.exception("embedded DNS server failed to answer a query")
            return _header_only_error(data, dns.rcode.SERVFAIL)

    def _answer_from_cache(self, data: bytes, udp: bool, name: bytes, shape: tuple, name_end: int) -> bytes | None:
        # A cached reply is patched rather than rendered again: the id and the
        # question name's letter case (clients may randomise it,
        # draft-vixie-dnsext-dns0x20) are the only parts of a plain query the
        # reply echoes that the keys omit.
        cache = self._cache
        if cache.generation != self.zone.generation:
            cache = self._catch_up()
        group = cache.by_name.get(name)
        reply = _MISS if group is None else group.get(shape, _MISS)
        if reply is _MISS:
            reply = cache.volatile.get((name, shape), _MISS)
        if reply is _MISS:
            generation = cache.generation
            reply, by_name = self._render(data, udp, shape, name_end)
            if reply is not None and reply[12:name_end] != data[12:name_end]:
                return reply  # not a normal answer echoing the question: do not reuse
            self._store(generation, name, shape, reply, by_name)
            return reply
        self.counters["cached"] += 1
        if reply is None:
            return None
        return data[:2] + reply[2:12] + data[12:name_end] + reply[name_end:]

    def _render(self, data: bytes, udp: bool, shape: tuple, name_end: int) -> tuple[bytes | None, bool]:
        """A plain query's reply, and whether it depends on the asked name alone."""
        _, question_tail, edns, limit = shape
        qtype, qclass = _QUESTION_TAIL.unpack(question_tail)
        result = None
        if qclass == dns.rdataclass.IN and not dns.rdatatype.is_metatype(qtype):
            key = wire.name_key(data[12:name_end])
            if key is not None:
                result = self.zone.answer(key, qtype)
                if result.rcode is None:
                    return None, True  # the "timeout" fault
                if result.section is not None:
                    reply = wire.render_reply(data, name_end + 4, result.rcode, result.fault is None, result.section,
                                              _OPT_REPLY if edns else b"", limit, truncate=udp)
                    if reply is not None:
                        self.counters["by_hand"] += 1
                        return reply, True
        self.counters["dnspython"] += 1
        return self._answer(data, udp, result), False

    def _catch_up(self) -> _AnswerCache:
        """The cache brought up to the zone's generation: the replies a change
        may have altered dropped, or all of them."""
        with self._cache_lock:
            cache = self._cache
            generation, names = self.zone.changes_since(cache.generation)  # the zone's public change feed
            if generation == cache.generation:
                return cache  # another thread caught up first
            if names is None:
                cache = self._cache = _AnswerCache(generation)
                return cache
            for name in names:
                dropped = cache.by_name.pop(wire.name_to_wire(name), None)
                if dropped:
                    cache.size -= len(dropped)
            cache.size -= len(cache.volatile)
            cache.volatile = {}
            cache.generation = generation
            return cache

    def _store(self, generation: int, name: bytes, shape: tuple, reply: bytes | None, by_name: bool) -> None:
        with self._cache_lock:
            cache = self._cache
            # A reply rendered from the zone as of an older generation than the
            # cache's now would survive the catch-up meant to drop it. (One
            # rendered from a newer zone than the cache's is fine: the next
            # catch-up drops it if that change touched its name.)
            if cache.generation != generation:
                return
            if cache.size >= ANSWER_CACHE_LIMIT:
                cache = self._cache = _AnswerCache(generation)
            if by_name:
                cache.by_name.setdefault(name, {})[shape] = reply
            else:
                cache.volatile[(name, shape)] = reply
            cache.size += 1

    def _answer(self, data: bytes, udp: bool, result: ZoneAnswer | None = None) -> bytes | None:
        """Any message's reply through dnspython (`result`: the zone's answer
        to its question, if already known)."""
        try:
            query = dns.message.from_wire(data)
        except dns.message.ShortHeader:
            return None
        except Exception:
            return _header_only_error(data, dns.rcode.FORMERR)
        if query.flags & dns.flags.QR:
            return None  # a response is never answered (no reflection loops)
        response = dns.message.make_response(query, our_payload=UDP_PAYLOAD_LIMIT)
        if query.opcode() != dns.opcode.QUERY:
            response.set_rcode(dns.rcode.NOTIMP)
            return response.to_wire()
        if len(query.question) != 1:
            response.set_rcode(dns.rcode.FORMERR)
            return response.to_wire()
        question = query.question[0]
        if question.rdclass != dns.rdataclass.IN or question.rdtype in (dns.rdatatype.AXFR, dns.rdatatype.IXFR):
            response.set_rcode(dns.rcode.REFUSED)
            return response.to_wire()

        if result is None:
            result = self.zone.answer(question.name, question.rdtype)
        if result.rcode is None:
            return None  # the "timeout" fault
        response.set_rcode(result.rcode)
        if result.fault is None:
            response.flags |= dns.flags.AA
            response.answer = list(result.answer)

        if not udp:
            return response.to_wire(max_size=65535)
        if query.edns >= 0:
            limit = max(CLASSIC_UDP_LIMIT, min(query.payload, UDP_PAYLOAD_LIMIT))
        else:
            limit = CLASSIC_UDP_LIMIT
        try:
            return response.to_wire(max_size=limit)
        except dns.exception.TooBig:
            # RFC 2181 §9: say it did not fit and let the client ask over TCP.
            response.answer = []
            response.flags |= dns.flags.TC
            return response.to_wire(max_size=limit)


def _bind_pair(family: int, host: str, port: int) -> tuple[socket.socket, socket.socket]:
    """A UDP and a TCP socket bound to the same port; with port 0, one free for both."""
    attempts = 20 if port == 0 else 1
    for attempt in range(attempts):
        udp = socket.socket(family, socket.SOCK_DGRAM)
        try:
            udp.bind((host, port))
            chosen = udp.getsockname()[1]
            tcp = socket.socket(family, socket.SOCK_STREAM)
            try:
                # A restarted server must be able to take its port back while
                # old connections sit in TIME_WAIT.
                tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                tcp.bind((host, chosen))
                tcp.listen(64)
            except OSError:
                tcp.close()
                raise
        except OSError:
            udp.close()
            if attempt == attempts - 1:
                raise
            continue
        return udp, tcp
    raise AssertionError("unreachable")


def _plain_query_shape(data: bytes, udp: bool) -> tuple[bytes, tuple, int] | None:
    """(the question name lower-cased, the rest of the query's shape, where the
    name ends) for a plain one-question query; the shape is (flags, question
    type and class bytes, whether it has an OPT, the reply's size limit).

    Plain: opcode QUERY, one question with an uncompressed name, no other
    records except an EDNS0 OPT without options. Anything else returns None
    and goes through dnspython uncached.
    """
    size = len(data)
    if size < 17:
        return None
    _, flags, qdcount, ancount, nscount, arcount = _HEADER.unpack_from(data)
    if flags & _QR_OR_OPCODE or qdcount != 1 or ancount or nscount or arcount > 1:
        return None
    offset = 12
    while True:
        if offset >= size:
            return None
        length = data[offset]
        if length == 0:
            break
        if length > 63:
            return None  # a compression pointer or an extended label type
        offset += 1 + length
    name_end = offset + 1
    question_end = name_end + 4
    if arcount == 0:
        if size != question_end:
            return None
        limit = CLASSIC_UDP_LIMIT if udp else 65535
    else:
        if size != question_end + _OPT_RR.size:
            return None
        owner, rtype, payload, _, version, _, rdlength = _OPT_RR.unpack_from(data, question_end)
        if owner != 0 or rtype != 41 or version != 0 or rdlength != 0:
            return None
        limit = max(CLASSIC_UDP_LIMIT, min(payload, UDP_PAYLOAD_LIMIT)) if udp else 65535
    # Name bytes are lower-cased whole: length octets are <= 63, below 'A'.
    return data[12:name_end].lower(), (flags, data[name_end:question_end], arcount == 1, limit), name_end


def _receive_burst(sock: socket.socket) -> list[tuple[bytes, object]]:
    """What is queued on the UDP socket, up to MAX_BURST datagrams."""
    burst = []
    while len(burst) < MAX_BURST:
        try:
            burst.append(sock.recvfrom(65535))
        except (BlockingIOError, InterruptedError):
            break
        except OSError:
            continue  # e.g. ICMP errors surfacing from an earlier sendto
    return burst


def _recv_exactly(connection: socket.socket, size: int) -> bytes | None:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = connection.recv(size - len(chunks))
        if not chunk:
            return None
        chunks += chunk
    return bytes(chunks)


def _header_only_error(data: bytes, rcode: int) -> bytes | None:
    """A bare error header echoing the query's id, for queries dnspython cannot parse."""
    if len(data) < _HEADER.size:
        return None
    query_id, flags = struct.unpack_from("!HH", data)
    if flags & _QR:
        return None
    opcode_bits = flags & 0x7800
    return _HEADER.pack(query_id, _QR | opcode_bits | (rcode & 0xF), 0, 0, 0, 0)


def _shutdown(connection: socket.socket) -> None:
    try:
        connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
