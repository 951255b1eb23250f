"""The HTTP server: granian's Rust HTTP/1.1 engine, embedded in this process.

Why granian, and why embedded (README "Performance" has the figures): the same bare
Flask app is served about twice as fast by granian as by waitress on this machine,
and connections are handled by an async Rust runtime, so thousands of idle or
trickling clients cost a few KB each and never take a worker thread (SPEC §14).
The WSGI app runs on a bounded pool of Python threads (`threads`).

granian's own servers run the app in worker processes (or, on free-threaded builds
only, in worker threads). The simulator is one process: the embedded DNS server,
the scheduler, the relay, the SMTP interface, the clock and the event stream live
with the API. So this module drives granian's worker object directly, as granian's
thread-worker server does: it binds the listening socket itself (the port is known
at once, even for port 0), starts the worker's Rust runtime, and stops it with the
worker's signal. The signal's callback runs once the worker has finished: no new
connections, requests in flight answered, idle keep-alive connections closed.

This touches granian below its documented surface (`granian._granian`), so the
version is pinned in pyproject.toml; `tests/api/test_http_edges.py` exercises it.
"""
from __future__ import annotations

import asyncio
import logging
import os
import socket
import sys
import threading

from granian._futures import _CBScheduler
from granian._granian import MetricsAggregator, SocketHolder, WorkerSignal, WSGIWorker
from granian.http import HTTP1Settings
from granian.wsgi import ResponseIterWrap

from ..memory import give_memory_back

log = logging.getLogger("mailfrom_sim")

BACKLOG = 1024
# Connections are cheap (an async Rust runtime); requests being handled at once are
# bounded by `backpressure`, the rest wait in the kernel's accept queue.
BACKPRESSURE = 1 << 16
# A client that has not sent its whole request head within this many ms is dropped
# (trickling clients, SPEC §14). Clients that say nothing are dropped after the same
# time (hyper's header read timeout starts at connection).
HEADER_READ_TIMEOUT_MS = 10_000
# hyper's buffer for one request head; above it the engine itself answers 431 with no
# body and closes the connection (the app answers smaller over-large heads, AWS-shaped).
MAX_HEAD_BYTES = 1024 * 1024


# What every request's environ starts with. granian's own wrapper starts from os.environ,
# which would make an HTTP_PROXY variable of the server a "Proxy" header of every request.
_BASE_ENVIRON = {
    "GATEWAY_INTERFACE": "CGI/1.1", "SCRIPT_NAME": "", "SERVER_SOFTWARE": "mailfrom-sim",
    "wsgi.errors": sys.stderr, "wsgi.input_terminated": True, "wsgi.multiprocess": False,
    "wsgi.multithread": True, "wsgi.run_once": False, "wsgi.version": (1, 0),
}


class _StartResponse:
    __slots__ = ("status", "headers")

    def __init__(self):
        self.status = 200
        self.headers = []

    def __call__(self, status: str, headers: list, exc_info=None):
        self.status = int(status.split(" ", 1)[0])
        self.headers = headers


# After a request or an answer this large, freed memory is handed back to the system: glibc
# keeps freed blocks in its arenas, so one 50 MB SendEmail left the process 900 MB large.
TRIM_AFTER_BYTES = 4 * 1024 * 1024


def _wsgi_callback(app):
    """What the worker calls per request, on one of its Python threads (granian's WSGI
    protocol: answer through `proto`, return the status)."""
    def run(proto, scope):
        start_response = _StartResponse()
        body = app(_BASE_ENVIRON | scope, start_response)
        if isinstance(body, list) or any(name.lower() == "content-length" for name, _ in start_response.headers):
            # A whole answer: one write, not one per item. wire.WholeResponse hands over its body
            # list (one item: joined without a copy); werkzeug's own path, a closing iterator.
            try:
                data = b"".join(body)
            finally:
                close = getattr(body, "close", None)
                if close is not None:
                    close()
            proto.response_bytes(start_response.status, start_response.headers, data)
            large = len(data) > TRIM_AFTER_BYTES
            del data
        else:  # a stream (Server-Sent Events): sent as it is produced
            proto.response_iter(start_response.status, start_response.headers, ResponseIterWrap(body))
            large = False
        length = scope.get("CONTENT_LENGTH")
        if large or (length and len(length) > 6 and length.isdigit() and int(length) > TRIM_AFTER_BYTES):
            del body
            give_memory_back()
        return start_response.status

    return run


def _raise_open_files_limit() -> None:
    """Idle clients hold a descriptor each until dropped: allow as many as the hard limit
    does (up to 65,536), so a flood of connections does not leave none for new clients."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        wanted = 65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)
        if soft != resource.RLIM_INFINITY and soft < wanted:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    except (ImportError, ValueError, OSError):  # not permitted here: keep the limit we have
        pass


def _bind(host: str, port: int) -> socket.socket:
    family, type_, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, type_, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted connections inherit it: without it a small answer can wait ~40 ms for
        # the client's delayed ACK (Nagle), which was the whole p99 of a keep-alive client.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind(address)
        sock.listen(BACKLOG)
    except BaseException:
        sock.close()
        raise
    return sock


class HttpServer:
    """`app` served on (host, port) by an embedded granian worker; `threads` Python
    threads run the app. `start()` returns at once; `stop()` drains, then returns."""

    def __init__(self, app, host: str, port: int, threads: int):
        self.app = app
        self.threads = threads
        _raise_open_files_limit()
        self._socket = _bind(host, port)
        self.effective_port = self._socket.getsockname()[1]
        self._signal = WorkerSignal()
        self._stopped = threading.Event()
        self._signal.add_cb(self._stopped.set)  # run by the worker once it has drained
        self._loop = asyncio.new_event_loop()  # never run: granian's WSGI path only needs one to exist
        self._started = False

    def start(self) -> "HttpServer":
        worker = WSGIWorker(
            1,  # worker id
            (None, SocketHolder(os.dup(self._socket.fileno()), False, BACKLOG)),  # the worker closes its copy
            None,  # no IPC: there is no parent process
            1,  # Rust runtime threads: one is plenty for the I/O of one Python process
            512,  # Rust blocking threads (granian's default)
            self.threads,  # Python threads running the app
            30,  # seconds an idle Python thread is kept
            BACKPRESSURE,
            "1",  # HTTP/1.1 only, as AWS's SDKs and the simulator's clients speak
            HTTP1Settings(header_read_timeout=HEADER_READ_TIMEOUT_MS, max_buffer_size=MAX_HEAD_BYTES),
            None,  # no HTTP/2 settings
            None,  # no static files
            False, None, None, None, "tls1.3", None, [], False,  # no TLS
            (None, MetricsAggregator(1)),  # no metrics export
        )
        # The scheduler is built without granian's placeholder asyncio task: on the WSGI path
        # the app is called on the worker's Python threads and the task is never used, while
        # registering it put a half-built Task in asyncio's registry, which broke
        # `asyncio.all_tasks()` for the SMTP interface's event loop at shutdown.
        scheduler = _CBScheduler(self._loop, _wsgi_callback(self.app), None, None, None)
        worker.serve_mtr(scheduler, self._loop, self._signal)
        self._socket.close()  # the worker listens on its own copy from now on
        self._worker = worker
        self._started = True
        return self

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop accepting, let requests in flight finish and their answers go out, close
        the connections. False if that took longer than `timeout` (it goes on without us)."""
        drained = True
        if self._started:
            self._signal.set()
            drained = self._stopped.wait(timeout)
            if not drained:
                log.warning("HTTP server: requests still in flight after %.0f s; stopping anyway", timeout)
        self._socket.close()
        self._loop.close()
        return drained
