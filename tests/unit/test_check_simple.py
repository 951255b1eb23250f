"""`mail.check_simple`: every check of `build_from_simple` without building, and a size
bound that holds, so a message acknowledged unbuilt can never turn out too large."""
from __future__ import annotations

import random

import pytest

from simulator.core.errors import AwsError, MessageRejected
from simulator.mail import build_from_simple, check_simple
from simulator.mail.compose import _prepare, _size_bound

ALPHABETS = ["abc xyz.,;:!", "éàüß ñø", "日本語のテキスト", "😀🎉𝔘𝔫𝔦", "\u00a0\t =?", "Лорем ипсум"]


def _text(rng: random.Random, length: int) -> str:
    alphabet = "".join(rng.sample(ALPHABETS, 3))
    return "".join(rng.choice(alphabet) for _ in range(length))


def _case(rng: random.Random) -> tuple:
    charset = rng.choice([None, "UTF-8", "utf-16", "utf-32", "utf-7"])
    subject = _text(rng, rng.randrange(0, 300))
    text = "\n".join(_text(rng, rng.randrange(0, 200)) for _ in range(rng.randrange(1, 20)))
    body = {"Text": {"Data": text, **({"Charset": charset} if charset else {})}}
    if rng.random() < 0.5:
        body["Html"] = {"Data": "<p>" + _text(rng, rng.randrange(0, 500)) + "</p>"}
    display = _text(rng, rng.randrange(1, 40)).replace('"', "").replace("\\", "").strip() or "x"
    to = [f'"{display}" <user{i}@example.org>' for i in range(rng.randrange(1, 5))]
    simple = {"Subject": {"Data": subject, **({"Charset": charset} if charset else {})}, "Body": body}
    if rng.random() < 0.3:
        simple["Headers"] = [{"Name": f"X-Custom-{i}", "Value": "v" * rng.randrange(1, 200)} for i in range(3)]
    return f'"{display}" <app@example.com>', {"ToAddresses": to, "CcAddresses": ["cc@example.org"]}, simple


def test_the_size_bound_holds_for_any_text():
    rng = random.Random(20261203)
    checked = 0
    for _ in range(300):
        sender, destination, simple = _case(rng)
        try:
            built = build_from_simple(sender, destination, simple)
        except AwsError:
            continue  # a charset that cannot take the text: check_simple refuses it the same way (below)
        bound = _size_bound(_prepare(sender, destination, simple, None, 50))
        assert len(built.mime_bytes) <= bound
        checked += 1
    assert checked > 200


def test_check_simple_refuses_what_build_from_simple_refuses():
    rng = random.Random(7)
    for _ in range(200):
        sender, destination, simple = _case(rng)
        try:
            build_from_simple(sender, destination, simple)
            built_error = None
        except AwsError as exc:
            built_error = (type(exc), exc.message)
        try:
            checked = check_simple(sender, destination, simple)
            checked_error = None
        except AwsError as exc:
            checked_error = (type(exc), exc.message)
        assert checked_error == built_error
        if checked_error is None:
            assert checked.mime_bytes == b"" and checked.recipe is not None
            assert build_from_simple(**checked.recipe).to == checked.to


def test_a_message_near_the_limit_is_built_at_once_and_measured_exactly():
    simple = {"Subject": {"Data": "big"}, "Body": {"Text": {"Data": "x" * 76 + "\n"}}}
    small = check_simple("app@example.com", {"ToAddresses": ["a@example.org"]}, simple)
    assert small.recipe is not None and small.mime_bytes == b""
    exact = len(build_from_simple("app@example.com", {"ToAddresses": ["a@example.org"]}, simple).mime_bytes)
    near = check_simple("app@example.com", {"ToAddresses": ["a@example.org"]}, simple, max_bytes=exact)
    assert near.recipe is None and len(near.mime_bytes) == exact  # the bound passed the limit: built now
    with pytest.raises(MessageRejected, match=f"Message length is more than {exact - 1} bytes long: '{exact}'"):
        check_simple("app@example.com", {"ToAddresses": ["a@example.org"]}, simple, max_bytes=exact - 1)


def test_attachments_are_built_at_once():
    simple = {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "t"}},
              "Attachments": [{"FileName": "a.txt", "RawContent": b"hello"}]}
    composed = check_simple("app@example.com", {"ToAddresses": ["a@example.org"]}, simple)
    assert composed.recipe is None and b"a.txt" in composed.mime_bytes
