"""Seeded fuzzing of SendEmail's Simple content with line breaks, lone surrogates and
encoded words in every header field (SPEC §14 "Input"): no request may get a 5xx,
every refusal is a 400 BadRequestException, and no stored message carries a header
line the sender did not ask for -- read back with the `email` package."""
from __future__ import annotations

import email
import json
import random
import urllib.error
import urllib.request
from email import base64mime, policy, quoprimime
from email.header import decode_header

SEED = 20261212
REQUESTS = 300
BREAKS = ["\r\n", "\r", "\n", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]
SURROGATES = ["\ud800", "\udfff", "\udc80"]
BENIGN = ["Ann", "Jörg Müller", "hello", "Doe, Jane", "Grüße", "x", "tab\there", "日本", "a=?b", "?="]
HEADER_NAMES = {"return-path", "date", "message-id", "from", "to", "cc", "reply-to", "subject", "mime-version",
                "content-type", "content-transfer-encoding", "x-fuzz",
                "authentication-results", "dkim-signature"}  # the receiver's, and SES's (one per signature)


def _encoded_word(rng: random.Random, text: str) -> str:
    charset = rng.choice(["utf-8", "iso-8859-1"]) if all(ord(c) < 256 for c in text) else "utf-8"
    raw = text.encode(charset, errors="surrogatepass")
    return (base64mime if rng.random() < 0.5 else quoprimime).header_encode(raw, charset)


def _text(rng: random.Random, depth: int = 0) -> str:
    """Mostly harmless text; sometimes a break, a surrogate or an encoded word around either."""
    roll = rng.random()
    if roll < 0.35:
        return rng.choice(BENIGN)
    if roll < 0.55:
        return rng.choice(BENIGN) + rng.choice(BREAKS) + "Bcc: victim@example.net"
    if roll < 0.65:
        return rng.choice(BENIGN) + rng.choice(SURROGATES)
    inner = _text(rng, depth + 1) if depth < 2 else rng.choice(BENIGN)
    if any(s in inner for s in SURROGATES):
        inner = rng.choice(BENIGN) + rng.choice(BREAKS) + "Bcc: victim@example.net"
    return _encoded_word(rng, inner)


def _address(rng: random.Random, address: str) -> str:
    if rng.random() < 0.3:
        return address
    name = _text(rng)
    return f'"{name}" <{address}>' if rng.random() < 0.3 else f"{name} <{address}>"


def _request(rng: random.Random) -> dict:
    simple = {"Subject": {"Data": _text(rng)}, "Body": {"Text": {"Data": "body " + rng.choice(BENIGN)}}}
    if rng.random() < 0.2:
        simple["Subject"]["Charset"] = "ISO-8859-1"
    if rng.random() < 0.4:  # a custom header's value is printable ASCII: only encoded words can hide a break
        value = _text(rng)
        simple["Headers"] = [{"Name": "X-Fuzz", "Value": value if value.isascii() else _encoded_word(rng, "x\r\ny")}]
    body = {"FromEmailAddress": _address(rng, "app@example.com"),
            "Destination": {"ToAddresses": [_address(rng, "user@example.org")]},
            "Content": {"Simple": simple}}
    if rng.random() < 0.3:
        body["Destination"]["CcAddresses"] = [_address(rng, "cc@example.org")]
    if rng.random() < 0.3:
        body["ReplyToAddresses"] = [_address(rng, "reply@example.com")]
    return body


def _post(endpoint: str, body: dict) -> tuple[int, str | None]:
    request = urllib.request.Request(endpoint + "/v2/email/outbound-emails", data=json.dumps(body).encode(),
                                     method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, None
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("x-amzn-ErrorType")


def _decoded_views(value: str) -> list[str]:
    views = [value]
    try:
        views.append("".join(chunk.decode(charset or "latin-1", "replace") if isinstance(chunk, bytes) else chunk
                             for chunk, charset in decode_header(value)))
    except Exception:  # noqa: BLE001 -- an undecodable word is not a break
        pass
    return views


def test_fuzzed_simple_sends_never_5xx_and_never_inject_a_header(endpoint, sesv2, control):
    sesv2.create_email_identity(EmailIdentity="example.com")
    rng = random.Random(SEED)
    outcomes = [_post(endpoint, _request(rng)) for _ in range(REQUESTS)]

    assert [o for o in outcomes if o[0] >= 500] == []
    assert {o for o in outcomes if o[0] != 200} <= {(400, "BadRequestException")}
    accepted = sum(1 for status, _ in outcomes if status == 200)
    assert 30 <= accepted <= REQUESTS - 30, accepted  # both outcomes exercised

    stored = control.ok("GET", f"/_sim/outbox?limit={REQUESTS}")["messages"]
    assert len(stored) == accepted
    for entry in stored:
        message = email.message_from_bytes(entry["raw"].encode("utf-8", "surrogateescape"), policy=policy.default)
        names = [name.lower() for name in message.keys()]
        assert set(names) <= HEADER_NAMES, (names, entry["raw"][:600])
        singles = [name for name in names if name != "dkim-signature"]
        assert len(singles) == len(set(singles)), entry["raw"][:600]
        raw_message = email.message_from_bytes(entry["raw"].encode("utf-8", "surrogateescape"), policy=policy.compat32)
        for name in message.keys():
            unfolded = raw_message[name].replace("\r\n ", " ").replace("\r\n\t", "\t")
            for value in _decoded_views(unfolded) + [str(message[name])]:
                assert not any(b in value for b in BREAKS), (name, value)
