"""Browsers on other sites and foreign Host names cannot drive the simulator (SPEC §14):
each attempt is refused with 403 in the caller's protocol, and nothing changes."""
import http.client
import json
import urllib.parse

import pytest

from tests.helpers import SimControl, SimulatorProcess, aws_client

EVIL = "http://evil.example"


def send(url: str, method: str, path: str, body: bytes | None = None, **headers):
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers={k.replace("_", "-"): v for k, v in headers.items()})
        response = conn.getresponse()
        return response.status, response.msg, response.read()
    finally:
        conn.close()


@pytest.fixture
def state(live, sesv2, control):
    """An identity, a DNS record and the clock, to prove nothing changed."""
    sesv2.create_email_identity(EmailIdentity="example.com")
    control.add_mx("mail.example.com")
    return lambda: (sorted(i["IdentityName"] for i in sesv2.list_email_identities()["EmailIdentities"]),
                    [r["name"] for r in control.ok("GET", "/_sim/dns/records")["records"]],
                    control.ok("GET", "/_sim/clock")["offset"])


def envelope(status: int, body: bytes, code: str, expected_status: int) -> None:
    answer = json.loads(body)
    assert status == expected_status and answer["success"] is False and answer["error"]["code"] == code, body


CONTROL_ATTEMPTS = [
    # what a page on another site can send, and what the simulator must answer
    ("POST", "/_sim/reset", b"", {"Content-Type": "text/plain"}, "UNSUPPORTED_MEDIA_TYPE", 415),
    ("POST", "/_sim/reset", b"", {"Content-Type": "application/x-www-form-urlencoded"}, "UNSUPPORTED_MEDIA_TYPE", 415),
    ("POST", "/_sim/reset", None, {}, "UNSUPPORTED_MEDIA_TYPE", 415),
    ("POST", "/_sim/clock/advance", b'{"seconds": 60}', {"Content-Type": "text/plain"}, "UNSUPPORTED_MEDIA_TYPE", 415),
    ("POST", "/_sim/reset", b"{}", {"Content-Type": "application/json", "Origin": EVIL}, "FORBIDDEN", 403),
    ("POST", "/_sim/reset", b"{}", {"Content-Type": "application/json", "Origin": "null"}, "FORBIDDEN", 403),
    ("POST", "/_sim/dns/records", b'{"name": "x.example.com", "type": "A", "value": "192.0.2.1"}',
     {"Content-Type": "application/json", "Sec-Fetch-Site": "cross-site"}, "FORBIDDEN", 403),
    ("POST", "/_sim/clock/advance", b'{"seconds": 60}',
     {"Content-Type": "application/json", "Host": "evil.example"}, "FORBIDDEN", 403),
    ("DELETE", "/_sim/outbox", None, {"Host": "rebound.example:8587"}, "FORBIDDEN", 403),
    ("GET", "/_sim/health", None, {"Origin": EVIL}, "FORBIDDEN", 403),
]


@pytest.mark.parametrize("method,path,body,headers,code,status", CONTROL_ATTEMPTS)
def test_cross_site_control_calls_are_refused_in_the_envelope(endpoint, state, method, path, body, headers, code,
                                                             status):
    before = state()
    answer_status, _, answer = send(endpoint, method, path, body, **headers)
    envelope(answer_status, answer, code, status)
    assert state() == before


@pytest.mark.parametrize("path", ["/_sim/events", "/_sim/dashboard", "/_sim/dashboard/fragments?parts=identities",
                                  "/_sim/dashboard/static/dashboard.js"])
@pytest.mark.parametrize("headers", [{"Origin": EVIL}, {"Sec-Fetch-Site": "cross-site"}, {"Host": "evil.example"}])
def test_the_event_stream_and_the_dashboard_are_not_served_cross_site(endpoint, state, path, headers):
    """What they show (identities, DNS records, every event) is no other site's to read,
    through a rebound name or otherwise."""
    status, answer_headers, body = send(endpoint, "GET", path, **headers)
    envelope(status, body, "FORBIDDEN", 403)
    assert b"example.com" not in body


def test_a_get_of_a_mutating_v1_action_is_refused(endpoint, state):
    before = state()
    status, headers, body = send(endpoint, "GET", "/?Action=DeleteIdentity&Identity=example.com&Version=2010-12-01")
    assert status == 403 and headers["Content-Type"].startswith("text/xml")
    assert b"<Code>AccessDenied</Code>" in body and b"POST only" in body
    assert state() == before
    # reading over GET is still served
    status, _, body = send(endpoint, "GET", "/?Action=ListIdentities&Version=2010-12-01")
    assert status == 200 and b"<member>example.com</member>" in body


@pytest.mark.parametrize("headers", [{"Origin": EVIL}, {"Sec-Fetch-Site": "cross-site"}, {"Host": "evil.example"}])
def test_cross_site_aws_calls_are_refused_in_their_protocol(endpoint, state, headers):
    before = state()
    status, answer_headers, body = send(endpoint, "POST", "/v2/email/identities", b'{"EmailIdentity": "new.example"}',
                                        **{"Content-Type": "application/json", **headers})
    assert status == 403 and answer_headers["x-amzn-ErrorType"] == "AccessDeniedException"
    assert json.loads(body)["message"]
    status, answer_headers, body = send(endpoint, "POST", "/", b"Action=DeleteIdentity&Identity=example.com"
                                        b"&Version=2010-12-01",
                                        **{"Content-Type": "application/x-www-form-urlencoded", **headers})
    assert status == 403 and b"<Code>AccessDenied</Code>" in body and b"<ErrorResponse" in body
    assert state() == before


def test_the_simulators_own_origin_and_loopback_names_are_served(endpoint, state):
    port = urllib.parse.urlsplit(endpoint).port
    for headers in ({"Origin": endpoint}, {"Sec-Fetch-Site": "same-origin"}, {"Host": f"localhost:{port}"},
                    {"Host": f"[::1]:{port}"}, {"Host": f"127.0.0.2:{port}"}):
        status, _, body = send(endpoint, "POST", "/_sim/clock/advance", b'{"seconds": 1}',
                               **{"Content-Type": "application/json", **headers})
        assert status == 200, (headers, body)
    status, _, _ = send(endpoint, "DELETE", "/_sim/outbox")  # no body: no content type needed
    assert status == 200


def test_allowed_hosts_are_served_and_others_refused():
    process = SimulatorProcess("--db", ":memory:", "--allowed-host", "sim.internal",
                               "--allowed-host", "mail-sim").start()
    try:
        port = urllib.parse.urlsplit(process.url).port
        for host, expected in ((f"sim.internal:{port}", 200), ("mail-sim", 200), (f"other.internal:{port}", 403)):
            status, _, _ = send(process.url, "GET", "/_sim/health", Host=host)
            assert status == expected, host
        aws_client("sesv2", process.url).create_email_identity(EmailIdentity="example.com")  # boto3 still works
        assert SimControl(process.url).ok("GET", "/_sim/health")["status"] == "ok"
    finally:
        process.stop()


@pytest.mark.parametrize("flags,served,refused", [
    ((), ("sim.internal", "mail-sim"), ("other.internal",)),  # MAILFROM_SIM_ALLOWED_HOST, comma-separated
    (("--allowed-host", "other.internal"), ("other.internal",), ("sim.internal", "mail-sim")),  # a flag wins
])
def test_allowed_hosts_come_from_the_environment_unless_flags_are_given(flags, served, refused):
    process = SimulatorProcess("--db", ":memory:", *flags,
                               env={"MAILFROM_SIM_ALLOWED_HOST": "sim.internal, mail-sim"}).start()
    try:
        for host in served + refused:
            status, _, _ = send(process.url, "GET", "/_sim/health", Host=host)
            assert status == (200 if host in served else 403), host
    finally:
        process.stop()
