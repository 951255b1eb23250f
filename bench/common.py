"""Shared helpers for the benchmark scripts (not a benchmark itself).

Everything here stays on loopback, bounds its own waiting, and keeps track of
every process it starts so the scripts can always clean up (`Processes`).
Figures are printed, never asserted.

`python bench/common.py hello-server [KIND]` runs the bare Flask "hello" app on one
HTTP server (KIND, default `simulator`: the server the simulator uses, embedded the
same way, with the same 16 app threads); it prints `hello ready: http://127.0.0.1:PORT`.
The kinds are the candidates bench_api.py compares (HELLO_SERVERS).
"""
from __future__ import annotations

import atexit
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
BIN = Path(sys.executable).parent
LOOPBACK = "127.0.0.1"

# Sent to both the simulator and moto_server so the request bytes are identical.
# moto picks the service from the credential scope; the simulator reads only the
# region (us-east-1) and the key (not 12 digits -> account 000000000000). Neither
# checks the signature.
AUTH_HEADER = ("AWS4-HMAC-SHA256 Credential=testing/20261126/us-east-1/ses/aws4_request, "
               "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64)

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


# --- processes -------------------------------------------------------------------
class Processes:
    """Every child a script starts; `close()` (also at exit and on SIGTERM/SIGINT)
    terminates each one by its own pid, then kills it if it does not stop."""

    def __init__(self) -> None:
        self._children: list[subprocess.Popen] = []
        atexit.register(self.close)
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                signal.signal(sig, self._on_signal)
            except ValueError:  # not the main thread
                pass

    def _on_signal(self, signum, _frame):
        self.close()
        raise SystemExit(128 + signum)

    def add(self, process: subprocess.Popen) -> subprocess.Popen:
        self._children.append(process)
        return process

    def stop(self, process: subprocess.Popen, timeout: float = 10.0) -> None:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=timeout)
        if process in self._children:
            self._children.remove(process)

    def close(self) -> None:
        for process in list(self._children):
            try:
                self.stop(process)
            except Exception:
                pass


class _Drain(threading.Thread):
    """Reads a child's output so a full pipe never blocks it; keeps the last lines."""

    def __init__(self, stream, first_lines: list[str]):
        super().__init__(daemon=True)
        self.stream = stream
        self.lines = deque(first_lines, maxlen=50)

    def run(self) -> None:
        for line in self.stream:
            self.lines.append(line)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def _wait_for_line(process: subprocess.Popen, pattern: str, timeout: float, what: str) -> tuple[re.Match, _Drain]:
    """Read the child's stdout until `pattern` matches (bounded by `timeout`)."""
    found: dict = {}
    seen: list[str] = []

    def reader():
        for line in process.stdout:
            seen.append(line)
            match = re.search(pattern, line)
            if match:
                found["match"] = match
                return

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    thread.join(timeout)
    if "match" not in found:
        process.kill()
        raise RuntimeError(f"{what} did not start within {timeout:.0f} s: {''.join(seen)[-2000:]}")
    drain = _Drain(process.stdout, seen)
    drain.start()
    return found["match"], drain


class Simulator:
    """`mailfrom-sim serve` as a child process on ephemeral loopback ports."""

    def __init__(self, processes: Processes, db: str, *extra: str, prelude: str = ""):
        self.processes = processes
        self.db = db
        self.extra = extra
        self.prelude = prelude  # Python run in the child before the CLI (a measurement's stand-in)
        self.process: subprocess.Popen | None = None
        self.url = self.dns = ""

    def start(self, timeout: float = 30.0) -> "Simulator":
        launch = (["-c", f"{self.prelude}\nimport sys\nfrom simulator.cli import main\nsys.exit(main())"]
                  if self.prelude else ["-m", "simulator.cli"])
        self.process = self.processes.add(subprocess.Popen(
            [PYTHON, *launch, "serve", "--host", LOOPBACK, "--port", "0", "--dns-port", "0",
             "--smtp-port", "0", "--db", self.db, *self.extra],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        ))
        match, self._drain = _wait_for_line(self.process, r"ready: API (\S+) DNS (\S+)", timeout, "mailfrom-sim")
        self.url, self.dns = match.group(1), match.group(2)
        return self

    def kill9(self) -> None:
        """SIGKILL, as a crash would: nothing gets a chance to flush or close."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        self.processes.stop(self.process)

    def stop(self) -> None:
        if self.process is not None:
            self.processes.stop(self.process)


def start_moto(processes: Processes, timeout: float = 30.0) -> tuple[subprocess.Popen, str]:
    """moto_server (all services) on a free loopback port; returns (process, url)."""
    exe = BIN / "moto_server"
    if not exe.exists():
        raise SystemExit(f"moto_server not found next to {PYTHON}; install moto[server] into the venv")
    port = free_port()
    process = processes.add(subprocess.Popen([str(exe), "-H", LOOPBACK, "-p", str(port)], cwd=tempfile.gettempdir(),
                                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    url = f"http://{LOOPBACK}:{port}"
    wait_http(url + "/moto-api/", timeout, "moto_server", process)
    return process, url


def start_hello(processes: Processes, kind: str = "simulator", timeout: float = 20.0) -> tuple[subprocess.Popen, str]:
    process = processes.add(subprocess.Popen([PYTHON, str(Path(__file__).resolve()), "hello-server", kind], cwd=ROOT,
                                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    match, _ = _wait_for_line(process, r"hello ready: (\S+)", timeout, f"hello server ({kind})")
    wait_http(match.group(1), timeout, f"hello server ({kind})", process)  # a pre-fork server's worker may lag
    return process, match.group(1)


def wait_http(url: str, timeout: float, what: str, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what} exited with status {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answered
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{what} did not answer within {timeout:.0f} s")


def http(method: str, url: str, body: dict | None = None, timeout: float = 120.0,
         headers: dict | None = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def ok(sim: "Simulator", method: str, path: str, body: dict | None = None) -> dict:
    """One request to the simulator that must succeed; its JSON answer."""
    status, payload = http(method, sim.url + path, body)
    assert 200 <= status < 300, (method, path, status, payload)
    return payload


def wait_sealed(sim: "Simulator", timeout: float = 600.0) -> tuple[int, float]:
    """Wait until every acknowledged message is sealed (built, signed, authenticated: see
    simulator/service/sealing.py); returns (messages that were waiting, seconds it took)."""
    started = time.perf_counter()
    first = waiting = http("GET", sim.url + "/_sim/health")[1]["data"]["sealing"]["waiting"]
    while waiting:
        if time.perf_counter() - started > timeout:
            raise AssertionError(f"{waiting} messages still waiting to be sealed after {timeout:g} s")
        time.sleep(0.25)  # each look is a request, which the sealer gives way to
        waiting = http("GET", sim.url + "/_sim/health")[1]["data"]["sealing"]["waiting"]
    return first, time.perf_counter() - started


def sealed_line(accepted: int, duration: float, waited: int, seconds: float) -> str:
    """What sealing after the acknowledgement means for a run: the rate at which messages were
    ready (sealed, relayable) from the start of the run to the end of the backlog."""
    return (f"{waited} still waiting at the end, sealed in {seconds:.1f} s: end to end "
            f"{accepted / (duration + seconds):.0f} messages/s sealed")


def prepare_sender(sim: "Simulator", domain: str = "example.com") -> None:
    """`domain` as an identity whose custom MAIL FROM domain (mail.<domain>, REJECT_MESSAGE)
    is SUCCESS: its MX published in the embedded DNS and a check run."""
    ok(sim, "POST", "/v2/email/identities", {"EmailIdentity": domain})
    ok(sim, "PUT", f"/v2/email/identities/{domain}/mail-from",
       {"MailFromDomain": f"mail.{domain}", "BehaviorOnMxFailure": "REJECT_MESSAGE"})
    ok(sim, "POST", "/_sim/dns/records", {"name": f"mail.{domain}", "type": "MX",
                                          "value": "10 feedback-smtp.us-east-1.amazonses.com"})
    ok(sim, "POST", "/_sim/checks/run", {})
    status = ok(sim, "GET", f"/v2/email/identities/{domain}")["MailFromAttributes"]["MailFromDomainStatus"]
    assert status == "SUCCESS", status


def aws_client(service: str, endpoint: str):
    import boto3
    from botocore.config import Config

    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing",
                        config=Config(retries={"max_attempts": 1}))


# --- wrk ----------------------------------------------------------------------------
# Appended to every script: one machine-readable line with the run's figures.
WRK_DONE = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRKJSON {\"requests\":%d,\"duration_us\":%d,\"connect_err\":%d,\"read_err\":%d,\"write_err\":%d," ..
    "\"status_err\":%d,\"timeout_err\":%d,\"p50_us\":%d,\"p90_us\":%d,\"p99_us\":%d,\"max_us\":%d,\"mean_us\":%.1f}\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
"""


def lua_string(text: str) -> str:
    """A Lua long-bracket literal holding `text` verbatim."""
    level = "=" * 3
    assert f"]{level}]" not in text
    return f"[{level}[{text}]{level}]"


def wrk_script(method: str = "GET", body: str | None = None, headers: dict | None = None,
               extra: str = "") -> str:
    lines = [f'wrk.method = "{method}"']
    if body is not None:
        lines.append(f"wrk.body = {lua_string(body)}")
    for name, value in {"Authorization": AUTH_HEADER, **(headers or {})}.items():
        lines.append(f"wrk.headers[ {lua_string(name)} ] = {lua_string(value)}")
    return "\n".join(lines) + "\n" + extra + "\n" + WRK_DONE


def require_wrk() -> str:
    exe = shutil.which("wrk")
    if exe is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk (Debian/Ubuntu) or brew install wrk")
    return exe


def run_wrk(url: str, script: str, *, connections: int = 16, threads: int = 1, duration: float = 5.0,
            timeout_s: float = 5.0) -> dict:
    """One wrk run (keep-alive, `connections` connections); returns the WRKJSON figures plus rps."""
    exe = require_wrk()
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
        path = f.name
    try:
        result = subprocess.run(
            [exe, f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration))}s", f"--timeout={timeout_s:g}s",
             "-s", path, url],
            capture_output=True, text=True, timeout=duration + timeout_s + 30,
        )
    finally:
        os.unlink(path)
    match = re.search(r"^WRKJSON (\{.*\})$", result.stdout, re.M)
    if not match:
        raise RuntimeError(f"wrk failed ({result.returncode}): {result.stdout[-2000:]} {result.stderr[-2000:]}")
    figures = json.loads(match.group(1))
    figures["rps"] = figures["requests"] / (figures["duration_us"] / 1e6)
    figures["errors"] = sum(figures[k] for k in ("connect_err", "read_err", "write_err", "status_err", "timeout_err"))
    figures["non2xx"] = figures["status_err"]
    figures["stdout"] = result.stdout
    return figures


# --- output ------------------------------------------------------------------------
def ms(microseconds: float) -> str:
    return f"{microseconds / 1000:.1f}"


def table(headers: list[str], rows: list[list], title: str | None = None) -> None:
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    if title:
        print(f"\n{title}")
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths)))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))))
    sys.stdout.flush()


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile of `values` (p in 0..100)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-p * len(ordered) // 100))))
    return ordered[rank - 1]


def goal(met: bool) -> str:
    return "MET" if met else "MISSED"


# `make bench` sets BENCH_GOALS to a file; each script appends the goal rows it
# measured, and `python bench/common.py goals FILE` prints them together at the end.
ISSUE_11_GOALS = [
    "GetEmailIdentity, 16 keep-alive connections: >= 5x moto_server",
    "GetEmailIdentity: >= 60 % of the bare-app ceiling on the same server",
    "GetEmailIdentity: p99 < 20 ms",
    "SendEmail (durable): >= 3x moto_server",
    "SendEmail (durable): p99 < 25 ms",
    "GetSendQuota at 1,000,000 outbox messages: < 2 ms median",
    "Check sweep at 100,000 configurations: >= 5,000 checks/s",
    "advance 72 h at 100,000 configurations: <= 2x one sweep",
    "GetEmailIdentity p99 while a sweep runs, 16 connections: < 50 ms",
    "Start-up with 100,000 identities + 1,000,000 outbox rows: < 3 s to the ready line",
    "RSS with that data, idle: < 300 MB",
    "RSS after a 50 MB request: back under 2x idle",
]


# Issue 15 (identity verification through DNS, DKIM, authentication results).
ISSUE_15_GOALS = [
    "Signed SendEmail (DKIM, SPF/DMARC): >= 0.6x the unsigned rate",
    "SendEmail with a SUCCESS DKIM identity: >= 0.6x without one, end to end",
    "Sweep of 10,000 identities' DKIM verification checks: >= 2,000 checks/s",
]
# Issue 13 (every send path): bench_bulk.py's rows.
ISSUE_13_GOALS = [
    "SendBulkEmail x50 (v2) >= 3x moto (v1 bulk)",
    "SendBulkTemplatedEmail x50 (v1) >= 3x moto",
    "templated SendEmail (v2) >= 3x moto (v1 templated)",
    "SendTemplatedEmail (v1) >= 3x moto",
]
GOALS = {"issue 11": ISSUE_11_GOALS, "issue 13": ISSUE_13_GOALS, "issue 15": ISSUE_15_GOALS}


def record_goal(name: str, measured: str, moto: str, met: bool) -> None:
    assert any(name in goals for goals in GOALS.values()), name
    path = os.environ.get("BENCH_GOALS")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps({"goal": name, "measured": measured, "moto": moto, "result": goal(met)}) + "\n")


def print_goals(path: str) -> None:
    found = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                row = json.loads(line)
                found[row["goal"]] = row
    for issue, goals in GOALS.items():
        table([f"{issue} goal", "measured", "moto_server", "result"],
              [[name, *([found[name][k] for k in ("measured", "moto", "result")] if name in found
                        else ["not measured in this run", "-", "-"])]
               for name in goals], title=f"{issue} goals (from this run of make bench)")


def machine_line() -> str:
    import platform

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs, "
            f"{platform.machine()}, load average {load}")


# --- the ceiling app ------------------------------------------------------------------
# Each candidate HTTP server with the bare Flask app, 16 app threads, one process; first, the
# simulator's own server as it runs it: embedded granian with the simulator's whole pool
# (Options.threads + Options.sse_streams). A larger pool costs the bare app ~15 % of its
# rate on 2 cores (and lowers its p99), so the ceiling is measured at the pool it is a ceiling for.
HELLO_SERVERS = {
    "simulator": "granian, embedded as the simulator runs it (simulator/api/server.py), its whole pool",
    "simulator-werkzeug": "the same, answering through Flask's default Response",
    "simulator-16": "granian, embedded as the simulator runs it, 16 threads (as the other candidates)",
    "granian": "granian's own server (granian.server, 1 worker process, 16 blocking threads)",
    "waitress": "waitress, threads=16 (the simulator's server before issue 11)",
    "gunicorn": "gunicorn gthread, 1 worker, 16 threads",
    "cheroot": "cheroot, numthreads=16",
}


def _hello_app():
    from flask import Flask

    app = Flask("hello")

    @app.get("/")
    def hello():
        return "hello"

    return app


def _hello_server(kind: str) -> None:
    app = _hello_app()
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    if kind in ("simulator", "simulator-werkzeug", "simulator-16"):
        from simulator.api.server import HttpServer
        from simulator.api.wire import WholeResponse
        from simulator.runtime import Options

        if kind == "simulator":  # the ceiling: the bare app answered the way the simulator answers
            app.response_class = WholeResponse
        pool = 16 if kind == "simulator-16" else Options.threads + Options.sse_streams
        server = HttpServer(app, LOOPBACK, 0, threads=pool).start()
        print(f"hello ready: http://{LOOPBACK}:{server.effective_port}/", flush=True)
        threading.Event().wait()
    elif kind == "waitress":
        from waitress.server import create_server

        server = create_server(app, host=LOOPBACK, port=0, threads=16, ident="hello")
        print(f"hello ready: http://{LOOPBACK}:{server.effective_port}/", flush=True)
        server.run()
    elif kind == "cheroot":
        from cheroot.wsgi import Server

        server = Server((LOOPBACK, free_port()), app, numthreads=16)
        server.prepare()
        print(f"hello ready: http://{LOOPBACK}:{server.bind_addr[1]}/", flush=True)
        server.serve()
    elif kind == "gunicorn":
        from gunicorn.app.base import BaseApplication

        port = free_port()

        class Hello(BaseApplication):
            def load_config(self):
                for key, value in {"bind": f"{LOOPBACK}:{port}", "workers": 1, "threads": 16,
                                   "worker_class": "gthread", "loglevel": "warning",
                                   "when_ready": lambda _: print(f"hello ready: http://{LOOPBACK}:{port}/",
                                                                 flush=True)}.items():
                    self.cfg.set(key, value)

            def load(self):
                return app

        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # gunicorn installs its own
        Hello().run()
    elif kind == "granian":
        from granian.constants import Interfaces
        from granian.server import Server

        port = free_port()
        server = Server("bench.common:hello_app_factory", address=LOOPBACK, port=port, interface=Interfaces.WSGI,
                        workers=1, blocking_threads=16, factory=True)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # granian stops its worker on SIGTERM
        threading.Thread(target=_announce_when_listening, args=(port,), daemon=True).start()
        server.serve()
    else:
        raise SystemExit(f"unknown server kind {kind!r}: one of {', '.join(HELLO_SERVERS)}")


def _announce_when_listening(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection((LOOPBACK, port), timeout=1).close()
        except OSError:
            time.sleep(0.05)
            continue
        print(f"hello ready: http://{LOOPBACK}:{port}/", flush=True)
        return


def hello_app_factory():
    return _hello_app()


if __name__ == "__main__":
    if sys.argv[1:2] == ["hello-server"]:
        _hello_server(sys.argv[2] if len(sys.argv) > 2 else "simulator")
    elif sys.argv[1:2] == ["goals"] and len(sys.argv) == 3:
        print_goals(sys.argv[2])
    else:
        raise SystemExit(__doc__)
