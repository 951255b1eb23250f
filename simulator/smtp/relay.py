"""The SMTP relay: hands accepted messages to a real SMTP server (`--smtp-relay HOST:PORT`).

Delivery happens on worker threads, never in the request that sent the mail; every
submitted message ends in exactly one `on_result(message_id, "delivered" | "failed: <reason>")`.
"""
from __future__ import annotations

import logging
import queue
import smtplib
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from simulator.core.names import parse_host_port

__all__ = ["DELIVERED", "SmtpRelay", "parse_relay_spec"]

log = logging.getLogger(__name__)

DELIVERED = "delivered"


def parse_relay_spec(spec: str) -> tuple[str, int]:
    """`HOST:PORT` (IPv6 as `[::1]:PORT`) → (host, port); ValueError on anything else."""
    try:
        return parse_host_port(spec)
    except ValueError as problem:
        raise ValueError(f"invalid SMTP relay {spec!r}: {problem}; use HOST:PORT (IPv6 as [ADDRESS]:PORT)") from None


@dataclass(frozen=True)
class _Delivery:
    message_id: str
    envelope_from: str
    recipients: tuple[str, ...]
    mime_bytes: bytes


class _PermanentFailure(Exception):
    """The server said no for good (5xx), or part of the message already went out."""


_STOP = object()  # one per worker, queued behind everything submitted before close()


class SmtpRelay:
    """Delivers messages to one SMTP server, in the background, with bounded retries.

    Connection errors, timeouts and 4xx replies are retried `retries` times after the
    first attempt, waiting `backoff`, then twice that, and so on; 5xx replies fail at
    once, as a real MTA would not retry them. `on_result` runs on a worker thread and
    must not block for long; an exception it raises is logged, never propagated.
    """

    def __init__(
        self,
        host: str,
        port: int,
        on_result: Callable[[str, str], None],
        retries: int = 3,
        backoff: float = 0.5,
        timeout: float = 10,
        workers: int = 1,
    ):
        self.host = host
        self.port = port
        self._on_result = on_result
        self._retries = max(0, retries)
        self._backoff = max(0.0, backoff)
        self._timeout = timeout
        self._queue: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._pending = 0
        self._closed = False
        self._abandon = threading.Event()  # set when close() times out: stop retrying
        self._workers = [
            threading.Thread(target=self._work, name=f"smtp-relay-{n}", daemon=True)
            for n in range(max(1, workers))
        ]
        for worker in self._workers:
            worker.start()

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def submit(self, message_id: str, envelope_from: str, recipients: Sequence[str], mime_bytes: bytes) -> None:
        """Queue one message for delivery and return at once; never raises."""
        delivery = _Delivery(message_id, envelope_from, tuple(recipients), bytes(mime_bytes))
        with self._lock:
            accepted = not self._closed
            self._pending += 1
            if accepted:
                self._queue.put(delivery)
        if not accepted:
            # Reported from a throwaway thread so a caller holding its own lock
            # (which on_result may also take) cannot deadlock.
            threading.Thread(
                target=self._report, args=(message_id, "failed: relay is closed"), daemon=True
            ).start()

    def pending(self) -> int:
        """Messages submitted whose result has not been reported yet."""
        with self._lock:
            return self._pending

    def close(self, timeout: float | None = None) -> bool:
        """Stop accepting, deliver what is queued, then stop the workers.

        Returns True when everything was reported in time. On timeout, messages
        still waiting (in the queue or between retries) are reported as failed so
        none is lost silently; one mid-conversation with the server reports when
        its attempt ends.
        """
        with self._lock:
            if not self._closed:
                self._closed = True
                for _ in self._workers:
                    self._queue.put(_STOP)
        deadline = None if timeout is None else time.monotonic() + timeout
        for worker in self._workers:
            worker.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        if all(not worker.is_alive() for worker in self._workers):
            return True
        self._abandon.set()
        self._fail_queued("failed: relay closed before delivery")
        for _ in self._workers:
            self._queue.put(_STOP)  # _fail_queued may have taken the stop markers too
        return False

    # ------------------------------------------------------------------ workers

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            try:
                relay_status = self._deliver_with_retries(item)
            except BaseException as error:  # keep the promise: every message gets a result
                relay_status = f"failed: {_describe(error)}"
            self._report(item.message_id, relay_status)

    def _deliver_with_retries(self, delivery: _Delivery) -> str:
        attempt = 0
        while True:
            try:
                self._deliver_once(delivery)
                return DELIVERED
            except _PermanentFailure as failure:
                return f"failed: {failure}"
            except Exception as error:  # connection refused, timeout, 4xx, protocol trouble
                reason = _describe(error)
            if attempt >= self._retries:
                attempts = attempt + 1
                return f"failed: {reason} (after {attempts} attempt{'s' if attempts > 1 else ''})"
            if self._abandon.wait(self._backoff * (2**attempt)):
                return f"failed: {reason} (relay closed while retrying)"
            attempt += 1

    def _deliver_once(self, delivery: _Delivery) -> None:
        with smtplib.SMTP(self.host, self.port, timeout=self._timeout) as smtp:
            smtp.ehlo_or_helo_if_needed()
            code, reply = smtp.mail(delivery.envelope_from)
            if code != 250:
                _raise_for_reply(f"MAIL FROM:<{delivery.envelope_from}>", code, reply)
            refused: dict[str, tuple[int, bytes]] = {}
            for recipient in delivery.recipients:
                code, reply = smtp.rcpt(recipient)
                if code not in (250, 251):
                    refused[recipient] = (code, reply)
            if len(refused) == len(delivery.recipients):
                worst = max(code for code, _ in refused.values())
                detail = "; ".join(f"{r} ({c} {_text(t)})" for r, (c, t) in refused.items())
                if worst >= 500:
                    raise _PermanentFailure(f"recipients refused: {detail}")
                raise smtplib.SMTPRecipientsRefused(refused)
            code, reply = smtp.data(delivery.mime_bytes)
            if code != 250:
                _raise_for_reply("DATA", code, reply)
            if refused:
                # The others already have it: retrying would deliver twice.
                detail = "; ".join(f"{r} ({c} {_text(t)})" for r, (c, t) in refused.items())
                raise _PermanentFailure(
                    f"{len(refused)} of {len(delivery.recipients)} recipients refused: {detail}"
                )

    def _report(self, message_id: str, relay_status: str) -> None:
        try:
            self._on_result(message_id, relay_status)
        except Exception:
            log.exception("on_result failed for message %s (%s)", message_id, relay_status)
        finally:
            with self._lock:
                self._pending -= 1

    def _fail_queued(self, relay_status: str) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is not _STOP:
                self._report(item.message_id, relay_status)


def _raise_for_reply(command: str, code: int, reply: bytes) -> None:
    message = f"{command} answered {code} {_text(reply)}"
    if code >= 500:
        raise _PermanentFailure(message)
    raise smtplib.SMTPResponseException(code, message)


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", errors="replace") if isinstance(reply, bytes) else str(reply)


def _describe(error: Exception) -> str:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return "recipients refused: " + "; ".join(
            f"{r} ({c} {_text(t)})" for r, (c, t) in error.recipients.items()
        )
    if isinstance(error, smtplib.SMTPResponseException):
        return _text(error.smtp_error)
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, (socket.timeout, TimeoutError)):
        return "timed out"
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
