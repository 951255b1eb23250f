"""`GET /_sim/events` over real HTTP: order, replay after a reconnect, slow clients, the cap."""
from __future__ import annotations

import http.client
import json
import socket
import urllib.parse

import pytest

from simulator.runtime import Options, Runtime
from tests.helpers import SimControl, aws_client


class SseClient:
    """A minimal Server-Sent Events reader over http.client."""

    def __init__(self, url: str, last_event_id: int | None = None, query: str = ""):
        parts = urllib.parse.urlsplit(url)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        headers = {"Accept": "text/event-stream"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        self.conn.request("GET", "/_sim/events" + query, headers=headers)
        self.response = self.conn.getresponse()

    def events(self, count: int) -> list[tuple[int, str, dict]]:
        """The next `count` events (keep-alive comments skipped)."""
        found, fields = [], {}
        while len(found) < count:
            line = self.response.readline().decode()
            assert line, "the stream ended"
            line = line.rstrip("\n")
            if not line:
                if "data" in fields:
                    found.append((int(fields["id"]), fields["event"], json.loads(fields["data"])))
                fields = {}
            elif not line.startswith(":"):
                key, _, value = line.partition(": ")
                fields[key] = value
        return found

    def close(self) -> None:
        self.conn.close()


def make_identity_reach_success(sesv2, control: SimControl) -> None:
    sesv2.create_email_identity(EmailIdentity="example.com")
    sesv2.put_email_identity_mail_from_attributes(EmailIdentity="example.com", MailFromDomain="mail.example.com")
    control.add_mx("mail.example.com")
    control.ok("POST", "/_sim/checks/run", {})


def test_events_arrive_in_order_with_increasing_ids(endpoint, sesv2, control):
    client = SseClient(endpoint)
    assert client.response.status == 200
    assert client.response.getheader("Content-Type").startswith("text/event-stream")
    make_identity_reach_success(sesv2, control)
    events = client.events(5)
    client.close()
    ids = [event_id for event_id, _, _ in events]
    assert ids == sorted(ids) and len(set(ids)) == 5
    assert [kind for _, kind, _ in events] == ["identity", "transition", "dns", "check", "transition"]
    assert [(e["from"], e["to"]) for _, kind, e in events if kind == "transition"] == [
        (None, "PENDING"), ("PENDING", "SUCCESS")]
    assert events[3][2]["lookup"]["outcome"] == "FOUND"


def test_a_reconnecting_client_gets_what_it_missed(endpoint, sesv2, control):
    client = SseClient(endpoint)
    sesv2.create_email_identity(EmailIdentity="first.example")
    (seen_id, _, _), = client.events(1)
    client.close()
    sesv2.create_email_identity(EmailIdentity="second.example")  # while disconnected
    control.ok("POST", "/_sim/clock/advance", {"seconds": 60})
    for again in (SseClient(endpoint, last_event_id=seen_id), SseClient(endpoint, query=f"?last_event_id={seen_id}")):
        replayed = again.events(2)
        again.close()
        assert [event_id for event_id, _, _ in replayed] == [seen_id + 1, seen_id + 2]
        assert replayed[0][2]["identity"] == "second.example" and replayed[1][1] == "clock"


def test_a_client_that_never_reads_does_not_hold_up_sends(endpoint, sesv2):
    sesv2.create_email_identity(EmailIdentity="example.com")
    parts = urllib.parse.urlsplit(endpoint)
    stalled = socket.create_connection((parts.hostname, parts.port))
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.sendall(b"GET /_sim/events HTTP/1.1\r\nHost: localhost\r\n\r\n")
    reading = SseClient(endpoint)
    body = "x" * 2000
    sent = [sesv2.send_email(FromEmailAddress="a@example.com", Destination={"ToAddresses": ["b@example.net"]},
                             Content={"Simple": {"Subject": {"Data": f"n{n}" + body[:200]},
                                                 "Body": {"Text": {"Data": body}}}})["MessageId"]
            for n in range(300)]
    assert [e["message_id"] for _, _, e in reading.events(300)] == sent
    reading.close()
    stalled.close()


def test_a_bad_last_event_id_is_a_validation_error(control):
    status, payload = control.call("GET", "/_sim/events?last_event_id=abc")
    assert status == 400 and payload["error"]["code"] == "VALIDATION_ERROR"


def test_open_streams_are_capped_and_never_starve_the_api():
    runtime = Runtime(Options(port=0, dns_port=0, db=":memory:", threads=2, sse_streams=2,
                              scheduler=False)).start()
    try:
        streams = [SseClient(runtime.url) for _ in range(2)]
        assert [s.response.status for s in streams] == [200, 200]
        status, payload = SimControl(runtime.url).call("GET", "/_sim/events")
        assert status == 503 and payload["error"]["code"] == "UNAVAILABLE"
        # Both API threads are still free: requests are answered while the streams stay open.
        sesv2 = aws_client("sesv2", runtime.url)
        for n in range(4):
            sesv2.create_email_identity(EmailIdentity=f"d{n}.example")
        assert [kind for _, kind, _ in streams[0].events(4)] == ["identity"] * 4
        for stream in streams:
            stream.close()
    finally:
        runtime.stop()


def test_clearing_the_outbox_is_an_event_so_other_dashboards_follow(endpoint, control):
    client = SseClient(endpoint)
    control.ok("DELETE", "/_sim/outbox?region=eu-west-1")
    control.ok("DELETE", "/_sim/outbox")
    events = client.events(2)
    client.close()
    assert [(kind, data.get("action"), data.get("region")) for _, kind, data in events] == [
        ("outbox", "cleared", "eu-west-1"), ("outbox", "cleared", None)]
