"""Identity verification checks at scale: 10,000 domain identities in `dns` verification
mode (SPEC §12) against the embedded DNS server.

In one process (`Runtime(Options(..., identity_verification="dns", scheduler=False))`, file
database in a temp dir), like bench_checks.py:
  1. setup, through the facade in-process: 10,000 domain identities (each starts PENDING
     with three Easy DKIM tokens; no DKIM key is made: keys are made the first time a
     domain signs a message, see simulator/mailauth/keys.py, so no key-size option is
     needed); every second one gets its three CNAMEs `<token>._domainkey.<domain>` ->
     `<token>.dkim.amazonses.com` through the facade's DNS record API (15,000 records),
     so half go SUCCESS and half stay PENDING (NXDOMAIN).
  2. two forced sweeps (`simulator.run_checks(scope)`, what POST /_sim/checks/run does), end
     to end: the three CNAME questions of every identity pipelined over UDP to the embedded
     server (`resolve_many`), the verdict, the state machine, SQLite commit. Sweep 1 is cold
     (the DNS server's answer cache is empty) and moves 5,000 identities from PENDING to
     SUCCESS; sweep 2 is the steady state. A "check" is one identity's verification check
     (its 3 CNAME questions). The bench wraps `lookup.resolve_many` and the facade's lookup /
     commit phases on the instances, in this script only, to time each phase.
Goal (issue 15): a sweep of 10,000 identities' DKIM checks >= 2,000 checks/s. Each sweep gets
a goal row; the row recorded for `make bench` is MET only when both sweeps reach it.
`--identities N` for a quick run (not for figures). Run time: about 40 s on 2 cores.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
from bench_checks import PhaseTimer  # noqa: E402

from simulator.core.model import Scope  # noqa: E402
from simulator.runtime import Options, Runtime  # noqa: E402

N = 10_000
GOAL = 2000
GOAL_NAME = "Sweep of 10,000 identities' DKIM verification checks: >= 2,000 checks/s"


def setup(sim, scope: Scope, count: int) -> tuple[int, float]:
    """`count` domain identities, every second one with its three DKIM CNAMEs. Returns (records, seconds)."""
    started = time.perf_counter()
    records = 0
    for i in range(count):
        identity = sim.create_identity(scope, f"d{i:05d}.example.com")
        if i % 2 == 0:
            for token in identity.dkim_tokens:
                sim.add_dns_record(f"{token}._domainkey.{identity.name}", "CNAME", f"{token}.dkim.amazonses.com")
                records += 1
    return records, time.perf_counter() - started


class QuestionCounter:
    """Counts the questions `resolve_many` is asked, by shadowing it on the instance (this script only)."""

    def __init__(self, resolver):
        self.resolver = resolver
        self.questions = 0
        original = resolver.resolve_many

        def counted(questions, *args, **kwargs):
            self.questions += len(questions)
            return original(questions, *args, **kwargs)

        resolver.resolve_many = counted

    def remove(self) -> None:
        self.resolver.__dict__.pop("resolve_many", None)


def timed_sweep(sim, scope: Scope, timer: PhaseTimer, counter: QuestionCounter) -> dict:
    timer.reset()
    counter.questions = 0
    started = time.perf_counter()
    results = sim.run_checks(scope)
    elapsed = time.perf_counter() - started
    results = [r for r in results if r["check"] == "verification"]
    outcomes: dict[str, int] = {}
    statuses: dict[str, int] = {}
    for r in results:
        outcome = (r["lookup"] or {}).get("outcome", "none")
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        statuses[r["to"]] = statuses.get(r["to"], 0) + 1
    return {"checks": len(results), "seconds": elapsed, "rate": len(results) / elapsed,
            "transitions": sum(len(r["transitions"]) for r in results), "outcomes": outcomes,
            "statuses": statuses, "questions": counter.questions,
            "lookup_s": timer.phases.get("lookup", 0.0), "commit_s": timer.phases.get("commit", 0.0)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--identities", type=int, default=N, help="domain identities (the goal's size: 10,000)")
    args = parser.parse_args()
    started = time.monotonic()
    scope = Scope()
    with tempfile.TemporaryDirectory(prefix="mailfrom-bench-") as tmp:
        runtime = Runtime(Options(host=common.LOOPBACK, port=0, dns_port=0, db=str(Path(tmp) / "verification.db"),
                                  check_interval=60, scheduler=False, identity_verification="dns")).start()
        try:
            sim = runtime.simulator
            print(f"bench_verification: {common.machine_line()}; embedded DNS {runtime.dns_address}", flush=True)
            records, setup_s = setup(sim, scope, args.identities)
            print(f"  setup: {args.identities} domain identities (dns verification), {records} DKIM CNAME records "
                  f"in {setup_s:.1f} s", flush=True)
            timer = PhaseTimer(sim)
            counter = QuestionCounter(sim.lookup)
            sweeps = []
            for label in (f"sweep 1: cold ({args.identities // 2 + args.identities % 2} PENDING -> SUCCESS)",
                          "sweep 2: steady state"):
                figures = timed_sweep(sim, scope, timer, counter)
                figures["label"] = label
                sweeps.append(figures)
                print(f"  {label}: {figures['checks']} checks in {figures['seconds']:.2f} s = "
                      f"{figures['rate']:.0f} checks/s; outcomes {figures['outcomes']}, now {figures['statuses']}",
                      flush=True)
            counter.remove()
            timer.remove()
        finally:
            runtime.stop()

    common.table(
        ["run", "checks", "seconds", "checks/s", "CNAME questions", "lookup phase s", "commit phase s",
         "transitions"],
        [[s["label"], s["checks"], f"{s['seconds']:.2f}", f"{s['rate']:.0f}", s["questions"], f"{s['lookup_s']:.2f}",
          f"{s['commit_s']:.2f}", s["transitions"]] for s in sweeps],
        title=f"bench_verification: forced sweep over {args.identities} domain identities "
              "(dns verification, embedded DNS, file database)",
    )
    print("  (a check is one identity's verification: its three DKIM CNAME questions, all of a sweep's "
          "questions pipelined in one batch; commits in 500-row transactions.)")
    cold, steady = sweeps
    at_size = args.identities >= N
    rows = [[f">= {GOAL:,} checks/s (sweep 1, cold)", f"{cold['rate']:.0f}", common.goal(cold["rate"] >= GOAL)],
            [f">= {GOAL:,} checks/s (sweep 2, steady state)", f"{steady['rate']:.0f}",
             common.goal(steady["rate"] >= GOAL)]]
    if at_size:
        common.record_goal(GOAL_NAME, f"cold {cold['rate']:.0f}, steady {steady['rate']:.0f} checks/s", "-",
                           cold["rate"] >= GOAL and steady["rate"] >= GOAL)
    common.table(["goal", "measured", "result"], rows,
                 title="goals" + ("" if at_size else f" (not recorded: {args.identities} identities, not {N:,})"))
    print(f"\n(total run time {time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
