"""A hostile nameserver on loopback: every UDP query gets an empty answer with the
TC (truncated) bit set, so a client must retry over TCP, and every TCP connection
is accepted and then left hanging (nothing is read, nothing is answered).

Bounded: it serves at most `max_seconds` (then stops itself), holds at most
`max_connections` stalled connections (older ones are closed), and `stop()` or
leaving the `with` block ends it at once. Daemon threads only.
"""
from __future__ import annotations

import selectors
import socket
import struct
import threading
import time
from collections import deque

_TC_AND_QR = 0x8200


def _bind_pair(host: str, tries: int = 20) -> tuple[socket.socket, socket.socket]:
    """A UDP and a listening TCP socket on the same free port."""
    for _ in range(tries):
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind((host, 0))
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            tcp.bind((host, udp.getsockname()[1]))
        except OSError:  # that TCP port is taken: another pair
            udp.close()
            tcp.close()
            continue
        tcp.listen(64)
        return udp, tcp
    raise OSError("no free port for both UDP and TCP")


class HostileNameserver:
    def __init__(self, host: str = "127.0.0.1", *, max_seconds: float = 300.0, max_connections: int = 256):
        self.host = host
        self.max_seconds = max_seconds
        self.max_connections = max_connections
        self.udp_queries = 0  # queries answered with TC
        self.tcp_connections = 0  # connections accepted and left stalled
        self._stop = threading.Event()
        self._udp, self._tcp = _bind_pair(host)  # one port number for both, as a DNS server has
        self.port = self._udp.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, name="hostile-dns", daemon=True)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> "HostileNameserver":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def __enter__(self) -> "HostileNameserver":
        return self.start()

    def __exit__(self, *_exc) -> None:
        self.stop()

    def _serve(self) -> None:
        stalled: deque[socket.socket] = deque()
        selector = selectors.DefaultSelector()
        selector.register(self._udp, selectors.EVENT_READ, "udp")
        selector.register(self._tcp, selectors.EVENT_READ, "tcp")
        ends = time.monotonic() + self.max_seconds
        try:
            while not self._stop.is_set() and time.monotonic() < ends:
                for key, _ in selector.select(timeout=0.1):
                    if key.data == "udp":
                        self._answer_truncated()
                    else:
                        connection, _ = self._tcp.accept()
                        self.tcp_connections += 1
                        stalled.append(connection)  # never read, never answered
                        while len(stalled) > self.max_connections:
                            stalled.popleft().close()
        finally:
            selector.close()
            for connection in stalled:
                connection.close()
            self._udp.close()
            self._tcp.close()

    def _answer_truncated(self) -> None:
        try:
            data, peer = self._udp.recvfrom(4096)
        except OSError:
            return
        if len(data) < 12:
            return
        # The query's id and question back, QR and TC set, no records at all.
        query_id, _flags, qdcount = struct.unpack_from("!HHH", data)
        end = 12
        if qdcount:
            while end < len(data) and data[end]:
                end += 1 + data[end]
            end += 1 + 4
        header = struct.pack("!HHHHHH", query_id, _TC_AND_QR | 0x0100, 1 if qdcount else 0, 0, 0, 0)
        self.udp_queries += 1
        try:
            self._udp.sendto(header + data[12:end], peer)
        except OSError:
            pass
