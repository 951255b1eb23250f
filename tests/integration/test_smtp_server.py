"""The SES SMTP interface (SPEC §11) with real clients over loopback: Python's smtplib
(STARTTLS, implicit TLS, AUTH PLAIN and LOGIN), swaks, and a raw socket; the MAIL FROM
states reached through the embedded DNS; a relay sink receiving the SES envelope."""
from __future__ import annotations

import base64
import json
import os
import re
import shutil
import smtplib
import socket
import ssl
import subprocess
import sys

import boto3
import pytest

from simulator.runtime import Options, Runtime
from simulator.smtp.server import SmtpInterface
from tests.api.test_send import MAIL, MESSAGE_ID, configure, outbox, reach
from tests.helpers import SimControl, aws_client
from tests.integration.test_send_relay import wait_relay
from tests.integration.test_smtp_relay import smtp_server
from tests.unit.test_smtp_credentials import EXAMPLE_KEY_ID, EXAMPLE_SECRET, PUBLISHED

SENDER = "app@example.com"
TO = "user@example.org"
MIME = (f"From: App <{SENDER}>\r\nTo: {TO}\r\nBcc: hidden@example.org\r\nSubject: over smtp\r\n\r\n"
        "hello over SMTP\r\n")

STRICT_ACCOUNT = "111122223333"


@pytest.fixture(scope="module")
def sink():
    with smtp_server() as running:
        yield running


@pytest.fixture(scope="module")
def runtime(sink):
    controller, _ = sink
    rt = Runtime(Options(port=0, dns_port=0, db=":memory:", dns_timeout=0.5, smtp_port=0, smtps_port=0,
                         smtp_relay=f"127.0.0.1:{controller.port}")).start()
    yield rt
    rt.stop()


class Sim:
    def __init__(self, rt: Runtime, handler):
        self.rt, self.handler = rt, handler
        self.control = SimControl(rt.url)
        self.sesv2 = aws_client("sesv2", rt.url)
        self.port = rt.smtp.listeners["smtp"].port
        self.smtps_port = rt.smtp.listeners["smtps"].port

    def tls(self) -> ssl.SSLContext:
        """Verifies the simulator's self-signed certificate, host name (127.0.0.1) included."""
        return ssl.create_default_context(cafile=self.rt.smtp_certificate)

    def client(self, mechanism: str = "PLAIN", user: str = "AKIAEXAMPLE", password: str = "any") -> smtplib.SMTP:
        client = smtplib.SMTP("127.0.0.1", self.port, timeout=30)
        client.starttls(context=self.tls())
        client.ehlo()
        client.user, client.password = user, password
        client.auth(mechanism, getattr(client, f"auth_{mechanism.lower()}"))
        return client

    def send(self, client=None, sender=SENDER, recipients=(TO,), mime=MIME) -> str:
        """Send and return the MessageId from SES's `250 Ok <MessageId>`."""
        own = client is None
        client = client or self.client()
        try:
            client.mail(sender)
            for recipient in recipients:
                assert client.rcpt(recipient)[0] == 250
            code, reply = client.data(mime.encode())
        finally:
            if own:
                client.quit()
        assert code == 250, (code, reply)
        assert reply.startswith(b"Ok ")
        return reply[3:].decode()

    def refused(self, sender=SENDER, recipients=(TO,), mime=MIME) -> tuple[int, str]:
        """The reply to the end of DATA of a send that must fail."""
        with self.client() as client:
            client.mail(sender)
            for recipient in recipients:
                assert client.rcpt(recipient)[0] == 250
            code, reply = client.data(mime.encode())
        assert code != 250
        return code, reply.decode()


@pytest.fixture
def sim(runtime, sink):
    runtime.simulator.reset()
    sink[1].envelopes.clear()
    sim = Sim(runtime, sink[1])
    sim.sesv2.create_email_identity(EmailIdentity="example.com")
    return sim


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_starttls_and_auth_send_through_the_facade(sim, mechanism):
    with sim.client(mechanism) as client:
        assert client.sock.version() is not None  # TLS is up
        message_id = sim.send(client)
    assert MESSAGE_ID.match(message_id)
    [entry] = outbox(sim.control)
    assert (entry["message_id"], entry["via"], entry["from"], entry["destinations"], entry["subject"]) == (
        message_id, "smtp", SENDER, [TO], "over smtp")
    assert (entry["envelope_from"], entry["mail_from_decision"]) == (f"{message_id}@amazonses.com", "default")
    assert entry["raw"].startswith(f"Return-Path: <{message_id}@amazonses.com>\r\n")
    assert "hidden@example.org" not in entry["raw"]
    assert sim.sesv2.get_account()["SendQuota"]["SentLast24Hours"] == 1


def test_implicit_tls_port(sim):
    with smtplib.SMTP_SSL("127.0.0.1", sim.smtps_port, context=sim.tls(), timeout=30) as client:
        client.ehlo()
        assert not client.has_extn("starttls")  # already encrypted
        client.login("AKIAEXAMPLE", "any")
        message_id = sim.send(client)
    assert outbox(sim.control)[0]["message_id"] == message_id


def test_the_user_name_chooses_the_account_as_the_api_does(sim):
    account = "123456789012"
    aws_client("sesv2", sim.rt.url, account=account).create_email_identity(EmailIdentity="example.com")
    with sim.client(user=account) as client:
        message_id = sim.send(client)
    assert outbox(sim.control, account=account)[0]["message_id"] == message_id
    assert outbox(sim.control) == []


def test_mail_before_auth_is_530(sim):
    with smtplib.SMTP("127.0.0.1", sim.port, timeout=30) as client:
        client.starttls(context=sim.tls())
        client.ehlo()
        assert client.mail(SENDER) == (530, b"Authentication required")
        assert client.rcpt(TO)[0] == 530
        assert client.docmd("DATA")[0] == 530
    assert outbox(sim.control) == []


def test_auth_without_tls_is_allowed_on_loopback(sim):
    with smtplib.SMTP("127.0.0.1", sim.port, timeout=30) as client:
        client.ehlo()
        client.login("AKIAEXAMPLE", "any")
        sim.send(client)
    assert len(outbox(sim.control)) == 1


STATES = ["SUCCESS", "PENDING", "TEMPORARY_FAILURE", "FAILED"]


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("behavior", ["USE_DEFAULT_VALUE", "REJECT_MESSAGE"])
def test_every_mail_from_state_and_behaviour(sim, state, behavior):
    configure(sim.sesv2, behavior)
    reach(state, sim.control)
    assert sim.sesv2.get_email_identity(EmailIdentity="example.com")[
        "MailFromAttributes"]["MailFromDomainStatus"] == state
    if state != "SUCCESS" and behavior == "REJECT_MESSAGE":
        assert sim.refused() == (554, "Message rejected: Mail FROM domain is not verified")
        [entry] = outbox(sim.control)
        assert (entry["envelope_from"], entry["mail_from_decision"], entry["mail_from_status"], entry["via"]) == (
            None, "rejected", state, "smtp")
        assert sim.sesv2.get_account()["SendQuota"]["SentLast24Hours"] == 0
        return
    message_id = sim.send()
    entry = outbox(sim.control)[0]
    expected = (f"{message_id}@{MAIL}", "custom") if state == "SUCCESS" else (f"{message_id}@amazonses.com", "default")
    assert (entry["envelope_from"], entry["mail_from_decision"]) == expected
    assert entry["mail_from_status"] == state


def test_the_relay_gets_the_ses_envelope_never_the_clients_mail_from(sim):
    configure(sim.sesv2, "REJECT_MESSAGE")
    reach("SUCCESS", sim.control)
    message_id = sim.send(recipients=(TO, "cc@example.org"))
    assert wait_relay(sim.control, message_id)["relay"] == "delivered"
    [envelope] = sim.handler.envelopes
    assert envelope["mail_from"] == f"{message_id}@{MAIL}" != SENDER
    assert envelope["rcpt_tos"] == [TO, "cc@example.org"]
    assert envelope["content"].startswith(f"Return-Path: <{message_id}@{MAIL}>\r\n".encode())


def test_an_unverified_sender_is_554_with_the_api_text(sim):
    assert sim.refused(sender="app@unknown.com") == (554, (
        "Message rejected: Email address is not verified. The following identities failed the check in region "
        "US-EAST-1: app@unknown.com"))
    assert outbox(sim.control) == []


def test_the_sender_is_the_mail_from_not_the_from_header(sim):
    mime = MIME.replace(f"<{SENDER}>", "<someone@unknown.com>")
    message_id = sim.send(mime=mime)
    assert outbox(sim.control)[0]["message_id"] == message_id
    assert sim.refused(sender="other@unknown.com")[0] == 554


def test_the_sandbox_refuses_unverified_recipients(sim):
    sim.control.ok("PUT", "/_sim/account", {"sandbox": True})
    assert sim.refused() == (554, (
        "Message rejected: Email address is not verified. The following identities failed the check in region "
        f"US-EAST-1: {TO}"))
    sim.sesv2.create_email_identity(EmailIdentity=TO)
    sim.send()
    assert len(outbox(sim.control)) == 1


def test_more_than_50_recipients_is_refused_and_nothing_stored(sim):
    recipients = [f"u{i}@example.org" for i in range(51)]
    assert sim.refused(recipients=recipients) == (554, "Transaction failed: Recipient count exceeds 50.")
    assert outbox(sim.control) == []
    sim.send(recipients=recipients[:50])
    assert len(outbox(sim.control)[0]["destinations"]) == 50


def test_content_errors_are_554_transaction_failed(sim):
    mime = "Subject: one\r\nSubject: two\r\n\r\nbody\r\n"
    assert sim.refused(mime=mime) == (554, "Transaction failed: Duplicate header 'Subject'.")
    assert outbox(sim.control) == []


def test_a_message_over_40_mb_is_552_and_nothing_stored(sim):
    with sim.client() as client:
        assert client.mail(SENDER, [f"SIZE={41 * 1024 * 1024}"]) == (552, b"Message is too long.")
        client.rset()
        client.mail(SENDER)
        client.rcpt(TO)
        big = MIME + ("x" * 998 + "\r\n") * (41 * 1024)
        assert client.data(big.encode()) == (552, b"Message is too long.")
    assert outbox(sim.control) == []


def test_lines_longer_than_1000_octets_are_refused_and_nothing_stored(sim):
    longest = MIME + "y" * 998 + "\r\n"  # 1000 octets with its CRLF: allowed
    sim.send(mime=longest)
    assert len(outbox(sim.control)) == 1
    with sim.client() as client:
        client.mail(SENDER)
        client.rcpt(TO)
        code, reply = client.data((MIME + "y" * 1001 + "\r\n").encode())
    assert code == 500 and b"Line too long" in reply
    assert len(outbox(sim.control)) == 1


def test_a_line_of_1001_octets_is_refused_though_dot_transparency_may_send_one(sim):
    """RFC 5321 4.5.3.1.6: 1000 octets with the CRLF. smtplib doubles a leading dot, so the
    dotted line below crosses the wire as 1001 octets and is still a 1000-octet line."""
    dotted = MIME + "." + "d" * 997 + "\r\n"
    sim.send(mime=dotted)
    assert outbox(sim.control)[0]["raw"].endswith("." + "d" * 997 + "\r\n")
    with sim.client() as client:
        client.mail(SENDER)
        client.rcpt(TO)
        assert client.data((MIME + "y" * 999 + "\r\n").encode()) == (500, b"Line too long (see RFC5321 4.5.3.1.6)")
    assert len(outbox(sim.control)) == 1


@pytest.mark.parametrize("recipient", ["", "nobody", "a@@example.org", "user@example..org"])
def test_a_recipient_the_api_would_refuse_is_501_at_rcpt(sim, recipient):
    with sim.client() as client:
        client.mail(SENDER)
        assert client.rcpt(recipient) == (501, b"Invalid RCPT TO address provided")
        assert client.rcpt(TO)[0] == 250  # the transaction goes on with the good ones
        code, reply = client.data(MIME.encode())
    assert code == 250, reply
    assert outbox(sim.control)[0]["destinations"] == [TO]


@pytest.mark.parametrize("sender", ["nobody", "a@@example.com"])
def test_a_sender_the_api_would_refuse_is_501_at_mail(sim, sender):
    with sim.client() as client:
        assert client.mail(sender) == (501, b"Invalid MAIL FROM address provided")
        assert client.mail(SENDER)[0] == 250  # not a nested MAIL: nothing was accepted
    assert outbox(sim.control) == []


def test_a_null_mail_from_sends_as_the_from_header(sim):
    with sim.client() as client:
        assert client.mail("")[0] == 250  # smtplib sends MAIL FROM:<>
        client.rcpt(TO)
        code, reply = client.data(MIME.encode())
    assert code == 250, reply
    assert outbox(sim.control)[0]["from"] == SENDER


def test_mails_auth_parameter_is_accepted_and_discarded(sim):
    """RFC 4954 5: a server that offers AUTH accepts MAIL FROM's AUTH= parameter."""
    with sim.client() as client:
        assert client.mail(SENDER, ["AUTH=<>"])[0] == 250
        client.rcpt(TO)
        assert client.data(MIME.encode())[0] == 250
        assert client.mail(SENDER, ["AUTH=app+40example.com", "BODY=8BITMIME"])[0] == 250
        client.rset()
        assert client.mail(SENDER, ["FOO=bar"])[0] == 555  # other unknown parameters still are not
    assert len(outbox(sim.control)) == 1


def test_smtputf8_is_not_offered(sim):
    with sim.client() as client:
        assert not client.has_extn("smtputf8")
        assert client.docmd(f"MAIL FROM:<{SENDER}> SMTPUTF8")[0] == 501


def test_starttls_inside_tls_is_refused_and_the_session_goes_on(sim):
    with sim.client() as client:
        assert client.docmd("STARTTLS") == (503, b"TLS already active")
        sim.send(client)
    assert len(outbox(sim.control)) == 1


def _session(sim) -> tuple[socket.socket, object]:
    """A raw connection on loopback (AUTH needs no TLS there), after the greeting and EHLO."""
    raw = socket.create_connection(("127.0.0.1", sim.port), timeout=30)
    stream = raw.makefile("rb")
    assert _read_reply(stream).startswith(b"220")
    raw.sendall(b"EHLO client\r\n")
    assert _read_reply(stream).startswith(b"250")
    return raw, stream


def test_auth_mechanism_names_are_matched_without_case(sim):
    raw, stream = _session(sim)
    with raw:
        raw.sendall(b"auth login\r\n")
        assert _read_reply(stream) == b"334 VXNlcm5hbWU6\r\n"  # "Username:"
        raw.sendall(base64.b64encode(b"AKIAEXAMPLE") + b"\r\n")
        assert _read_reply(stream).startswith(b"334 ")
        raw.sendall(base64.b64encode(b"any") + b"\r\n")
        assert _read_reply(stream) == b"235 Authentication successful\r\n"


def test_an_overlong_auth_answer_is_refused_in_smtp_words_and_the_session_goes_on(sim):
    raw, stream = _session(sim)
    with raw:
        raw.sendall(b"AUTH LOGIN\r\n")
        assert _read_reply(stream).startswith(b"334 ")
        raw.sendall(b"A" * 2000 + b"\r\n")
        assert _read_reply(stream) == b"500 Line too long (see RFC5321 4.5.3.1.6)\r\n"
        plain = base64.b64encode(b"\0AKIAEXAMPLE\0any")
        raw.sendall(b"AUTH PLAIN " + plain + b"\r\n")
        assert _read_reply(stream) == b"235 Authentication successful\r\n"


def test_an_empty_user_name_is_refused(sim):
    raw, stream = _session(sim)
    with raw:
        raw.sendall(b"AUTH PLAIN " + base64.b64encode(b"\0\0any") + b"\r\n")
        assert _read_reply(stream) == b"535 Authentication Credentials Invalid\r\n"


def test_an_idle_connection_is_told_why_before_it_is_closed(runtime):
    smtp = SmtpInterface(runtime.simulator, host="127.0.0.1", port=0, smtps_port=None, region="us-east-1",
                         tls_context=None, idle_timeout=0.3).start()
    try:
        with socket.create_connection(("127.0.0.1", smtp.listeners["smtp"].port), timeout=30) as raw:
            stream = raw.makefile("rb")
            assert _read_reply(stream).startswith(b"220")
            assert _read_reply(stream) == b"451 Timeout waiting for data from client\r\n"
            assert stream.read() == b""  # then closed
    finally:
        smtp.stop()


def _read_reply(stream) -> bytes:
    while True:
        line = stream.readline()
        if not line or line[3:4] != b"-":
            return line


def test_a_client_that_disconnects_mid_data_leaves_nothing(sim):
    with socket.create_connection(("127.0.0.1", sim.port), timeout=30) as raw:
        stream = raw.makefile("rb")
        _read_reply(stream)
        plain = base64.b64encode(b"\0AKIAEXAMPLE\0any").decode()
        for command, code in (("EHLO client", b"250"), (f"AUTH PLAIN {plain}", b"235"),
                              (f"MAIL FROM:<{SENDER}>", b"250"), (f"RCPT TO:<{TO}>", b"250"), ("DATA", b"354")):
            raw.sendall(command.encode() + b"\r\n")
            assert _read_reply(stream).startswith(code), command
        raw.sendall(MIME.encode())  # a whole message, but never the final "."
    # The server's loop handles that end of stream long before this next session's round trips end.
    message_id = sim.send()
    assert [m["message_id"] for m in outbox(sim.control)] == [message_id]


def test_the_api_views_record_their_path(sim):
    content = {"Simple": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}}}
    aws_client("sesv2", sim.rt.url).send_email(FromEmailAddress=SENDER, Destination={"ToAddresses": [TO]},
                                               Content=content)
    aws_client("pinpoint-email", sim.rt.url).send_email(FromEmailAddress=SENDER, Destination={"ToAddresses": [TO]},
                                                        Content=content)
    aws_client("ses", sim.rt.url).send_email(Source=SENDER, Destination={"ToAddresses": [TO]},
                                             Message={"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}})
    sim.send()
    assert [m["via"] for m in outbox(sim.control)] == ["smtp", "api-v1", "api-pinpoint", "api-v2"]


def test_health_reports_the_smtp_interface(sim):
    smtp = sim.control.ok("GET", "/_sim/health")["smtp"]
    assert smtp == {"address": f"127.0.0.1:{sim.port}", "smtps_address": f"127.0.0.1:{sim.smtps_port}",
                    "region": "us-east-1", "auth": "none"}


# --- swaks ------------------------------------------------------------------
needs_swaks = pytest.mark.skipif(shutil.which("swaks") is None,
                                 reason="swaks is not installed (apt-get install swaks; .ci/run installs it)")


def swaks(sim, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["swaks", "--server", f"127.0.0.1:{sim.port}", "--tls", "--auth", "PLAIN",
                           "--auth-user", "AKIAEXAMPLE", "--auth-password", "any", "--to", TO, *args],
                          capture_output=True, text=True, timeout=60)


@needs_swaks
def test_swaks_sends(sim):
    done = swaks(sim, "--from", SENDER, "--header", "Subject: from swaks")
    assert done.returncode == 0, done.stdout + done.stderr
    [entry] = outbox(sim.control)
    assert f"<~  250 Ok {entry['message_id']}" in done.stdout
    assert (entry["subject"], entry["via"]) == ("from swaks", "smtp")


@needs_swaks
def test_swaks_sees_a_refused_send(sim):
    configure(sim.sesv2, "REJECT_MESSAGE")  # PENDING: no MX published
    done = swaks(sim, "--from", SENDER)
    assert done.returncode != 0
    assert re.search(r"^<\S*\s+554 Message rejected: Mail FROM domain is not verified$", done.stdout, re.M), done.stdout
    assert outbox(sim.control)[0]["mail_from_decision"] == "rejected"


# --- --auth strict ------------------------------------------------------------
@pytest.fixture(scope="module")
def strict(tmp_path_factory):
    path = tmp_path_factory.mktemp("strict") / "credentials.json"
    path.write_text(json.dumps({EXAMPLE_KEY_ID: {"secret": EXAMPLE_SECRET, "account": STRICT_ACCOUNT}}))
    rt = Runtime(Options(port=0, dns_port=0, db=":memory:", dns_timeout=0.5, smtp_port=0, region="eu-west-1",
                         auth="strict", credentials=str(path))).start()
    yield rt
    rt.stop()


def strict_login(rt: Runtime, user: str, password: str, mechanism: str = "PLAIN") -> smtplib.SMTP:
    client = smtplib.SMTP("127.0.0.1", rt.smtp.listeners["smtp"].port, timeout=30)
    client.starttls(context=ssl.create_default_context(cafile=rt.smtp_certificate))
    client.ehlo()
    client.user, client.password = user, password
    client.auth(mechanism, getattr(client, f"auth_{mechanism.lower()}"))
    return client


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_strict_accepts_the_password_derived_for_the_serving_region(strict, mechanism):
    strict.simulator.reset()
    boto3.client("sesv2", endpoint_url=strict.url, region_name="eu-west-1", aws_access_key_id=EXAMPLE_KEY_ID,
                 aws_secret_access_key=EXAMPLE_SECRET).create_email_identity(EmailIdentity="example.com")
    with strict_login(strict, EXAMPLE_KEY_ID, PUBLISHED["eu-west-1"], mechanism) as client:
        client.sendmail(SENDER, [TO], MIME)
    [entry] = outbox(SimControl(strict.url), account=STRICT_ACCOUNT, region="eu-west-1")
    assert entry["envelope_from"].endswith("@eu-west-1.amazonses.com")


@pytest.mark.parametrize("user, password", [
    (EXAMPLE_KEY_ID, PUBLISHED["us-east-1"]),  # another region's password
    (EXAMPLE_KEY_ID, EXAMPLE_SECRET),  # the secret itself is not the SMTP password
    ("AKIAUNKNOWNKEY000000", PUBLISHED["eu-west-1"]),  # a key not in the file
])
def test_strict_refuses_bad_credentials_with_535(strict, user, password):
    with pytest.raises(smtplib.SMTPAuthenticationError) as excinfo:
        strict_login(strict, user, password)
    assert (excinfo.value.smtp_code, excinfo.value.smtp_error) == (535, b"Authentication Credentials Invalid")


# --- the command line ---------------------------------------------------------
SERVE = [sys.executable, "-m", "simulator.cli", "serve", "--port", "0", "--dns-port", "0", "--smtp-port", "0"]


def ready_line(*args: str) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen([*SERVE, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return process, process.stdout.readline()


def stop(process: subprocess.Popen) -> str:
    process.terminate()
    return process.communicate(timeout=20)[0]


def test_serve_prints_the_smtp_address_and_keeps_its_certificate(tmp_path):
    db = str(tmp_path / "sim.db")
    process, line = ready_line("--db", db, "--smtps-port", "0")
    try:
        match = re.search(r"ready: API (\S+) .* SMTP 127\.0\.0\.1:(\d+) SMTPS 127\.0\.0\.1:(\d+)$", line)
        assert match, line
        smtp = SimControl(match.group(1)).ok("GET", "/_sim/health")["smtp"]
        assert smtp["address"] == f"127.0.0.1:{match.group(2)}"
        with smtplib.SMTP("127.0.0.1", int(match.group(2)), timeout=30) as client:
            client.starttls(context=ssl.create_default_context(cafile=str(tmp_path / "mailfrom-sim-smtp.crt")))
            assert client.ehlo()[0] == 250
    finally:
        assert "mailfrom-sim stopped" in stop(process)
    certificate = (tmp_path / "mailfrom-sim-smtp.crt").read_bytes()
    assert oct(os.stat(tmp_path / "mailfrom-sim-smtp.key").st_mode & 0o777) == "0o600"
    process, line = ready_line("--db", db)
    stop(process)
    assert "ready" in line
    assert (tmp_path / "mailfrom-sim-smtp.crt").read_bytes() == certificate  # made once, then reused


def test_smtp_port_off():
    process, line = ready_line("--db", ":memory:", "--smtp-port", "off")
    try:
        assert line.rstrip().endswith("SMTP off"), line
        url = re.search(r"API (\S+)", line).group(1)
        assert SimControl(url).ok("GET", "/_sim/health")["smtp"] is None
    finally:
        stop(process)


@pytest.mark.parametrize("args, reason", [
    (["--auth", "strict"], "--auth strict needs --credentials FILE"),
    (["--auth", "strict", "--credentials", "/nonexistent/credentials.json"], "--credentials /nonexistent"),
    (["--smtp-cert", "/nonexistent/cert.pem"], "--smtp-cert and --smtp-key go together"),
])
def test_bad_smtp_settings_cannot_start(args, reason):
    done = subprocess.run([*SERVE, "--db", ":memory:", *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert f"cannot start: {reason}" in done.stderr
