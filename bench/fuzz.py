"""A long seeded fuzz run (default 24,000 requests) against a real `mailfrom-sim serve`
process: the hostile requests of tests/fuzzing.py (non-finite numbers, deep nesting, lone
surrogates, line breaks in header fields, cross-site and rebinding headers). Prints the
status counts and every answer that is a 5xx or not in its caller's protocol; afterwards
checks the server still answers health. `python bench/fuzz.py [COUNT] [SEED]`.
Figures are printed, never asserted; the exit status is 1 if there was any problem.
"""
from __future__ import annotations

import collections
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

sys.path.insert(0, str(common.ROOT))
from tests import fuzzing  # noqa: E402


def main() -> int:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 24_000
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 20261214
    processes = common.Processes()
    try:
        with tempfile.TemporaryDirectory() as folder:
            sim = common.Simulator(processes, str(Path(folder) / "fuzz.db")).start()
            common.aws_client("sesv2", sim.url).create_email_identity(EmailIdentity="example.com")
            started = time.monotonic()
            figures = fuzzing.run(sim.url, count, seed)
            elapsed = time.monotonic() - started
            status, answer = common.http("GET", sim.url + "/_sim/health")
            health = f"{status} {answer.get('data', {}).get('status')}"
            sim.stop()
    finally:
        processes.close()
    problems = figures["problems"]
    kinds = collections.Counter(what for _, what, _, _ in problems)
    fivexx = sum(n for status, n in figures["statuses"].items() if status >= 500)
    print(f"fuzz: {count} requests (seed {seed}) in {elapsed:.1f} s ({count / elapsed:.0f}/s)")
    print(f"statuses: {figures['statuses']}")
    print(f"5xx: {fivexx}; answers not in their caller's protocol: {len(problems) - kinds.get('500', 0)}")
    print(f"health afterwards: {health}")
    for what, n in kinds.most_common():
        print(f"  {n} x {what}")
    for index, what, request, body in problems[:20]:
        print(f"  #{index} {what}: {request} -> {body[:120]!r}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
