"""Seeded hostile requests for every API, and the check that each answer is AWS-shaped
(SPEC §2, §14): used by tests/hardening/test_fuzz.py (in `make test`) and bench/fuzz.py.

Every request is drawn from one `random.Random(seed)`, so a failure is replayed by its
seed and index. What is covered: non-finite numbers, deep nesting, lone surrogates,
every line-break character in header fields (plain and inside RFC 2047 encoded words),
control characters, wrong types, cross-site and rebinding headers, wrong content types,
and on the send surface templates that do not parse or render, template data that is
not JSON, and bulk calls of 0 or 51 entries.
"""
from __future__ import annotations

import base64
import http.client
import json
import random
import urllib.parse
from dataclasses import dataclass, field

LINE_BREAKS = ["\r", "\n", "\r\n", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]
IDENTITIES = ["example.com", "user@example.com", "mail.example.com", "sub.example.org"]

REST_PATHS = [
    ("POST", "/{v}/email/identities"), ("GET", "/{v}/email/identities"), ("GET", "/{v}/email/identities/{id}"),
    ("DELETE", "/{v}/email/identities/{id}"), ("PUT", "/{v}/email/identities/{id}/mail-from"),
    ("POST", "/{v}/email/outbound-emails"), ("GET", "/{v}/email/account"), ("POST", "/v2/email/list-identities"),
    # the send surface (SPEC §10): templates, bulk, configuration sets, tags
    ("POST", "/v2/email/templates"), ("GET", "/v2/email/templates"), ("GET", "/v2/email/templates/{id}"),
    ("PUT", "/v2/email/templates/{id}"), ("DELETE", "/v2/email/templates/{id}"),
    ("POST", "/v2/email/templates/{id}/render"), ("POST", "/v2/email/outbound-bulk-emails"),
    ("POST", "/{v}/email/configuration-sets"), ("GET", "/{v}/email/configuration-sets/{id}"),
    ("DELETE", "/{v}/email/configuration-sets/{id}"), ("POST", "/v2/email/list-configuration-sets"),
    ("POST", "/{v}/email/tags"), ("GET", "/{v}/email/tags?ResourceArn={id}"),
    ("DELETE", "/{v}/email/tags?ResourceArn={id}&TagKeys={id}"),
]
CONTROL_PATHS = [
    ("POST", "/_sim/clock/advance"), ("GET", "/_sim/clock"), ("POST", "/_sim/checks/run"), ("GET", "/_sim/health"),
    ("POST", "/_sim/dns/records"), ("GET", "/_sim/dns/records"), ("PUT", "/_sim/dns/faults/{id}"),
    ("DELETE", "/_sim/dns/faults/{id}"), ("PUT", "/_sim/account"), ("GET", "/_sim/outbox?limit={n}"),
    ("PUT", "/_sim/identities/{id}/verification"), ("GET", "/_sim/identities/{id}/history"),
    ("GET", "/_sim/outbox/{id}/raw"), ("POST", "/_sim/outbox/{id}/relay"), ("DELETE", "/_sim/dns/records/{id}"),
    ("POST", "/_sim/dashboard/session"), ("GET", "/_sim/dashboard/fragments?parts={id}"),
]
QUERY_ACTIONS = ["VerifyDomainIdentity", "VerifyEmailIdentity", "DeleteIdentity", "SetIdentityMailFromDomain",
                 "GetIdentityMailFromDomainAttributes", "SendEmail", "SendRawEmail", "ListIdentities",
                 "GetSendQuota", "GetIdentityVerificationAttributes", "CreateTemplate", "UpdateTemplate",
                 "GetTemplate", "DeleteTemplate", "TestRenderTemplate", "SendTemplatedEmail", "SendBulkTemplatedEmail",
                 "CreateConfigurationSet", "DeleteConfigurationSet"]
KEYS = ["EmailIdentity", "MailFromDomain", "BehaviorOnMxFailure", "FromEmailAddress", "PageSize", "NextToken",
        "seconds", "identity", "name", "type", "value", "ttl", "fault", "sandbox", "status", "Tags", "token",
        "TemplateName", "TemplateContent", "TemplateData", "ConfigurationSetName", "ResourceArn", "Key", "Value"]
TEMPLATE_TEXT = ["{{name}}", "{{{raw}}}", "{{#each items}}{{this}}{{/each}}", "{{#if x}}yes{{else}}no{{/if}}"] * 3 + [
    "{{#if x}}", "{{> partial}}", "{{unknownHelper x}}", "{{", "}}", "{{#each name}}{{/each}}", "{{name.deep.path}}"]


def hostile_text(rng: random.Random) -> str:
    base = rng.choice(["hi", "Ünïcödé", "a" * rng.randrange(1, 300), "=?utf-8?q?x?=", "x@example.com", ""])
    roll = rng.random()
    if roll < 0.35:
        cut = rng.randrange(len(base) + 1)
        return base[:cut] + rng.choice(LINE_BREAKS) + "Bcc: victim@example.org" + base[cut:]
    if roll < 0.5:
        return base + rng.choice(["\ud800", "\udfff", "\udc80x"])  # lone surrogates
    if roll < 0.6:
        inner = base64.b64encode(("x" + rng.choice(LINE_BREAKS) + "Bcc: v@example.org").encode()).decode()
        return f"=?utf-8?b?{inner}?="  # a line break inside an RFC 2047 encoded word
    if roll < 0.7:
        return "".join(chr(rng.randrange(0, 32)) for _ in range(rng.randrange(1, 8))) + base
    return base


def hostile_value(rng: random.Random, depth: int = 0):
    roll = rng.random()
    if roll < 0.12:
        return _Raw(rng.choice(["NaN", "Infinity", "-Infinity", "1e999", "-1e400"]))
    if roll < 0.2:
        levels = rng.choice([63, 64, 65, 200, 1000, 5000])
        return _Raw("[" * levels + "]" * levels)
    if roll < 0.5:
        return hostile_text(rng)
    if roll < 0.6 and depth < 3:
        return {rng.choice(KEYS): hostile_value(rng, depth + 1) for _ in range(rng.randrange(3))}
    if roll < 0.65 and depth < 3:
        return [hostile_value(rng, depth + 1) for _ in range(rng.randrange(3))]
    return rng.choice([None, True, False, 0, -1, 1, 2**63, 1e308, 60, "REJECT_MESSAGE", "servfail", "SUCCESS"])


class _Raw:
    """JSON text inserted as is (what json.dumps refuses to write, e.g. NaN)."""

    def __init__(self, text: str):
        self.text = text


def dumps(value) -> str:
    if isinstance(value, _Raw):
        return value.text
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)}: {dumps(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(dumps(v) for v in value) + "]"
    return json.dumps(value)  # lone surrogates become \\ud800 escapes, as a hostile client would send


def simple_content(rng: random.Random) -> dict:
    return {"Simple": {"Subject": {"Data": hostile_value(rng)}, "Body": {"Text": {"Data": hostile_value(rng)}}}}


def json_body(rng: random.Random, path: str) -> bytes:
    body = {rng.choice(KEYS): hostile_value(rng) for _ in range(rng.randrange(4))}
    if "outbound-emails" in path:
        body["FromEmailAddress"] = rng.choice([hostile_text(rng), f'"{hostile_text(rng)}" <app@example.com>'])
        body["Destination"] = {"ToAddresses": [rng.choice(["u@example.org", hostile_text(rng)])]}
        if rng.random() < 0.8:
            body["Content"] = simple_content(rng)
        else:
            raw = f"From: app@example.com\r\nTo: u@example.org\r\nSubject: {hostile_text(rng)}\r\n\r\nhi\r\n"
            body["Content"] = {"Raw": {"Data": base64.b64encode(raw.encode("utf-8", "surrogatepass")).decode()}}
    if "/templates" in path or "bulk" in path:  # shapes deep enough to reach rendering
        plausible = rng.random() < 0.6  # most reach rendering; the rest are hostile all through

        def text():
            return "Hi " + rng.choice(TEMPLATE_TEXT) if plausible else rng.choice([hostile_text(rng),
                                                                                    hostile_value(rng)])

        content = {"Subject": text(), "Text": text(), "Html": text()}
        data = json.dumps({"name": hostile_text(rng), "raw": "<i>", "items": [1, "<b>"], "x": rng.random() < 0.5},
                          ensure_ascii=False) if plausible else rng.choice(["{", "[]", "null", hostile_value(rng)])
        if "bulk" in path:
            body["FromEmailAddress"] = rng.choice(["app@example.com", hostile_text(rng)])
            body["DefaultContent"] = {"Template": rng.choice([{"TemplateContent": content, "TemplateData": data},
                                                              {"TemplateName": hostile_text(rng)}])}
            body["BulkEmailEntries"] = [
                {"Destination": {"ToAddresses": [rng.choice(["u@example.org", hostile_text(rng)])]},
                 "ReplacementEmailContent": {"ReplacementTemplate": {"ReplacementTemplateData": data}}}
                for _ in range(rng.choice([1, 1, 2, 0, 51]))]
        else:
            body["TemplateName"] = "digest" if plausible else hostile_text(rng)
            body["TemplateContent"], body["TemplateData"] = content, data
    if path.endswith("/identities") and rng.random() < 0.7:
        body["EmailIdentity"] = rng.choice(IDENTITIES + [hostile_text(rng)])
    return dumps(body).encode("utf-8", "surrogatepass")


def query_body(rng: random.Random) -> bytes:
    fields = {"Action": rng.choice(QUERY_ACTIONS), "Version": "2010-12-01"}
    for key in ("Identity", "Domain", "EmailAddress", "MailFromDomain", "Source", "Message.Subject.Data",
                "Message.Body.Text.Data", "Destination.ToAddresses.member.1", "Identities.member.1",
                "RawMessage.Data", "MaxItems", "BehaviorOnMXFailure", "Template", "TemplateData",
                "Template.TemplateName", "Template.SubjectPart", "Template.TextPart", "Template.HtmlPart",
                "TemplateName", "Destinations.member.1.Destination.ToAddresses.member.1",
                "Destinations.member.1.ReplacementTemplateData", "DefaultTemplateData",
                "ConfigurationSet.Name", "ConfigurationSetName"):
        if rng.random() < 0.4:
            fields[key] = rng.choice([hostile_text(rng), rng.choice(IDENTITIES), "NaN", "Infinity", "1e999"])
    return urllib.parse.urlencode(fields, encoding="utf-8", errors="surrogatepass").encode()


@dataclass
class FuzzRequest:
    method: str
    path: str
    body: bytes | None
    headers: dict = field(default_factory=dict)


def fuzz_request(rng: random.Random, port: int) -> FuzzRequest:
    roll = rng.random()
    if roll < 0.45:
        method, template = rng.choice(REST_PATHS)
    elif roll < 0.7:
        method, template = rng.choice(CONTROL_PATHS)
    elif roll < 0.95:
        method, template = rng.choice(["POST", "POST", "GET"]), "/"
    else:
        method, template = rng.choice(["GET", "POST", "PATCH"]), rng.choice(["/nowhere", "/v2/email/x", "/_sim"])
    names = ["digest"] * 4 if "/templates/" in template else IDENTITIES  # the template json_body creates
    path = template.format(v=rng.choice(["v1", "v2"]), n=rng.choice(["1", "0", "nan", "x"]),
                           id=urllib.parse.quote(rng.choice(names + [hostile_text(rng)]), safe="@",
                                                 errors="surrogatepass"))
    headers = {"Content-Type": "application/json"}
    body = None
    if template == "/":
        headers["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8"
        form = query_body(rng)
        if method == "GET":
            path = "/?" + form.decode()
        else:
            body = form
    elif method in ("POST", "PUT", "PATCH"):
        body = json_body(rng, path)
    if rng.random() < 0.1:
        headers["Content-Type"] = rng.choice(["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"])
    extra = rng.random()
    if extra < 0.05:
        headers["Origin"] = rng.choice(["http://evil.example", "null", f"http://127.0.0.1:{port}"])
    elif extra < 0.1:
        headers["Sec-Fetch-Site"] = rng.choice(["cross-site", "same-origin", "none"])
    elif extra < 0.13:
        headers["Host"] = rng.choice(["evil.example", f"rebind.example:{port}", f"localhost:{port}"])
    return FuzzRequest(method, path, body, headers)


def problem(request: FuzzRequest, status: int, headers, body: bytes) -> str | None:
    """Why this answer is not what the caller's protocol allows, or None."""
    if status >= 500:
        return f"{status}"
    content_type = headers.get("Content-Type", "")
    path = request.path.split("?", 1)[0]
    if path.startswith("/_sim"):
        if path.endswith("/raw") and status == 200:
            return None if content_type == "message/rfc822" else f"raw as {content_type}"
        try:
            answer = json.loads(body)
        except ValueError:
            return f"/_sim answered non-JSON {content_type}"
        if not isinstance(answer, dict) or answer.get("success") is not (status < 400):
            return "/_sim answered outside its envelope"
        return None if status < 400 or {"code", "message"} <= set(answer["error"]) else "envelope without code"
    if path == "/":
        text = body.decode("utf-8", "replace")
        if not content_type.startswith("text/xml") or not text.startswith("<?xml"):
            return f"query answered {content_type}"
        if status >= 400 and ("<ErrorResponse" not in text or "<Code>" not in text):
            return "query error without ErrorResponse"
        return None
    if not content_type.startswith("application/json"):
        return f"rest-json answered {content_type}"
    try:
        answer = json.loads(body)
    except ValueError:
        return "rest-json answered non-JSON"
    if status >= 400 and (not headers.get("x-amzn-ErrorType") or "message" not in answer):
        return "rest-json error without x-amzn-ErrorType and message"
    return None


def run(url: str, count: int, seed: int) -> dict:
    """Send `count` seeded requests over one keep-alive connection; the figures and the problems."""
    parts = urllib.parse.urlsplit(url)
    rng = random.Random(seed)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    statuses: dict[int, int] = {}
    problems: list[tuple[int, str, str, str]] = []
    for index in range(count):
        request = fuzz_request(rng, parts.port)
        for attempt in (0, 1):
            try:
                conn.request(request.method, request.path, body=request.body, headers=request.headers)
                response = conn.getresponse()
                body = response.read()
                break
            except (http.client.HTTPException, ConnectionError):
                conn.close()
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
                if attempt:
                    raise
        if response.will_close:
            conn.close()
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        statuses[response.status] = statuses.get(response.status, 0) + 1
        found = problem(request, response.status, response.msg, body)
        if found:
            problems.append((index, found, f"{request.method} {request.path[:80]}", body[:200].decode("utf-8", "replace")))
    conn.close()
    return {"requests": count, "seed": seed, "statuses": dict(sorted(statuses.items())), "problems": problems}
