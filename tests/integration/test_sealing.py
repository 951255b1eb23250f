"""Sealing after the acknowledgement (simulator/service/sealing.py), with real parts: boto3
over HTTP, the embedded DNS, the sealer thread, a real SMTP relay, and kill -9 of a real
process.

A send is sealed (built, stamped, DKIM-signed, authenticated) before it is answered when
it is the only request being served; while other requests are in flight it is answered
first and sealed after. A test here makes the simulator busy the way a second client
would: it holds one request "in flight" in the runtime's own Activity gauge.
"""
from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
import urllib.request

import pytest

from simulator.runtime import Options, Runtime
from simulator.service import sealing
from tests.helpers import SimControl, SimulatorProcess, aws_client
from tests.integration.test_smtp_relay import smtp_server

CONTENT = {"Simple": {"Subject": {"Data": "Your order shipped"}, "Body": {"Text": {"Data": "On its way.\n"}}}}
MAIL = "mail.example.com"


@contextlib.contextmanager
def busy(runtime: Runtime):
    """Another request is being served while the block runs."""
    runtime.activity.enter()
    try:
        yield
    finally:
        runtime.activity.leave()


def waiting(control: SimControl) -> int:
    return control.ok("GET", "/_sim/health")["sealing"]["waiting"]


def wait_sealed(control: SimControl, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while waiting(control):
        assert time.monotonic() < deadline, "the sealer never caught up"
        time.sleep(0.1)  # each look is a request: the sealer starts 20 ms after the last


def prepare(sesv2, control: SimControl) -> None:
    """example.com: DKIM SUCCESS with its CNAMEs, MAIL FROM SUCCESS, SPF and DMARC published."""
    tokens = sesv2.create_email_identity(EmailIdentity="example.com")["DkimAttributes"]["Tokens"]
    sesv2.put_email_identity_mail_from_attributes(EmailIdentity="example.com", MailFromDomain=MAIL,
                                                  BehaviorOnMxFailure="REJECT_MESSAGE")
    for token in tokens:
        control.ok("POST", "/_sim/dns/records", {"name": f"{token}._domainkey.example.com", "type": "CNAME",
                                                  "value": f"{token}.dkim.amazonses.com"})
    control.add_mx(MAIL)
    control.ok("POST", "/_sim/dns/records", {"name": MAIL, "type": "TXT", "value": "v=spf1 include:amazonses.com -all"})
    control.ok("POST", "/_sim/dns/records", {"name": "_dmarc.example.com", "type": "TXT", "value": "v=DMARC1; p=reject"})
    control.ok("POST", "/_sim/checks/run", {})


def send(sesv2) -> str:
    return sesv2.send_email(FromEmailAddress="app@example.com", Destination={"ToAddresses": ["user@example.org"]},
                            Content=CONTENT)["MessageId"]


def stored_row(runtime: Runtime, message_id: str) -> tuple[bytes, str | None]:
    with contextlib.closing(runtime.store._connect()) as conn:
        return conn.execute("SELECT raw, plan FROM outbox WHERE message_id=?", (message_id,)).fetchone()


def assert_sealed(message: dict) -> None:
    """Signed twice, with SPF, DKIM and DMARC passing, as an inline seal leaves it."""
    raw = message["raw"]
    assert raw.startswith("Return-Path: <") and raw.count("DKIM-Signature: ") == 2, raw[:400]
    assert "\r\nAuthentication-Results: " in raw and "\r\nMessage-ID: <" in raw and "\r\nSubject: Your order shipped" in raw
    auth = message["authentication"]
    assert auth["spf"]["result"] == "pass" and auth["dmarc"]["result"] == "pass", auth
    assert [d["result"] for d in auth["dkim"]] == ["pass", "pass"], auth


@pytest.fixture
def ready(live, sesv2, control):
    prepare(sesv2, control)
    return live, sesv2, control


def test_a_quiet_simulator_seals_before_it_answers(ready):
    live, sesv2, control = ready
    message_id = send(sesv2)
    raw, plan = stored_row(live, message_id)
    assert plan is None and raw.count(b"DKIM-Signature: ") == 2
    assert waiting(control) == 0


def test_a_busy_simulator_answers_first_and_the_sealer_seals_in_the_quiet_after(ready):
    live, sesv2, control = ready
    with live.events.subscribe() as events:
        with busy(live):
            message_id = send(sesv2)
            raw, plan = stored_row(live, message_id)
            assert raw == b"" and plan is not None  # acknowledged, durable, not sealed
            time.sleep(0.3)  # the sealer waits while a request is in flight
            assert stored_row(live, message_id)[1] is not None
            assert not [e for e in events.get_batch(timeout=0.05) if e.kind == "sent"]
        wait_sealed(control)
        raw, plan = stored_row(live, message_id)
        assert plan is None and raw.count(b"DKIM-Signature: ") == 2
        sent = [e for e in events.get_batch(timeout=1) if e.kind == "sent"]
        assert [e.data["message_id"] for e in sent] == [message_id] and sent[0].data["authentication"]["spf"]
    assert_sealed(control.ok("GET", "/_sim/outbox")["messages"][0])


def test_reading_the_outbox_seals_what_it_shows(ready):
    live, sesv2, control = ready
    with busy(live):
        ids = [send(sesv2) for _ in range(3)]
        assert waiting(control) == 3
        page = control.ok("GET", "/_sim/outbox?limit=2")["messages"]  # the two newest
        assert [m["message_id"] for m in page] == ids[:0:-1]
        for message in page:
            assert_sealed(message)
        assert waiting(control) == 1
        with urllib.request.urlopen(f"{live.url}/_sim/outbox/{ids[0]}/raw") as answer:
            assert answer.read().count(b"DKIM-Signature: ") == 2
        assert waiting(control) == 0


def test_a_message_is_sealed_against_the_dns_it_was_sent_in(ready):
    live, sesv2, control = ready
    spf = next(r["id"] for r in control.ok("GET", "/_sim/dns/records")["records"]
               if r["type"] == "TXT" and r["name"] == MAIL)
    with busy(live):
        message_id = send(sesv2)
        assert waiting(control) == 1
        control.ok("DELETE", f"/_sim/dns/records/{spf}")  # seals what waits, then changes the zone
        assert waiting(control) == 0
        later = send(sesv2)
    wait_sealed(control)
    messages = {m["message_id"]: m for m in control.ok("GET", "/_sim/outbox")["messages"]}
    assert messages[message_id]["authentication"]["spf"]["result"] == "pass"
    assert messages[later]["authentication"]["spf"]["result"] == "none"


def test_a_refusal_is_answered_and_recorded_at_once_and_built_later(live, sesv2, control):
    sesv2.create_email_identity(EmailIdentity="example.com")
    sesv2.put_email_identity_mail_from_attributes(EmailIdentity="example.com", MailFromDomain=MAIL,
                                                  BehaviorOnMxFailure="REJECT_MESSAGE")
    with live.events.subscribe() as events:
        with busy(live):
            with pytest.raises(sesv2.exceptions.MailFromDomainNotVerifiedException):
                send(sesv2)
            rejected = [e for e in events.get_batch(timeout=0.5) if e.kind == "rejected"]
            assert len(rejected) == 1 and rejected[0].data["mail_from_decision"] == "rejected"
            assert waiting(control) == 1
        wait_sealed(control)
        entry = control.ok("GET", "/_sim/outbox")["messages"][0]
        assert entry["mail_from_decision"] == "rejected" and "\r\nSubject: Your order shipped" in entry["raw"]
        assert "DKIM-Signature" not in entry["raw"] and "authentication" not in entry
        assert not [e for e in events.get_batch(timeout=0.1) if e.kind in ("sent", "rejected")]  # announced once


def test_past_the_backlog_limit_a_send_seals_before_it_answers(ready, monkeypatch):
    live, sesv2, control = ready
    monkeypatch.setattr(sealing, "SEAL_BACKLOG", 1)
    with busy(live):
        first, second = send(sesv2), send(sesv2)
        assert stored_row(live, first)[1] is not None and stored_row(live, second)[1] is None
        assert waiting(control) == 1
    wait_sealed(control)


def test_a_bulk_send_waits_whole_and_every_entry_is_sealed(ready):
    live, sesv2, control = ready
    sesv2.create_email_template(TemplateName="hello", TemplateContent={
        "Subject": "Hello {{name}}", "Text": "Hi {{name}},\nyour order shipped.\n"})
    with busy(live):
        answer = sesv2.send_bulk_email(
            FromEmailAddress="app@example.com",
            DefaultContent={"Template": {"TemplateName": "hello", "TemplateData": '{"name": "you"}'}},
            BulkEmailEntries=[{"Destination": {"ToAddresses": [f"user{i}@example.org"]},
                               "ReplacementEmailContent": {"ReplacementTemplate": {
                                   "ReplacementTemplateData": f'{{"name": "reader {i}"}}'}}} for i in range(5)])
        assert waiting(control) == 5
    wait_sealed(control)
    messages = {m["message_id"]: m for m in control.ok("GET", "/_sim/outbox")["messages"]}
    for i, result in enumerate(answer["BulkEmailEntryResults"]):
        message = messages[result["MessageId"]]
        assert f"Subject: Hello reader {i}\r\n" in message["raw"]
        assert message["authentication"]["dmarc"]["result"] == "pass"


def test_clearing_the_outbox_drops_what_waits(ready):
    live, sesv2, control = ready
    with busy(live):
        send(sesv2)
        control.ok("DELETE", "/_sim/outbox")
        assert waiting(control) == 0
    assert control.ok("GET", "/_sim/outbox")["messages"] == []


def test_what_is_sealed_later_is_relayed_signed():
    with smtp_server() as (controller, handler):
        runtime = Runtime(Options(port=0, dns_port=0, db=":memory:", smtp_relay=f"127.0.0.1:{controller.port}",
                                  dns_timeout=0.5)).start()
        try:
            sesv2, control = aws_client("sesv2", runtime.url), SimControl(runtime.url)
            prepare(sesv2, control)
            with busy(runtime):
                message_id = send(sesv2)
                time.sleep(0.3)
                assert not handler.envelopes  # not relayed before it is sealed
            deadline = time.monotonic() + 10
            while not handler.envelopes and time.monotonic() < deadline:
                time.sleep(0.02)
            envelope = handler.envelopes[0]
            assert envelope["mail_from"].endswith("@" + MAIL) and envelope["content"].count(b"DKIM-Signature: ") == 2
            entry = control.ok("GET", "/_sim/outbox")["messages"][0]
            assert entry["message_id"] == message_id and entry["relay"] in ("pending", "delivered")
        finally:
            runtime.stop()


def test_messages_acknowledged_before_a_kill_9_are_sealed_by_the_next_process(tmp_path):
    db = str(tmp_path / "sim.db")
    acknowledged: list[str] = []
    for _ in range(5):  # until the kill catches messages still waiting (on the first try, in practice)
        first = SimulatorProcess("--db", db).start()
        sesv2, control = aws_client("sesv2", first.url), SimControl(first.url)
        if not acknowledged:
            prepare(sesv2, control)
        stop = threading.Event()

        def sender() -> None:
            client = aws_client("sesv2", first.url)
            while not stop.is_set():
                try:
                    acknowledged.append(send(client))
                except Exception:
                    return  # the process is gone: not acknowledged

        threads = [threading.Thread(target=sender) for _ in range(6)]
        for thread in threads:
            thread.start()
        time.sleep(1.5)
        first.stop("kill")
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        with contextlib.closing(sqlite3.connect(db)) as conn:
            left = conn.execute("SELECT count(*) FROM outbox WHERE plan IS NOT NULL").fetchone()[0]
        if left:
            break
    assert left, "no kill caught a message waiting to be sealed"
    second = SimulatorProcess("--db", db).start()
    try:
        control = SimControl(second.url)
        wait_sealed(control, timeout=60)
        stored = {m["message_id"]: m for m in control.ok("GET", "/_sim/outbox?limit=10000")["messages"]}
        assert set(acknowledged) <= set(stored)
        for message_id in acknowledged:
            assert_sealed(stored[message_id])
    finally:
        second.stop()


def test_sealer_threads_and_readers_together_seal_each_message_once(ready):
    live, sesv2, control = ready
    with live.events.subscribe() as events:
        with busy(live):
            ids = [send(sesv2) for _ in range(40)]
            assert waiting(control) == 40
        readers = [threading.Thread(target=lambda: [control.ok("GET", "/_sim/outbox?limit=5") for _ in range(10)])
                   for _ in range(2)]
        for reader in readers:  # the two sealer threads start meanwhile
            reader.start()
        for reader in readers:
            reader.join()
        wait_sealed(control)
        sent = [e.data["message_id"] for e in events.get_batch(timeout=1, limit=1000) if e.kind == "sent"]
    assert sorted(sent) == sorted(ids)  # each announced once: sealed once
    for message in control.ok("GET", "/_sim/outbox?limit=100")["messages"]:
        assert_sealed(message)
