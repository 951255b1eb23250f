"""wire.WholeResponse: a body set whole goes to the server as its list with the headers as
they are; anything else takes werkzeug's own path (pure: no server, a WSGI call)."""
from simulator.api.wire import WholeResponse


def call(response, method="GET"):
    seen = {}

    def start_response(status, headers, exc_info=None):
        seen["status"], seen["headers"] = status, dict(headers)

    body = response({"REQUEST_METHOD": method, "SERVER_NAME": "localhost", "SERVER_PORT": "80",
                     "wsgi.url_scheme": "http", "PATH_INFO": "/"}, start_response)
    return seen, body


def test_a_whole_body_is_handed_over_as_its_list():
    seen, body = call(WholeResponse('{"a": 1}', mimetype="application/json"))
    assert isinstance(body, list) and b"".join(body) == b'{"a": 1}'
    assert seen["status"] == "200 OK" and seen["headers"]["Content-Length"] == "8"


def test_everything_else_goes_werkzeugs_way():
    _, body = call(WholeResponse("abc"), method="HEAD")
    assert not isinstance(body, list) and b"".join(body) == b""
    _, body = call(WholeResponse(status=204))
    assert not isinstance(body, list) and b"".join(body) == b""
    text = WholeResponse(["a", "b"])  # a list given as the body itself, not set whole: no Content-Length
    _, body = call(text)
    assert not isinstance(body, list) and b"".join(body) == b"ab"
    closing = WholeResponse("x")
    closed = []
    closing.call_on_close(lambda: closed.append(True))
    _, body = call(closing)
    assert not isinstance(body, list)
    assert b"".join(body) == b"x"
    body.close()
    assert closed == [True]
    moved = WholeResponse("see there", status=302, headers={"Location": "/there"})
    seen, body = call(moved)
    assert seen["headers"]["Location"] == "/there" and b"".join(body) == b"see there"  # headers: werkzeug's way
