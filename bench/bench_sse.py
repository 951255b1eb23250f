"""SendEmail throughput with and without connected /_sim/events clients.

wrk (keep-alive, 16 connections, one wrk thread) posts SES v2 SendEmail
(POST /v2/email/outbound-emails, Content.Simple) to `mailfrom-sim serve` (child
process, file database in a temp dir), first with no event-stream client, then
with 20 clients connected to GET /_sim/events, each reading every event (a
`sent` event per accepted message) in a thread of this script. The two setups
alternate, ROUNDS times each; the better run of each is reported.
Goal (issue 16): with 20 SSE clients, SendEmail stays >= 0.9x its rate without them.
Run time: about 4 x DURATION + start-up (~30 s by default; --duration 1 for a quick look).
"""
from __future__ import annotations

import argparse
import http.client
import sys
import tempfile
import threading
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
from bench_send import BODY  # noqa: E402  (the same SendEmail request)

CONNECTIONS = 16
SSE_CLIENTS = 20
ROUNDS = 2


class SseReader(threading.Thread):
    """One /_sim/events client that reads (and counts) every event until closed."""

    def __init__(self, url: str):
        super().__init__(daemon=True)
        parts = urllib.parse.urlsplit(url)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        self.conn.request("GET", "/_sim/events", headers={"Accept": "text/event-stream"})
        self.sock = self.conn.sock  # getresponse() may hand the socket to the response
        self.response = self.conn.getresponse()
        if self.response.status != 200:
            raise RuntimeError(f"/_sim/events answered {self.response.status}: {self.response.read()[:300]!r}")
        self.events = 0
        self.start()

    def run(self) -> None:
        tail = b""
        try:
            while True:
                chunk = self.response.read1(65536)
                if not chunk:
                    return
                data = tail + chunk
                self.events += data.count(b"\nevent: ") - tail.count(b"\nevent: ")
                tail = data[-8:]
        except (OSError, ValueError, AttributeError, http.client.HTTPException):
            pass  # closed by close() (http.client drops its file mid-read: AttributeError)

    def close(self) -> None:
        try:
            self.sock.shutdown(2)
        except OSError:
            pass
        self.conn.close()
        self.join(10)


def measure(sim: common.Simulator, clients: int, duration: float) -> dict:
    """One wrk run, then the wait until every message it sent is sealed -- and announced: the
    `sent` events of messages answered before they were sealed go out as they are sealed."""
    url = sim.url
    readers = [SseReader(url) for _ in range(clients)]
    try:
        script = common.wrk_script("POST", BODY, {"Content-Type": "application/json"})
        figures = common.run_wrk(url + "/v2/email/outbound-emails", script, connections=CONNECTIONS,
                                 duration=duration)
        waited, seconds = common.wait_sealed(sim)
    finally:
        for reader in readers:
            reader.close()
    figures["clients"] = clients
    figures["end_to_end"] = figures["requests"] / (duration + seconds)
    figures["events_per_client"] = min((r.events for r in readers), default=0)
    print(f"  {clients:>2} SSE clients: {figures['rps']:.0f} req/s, p99 {common.ms(figures['p99_us'])} ms, "
          f"errors {figures['errors']}, fewest events read by one client {figures['events_per_client']}; "
          f"{common.sealed_line(figures['requests'], duration, waited, seconds)}", flush=True)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    args = parser.parse_args()
    common.require_wrk()
    processes = common.Processes()
    with tempfile.TemporaryDirectory(prefix="bench-sse-") as tmp:
        sim = common.Simulator(processes, str(Path(tmp) / "sim.db"), "--log-level", "WARNING").start()
        try:
            status, payload = common.http("POST", sim.url + "/v2/email/identities", {"EmailIdentity": "example.com"},
                                          headers={"Authorization": common.AUTH_HEADER})
            assert status == 200, payload
            print(f"SendEmail, wrk {CONNECTIONS} connections, {args.duration:g} s per run, "
                  f"{args.rounds} rounds; {common.machine_line()}", flush=True)
            measure(sim, 0, 1.0)  # warm-up
            best = {0: None, SSE_CLIENTS: None}
            for _ in range(args.rounds):
                for clients in best:
                    run = measure(sim, clients, args.duration)
                    if best[clients] is None or run["rps"] > best[clients]["rps"]:
                        best[clients] = run
        finally:
            sim.stop()
    without, with_clients = best[0], best[SSE_CLIENTS]
    common.table(["SSE clients", "req/s", "p50 ms", "p99 ms", "errors", "events read (fewest)",
                  "end to end msg/s (run + backlog)"],
                 [[r["clients"], f"{r['rps']:.0f}", common.ms(r["p50_us"]), common.ms(r["p99_us"]), r["errors"],
                   r["events_per_client"], f"{r['end_to_end']:.0f}"] for r in (without, with_clients)],
                 "SendEmail (best run of each)")
    ratio = with_clients["rps"] / without["rps"] if without["rps"] else 0.0
    delivered = with_clients["events_per_client"] > 0
    common.table(["goal", "figure", ""],
                 [[f"SendEmail with {SSE_CLIENTS} SSE clients >= 0.9x without", f"{ratio:.2f}x",
                   common.goal(ratio >= 0.9)],
                  ["every SSE client received the sends' events", str(with_clients["events_per_client"]),
                   common.goal(delivered)],
                  ["(not a goal) end to end with vs without",
                   f"{with_clients['end_to_end'] / without['end_to_end']:.2f}x", ""]], "goals")
    return 0


if __name__ == "__main__":
    sys.exit(main())
