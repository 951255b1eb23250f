"""MX checks at scale: 10,000 active MAIL FROM configurations against the embedded DNS server.

In one process (`Runtime(Options(..., scheduler=False))`, file database in a temp dir):
  1. setup: 10,000 domain identities, each with MAIL FROM domain mail.<identity>; every
     second one gets the right MX record in the embedded zone (so half go SUCCESS, half
     stay PENDING). Done through the facade, in-process.
  2. two forced sweeps (`simulator.run_checks(scope)`, what POST /_sim/checks/run does), end
     to end: MX (+ SPF TXT) lookup over UDP to the embedded server, state machine, SQLite
     commit. Sweep 1 is cold (the DNS server's answer cache is empty) and moves the 5,000
     configs with an MX from PENDING to SUCCESS; sweep 2 is the steady state. The bench wraps
     `resolver.lookup` / `resolver.lookup_many` and the facade's lookup / commit phases on
     the instances, in this script only, to time each lookup (or batch) and each phase.
  3. GetEmailIdentity latency (wrk, keep-alive, 16 then 1 connection, 4 s each) on the same
     runtime's waitress server, idle and then while sweeps run back to back through
     POST /_sim/checks/run (the steady state: 10,000 lookups, no transitions).
  4. `simulator.advance(72 h)` over the same 10,000 configs (5,000 check FOUND; 5,000 check
     MISSING and then pass their deadline -> FAILED), next to the sweep.
Goals: >= 2,000 checks/s; advance(72 h) <= 2x one sweep; GetEmailIdentity p99 < 50 ms
while a sweep runs. Run time: about 50 s (100 s when a sweep takes 20 s) on 2 cores.
"""
from __future__ import annotations

import logging
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

from simulator.core.model import BehaviorOnMxFailure, Scope  # noqa: E402
from simulator.runtime import Options, Runtime  # noqa: E402

N = 10_000
FEEDBACK = "10 feedback-smtp.us-east-1.amazonses.com"
SETUP_BUDGET = 60.0  # seconds; fewer configs are used (and said so) if setup is slower


class PhaseTimer:
    """Times the facade's lookup phase, its commit phase and the resolver's lookups, by
    shadowing the methods on the instances (this script only). A resolver with
    `lookup_many` (pipelined) is timed per batch; plain `lookup` calls one by one."""

    def __init__(self, sim):
        self.sim = sim
        self.lookups: list[float] = []  # seconds per single lookup
        self.batches: list[tuple[int, float]] = []  # (lookups, seconds) per lookup_many call
        self.phases: dict[str, float] = {}
        self._patched: list[tuple[object, str]] = []
        resolver = sim.lookup  # the facade's Lookup port (was `resolver` before the restructure)

        def timed(owner, name, record):
            original = getattr(owner, name)

            def wrapper(*args, **kwargs):
                started = time.perf_counter()
                try:
                    return original(*args, **kwargs)
                finally:
                    record(args, time.perf_counter() - started)

            setattr(owner, name, wrapper)
            self._patched.append((owner, name))

        def phase(label):
            return lambda args, seconds: self.phases.__setitem__(label, self.phases.get(label, 0.0) + seconds)

        timed(resolver, "lookup", lambda args, seconds: self.lookups.append(seconds))
        if hasattr(resolver, "lookup_many"):
            timed(resolver, "lookup_many", lambda args, seconds: self.batches.append((len(args[0]), seconds)))
        timed(sim, "_lookups_for", phase("lookup"))
        timed(sim, "_apply_checks", phase("commit"))

    def reset(self) -> None:
        self.lookups, self.batches, self.phases = [], [], {}

    def remove(self) -> None:
        for owner, name in self._patched:
            owner.__dict__.pop(name, None)

    def describe(self) -> dict:
        """Lookup count and per-lookup figures: measured one by one, or amortized per batch."""
        if self.batches:
            count = sum(n for n, _ in self.batches)
            seconds = sum(t for _, t in self.batches)
            return {"lookups": count, "mode": f"pipelined, {len(self.batches)} batch(es)",
                    "p50_ms": None, "p99_ms": None, "amortized_ms": 1000 * seconds / max(count, 1)}
        return {"lookups": len(self.lookups), "mode": "one lookup per call (16-thread pool)",
                "p50_ms": 1000 * common.percentile(self.lookups, 50),
                "p99_ms": 1000 * common.percentile(self.lookups, 99),
                "amortized_ms": 1000 * self.phases.get("lookup", 0.0) / max(len(self.lookups), 1)}


def setup(sim, scope: Scope) -> tuple[int, float]:
    started = time.perf_counter()
    count = 0
    for i in range(N):
        name = f"d{i:05d}.example.com"
        sim.create_identity(scope, name)
        sim.put_mail_from(scope, name, f"mail.{name}", BehaviorOnMxFailure.USE_DEFAULT_VALUE)
        if i % 2 == 0:
            sim.add_dns_record(f"mail.{name}", "MX", FEEDBACK)
        count += 1
        if time.perf_counter() - started > SETUP_BUDGET:
            break
    return count, time.perf_counter() - started


def timed_sweep(sim, scope: Scope, timer: PhaseTimer) -> dict:
    timer.reset()
    started = time.perf_counter()
    results = sim.run_checks(scope)
    elapsed = time.perf_counter() - started
    transitions = sum(len(r["transitions"]) for r in results)
    outcomes: dict[str, int] = {}
    for r in results:
        outcome = (r["lookup"] or {}).get("outcome", "none")
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return {"checks": len(results), "seconds": elapsed, "rate": len(results) / elapsed,
            "transitions": transitions, "outcomes": outcomes,
            "lookup_s": timer.phases.get("lookup", 0.0), "commit_s": timer.phases.get("commit", 0.0),
            **timer.describe()}


class BackgroundSweeps(threading.Thread):
    """POST /_sim/checks/run (the HTTP path a user would use) back to back until stopped."""

    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.url = url
        self.stop_event = threading.Event()
        self.durations: list[float] = []
        self.failures: list[str] = []

    def run(self) -> None:
        while not self.stop_event.is_set():
            started = time.perf_counter()
            request = urllib.request.Request(self.url + "/_sim/checks/run", data=b"{}", method="POST",
                                             headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=120) as response:
                    response.read()  # not parsed: that would compete with the server for the GIL
                    if response.status != 200:
                        self.failures.append(f"HTTP {response.status}")
            except Exception as exc:  # reported, never fatal
                self.failures.append(repr(exc))
                return
            self.durations.append(time.perf_counter() - started)


def opt(value) -> str:
    return "-" if value is None else f"{value:.1f}"


def main() -> int:
    common.require_wrk()
    logging.getLogger("waitress").setLevel(logging.ERROR)  # "Task queue depth" under load is expected here
    started = time.monotonic()
    scope = Scope()
    with tempfile.TemporaryDirectory(prefix="mailfrom-bench-") as tmp:
        runtime = Runtime(Options(host=common.LOOPBACK, port=0, dns_port=0, db=str(Path(tmp) / "checks.db"),
                                  check_interval=60, scheduler=False)).start()
        try:
            sim = runtime.simulator
            print(f"bench_checks: {common.machine_line()}; embedded DNS {runtime.dns_address}", flush=True)
            count, setup_s = setup(sim, scope)
            print(f"  setup: {count} identities + MAIL FROM domains ({count // 2 + count % 2} MX records) "
                  f"in {setup_s:.1f} s", flush=True)

            timer = PhaseTimer(sim)
            sweeps = []
            for label in ("sweep 1: cold (5,000 PENDING -> SUCCESS)", "sweep 2: steady state"):
                figures = timed_sweep(sim, scope, timer)
                figures["label"] = label
                sweeps.append(figures)
                print(f"  {label}: {figures['checks']} checks in {figures['seconds']:.2f} s = "
                      f"{figures['rate']:.0f} checks/s; outcomes {figures['outcomes']}", flush=True)
            timer.remove()
            sweep = sweeps[0]

            # --- API latency, idle and while sweeps run ---------------------------------
            # Sweeps through POST /_sim/checks/run back to back (the steady state: no
            # transitions) while wrk measures 16 connections, then 1 connection.
            target = f"{runtime.url}/v2/email/identities/d00001.example.com"
            script = common.wrk_script("GET")
            # Warm-up: one request alone first. Each operation's first request loads the botocore
            # model in the request path; 16 first requests at once would each load it.
            common.http("GET", target, headers={"Authorization": common.AUTH_HEADER})
            common.run_wrk(target, script, connections=16, duration=1)
            idle = {c: common.run_wrk(target, script, connections=c, duration=3) for c in (16, 1)}
            window = 4
            background = BackgroundSweeps(runtime.url)
            background.start()
            time.sleep(0.3)  # a sweep is under way before the first measured request
            busy = {c: common.run_wrk(target, script, connections=c, duration=window) for c in (16, 1)}
            background.stop_event.set()
            background.join(timeout=120)  # at most the sweep in progress
            background_s = (sum(background.durations) / len(background.durations)
                            if background.durations else float("nan"))
            latency_rows = [(c, idle[c], busy[c]) for c in (16, 1)]
            for c, i, b in latency_rows:
                print(f"  GetEmailIdentity c{c}: idle p99 {common.ms(i['p99_us'])} ms, "
                      f"during the sweep p99 {common.ms(b['p99_us'])} ms", flush=True)
            print(f"  background sweeps over HTTP: {len(background.durations)}, {background_s:.2f} s each"
                  + (f", failures: {background.failures}" if background.failures else ""), flush=True)

            # --- advance 72 h ------------------------------------------------------------
            timer = PhaseTimer(sim)
            advance_started = time.perf_counter()
            advanced = sim.advance(72 * 3600)
            advance_s = time.perf_counter() - advance_started
            advance_phases = dict(timer.phases)
            advance_lookups = timer.describe()
            timer.remove()
            print(f"  advance(72 h): {advance_s:.2f} s, {advanced['checked']} configs, "
                  f"{advanced['transitions']} transitions", flush=True)
        finally:
            runtime.stop()

    common.table(
        ["run", "configs", "seconds", "checks/s", "lookups", "lookup phase s", "commit phase s",
         "per lookup ms (amortized)", "lookup p50 ms", "lookup p99 ms", "transitions"],
        [[s["label"], s["checks"], f"{s['seconds']:.2f}", f"{s['rate']:.0f}", s["lookups"],
          f"{s['lookup_s']:.2f}", f"{s['commit_s']:.2f}", f"{s['amortized_ms']:.3f}",
          opt(s["p50_ms"]), opt(s["p99_ms"]), s["transitions"]] for s in sweeps]
        + [
         ["sweep via HTTP, under API load", count, f"{background_s:.2f}", f"{count / background_s:.0f}",
          "-", "-", "-", "-", "-", "-", "-"],
         ["advance(72 h)", advanced["checked"], f"{advance_s:.2f}", f"{advanced['checked'] / advance_s:.0f}",
          advance_lookups["lookups"], f"{advance_phases.get('lookup', 0):.2f}",
          f"{advance_phases.get('commit', 0):.2f}", f"{advance_lookups['amortized_ms']:.3f}",
          opt(advance_lookups["p50_ms"]), opt(advance_lookups["p99_ms"]), advanced["transitions"]]],
        title=f"bench_checks: forced sweep and advance over {count} configs (embedded DNS, file database)",
    )
    print(f"  (lookups: {sweep['mode']}. A lookup is the MX query plus, unless NXDOMAIN, the advisory SPF TXT "
          "query; p50/p99 exist only when lookups run one per call. A sweep also selects the configs and commits "
          "in 256-row transactions.)")
    common.table(
        ["connections", "idle req/s", "idle p50 ms", "idle p99 ms", "sweeping req/s", "sweeping p50 ms",
         "sweeping p99 ms", "sweeping max ms"],
        [[c, f"{i['rps']:.0f}", common.ms(i["p50_us"]), common.ms(i["p99_us"]), f"{b['rps']:.0f}",
          common.ms(b["p50_us"]), common.ms(b["p99_us"]), common.ms(b["max_us"])]
         for c, i, b in latency_rows],
        title=f"GetEmailIdentity latency (wrk, keep-alive; {window} s per run) idle and while "
              f"POST /_sim/checks/run sweeps run back to back ({len(background.durations)} sweeps)",
    )
    busy16, busy1 = latency_rows[0][2], latency_rows[1][2]
    common.table(
        ["goal", "measured", "result"],
        [[">= 2,000 checks/s (sweep 1, cold)", f"{sweep['rate']:.0f}", common.goal(sweep["rate"] >= 2000)],
         [">= 2,000 checks/s (sweep 2, steady state)", f"{sweeps[1]['rate']:.0f}",
          common.goal(sweeps[1]["rate"] >= 2000)],
         ["advance(72 h) <= 2x one sweep (sweep 2)", f"{advance_s / sweeps[1]['seconds']:.2f}x",
          common.goal(advance_s <= 2 * sweeps[1]["seconds"])],
         ["GetEmailIdentity p99 < 50 ms during a sweep (16 conns)", f"{common.ms(busy16['p99_us'])} ms",
          common.goal(busy16["p99_us"] < 50000)],
         ["GetEmailIdentity p99 < 50 ms during a sweep (1 conn)", f"{common.ms(busy1['p99_us'])} ms",
          common.goal(busy1["p99_us"] < 50000)]],
        title="goals",
    )
    print(f"\n(total run time {time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
