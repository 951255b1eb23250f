"""The SMTP relay: hands accepted messages to a real SMTP server (`--smtp-relay HOST:PORT`),
optionally after STARTTLS (`--smtp-relay-starttls`) and AUTH (`--smtp-relay-user/-password`).

Delivery happens on worker threads, never in the request that sent the mail; every
submitted message ends in exactly one `on_result(message_id, "delivered" | "failed: <reason>")`,
except what `close()` leaves undelivered: that is never reported, so it stays `pending` in
the outbox and the next start hands it back (a clean stop loses nothing, SPEC §14).
"""
from __future__ import annotations

import logging
import queue
import re
import smtplib
import socket
import ssl
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


class _MaybeDelivered(_PermanentFailure):
    """The whole message was sent after DATA but no reply came: the relay may have it, so
    sending it again could deliver it twice. Re-queue it by hand if it did not arrive."""


_LEFT_PENDING = None  # a delivery result meaning: not attempted to the end; report nothing


_STOP = object()  # one per worker, queued behind everything submitted before close()


class SmtpRelay:
    """Delivers messages to one SMTP server, in the background, with bounded retries.

    Connection errors, timeouts and 4xx replies are retried `retries` times after the
    first attempt, waiting `backoff`, then twice that, and so on; 5xx replies fail at
    once, as a real MTA would not retry them, and so does silence after the message
    was sent (the relay may have it: never sent twice). Every wait is bounded by
    `timeout`. `on_result` runs on a worker thread and must not block for long; an
    exception it raises is logged, never propagated.

    `starttls` upgrades each connection before anything else is said; the certificate
    is not verified, as mail catchers on loopback present self-signed ones. With
    `username`, the relay logs in (smtplib picks CRAM-MD5, PLAIN or LOGIN); a refused
    login (535) fails the message at once, a server without AUTH too.
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
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
    ):
        if password is not None and username is None:
            raise ValueError("an SMTP relay password needs a user (--smtp-relay-user)")
        self.host = host
        self.port = port
        self._on_result = on_result
        self._retries = max(0, retries)
        self._backoff = max(0.0, backoff)
        self._timeout = timeout
        self._login = (username, password or "") if username is not None else None
        self._starttls = starttls
        self._queue: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._pending = 0
        self._closed = False
        self._closing = threading.Event()  # set by close(): no more retries, no waiting
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
        """Queue one message for delivery and return at once; never raises. Once closed,
        the message is left as it is (pending, for the next start)."""
        delivery = _Delivery(message_id, envelope_from, tuple(recipients), bytes(mime_bytes))
        with self._lock:
            if self._closed:
                return
            self._pending += 1
            self._queue.put(delivery)

    def pending(self) -> int:
        """Messages submitted whose result has not been reported yet."""
        with self._lock:
            return self._pending

    def close(self, timeout: float | None = None) -> bool:
        """Stop accepting; try each queued message once more, without waiting to retry;
        then stop the workers.

        What is not delivered by then is not reported at all, so it stays pending for
        the next start: a failed attempt, a message between retries, and, when `timeout`
        runs out, what is still queued. Returns True when the workers stopped in time.
        """
        with self._lock:
            if not self._closed:
                self._closed = True
                self._closing.set()
                for _ in self._workers:
                    self._queue.put(_STOP)
        deadline = None if timeout is None else time.monotonic() + timeout
        for worker in self._workers:
            worker.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        if all(not worker.is_alive() for worker in self._workers):
            return True
        self._leave_queued()
        for _ in self._workers:
            self._queue.put(_STOP)  # _leave_queued may have taken the stop markers too
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
            if self._closing.is_set():
                return _LEFT_PENDING  # stopping: the next start tries again
            if attempt >= self._retries:
                attempts = attempt + 1
                return f"failed: {reason} (after {attempts} attempt{'s' if attempts > 1 else ''})"
            if self._closing.wait(self._backoff * (2**attempt)):
                return _LEFT_PENDING
            attempt += 1

    def _deliver_once(self, delivery: _Delivery) -> None:
        with smtplib.SMTP(self.host, self.port, timeout=self._timeout) as smtp:
            smtp.ehlo_or_helo_if_needed()
            if self._starttls:
                self._start_tls(smtp)
            if self._login is not None:
                self._log_in(smtp)
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
            code, reply = _send_data(smtp, delivery.mime_bytes, self._timeout)
            if code != 250:
                _raise_for_reply("DATA", code, reply)
            if refused:
                # The others already have it: retrying would deliver twice.
                detail = "; ".join(f"{r} ({c} {_text(t)})" for r, (c, t) in refused.items())
                raise _PermanentFailure(
                    f"{len(refused)} of {len(delivery.recipients)} recipients refused: {detail}"
                )

    def _start_tls(self, smtp: smtplib.SMTP) -> None:
        if not smtp.has_extn("starttls"):
            raise _PermanentFailure(f"{self.address} does not offer STARTTLS")
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # loopback catchers use self-signed certificates
        smtp.starttls(context=context)
        smtp.ehlo()

    def _log_in(self, smtp: smtplib.SMTP) -> None:
        try:
            smtp.login(*self._login)
        except smtplib.SMTPNotSupportedError:
            raise _PermanentFailure(f"{self.address} does not offer AUTH (or only after STARTTLS)") from None
        except smtplib.SMTPAuthenticationError as error:
            if error.smtp_code >= 500:
                raise _PermanentFailure(f"AUTH answered {error.smtp_code} {_text(error.smtp_error)}") from None
            raise

    def _report(self, message_id: str, relay_status: str | None) -> None:
        try:
            if relay_status is not _LEFT_PENDING:
                self._on_result(message_id, relay_status)
        except Exception:
            log.exception("on_result failed for message %s (%s)", message_id, relay_status)
        finally:
            with self._lock:
                self._pending -= 1

    def _leave_queued(self) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is not _STOP:
                self._report(item.message_id, _LEFT_PENDING)


def _send_data(smtp: smtplib.SMTP, message: bytes, timeout: float) -> tuple[int, bytes]:
    """smtplib's DATA, split where it matters: once the whole message is sent, no reply
    within `timeout` (or a dropped connection) is `_MaybeDelivered`, never retried."""
    smtp.putcmd("data")
    code, reply = smtp.getreply()
    if code != 354:
        return code, reply
    body = re.sub(rb"(?m)^\.", b"..", message)
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    smtp.send(body + b".\r\n")
    try:
        return smtp.getreply()
    except (OSError, smtplib.SMTPServerDisconnected) as error:
        raise _MaybeDelivered(f"no reply after the message was sent ({_describe(error)} after {timeout:g} s); "
                              "not sent again, as the relay may have it") from None


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
