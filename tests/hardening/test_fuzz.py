"""5,000 seeded hostile requests: no 5xx, and every answer in its caller's protocol (SPEC §14)."""
import time

from tests import fuzzing


def test_hostile_requests_never_get_a_server_error_or_a_foreign_shape(endpoint, sesv2):
    sesv2.create_email_identity(EmailIdentity="example.com")
    started = time.monotonic()
    figures = fuzzing.run(endpoint, 5000, seed=20261214)
    print(f"fuzz: {figures['requests']} requests in {time.monotonic() - started:.1f} s, statuses {figures['statuses']}")
    assert len(figures["statuses"]) >= 5  # the requests reached many different answers (200, 400, 403, 404, 415)
    assert figures["problems"] == []


def test_a_line_feed_in_a_path_stays_in_its_api(control):
    for method, path in (("GET", "/_sim/identities/a%0Ab/history"), ("PUT", "/_sim/dns/faults/a%0Ab"), ("GET", "/_sim")):
        status, answer = control.call(method, path, {"fault": "servfail"} if method == "PUT" else None)
        assert 400 <= status < 500 and answer["success"] is False, (path, answer)
