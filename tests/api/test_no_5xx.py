"""Seeded random requests across every API: none may answer 5xx or HTML (SPEC §2)."""
import json
import random
import urllib.error
import urllib.request

PATHS = [
    "/v2/email/identities", "/v1/email/identities", "/v2/email/identities/example.com",
    "/v2/email/identities/example.com/mail-from", "/v1/email/identities/example.com/mail-from",
    "/v2/email/outbound-emails", "/v1/email/outbound-emails", "/v2/email/list-identities", "/v2/email/account",
    "/", "/_sim/clock/advance", "/_sim/checks/run", "/_sim/dns/records", "/_sim/dns/faults/x.example.com",
    "/_sim/account", "/_sim/outbox?limit=abc", "/_sim/identities/example.com/verification",
    "/_sim/identities/example.com/history", "/v2/email/identities/%00", "/v2/email/identities/a%2Fb",
]
VALUES = [None, True, 1, -1, 1e308, "", "x" * 300, "mail.example.com", [], {}, {"Data": "!!"}, ["a"],
          "REJECT_MESSAGE", "ü", "\x00"]
KEYS = ["EmailIdentity", "MailFromDomain", "BehaviorOnMxFailure", "Content", "Destination", "FromEmailAddress",
        "PageSize", "NextToken", "seconds", "identity", "name", "type", "value", "ttl", "fault", "sandbox", "status"]


def random_body(rng: random.Random) -> bytes:
    roll = rng.random()
    if roll < 0.1:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(50)))
    if roll < 0.2:
        return (b"Action=SetIdentityMailFromDomain&Version=2010-12-01&Identity=example.com&MailFromDomain="
                + rng.choice([b"x", b"%FF", b"mail.example.com"]))
    body = {rng.choice(KEYS): rng.choice(VALUES) for _ in range(rng.randrange(4))}
    if rng.random() < 0.3:
        body["Content"] = {"Simple": {"Subject": {"Data": rng.choice(VALUES)}, "Body": {"Text": {"Data": rng.choice(VALUES)}}}}
    elif rng.random() < 0.2:
        body["Content"] = {"Raw": {"Data": rng.choice(VALUES)}}
    return json.dumps(body).encode()


def test_random_requests_never_get_a_server_error_or_html(endpoint, sesv2):
    sesv2.create_email_identity(EmailIdentity="example.com")
    rng = random.Random(20261126)
    failures = []
    for _ in range(600):
        method, path = rng.choice(["GET", "POST", "PUT", "DELETE", "PATCH"]), rng.choice(PATHS)
        content_type = rng.choice(["application/json", "application/x-www-form-urlencoded", "text/plain"])
        data = random_body(rng) if method in ("POST", "PUT", "PATCH") else None
        request = urllib.request.Request(endpoint + path, data=data, method=method,
                                         headers={"Content-Type": content_type})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, answer_type = response.status, response.headers.get("Content-Type", "")
        except urllib.error.HTTPError as error:
            status, answer_type = error.code, error.headers.get("Content-Type", "")
        if status >= 500 or "html" in answer_type:
            failures.append((method, path, data, status, answer_type))
    assert failures == []
