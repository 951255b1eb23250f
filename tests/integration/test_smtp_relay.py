"""The SMTP relay against a real SMTP server (aiosmtpd on loopback)."""
from __future__ import annotations

import asyncio
import socket
from contextlib import contextmanager
import threading
import time

import pytest
from aiosmtpd.controller import Controller

from simulator.smtp.relay import SmtpRelay, parse_relay_spec

MIME = b"From: app@example.com\r\nTo: u@example.org\r\nSubject: hi\r\n\r\nhello\r\n"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RecordingHandler:
    """Accepts mail and records each envelope; can refuse recipients or stall DATA."""

    def __init__(self):
        self.envelopes: list[dict] = []
        self.refuse: dict[str, str] = {}  # recipient -> SMTP reply
        self.temporary_data_failures = 0
        self.data_delay = 0.0
        self.data_received = 0  # whole messages received after DATA, answered or not

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.data_received += 1
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        if self.temporary_data_failures:
            self.temporary_data_failures -= 1
            return "451 4.3.0 Try again later"
        self.envelopes.append(
            {
                "mail_from": envelope.mail_from,
                "mail_options": list(envelope.mail_options),
                "rcpt_tos": list(envelope.rcpt_tos),
                "content": envelope.original_content,
            }
        )
        return "250 Message accepted for delivery"


class Results:
    """Collects on_result calls from the relay's worker threads."""

    def __init__(self):
        self._changed = threading.Condition()
        self.reported: list[tuple[str, str]] = []

    def __call__(self, message_id: str, relay_status: str) -> None:
        with self._changed:
            self.reported.append((message_id, relay_status))
            self._changed.notify_all()

    def wait_for(self, count: int, timeout: float = 5.0) -> dict[str, str]:
        with self._changed:
            self._changed.wait_for(lambda: len(self.reported) >= count, timeout)
            return dict(self.reported)


@contextmanager
def smtp_server():
    """A real SMTP server (aiosmtpd) on loopback that records every envelope."""
    handler = RecordingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller, handler
    finally:
        controller.stop()


@pytest.fixture
def server():
    with smtp_server() as running:
        yield running


@pytest.fixture
def results():
    return Results()


@pytest.fixture
def make_relay(results):
    relays: list[SmtpRelay] = []

    def make(port: int, **options) -> SmtpRelay:
        options.setdefault("backoff", 0.01)
        options.setdefault("timeout", 2)
        relay = SmtpRelay("127.0.0.1", port, results, **options)
        relays.append(relay)
        return relay

    yield make
    for relay in relays:
        relay.close(timeout=2)


def test_delivers_with_the_envelope_sender_and_every_recipient(server, results, make_relay):
    controller, handler = server
    relay = make_relay(controller.port)

    relay.submit("m1", "m1@mail.example.com", ["a@example.org", "b@example.org"], MIME)

    assert results.wait_for(1) == {"m1": "delivered"}
    [envelope] = handler.envelopes
    assert envelope["mail_from"] == "m1@mail.example.com"
    assert envelope["mail_options"] == []  # exactly MAIL FROM:<envelope sender>
    assert envelope["rcpt_tos"] == ["a@example.org", "b@example.org"]
    assert envelope["content"].replace(b"\r\n", b"\n") == MIME.replace(b"\r\n", b"\n")


def test_submit_returns_before_delivery_happens(server, results, make_relay):
    controller, handler = server
    handler.data_delay = 0.3
    relay = make_relay(controller.port)

    started = time.monotonic()
    relay.submit("slow", "slow@amazonses.com", ["a@example.org"], MIME)

    assert time.monotonic() - started < 0.1
    assert relay.pending() == 1
    assert results.wait_for(1) == {"slow": "delivered"}
    assert relay.pending() == 0


def test_closed_port_fails_after_the_bounded_retries(results, make_relay):
    relay = make_relay(free_port(), retries=2, backoff=0.01)

    relay.submit("m1", "m1@amazonses.com", ["a@example.org"], MIME)

    status = results.wait_for(1)["m1"]
    assert status.startswith("failed: ")
    assert "connection refused" in status
    assert "after 3 attempts" in status
    assert relay.pending() == 0


def test_temporary_failures_are_retried_until_delivered(server, results, make_relay):
    controller, handler = server
    handler.temporary_data_failures = 2
    relay = make_relay(controller.port, retries=3)

    relay.submit("m1", "m1@amazonses.com", ["a@example.org"], MIME)

    assert results.wait_for(1) == {"m1": "delivered"}
    assert len(handler.envelopes) == 1


def test_temporary_failures_beyond_the_retries_are_reported(server, results, make_relay):
    controller, handler = server
    handler.temporary_data_failures = 10
    relay = make_relay(controller.port, retries=1)

    relay.submit("m1", "m1@amazonses.com", ["a@example.org"], MIME)

    status = results.wait_for(1)["m1"]
    assert status.startswith("failed: ") and "451" in status and "after 2 attempts" in status
    assert handler.envelopes == []


def test_refused_recipients_fail_at_once(server, results, make_relay):
    controller, handler = server
    handler.refuse["nobody@example.org"] = "550 5.1.1 No such user"
    relay = make_relay(controller.port, retries=3, backoff=5)  # a retry would time the test out

    relay.submit("m1", "m1@amazonses.com", ["nobody@example.org"], MIME)

    status = results.wait_for(1, timeout=3)["m1"]
    assert status.startswith("failed: recipients refused")
    assert "nobody@example.org" in status and "550" in status
    assert handler.envelopes == []


def test_partly_refused_recipients_are_reported_after_the_others_got_it(server, results, make_relay):
    controller, handler = server
    handler.refuse["nobody@example.org"] = "550 5.1.1 No such user"
    relay = make_relay(controller.port)

    relay.submit("m1", "m1@amazonses.com", ["a@example.org", "nobody@example.org"], MIME)

    status = results.wait_for(1)["m1"]
    assert status.startswith("failed: 1 of 2 recipients refused")
    assert [e["rcpt_tos"] for e in handler.envelopes] == [["a@example.org"]]


def test_close_drains_the_queue_before_stopping(server, results, make_relay):
    controller, handler = server
    relay = make_relay(controller.port)
    for n in range(20):
        relay.submit(f"m{n}", f"m{n}@amazonses.com", ["a@example.org"], MIME)

    assert relay.close(timeout=10) is True

    assert results.wait_for(20, timeout=0) == {f"m{n}": "delivered" for n in range(20)}
    assert len(handler.envelopes) == 20
    assert relay.pending() == 0


def test_close_leaves_what_was_not_delivered_unreported(results, make_relay):
    # Unreported means still `pending` in the outbox: the next start delivers it.
    relay = make_relay(free_port(), retries=5, backoff=30)  # would wait 30 s before retrying
    relay.submit("stuck", "s@amazonses.com", ["a@example.org"], MIME)
    relay.submit("queued", "q@amazonses.com", ["a@example.org"], MIME)

    assert relay.close(timeout=5) is True  # no retry waits once closing

    assert results.reported == [] and relay.pending() == 0


def test_close_timeout_leaves_the_queue_unreported(server, results, make_relay):
    controller, handler = server
    handler.data_delay = 1.5
    relay = make_relay(controller.port, timeout=5)
    relay.submit("slow", "s@amazonses.com", ["a@example.org"], MIME)
    relay.submit("queued", "q@amazonses.com", ["a@example.org"], MIME)

    assert relay.close(timeout=0.2) is False  # "slow" is mid-conversation

    assert results.wait_for(1, timeout=5) == {"slow": "delivered"}
    assert "queued" not in dict(results.reported)


def test_submit_after_close_is_left_pending_not_raised(results, make_relay):
    relay = make_relay(free_port())
    relay.close(timeout=1)

    relay.submit("late", "l@amazonses.com", ["a@example.org"], MIME)

    assert results.reported == [] and relay.pending() == 0


def test_a_relay_silent_after_data_gets_the_message_once(server, results, make_relay):
    controller, handler = server
    handler.data_delay = 3  # answers DATA long after the relay's timeout
    relay = make_relay(controller.port, timeout=0.5, retries=3)
    relay.submit("m1", "m1@amazonses.com", ["a@example.org"], MIME)

    status = results.wait_for(1, timeout=10)["m1"]

    assert status.startswith("failed: no reply after the message was sent") and "not sent again" in status
    assert handler.data_received == 1  # retries would have come before the report


def test_a_failing_callback_does_not_stop_delivery(server):
    controller, _ = server
    reported: list[str] = []
    done = threading.Event()

    def on_result(message_id: str, relay_status: str) -> None:
        reported.append(message_id)
        if message_id == "m2":
            done.set()
        raise RuntimeError("store unavailable")

    relay = SmtpRelay("127.0.0.1", controller.port, on_result, backoff=0.01)
    relay.submit("m1", "m1@amazonses.com", ["a@example.org"], MIME)
    relay.submit("m2", "m2@amazonses.com", ["a@example.org"], MIME)

    assert done.wait(5)
    assert reported == ["m1", "m2"]
    relay.close(timeout=1)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [("localhost:25", ("localhost", 25)), (" 127.0.0.1:2525 ", ("127.0.0.1", 2525)), ("[::1]:1025", ("::1", 1025))],
)
def test_parse_relay_spec_reads_host_and_port(spec, expected):
    assert parse_relay_spec(spec) == expected


@pytest.mark.parametrize("spec", ["", "localhost", "localhost:", ":25", "host:0", "host:70000", "host:abc", "::1:25", "[::1]25", "a b:25"])
def test_parse_relay_spec_refuses_garbage(spec):
    with pytest.raises(ValueError):
        parse_relay_spec(spec)


# --- AUTH and STARTTLS, against a sink that requires them --------------------------------

USER, PASSWORD = "catcher", "s3cret"


def authenticator(server, session, envelope, mechanism, auth_data):
    from aiosmtpd.smtp import AuthResult, LoginPassword

    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        USER.encode(), PASSWORD.encode())
    return AuthResult(success=ok, handled=False)  # aiosmtpd answers 535 itself


def self_signed_context(tmp_path):
    """A server-side TLS context with a throwaway self-signed certificate, as catchers use."""
    import datetime
    import ssl

    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                         serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    return context


@contextmanager
def guarded_server(**smtp_options):
    """aiosmtpd requiring AUTH (and, with a tls_context, STARTTLS first)."""
    handler = RecordingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), auth_required=True,
                            authenticator=authenticator, **smtp_options)
    controller.start()
    try:
        yield controller, handler
    finally:
        controller.stop()


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_logs_in_when_the_server_requires_auth(results, make_relay):
    with guarded_server(auth_require_tls=False) as (controller, handler):
        relay = make_relay(controller.port, username=USER, password=PASSWORD)
        relay.submit("m1", "m1@mail.example.com", ["a@example.org"], MIME)

        assert results.wait_for(1) == {"m1": "delivered"}
        assert [e["mail_from"] for e in handler.envelopes] == ["m1@mail.example.com"]


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_without_credentials_an_auth_server_refuses_the_mail(results, make_relay):
    with guarded_server(auth_require_tls=False) as (controller, handler):
        relay = make_relay(controller.port, retries=3, backoff=5)  # a retry would time the test out

        relay.submit("m1", "m1@amazonses.com", ["a@example.org"], MIME)

        status = results.wait_for(1, timeout=3)["m1"]
        assert status.startswith("failed: MAIL FROM") and "530" in status
        assert handler.envelopes == []


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_a_wrong_password_fails_at_once_with_the_servers_answer(results, make_relay):
    with guarded_server(auth_require_tls=False) as (controller, handler):
        relay = make_relay(controller.port, username=USER, password="wrong", retries=3, backoff=5)

        relay.submit("m1", "m1@amazonses.com", ["a@example.org"], MIME)

        status = results.wait_for(1, timeout=3)["m1"]
        assert status.startswith("failed: AUTH answered 535")
        assert handler.envelopes == []


def test_starttls_then_auth_against_a_self_signed_catcher(results, make_relay, tmp_path):
    context = self_signed_context(tmp_path)
    with guarded_server(tls_context=context, require_starttls=True) as (controller, handler):
        relay = make_relay(controller.port, username=USER, password=PASSWORD, starttls=True)
        relay.submit("m1", "m1@mail.example.com", ["a@example.org"], MIME)

        assert results.wait_for(1) == {"m1": "delivered"}
        assert [e["rcpt_tos"] for e in handler.envelopes] == [["a@example.org"]]


def test_auth_that_the_server_offers_only_after_starttls_is_reported(results, make_relay, tmp_path):
    context = self_signed_context(tmp_path)
    with guarded_server(tls_context=context, require_starttls=True) as (controller, handler):
        relay = make_relay(controller.port, username=USER, password=PASSWORD, retries=3, backoff=5)

        relay.submit("m1", "m1@amazonses.com", ["a@example.org"], MIME)

        status = results.wait_for(1, timeout=3)["m1"]
        assert status == f"failed: 127.0.0.1:{controller.port} does not offer AUTH (or only after STARTTLS)"


def test_starttls_against_a_server_without_it_is_reported(server, results, make_relay):
    controller, handler = server
    relay = make_relay(controller.port, starttls=True, retries=3, backoff=5)

    relay.submit("m1", "m1@amazonses.com", ["a@example.org"], MIME)

    assert results.wait_for(1, timeout=3)["m1"] == f"failed: 127.0.0.1:{controller.port} does not offer STARTTLS"
    assert handler.envelopes == []


def test_a_password_without_a_user_is_refused():
    with pytest.raises(ValueError, match="needs a user"):
        SmtpRelay("127.0.0.1", 25, lambda *_: None, password="x")
