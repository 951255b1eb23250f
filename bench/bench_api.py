"""API throughput and latency: GetEmailIdentity and PutEmailIdentityMailFromAttributes.

wrk (keep-alive, 16 connections, one wrk thread) drives, one after the other:
  * mailfrom-sim  GET /v2/email/identities/example.com          (GetEmailIdentity)
  * moto_server   the same request                              (GetEmailIdentity)
  * mailfrom-sim  PUT /v2/email/identities/example.com/mail-from (alternating between two
                  MAIL FROM domains, so every request is a real transition + history row)
  * moto_server   v1 SetIdentityMailFromDomain, its nearest equivalent (moto has no v2 Put)
  * a bare Flask "hello" app on each candidate HTTP server (common.HELLO_SERVERS: granian
    embedded as the simulator runs it, with the simulator's whole pool of 48 threads (16 for
    the API, 32 kept for event streams) and its response class; the same with Flask's default
    Response; then at 16 app threads each, side by side: granian embedded, granian's own
    server, waitress, gunicorn gthread, cheroot). The first is the simulator's own ceiling:
    what it could reach if its Python cost were zero. (Its response class hands a whole body
    to the server as a list, not as werkzeug's closing iterator; the simulator's answers go
    that way, so its ceiling does too. With Flask's default Response the bare app is slower,
    which the second row shows.)
Before all that, 16 first GetEmailIdentity requests at once on the fresh simulator (cold start).

The simulator is `mailfrom-sim serve` in a child process with a file database in a
temporary directory. moto_server answers every request with `Connection: close`, so
its figures include a TCP connect per request: that is how moto serves clients.
Goals (issue 11): GetEmailIdentity >= 5x moto in the same run and >= 60 % of the ceiling
on the simulator's server, p99 < 20 ms.
Each target runs twice, interleaved, and the better run is reported (the machine may be
shared). Run time: about 65 s.
"""
from __future__ import annotations

import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

CONNECTIONS = 16
DURATION = 5.0
WARMUP = 1.0
ROUNDS = 2  # interleaved; the best round of each target is reported (the machine is shared)
IDENTITY = "example.com"

PUT_ALTERNATING = r"""
local bodies = {
  '{"MailFromDomain": "mail.example.com", "BehaviorOnMxFailure": "USE_DEFAULT_VALUE"}',
  '{"MailFromDomain": "bounce.example.com", "BehaviorOnMxFailure": "REJECT_MESSAGE"}',
}
local n = 0
request = function()
  n = n + 1
  return wrk.format(nil, nil, nil, bodies[n % 2 + 1])
end
"""

MOTO_V1_ALTERNATING = r"""
local bodies = {
  "Action=SetIdentityMailFromDomain&Version=2010-12-01&Identity=example.com&MailFromDomain=mail.example.com&BehaviorOnMXFailure=UseDefaultValue",
  "Action=SetIdentityMailFromDomain&Version=2010-12-01&Identity=example.com&MailFromDomain=bounce.example.com&BehaviorOnMXFailure=RejectMessage",
}
local n = 0
request = function()
  n = n + 1
  return wrk.format(nil, nil, nil, bodies[n % 2 + 1])
end
"""


def measure(label: str, url: str, script: str, round_: int) -> dict:
    figures = common.run_wrk(url, script, connections=CONNECTIONS, duration=DURATION)
    figures["label"] = label
    print(f"  round {round_}: {label}: {figures['rps']:.0f} req/s, p50 {common.ms(figures['p50_us'])} ms, "
          f"p99 {common.ms(figures['p99_us'])} ms, errors {figures['errors']}", flush=True)
    return figures


def preflight(method: str, url: str, body: bytes | None, content_type: str) -> None:
    request = urllib.request.Request(url, data=body, method=method,
                                     headers={"Authorization": common.AUTH_HEADER, "Content-Type": content_type})
    with urllib.request.urlopen(request, timeout=10) as response:
        if response.status != 200:
            raise RuntimeError(f"{method} {url}: HTTP {response.status}")


def cold_start(url: str, clients: int = CONNECTIONS) -> tuple[float, float, float]:
    """`clients` first GetEmailIdentity requests at once on a fresh simulator, then one more:
    (slowest ms, median ms, next request ms)."""
    times: list[float] = []

    def get() -> None:
        request = urllib.request.Request(url, headers={"Authorization": common.AUTH_HEADER})
        started = time.perf_counter()
        with urllib.request.urlopen(request, timeout=60) as response:
            response.read()
        times.append(1000 * (time.perf_counter() - started))

    threads = [threading.Thread(target=get) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    first = sorted(times)
    times.clear()
    get()
    return first[-1], first[len(first) // 2], times[0]


def main() -> int:
    common.require_wrk()
    processes = common.Processes()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="mailfrom-bench-") as tmp:
        try:
            sim = common.Simulator(processes, str(Path(tmp) / "sim.db")).start()
            status, _ = common.http("POST", f"{sim.url}/v2/email/identities", {"EmailIdentity": IDENTITY})
            assert status == 200, status
            status, _ = common.http("PUT", f"{sim.url}/v2/email/identities/{IDENTITY}/mail-from",
                                    {"MailFromDomain": f"mail.{IDENTITY}", "BehaviorOnMxFailure": "USE_DEFAULT_VALUE"})
            assert status == 200, status

            _, moto_url = common.start_moto(processes)
            common.aws_client("sesv2", moto_url).create_email_identity(EmailIdentity=IDENTITY)
            hellos = {}
            for kind in common.HELLO_SERVERS:
                try:
                    hellos[kind] = common.start_hello(processes, kind)[1]
                except RuntimeError as error:
                    if not hellos:  # the simulator's own ceiling: the goal needs it
                        raise
                    print(f"  {common.HELLO_SERVERS[kind]}: {error}; left out of this run", flush=True)

            get_script = common.wrk_script("GET")
            put_script = common.wrk_script("PUT", '{}', {"Content-Type": "application/json"}, PUT_ALTERNATING)
            moto_v1_script = common.wrk_script("POST", "", {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
                                               MOTO_V1_ALTERNATING)
            sim_get_url = f"{sim.url}/v2/email/identities/{IDENTITY}"
            moto_get_url = f"{moto_url}/v2/email/identities/{IDENTITY}"
            cold = cold_start(sim_get_url)  # before anything else has asked for GetEmailIdentity
            preflight("GET", sim_get_url, None, "application/json")
            preflight("GET", moto_get_url, None, "application/json")
            preflight("POST", moto_url + "/", b"Action=SetIdentityMailFromDomain&Version=2010-12-01&Identity=example.com"
                      b"&MailFromDomain=mail.example.com&BehaviorOnMXFailure=UseDefaultValue",
                      "application/x-www-form-urlencoded; charset=utf-8")

            print(f"bench_api: wrk keep-alive, {CONNECTIONS} connections, 1 wrk thread, {ROUNDS} rounds of {DURATION:g} s "
                  f"per target (after {WARMUP:g} s warm-up); {common.machine_line()}", flush=True)
            targets = [
                ("mailfrom-sim GetEmailIdentity", sim_get_url, get_script),
                ("moto_server GetEmailIdentity", moto_get_url, get_script),
                ("mailfrom-sim PutEmailIdentityMailFromAttributes",
                 f"{sim.url}/v2/email/identities/{IDENTITY}/mail-from", put_script),
                ("moto_server v1 SetIdentityMailFromDomain", moto_url + "/", moto_v1_script),
            ] + [(f"ceiling: Flask hello on {common.HELLO_SERVERS[kind]}", url, common.wrk_script("GET"))
                 for kind, url in hellos.items()]
            for _, url, script in targets:
                common.run_wrk(url, script, connections=CONNECTIONS, duration=WARMUP)
            runs: dict[str, list[dict]] = {label: [] for label, _, _ in targets}
            for round_ in range(1, ROUNDS + 1):
                for label, url, script in targets:
                    runs[label].append(measure(label, url, script, round_))
            best = {label: max(figures, key=lambda f: f["rps"]) for label, figures in runs.items()}
            sim_get, moto_get, sim_put, moto_put, hello, *other_hellos = (best[label] for label, _, _ in targets)
        finally:
            processes.close()

    def row(f: dict, versus: dict | None) -> list:
        ratio = f"{f['rps'] / versus['rps']:.2f}x" if versus else "-"
        return [f["label"], f"{f['rps']:.0f}", common.ms(f["p50_us"]), common.ms(f["p99_us"]),
                common.ms(f["max_us"]), f["errors"], ratio, f"{100 * f['rps'] / hello['rps']:.0f}%"]

    common.table(
        ["target", "req/s", "p50 ms", "p99 ms", "max ms", "errors", "vs moto", "of ceiling"],
        [row(sim_get, moto_get), row(moto_get, None), row(sim_put, moto_put), row(moto_put, None), row(hello, None)]
        + [row(h, None) for h in other_hellos],
        title=f"bench_api ({CONNECTIONS} keep-alive connections; best of {ROUNDS} interleaved {DURATION:g} s rounds)",
    )
    common.table(
        ["simulator just started", "slowest ms", "median ms", "next request ms"],
        [[f"{CONNECTIONS} first GetEmailIdentity at once", f"{cold[0]:.0f}", f"{cold[1]:.0f}", f"{cold[2]:.1f}"]],
        title="cold start (each operation's first request builds its response shape from the botocore model)",
    )
    ratio = sim_get["rps"] / moto_get["rps"]
    share = sim_get["rps"] / hello["rps"]
    common.record_goal("GetEmailIdentity, 16 keep-alive connections: >= 5x moto_server",
                       f"{sim_get['rps']:.0f} req/s = {ratio:.2f}x", f"{moto_get['rps']:.0f} req/s", ratio >= 5)
    common.record_goal("GetEmailIdentity: >= 60 % of the bare-app ceiling on the same server",
                       f"{100 * share:.0f} % of {hello['rps']:.0f} req/s", "-", share >= 0.6)
    common.record_goal("GetEmailIdentity: p99 < 20 ms", f"{common.ms(sim_get['p99_us'])} ms",
                       f"{common.ms(moto_get['p99_us'])} ms", sim_get["p99_us"] < 20000)
    common.table(
        ["goal", "measured", "moto", "result"],
        [["GetEmailIdentity >= 5x moto", f"{sim_get['rps']:.0f} req/s = {ratio:.2f}x", f"{moto_get['rps']:.0f} req/s",
          common.goal(ratio >= 5)],
         ["GetEmailIdentity >= 60 % of the ceiling (same server)", f"{100 * share:.0f} % of {hello['rps']:.0f}", "-",
          common.goal(share >= 0.6)],
         ["GetEmailIdentity p99 < 20 ms", f"{common.ms(sim_get['p99_us'])} ms", f"{common.ms(moto_get['p99_us'])} ms",
          common.goal(sim_get["p99_us"] < 20000)],
         ["PutEmailIdentityMailFromAttributes p99 < 20 ms", f"{common.ms(sim_put['p99_us'])} ms",
          f"{common.ms(moto_put['p99_us'])} ms (v1 Set)", common.goal(sim_put["p99_us"] < 20000)]],
        title="goals",
    )
    print(f"\n(total run time {time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
