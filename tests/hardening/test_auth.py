"""`--auth strict --credentials FILE` and `--control-token` (SPEC §14), against a real
process with real boto3 clients: a good signature is served in the key's account, a bad
or unknown one is refused as AWS refuses it, and nothing changes; all of /_sim (the
event stream and the dashboard too) needs the token, which the dashboard asks for once."""
import http.client
import json
import urllib.error
import urllib.parse
import urllib.request

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from simulator.api.guard import SESSION_COOKIE, session_value
from tests.helpers import SimControl, SimulatorProcess

TOKEN = "s3cret-control-token"
KEYS = {
    "AKIDALICE": {"secret": "alice-secret/with+chars", "account": "111111111111"},
    "AKIDALICE2": {"secret": "alice-second-secret", "account": "111111111111"},
    "AKIDBOB": {"secret": "bob-secret", "account": "222222222222"},
}


@pytest.fixture(scope="module")
def strict(tmp_path_factory):
    path = tmp_path_factory.mktemp("auth") / "credentials.json"
    path.write_text(json.dumps(KEYS))
    process = SimulatorProcess("--db", ":memory:", "--auth", "strict", "--credentials", str(path),
                               "--control-token", TOKEN).start()
    yield process
    process.stop()


def client(strict, service: str, key: str, secret: str | None = None):
    return boto3.client(service, endpoint_url=strict.url, region_name="us-east-1", aws_access_key_id=key,
                        aws_secret_access_key=secret if secret is not None else KEYS[key]["secret"],
                        config=Config(retries={"max_attempts": 1}))


def refused(call, code: str) -> str:
    with pytest.raises(ClientError) as excinfo:
        call()
    error = excinfo.value.response
    assert error["Error"]["Code"] == code and error["ResponseMetadata"]["HTTPStatusCode"] == 403, error
    return error["Error"]["Message"]


@pytest.fixture
def reset(strict):
    SimControl(strict.url, TOKEN).ok("POST", "/_sim/reset")


def test_a_good_signature_is_served_in_the_accounts_of_the_file(strict, reset):
    alice, alice2, bob = (client(strict, "sesv2", key) for key in ("AKIDALICE", "AKIDALICE2", "AKIDBOB"))
    alice.create_email_identity(EmailIdentity="alice.example")
    assert [i["IdentityName"] for i in alice2.list_email_identities()["EmailIdentities"]] == ["alice.example"]
    assert bob.list_email_identities()["EmailIdentities"] == []
    ses = client(strict, "ses", "AKIDBOB")
    ses.verify_domain_identity(Domain="bob.example")
    assert ses.list_identities()["Identities"] == ["bob.example"]
    assert client(strict, "pinpoint-email", "AKIDBOB").get_email_identity(EmailIdentity="bob.example")
    # a path with characters SigV4 encodes twice, and a query string
    alice.create_email_identity(EmailIdentity="user+tag@alice.example")
    assert alice.get_email_identity(EmailIdentity="user+tag@alice.example")["IdentityType"] == "EMAIL_ADDRESS"
    assert len(alice.list_email_identities(PageSize=1)["EmailIdentities"]) == 1
    control = SimControl(strict.url, TOKEN)
    assert control.history("alice.example", account="111111111111") == []


def test_a_bad_secret_is_refused_and_changes_nothing(strict, reset):
    message = refused(lambda: client(strict, "sesv2", "AKIDALICE", "wrong").create_email_identity(
        EmailIdentity="x.example"), "InvalidSignatureException")
    assert message.startswith("The request signature we calculated does not match the signature you provided.")
    refused(lambda: client(strict, "pinpoint-email", "AKIDALICE", "wrong").create_email_identity(
        EmailIdentity="x.example"), "InvalidSignatureException")
    refused(lambda: client(strict, "ses", "AKIDALICE", "wrong").verify_domain_identity(Domain="x.example"),
            "SignatureDoesNotMatch")
    assert client(strict, "sesv2", "AKIDALICE").list_email_identities()["EmailIdentities"] == []


def test_an_unknown_key_is_refused_even_if_it_looks_like_an_account(strict, reset):
    for key in ("AKIDMALLORY", "111111111111"):
        message = refused(lambda: client(strict, "sesv2", key, "any").create_email_identity(
            EmailIdentity="x.example"), "UnrecognizedClientException")
        assert message == "The security token included in the request is invalid."
        refused(lambda: client(strict, "ses", key, "any").verify_domain_identity(Domain="x.example"),
                "InvalidClientTokenId")
    assert client(strict, "sesv2", "AKIDALICE").list_email_identities()["EmailIdentities"] == []


def test_an_unsigned_or_tampered_request_is_refused(strict, reset):
    request = urllib.request.Request(strict.url + "/v2/email/identities", data=b'{"EmailIdentity": "x.example"}',
                                     method="POST", headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        urllib.request.urlopen(request, timeout=10)
    assert excinfo.value.code == 403
    assert excinfo.value.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    # a body changed after signing
    sesv2 = client(strict, "sesv2", "AKIDALICE")
    sesv2.meta.events.register("before-send.sesv2.CreateEmailIdentity",
                               lambda request, **_: setattr(request, "body", b'{"EmailIdentity": "evil.example"}'))
    refused(lambda: sesv2.create_email_identity(EmailIdentity="x.example"), "InvalidSignatureException")
    assert client(strict, "sesv2", "AKIDALICE").list_email_identities()["EmailIdentities"] == []


def test_the_control_plane_requires_the_token(strict, reset):
    for token in (None, "wrong", TOKEN + "x"):
        status, answer = SimControl(strict.url, token).call("POST", "/_sim/clock/advance", {"seconds": 60})
        assert status == 401 and answer["error"]["code"] == "UNAUTHORIZED", answer
        status, answer = SimControl(strict.url, token).call("GET", "/_sim/health")
        assert status == 401
    control = SimControl(strict.url, TOKEN)
    assert control.ok("GET", "/_sim/clock")["offset"] == 0
    assert control.ok("POST", "/_sim/clock/advance", {"seconds": 60})["offset"] == 60


def get(url: str, path: str, **headers) -> tuple[int, dict, bytes]:
    """A GET that reads the status and header fields, and the body unless it is an event
    stream (which never ends: a stream that starts is enough)."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        streaming = response.getheader("Content-Type", "").startswith("text/event-stream")
        return response.status, response.msg, b"" if streaming else response.read()
    finally:
        conn.close()


def sign_in(strict, token) -> tuple[int, dict, dict]:
    request = urllib.request.Request(strict.url + "/_sim/dashboard/session", json.dumps({"token": token}).encode(),
                                     method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, error.headers, json.loads(error.read())


DASHBOARD_DATA = ["/_sim/events", "/_sim/dashboard/fragments?parts=identities,zone"]


@pytest.mark.parametrize("path", DASHBOARD_DATA)
def test_the_event_stream_and_the_dashboards_data_require_the_token(strict, reset, path):
    SimControl(strict.url, TOKEN).ok("POST", "/_sim/dns/records", {"name": "leak.example.com", "type": "TXT",
                                                                   "value": "secret"})
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Cookie": f"{SESSION_COOKIE}={TOKEN}"}):
        status, _, body = get(strict.url, path, **headers)
        assert status == 401 and json.loads(body)["error"]["code"] == "UNAUTHORIZED", (headers, body)
        assert b"leak.example.com" not in body
    status, answer_headers, body = get(strict.url, path, Authorization=f"Bearer {TOKEN}")
    assert status == 200, body
    if path.startswith("/_sim/dashboard"):
        assert "leak.example.com" in json.loads(body)["data"]["zone"]


def test_the_dashboard_asks_for_the_token_once_and_keeps_a_session_cookie(strict, reset):
    status, headers, page = get(strict.url, "/_sim/dashboard")
    assert status == 401 and headers["Content-Type"].startswith("text/html")
    assert headers["WWW-Authenticate"].startswith("Bearer") and b'id="sign-in"' in page
    assert get(strict.url, "/_sim/dashboard/static/sign_in.js")[0] == 200  # what the form needs, served without it
    for wrong in ("wrong", TOKEN + "x", ""):
        status, headers, answer = sign_in(strict, wrong)
        assert status == 401 and answer["error"]["code"] == "UNAUTHORIZED" and "Set-Cookie" not in headers
    status, headers, answer = sign_in(strict, TOKEN)
    assert status == 200 and answer["data"] == {"signed_in": True}
    cookie = headers["Set-Cookie"]
    name, _, rest = cookie.partition("=")
    value = rest.split(";")[0]
    assert name == SESSION_COOKIE and value == session_value(TOKEN) and TOKEN not in cookie
    assert {"HttpOnly", "SameSite=Strict", "Path=/_sim"} <= {part.strip() for part in cookie.split(";")}
    session = {"Cookie": f"{SESSION_COOKIE}={value}"}
    status, _, page = get(strict.url, "/_sim/dashboard", **session)
    assert status == 200 and b'data-fragment="identities"' in page
    for path in DASHBOARD_DATA:
        assert get(strict.url, path, **session)[0] == 200, path
    # the buttons' /_sim calls carry the cookie too, and are still same-site JSON only
    request = urllib.request.Request(strict.url + "/_sim/clock/advance", b'{"seconds": 60}', method="POST",
                                     headers={"Content-Type": "application/json", **session})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert json.loads(response.read())["data"]["offset"] == 60
    status, _, _ = get(strict.url, "/_sim/dashboard", Origin="http://evil.example", **session)
    assert status == 403


def test_without_a_token_the_dashboard_needs_no_sign_in(endpoint):
    status, _, page = get(endpoint, "/_sim/dashboard")
    assert status == 200 and b'data-fragment="identities"' in page
