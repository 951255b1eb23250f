"""Throughput of a check's DNS path against the embedded server holding ~10,000
MAIL FROM domains, all in one process as in `mailfrom-sim serve`:
MxResolver.lookup (MX + SPF TXT queries) from a thread pool, then
MxResolver.lookup_many (the same queries pipelined over one socket).

    .venv/bin/python bench/bench_dns.py [--names 10000] [--threads 12] [--rounds 2] [--skip-lookup]

Round 1 of each meets a cold answer cache in the server (a zone change empties
it); later rounds a warm one, as the scheduler's periodic re-checks do.
lookup_many's results are compared with lookup's, name by name.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from simulator.core.model import LookupOutcome  # noqa: E402
from simulator.core.verdicts import SPF_RECORD  # noqa: E402
from simulator.lookup.resolver import MxResolver  # noqa: E402
from simulator.nameserver.server import EmbeddedDnsServer  # noqa: E402
from simulator.nameserver.zone import Zone  # noqa: E402

REGION = "us-east-1"
FEEDBACK = f"feedback-smtp.{REGION}.amazonses.com"


def build_zone(names: int) -> tuple[Zone, list[tuple[str, LookupOutcome]]]:
    """A zone mixing the four everyday cases, and what each lookup should say."""
    zone = Zone()
    expected = []
    for i in range(names):
        domain = f"mail{i}.customer{i % 997}.example.com"
        kind = i % 4
        if kind == 0:  # set up right
            zone.add(domain, "MX", f"10 {FEEDBACK}")
            zone.add(domain, "TXT", SPF_RECORD)
            expected.append((domain, LookupOutcome.FOUND))
        elif kind == 1:  # MX pointing elsewhere
            zone.add(domain, "MX", "10 mx.elsewhere.example.net")
            expected.append((domain, LookupOutcome.MISSING))
        elif kind == 2:  # only the SPF published so far
            zone.add(domain, "TXT", SPF_RECORD)
            expected.append((domain, LookupOutcome.MISSING))
        else:  # nothing yet: NXDOMAIN
            expected.append((domain, LookupOutcome.MISSING))
    return zone, expected


def run_round(resolver: MxResolver, expected, threads: int, check_spf: bool = True) -> dict:
    def timed(item):
        domain, want = item
        started = time.perf_counter()
        result = resolver.lookup(domain, REGION, check_spf=check_spf)
        return time.perf_counter() - started, result.outcome, want, result

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        results = list(pool.map(timed, expected))
    elapsed = time.perf_counter() - started
    latencies = sorted(latency for latency, _, _, _ in results)
    return {
        "results": [result for _, _, _, result in results],
        "elapsed": elapsed,
        "rate": len(results) / elapsed,
        "p50": statistics.median(latencies),
        "p99": latencies[int(len(latencies) * 0.99) - 1],
        "outcomes": Counter(outcome.value for _, outcome, _, _ in results),
        "wrong": sum(outcome is not want for _, outcome, want, _ in results),
    }


def run_batch(resolver: MxResolver, expected, check_spf: bool = True) -> dict:
    """One lookup_many over every name."""
    items = [(domain, REGION) for domain, _ in expected]
    started = time.perf_counter()
    results = resolver.lookup_many(items, check_spf=check_spf)
    elapsed = time.perf_counter() - started
    return {
        "results": results,
        "elapsed": elapsed,
        "rate": len(results) / elapsed,
        "outcomes": Counter(result.outcome.value for result in results),
        "wrong": sum(result.outcome is not want for result, (_, want) in zip(results, expected)),
        "stats": resolver.last_batch_stats,
    }


def _blast(address: tuple[str, int], names: list[str], window: int, results) -> None:
    """Runs in a child process: raw pre-rendered MX queries, `window` in flight."""
    import socket

    import dns.message

    wires = [dns.message.make_query(name, "MX").to_wire() for name in names]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect(address)
        sock.settimeout(1.0)
        answered = 0
        started = time.perf_counter()
        for offset in range(0, len(wires), window):
            batch = wires[offset : offset + window]
            for wire in batch:
                sock.send(wire)
            for _ in batch:
                try:
                    sock.recv(65535)
                    answered += 1
                except OSError:
                    break
        results.put((answered, len(wires), time.perf_counter() - started))


def server_rate(server: EmbeddedDnsServer, names: list[str], window: int = 32) -> tuple[float, int, int]:
    """Queries/s the server answers when its client is another process (no shared GIL)."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    child = context.Process(target=_blast, args=(server.address, names, window, results))
    child.start()
    answered, sent, elapsed = results.get(timeout=300)
    child.join()
    return answered / elapsed, answered, sent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--names", type=int, default=10_000)
    parser.add_argument("--threads", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=2.0)
    parser.add_argument("--no-spf", action="store_true", help="skip the advisory SPF TXT query")
    parser.add_argument("--skip-lookup", action="store_true", help="bench lookup_many only")
    args = parser.parse_args()

    zone, expected = build_zone(args.names)
    with EmbeddedDnsServer(zone, port=0) as server:
        resolver = MxResolver(server.address, timeout=args.timeout)
        print(
            f"{args.names} names, {len(zone)} records, {args.threads} threads, "
            f"SPF {'skipped' if args.no_spf else 'looked up'}, server {server.host}:{server.port}"
        )
        reference = None
        if not args.skip_lookup:
            for round_number in range(1, args.rounds + 1):
                if round_number == 1:
                    zone.add("bump.example.com", "A", "192.0.2.1")  # a change empties the server's answer cache
                stats = run_round(resolver, expected, args.threads, check_spf=not args.no_spf)
                reference = reference or stats["results"]
                print(
                    f"lookup      round {round_number}: {stats['rate']:6.0f} lookups/s in {stats['elapsed']:.2f} s, "
                    f"p50 {stats['p50'] * 1000:.2f} ms, p99 {stats['p99'] * 1000:.2f} ms, "
                    f"outcomes {dict(stats['outcomes'])}, wrong {stats['wrong']}"
                )
                if stats["wrong"]:
                    return 1
        for round_number in range(1, args.rounds + 1):
            if round_number == 1:
                zone.add(f"bump{round_number}.example.com", "A", "192.0.2.1")  # cold answer cache again
            stats = run_batch(resolver, expected, check_spf=not args.no_spf)
            differing = None if reference is None else sum(a != b for a, b in zip(stats["results"], reference))
            print(
                f"lookup_many round {round_number}: {stats['rate']:6.0f} lookups/s in {stats['elapsed']:.2f} s, "
                f"outcomes {dict(stats['outcomes'])}, wrong {stats['wrong']}, "
                f"{'' if differing is None else f'differing from lookup {differing}, '}engine {stats['stats']}"
            )
            if stats["wrong"] or differing:
                return 1
        names = [domain for domain, _ in expected]
        for label in ("cold", "warm"):
            if label == "cold":
                zone.add("bump-server.example.com", "A", "192.0.2.1")  # a change empties the server's answer cache
            rate, answered, sent = server_rate(server, names)
            print(f"server alone ({label} answer cache, client in another process): {rate:6.0f} queries/s, {answered}/{sent} answered")
    return 0


if __name__ == "__main__":
    sys.exit(main())
