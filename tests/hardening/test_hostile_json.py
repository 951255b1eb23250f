"""Non-finite numbers, deep nesting and a clock pushed to its bound (SPEC §14): each is
refused in the caller's protocol, changes nothing, and the simulator stays healthy."""
import json

import pytest
from botocore.exceptions import ClientError

CONTENT = {"Simple": {"Subject": {"Data": "hi"}, "Body": {"Text": {"Data": "hello"}}}}


def still_healthy(control, sesv2, name: str) -> None:
    """Health, the clock, CreateEmailIdentity and SendEmail all still answer as they should."""
    assert control.ok("GET", "/_sim/health")["status"] == "ok"
    assert control.ok("GET", "/_sim/clock")["iso"] < "9900"
    sesv2.create_email_identity(EmailIdentity=name)
    with pytest.raises(ClientError) as excinfo:
        sesv2.create_email_identity(EmailIdentity=name)
    assert excinfo.value.response["Error"]["Code"] == "AlreadyExistsException"
    assert sesv2.send_email(FromEmailAddress=f"app@{name}", Destination={"ToAddresses": ["u@example.org"]},
                            Content=CONTENT)["MessageId"]


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_a_non_finite_advance_is_refused_and_changes_nothing(control, sesv2, constant):
    before = control.ok("GET", "/_sim/clock")["offset"]
    status, answer = control.call("POST", "/_sim/clock/advance", raw=f'{{"seconds": {constant}}}'.encode())
    assert status == 400 and answer["error"]["code"] == "VALIDATION_ERROR"
    assert "seconds" in answer["error"]["message"] and "finite" in answer["error"]["message"]
    assert control.ok("GET", "/_sim/clock")["offset"] == before
    still_healthy(control, sesv2, "example.com")


def test_non_finite_numbers_are_a_serialization_exception_on_rest_json(endpoint, control):
    import urllib.error
    import urllib.request

    body = b'{"EmailIdentity": "example.com", "Tags": [{"Key": NaN}]}'
    request = urllib.request.Request(endpoint + "/v2/email/identities", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        urllib.request.urlopen(request, timeout=10)
    assert excinfo.value.code == 400
    assert excinfo.value.headers["x-amzn-ErrorType"] == "SerializationException"
    assert "Tags[0].Key" in json.loads(excinfo.value.read())["message"]
    status, _ = control.call("GET", "/_sim/identities/example.com/history")
    assert status == 404  # nothing was created


def test_maximal_advances_stop_before_the_clock_bound(control, sesv2):
    refused = None
    for count in range(2000):
        status, answer = control.call("POST", "/_sim/clock/advance", {"seconds": 315360000})
        if status != 200:
            refused = (count, status, answer)
            break
    assert refused is not None, "the clock was advanced 2000 times by 10 years"
    count, status, answer = refused
    assert status == 400 and answer["error"]["code"] == "VALIDATION_ERROR" and count > 700
    assert "9900-01-01" in answer["error"]["message"]
    still_healthy(control, sesv2, "example.net")
    control.ok("POST", "/_sim/reset")


def deep(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("path,method", [
    ("/v2/email/identities", "POST"), ("/v1/email/identities", "POST"),
    ("/v2/email/outbound-emails", "POST"), ("/v2/email/identities/example.com/mail-from", "PUT"),
])
def test_deep_nesting_is_refused_on_rest_json(endpoint, path, method, caplog):
    import urllib.error
    import urllib.request

    for depth in (65, 1000, 100000):
        body = f'{{"EmailIdentity": "example.com", "Content": {deep(depth)}}}'.encode()
        request = urllib.request.Request(endpoint + path, data=body, method=method,
                                         headers={"Content-Type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as excinfo:
            urllib.request.urlopen(request, timeout=10)
        assert excinfo.value.code == 400, (depth, excinfo.value.read())
        assert excinfo.value.headers["x-amzn-ErrorType"] == "SerializationException"
        assert "nested deeper than 64" in json.loads(excinfo.value.read())["message"]
    assert not [r for r in caplog.records if r.exc_info], "a refusal logged a traceback"


def test_nesting_up_to_64_is_accepted(control):
    nested: object = "x"
    for _ in range(62):
        nested = [nested]
    status, answer = control.call("POST", "/_sim/checks/run", {"padding": nested})
    assert status == 200, answer


@pytest.mark.parametrize("depth", [65, 1000, 50000])
def test_deep_nesting_is_refused_on_the_control_plane(control, depth):
    for path in ("/_sim/clock/advance", "/_sim/dns/records", "/_sim/checks/run"):
        status, answer = control.call("POST", path, raw=f'{{"seconds": {deep(depth)}}}'.encode())
        assert status == 400 and answer["error"]["code"] == "VALIDATION_ERROR", answer
        assert "nested deeper than 64" in answer["error"]["message"]


@pytest.mark.parametrize("body,field", [
    (b'{"identity": "a\\ud800b.example.com"}', "identity"),
    (b'{"identity": "x", "padding": {"\\udfff": 1}}', "padding"),
])
def test_lone_surrogates_are_refused_naming_the_field(control, body, field):
    status, answer = control.call("POST", "/_sim/checks/run", raw=body)
    assert status == 400 and answer["error"]["code"] == "VALIDATION_ERROR", answer
    assert answer["error"]["message"].startswith(field) and "surrogate" in answer["error"]["message"]
