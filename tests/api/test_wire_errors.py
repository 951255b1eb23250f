"""Bad input at the HTTP level: AWS JSON errors with request ids, never HTML, never a 5xx."""
import json
import urllib.error
import urllib.request

import pytest


def raw(endpoint: str, method: str, path: str, data: bytes | None = None, headers: dict | None = None):
    request = urllib.request.Request(endpoint + path, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


@pytest.mark.parametrize("method, path", [
    ("GET", "/v2/email/nothing-here"), ("POST", "/v2/email/identities/x/y/z"),
    ("PATCH", "/v2/email/identities/example.com"), ("GET", "/v3/email/identities"),
])
def test_unknown_routes_are_json_unknown_operation_errors(endpoint, method, path):
    status, headers, body = raw(endpoint, method, path)
    assert status == 404
    assert headers["x-amzn-ErrorType"] == "UnknownOperationException"
    assert headers["Content-Type"].startswith("application/json") and json.loads(body)["message"]
    assert headers["x-amzn-RequestId"]


@pytest.mark.parametrize("data", [b"{not json", b"[1, 2]", b"\xff\xfe", b'"just a string"'])
def test_malformed_json_bodies_are_serialization_errors_and_store_nothing(endpoint, sesv2, data):
    status, headers, body = raw(endpoint, "POST", "/v2/email/identities", data,
                                {"Content-Type": "application/json"})
    assert (status, headers["x-amzn-ErrorType"]) == (400, "SerializationException")
    assert sesv2.list_email_identities()["EmailIdentities"] == []


def test_a_missing_body_is_a_bad_request(endpoint):
    status, headers, _ = raw(endpoint, "POST", "/v2/email/identities", b"")
    assert (status, headers["x-amzn-ErrorType"]) == (400, "BadRequestException")


def test_a_body_over_10_mb_is_refused_and_stores_nothing(endpoint, sesv2):
    sesv2.create_email_identity(EmailIdentity="example.com")
    big = json.dumps({"MailFromDomain": "mail.example.com", "pad": "x" * (11 * 1024 * 1024)}).encode()
    status, headers, _ = raw(endpoint, "PUT", "/v2/email/identities/example.com/mail-from", big,
                             {"Content-Type": "application/json"})
    assert status == 413 and headers["x-amzn-ErrorType"] == "RequestEntityTooLargeException"
    assert "MailFromDomain" not in sesv2.get_email_identity(EmailIdentity="example.com")["MailFromAttributes"]


def test_wrong_json_types_are_bad_requests(endpoint, sesv2):
    sesv2.create_email_identity(EmailIdentity="example.com")
    for body in ({"MailFromDomain": 5}, {"MailFromDomain": "mail.example.com", "BehaviorOnMxFailure": ["x"]}):
        status, headers, _ = raw(endpoint, "PUT", "/v2/email/identities/example.com/mail-from",
                                 json.dumps(body).encode(), {"Content-Type": "application/json"})
        assert (status, headers["x-amzn-ErrorType"]) == (400, "BadRequestException")


def test_every_good_answer_has_a_request_id(endpoint):
    status, headers, _ = raw(endpoint, "GET", "/v2/email/account")
    assert status == 200 and headers["x-amzn-RequestId"]


def test_the_control_plane_answers_unknown_paths_in_its_envelope(control):
    status, payload = control.call("GET", "/_sim/nothing")
    assert status == 404 and payload == {"success": False, "error": {"code": "NOT_FOUND", "message": payload["error"]["message"]}}
    status, payload = control.call("POST", "/_sim/clock/advance", raw=b"{oops")
    assert status == 400 and payload["error"]["code"] == "VALIDATION_ERROR"
