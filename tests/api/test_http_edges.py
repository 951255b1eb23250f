"""The HTTP layer's own edges (SPEC §14, issue 12 defects 8 and 10), through the real
server on loopback: what no view sees still gets an answer in the caller's protocol, or,
where no protocol can be told (a request line that is not HTTP), a bare 400 and a
closed connection; and floods of idle or trickling connections never lock a client out.
"""
import json
import resource
import socket
import urllib.error
import urllib.request
from xml.etree import ElementTree

import pytest

NS = "{http://ses.amazonaws.com/doc/2010-12-01/}"


# Any SigV4-shaped Authorization picks the account and region (the signature is not checked).
AUTH_HEADER = ("AWS4-HMAC-SHA256 Credential=testing/20261126/us-east-1/ses/aws4_request, "
               "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64)


def address(endpoint: str) -> tuple[str, int]:
    host, port = endpoint.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


def raw_exchange(endpoint: str, data: bytes, timeout: float = 10.0) -> bytes:
    """Send `data` on a fresh connection; everything the server sends until it closes."""
    with socket.create_connection(address(endpoint), timeout=timeout) as conn:
        conn.sendall(data)
        received = b""
        while len(received) < 1 << 20:
            chunk = conn.recv(65536)
            if not chunk:
                return received
            received += chunk
    raise AssertionError(f"the server kept sending: {received[:200]!r}")


def call(url: str, method: str = "GET", data: bytes | None = None, headers: dict | None = None):
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def rest_json_error(status, headers, body) -> tuple[str, int]:
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body)["message"]
    return headers["x-amzn-ErrorType"], status


def test_a_double_slash_path_is_answered_as_an_aws_api_would_not_redirected(endpoint):
    for path in ("//v2/email/identities", "/v2//email/identities", "//v2/email/identities//x"):
        status, headers, body = call(endpoint + path, headers={"Authorization": AUTH_HEADER})
        assert rest_json_error(status, headers, body) == ("UnknownOperationException", 404), path
    status, headers, body = call(endpoint + "//?Action=ListIdentities&Version=2010-12-01")  # the query API's root
    assert status == 400 and headers["Content-Type"].startswith("text/xml")
    assert ElementTree.fromstring(body).findtext(f"{NS}Error/{NS}Code")
    status, headers, body = call(endpoint + "/_sim//health")  # no API's path: answered as rest-json (app.py)
    assert rest_json_error(status, headers, body) == ("UnknownOperationException", 404)


def test_a_request_line_that_is_not_http_gets_a_bare_400_and_the_connection_closed(endpoint):
    for line in (b"GARBAGE\r\n\r\n", b"GET /_sim/health HTTP/1.1 extra\r\nHost: x\r\n\r\n", b"\x16\x03\x01\x02\x00"):
        answer = raw_exchange(endpoint, line)  # returns only once the server has closed
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 400 "), answer[:200]
        assert body == b"" and b"content-type" not in head.lower(), answer[:200]
    status, _, _ = call(endpoint + "/_sim/health")
    assert status == 200


def test_an_oversized_header_is_refused_in_the_callers_protocol(endpoint, control):
    big = {"X-Padding": "a" * (300 * 1024)}
    status, headers, body = call(endpoint + "/v2/email/identities", headers={"Authorization": AUTH_HEADER, **big})
    assert rest_json_error(status, headers, body) == ("BadRequestException", 400)

    status, headers, body = call(endpoint + "/", "POST", b"Action=ListIdentities&Version=2010-12-01",
                                 {"Content-Type": "application/x-www-form-urlencoded", **big})
    root = ElementTree.fromstring(body)
    assert status == 400 and headers["Content-Type"].startswith("text/xml")
    assert root.findtext(f"{NS}Error/{NS}Code") and root.findtext(f"{NS}Error/{NS}Message")

    status, headers, body = call(endpoint + "/_sim/identities", headers=big)
    assert status == 400 and json.loads(body)["error"]["code"]
    assert control.ok("GET", "/_sim/health")


def test_a_body_over_every_limit_is_an_aws_413_not_a_plain_text_page(endpoint, sesv2):
    body = b'{"Content": {"Raw": {"Data": "' + b"A" * (71 * 1024 * 1024) + b'"}}}'
    status, headers, answer = call(endpoint + "/v2/email/outbound-emails", "POST", body,
                                   {"Authorization": AUTH_HEADER, "Content-Type": "application/json"})
    assert rest_json_error(status, headers, answer) == ("RequestEntityTooLargeException", 413)
    assert sesv2.list_email_identities()["EmailIdentities"] == []


def _allow_open_files(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            pytest.skip(f"needs {needed} open files; the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


def test_a_flood_of_idle_and_trickling_connections_does_not_lock_out_a_new_client(endpoint):
    flood = 1100  # each kind; the server used to stop accepting at 1,000 connections
    _allow_open_files(4 * flood + 512)  # the clients' ends and, in this process, the server's
    connections: list[socket.socket] = []
    try:
        for i in range(2 * flood):
            conn = socket.create_connection(address(endpoint), timeout=10)
            connections.append(conn)
            if i % 2:  # trickling: a request head that never ends
                conn.sendall(b"POST /v2/email/outbound-emails HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        status, _, body = call(endpoint + "/_sim/health")  # urllib's 30 s timeout bounds the wait
        assert status == 200 and json.loads(body)
    finally:
        for conn in connections:
            conn.close()


def test_whole_answers_keep_their_length_and_head_gets_none(endpoint):
    """Answers handed to the server whole (wire.WholeResponse): the length the headers state
    is the body's, in each protocol and for errors; HEAD gets the headers and no body."""
    auth = {"Authorization": AUTH_HEADER}
    status, headers, body = call(endpoint + "/v2/email/identities", "POST",
                                 json.dumps({"EmailIdentity": "whole.example"}).encode(),
                                 {**auth, "Content-Type": "application/json"})
    assert status == 200 and int(headers["Content-Length"]) == len(body) and json.loads(body)["IdentityType"]
    status, headers, body = call(endpoint + "/v2/email/identities/whole.example", headers=auth)
    assert status == 200 and int(headers["Content-Length"]) == len(body)
    assert json.loads(body)["IdentityType"] == "DOMAIN"
    status, headers, body = call(endpoint + "/v2/email/identities/nobody.example", headers=auth)
    assert rest_json_error(status, headers, body) == ("NotFoundException", 404)
    assert int(headers["Content-Length"]) == len(body)
    status, headers, body = call(endpoint + "/?Action=ListIdentities&Version=2010-12-01", headers=auth)
    assert status == 200 and int(headers["Content-Length"]) == len(body)
    assert ElementTree.fromstring(body).tag == f"{NS}ListIdentitiesResponse"

    reply = raw_exchange(endpoint, b"HEAD /v2/email/identities/whole.example HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                   b"Authorization: " + AUTH_HEADER.encode() + b"\r\nConnection: close\r\n\r\n")
    head, _, rest = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and rest == b"", reply[:300]
