"""Composing SendEmail's Simple content in-process: µs per call, no server.

Times `build_from_simple` + `delivered_mime` (what `Simulator.send_email` does to a
message) for a few message shapes, and each step on its own. Prints figures only;
asserts nothing about timing. Run time: ~10 s.
"""
from __future__ import annotations

import argparse
import sys
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from simulator import mail  # noqa: E402

MESSAGE_ID = "0100018c3f2a9b1e-6a1f4c2e-8d3b-4b7a-9f21-3c5d7e9a1b2c-000000"
ENVELOPE_FROM = f"{MESSAGE_ID}@mail.example.com"
TEXT = "Hello from bench_send.py.\n" * 8
HTML = "<html><body>" + "<p>Hello from bench_send.py.</p>\n" * 8 + "</body></html>"

SHAPES = {
    # What bench_send.py posts: the typical small message.
    "typical (text only, as bench_send)": (
        "app@example.com", {"ToAddresses": ["user@example.org"]},
        {"Subject": {"Data": "bench"}, "Body": {"Text": {"Data": TEXT}}}, None),
    "text + html, names, cc, reply-to, 2 custom headers": (
        "App <app@example.com>", {"ToAddresses": ["Ann <ann@example.org>"], "CcAddresses": ["c@example.org"]},
        {"Subject": {"Data": "Your order has shipped"},
         "Body": {"Text": {"Data": TEXT}, "Html": {"Data": HTML}},
         "Headers": [{"Name": "X-Campaign", "Value": "spring"},
                     {"Name": "List-Unsubscribe", "Value": "<mailto:unsub@example.com>"}]},
        ["replies@example.com"]),
    "utf-8 subject and body": (
        "app@example.com", {"ToAddresses": ["user@example.org"]},
        {"Subject": {"Data": "Grüße aus Köln"}, "Body": {"Text": {"Data": "Schöne Grüße.\n" * 8}}}, None),
}


def per_call_us(function) -> float:
    """Best of 5 runs of ~0.2 s each: the least disturbed by whatever else the box runs."""
    timer = timeit.Timer(function)
    number, _ = timer.autorange()
    return min(timer.repeat(repeat=5, number=number)) / number * 1e6


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    print(f"{'shape':55} {'build':>9} {'delivered':>10} {'total':>9}  (µs per call)")
    for name, (source, destination, simple, reply_to) in SHAPES.items():
        composed = mail.build_from_simple(source, destination, simple, reply_to)
        build = per_call_us(lambda: mail.build_from_simple(source, destination, simple, reply_to))
        deliver = per_call_us(lambda: mail.delivered_mime(
            composed, MESSAGE_ID, "us-east-1", 1_700_000_000.25, ENVELOPE_FROM))
        both = per_call_us(lambda: mail.delivered_mime(
            mail.build_from_simple(source, destination, simple, reply_to),
            MESSAGE_ID, "us-east-1", 1_700_000_000.25, ENVELOPE_FROM))
        print(f"{name:55} {build:9.1f} {deliver:10.1f} {both:9.1f}")


if __name__ == "__main__":
    main()
