"""SMTP interface throughput next to API SendEmail, in the same run.

One `mailfrom-sim serve` child process (file database in a temp dir, SMTP on a free
port). The sending identity example.com has MAIL FROM domain mail.example.com in
SUCCESS (MX published in the embedded DNS, checked), so every message takes the
"custom MAIL FROM" path and is stored in the outbox, as in bench_send.py.

Both paths send the same raw MIME message to one recipient from 8 concurrent clients:
  * SMTP: 8 smtplib sessions, each STARTTLS + AUTH PLAIN once, then MAIL/RCPT/DATA
    in a loop (what an app's SMTP connection pool does);
  * API: 8 keep-alive HTTP connections posting SES v2 SendEmail with Content.Raw.
Each path runs ROUNDS times, interleaved; the better run is reported. Afterwards the
outbox (SQLite) must hold exactly the messages each path acknowledged.
Goal (the issue's): SMTP messages/s >= 50 % of the API's.

    python bench/bench_smtp.py [--duration SECONDS] [--rounds N]
"""
from __future__ import annotations

import argparse
import base64
import http.client
import json
import smtplib
import sqlite3
import ssl
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

CLIENTS = 8
MAIL_FROM_DOMAIN = "mail.example.com"
MIME = ("From: App <app@example.com>\r\nTo: user@example.org\r\nSubject: bench\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n" + "Hello from bench_smtp.py.\r\n" * 8).encode()
API_BODY = json.dumps({"Content": {"Raw": {"Data": base64.b64encode(MIME).decode()}},
                       "Destination": {"ToAddresses": ["user@example.org"]}}).encode()


class Run:
    """Shared by the client threads of one measured run."""

    def __init__(self, duration: float):
        self.duration = duration
        self.start = threading.Barrier(CLIENTS + 1)
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.deadline = 0.0

    def record(self, latencies: list[float], error: str | None) -> None:
        with self.lock:
            self.latencies += latencies
            if error:
                self.errors.append(error)


def smtp_client(run: Run, port: int, cafile: str) -> None:
    latencies, error = [], None
    try:
        with smtplib.SMTP(common.LOOPBACK, port, timeout=30) as client:
            client.starttls(context=ssl.create_default_context(cafile=cafile))
            client.login("AKIABENCHSMTP", "any")
            run.start.wait()
            while time.perf_counter() < run.deadline:
                began = time.perf_counter()
                client.mail("app@example.com")
                client.rcpt("user@example.org")
                code, reply = client.data(MIME)
                if code != 250:
                    raise RuntimeError(f"{code} {reply!r}")
                latencies.append(time.perf_counter() - began)
    except Exception as exc:  # reported, never hidden
        error = f"smtp: {exc!r}"
        run.start.abort()  # nobody waits for a client that failed
    run.record(latencies, error)


def api_client(run: Run, url: str) -> None:
    latencies, error = [], None
    host, port = url.split("//", 1)[1].split(":")
    headers = {"Content-Type": "application/json", "Authorization": common.AUTH_HEADER}
    try:
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        run.start.wait()
        while time.perf_counter() < run.deadline:
            began = time.perf_counter()
            connection.request("POST", "/v2/email/outbound-emails", body=API_BODY, headers=headers)
            response = connection.getresponse()
            body = response.read()
            if response.status != 200:
                raise RuntimeError(f"{response.status} {body[:200]!r}")
            latencies.append(time.perf_counter() - began)
        connection.close()
    except Exception as exc:
        error = f"api: {exc!r}"
        run.start.abort()
    run.record(latencies, error)


def measure(target, args: tuple, duration: float) -> dict:
    run = Run(duration)
    threads = [threading.Thread(target=target, args=(run, *args), daemon=True) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    run.deadline = time.perf_counter() + 3600  # set properly once every client is connected
    try:
        run.start.wait(timeout=60)
    except threading.BrokenBarrierError:
        pass
    began = time.perf_counter()
    run.deadline = began + duration
    for thread in threads:
        thread.join(timeout=duration + 60)
    elapsed = time.perf_counter() - began
    if run.errors:
        raise SystemExit(f"bench_smtp: a client failed: {run.errors[0]}")
    return {"messages": len(run.latencies), "seconds": elapsed, "rate": len(run.latencies) / elapsed,
            "p50": common.percentile(run.latencies, 50), "p99": common.percentile(run.latencies, 99)}


def stored(db: str) -> dict[str, int]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT json_extract(entry, '$.via'), COUNT(*) FROM outbox "
                            "WHERE decision != 'rejected' GROUP BY 1").fetchall()
    return dict(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per measured run")
    parser.add_argument("--rounds", type=int, default=2, help="runs per path, interleaved; the better is kept")
    args = parser.parse_args()

    processes = common.Processes()
    with tempfile.TemporaryDirectory(prefix="bench-smtp-") as tmp:
        db = str(Path(tmp) / "sim.db")
        sim = common.Simulator(processes, db).start()
        status, health = common.http("GET", sim.url + "/_sim/health")
        port = int(health["data"]["smtp"]["address"].rsplit(":", 1)[1])
        cafile = str(Path(tmp) / "mailfrom-sim-smtp.crt")
        sesv2 = common.aws_client("sesv2", sim.url)
        sesv2.create_email_identity(EmailIdentity="example.com")
        sesv2.put_email_identity_mail_from_attributes(EmailIdentity="example.com", MailFromDomain=MAIL_FROM_DOMAIN,
                                                      BehaviorOnMxFailure="REJECT_MESSAGE")
        common.http("POST", sim.url + "/_sim/dns/records",
                    {"name": MAIL_FROM_DOMAIN, "type": "MX", "value": "10 feedback-smtp.us-east-1.amazonses.com"})
        common.http("POST", sim.url + "/_sim/checks/run", {})

        best: dict[str, dict] = {}
        sent = {"smtp": 0, "api-v2": 0}
        for _ in range(args.rounds):
            for label, target, target_args in (("smtp", smtp_client, (port, cafile)),
                                               ("api-v2", api_client, (sim.url,))):
                figures = measure(target, target_args, args.duration)
                waited, seconds = common.wait_sealed(sim)  # sealed before the next run (see bench_send)
                figures["end_to_end"] = figures["messages"] / (args.duration + seconds)
                print(f"  {label}: {figures['rate']:.0f} msg/s; "
                      f"{common.sealed_line(figures['messages'], args.duration, waited, seconds)}", flush=True)
                sent[label] += figures["messages"]
                if label not in best or figures["rate"] > best[label]["rate"]:
                    best[label] = figures
        sim.stop()
        outbox = stored(db)

    print(f"bench_smtp: {common.machine_line()}")
    print(f"{CLIENTS} concurrent clients, {args.duration:.0f} s per run, best of {args.rounds}, "
          "custom MAIL FROM path, one recipient")
    common.table(["path", "messages", "msg/s", "p50 ms", "p99 ms", "end to end msg/s (run + backlog)"], [
        [label, f["messages"], f"{f['rate']:.0f}", f"{f['p50'] * 1000:.1f}", f"{f['p99'] * 1000:.1f}",
         f"{f['end_to_end']:.0f}"]
        for label, f in (("SMTP (STARTTLS, AUTH once per session)", best["smtp"]),
                         ("API SendEmail (v2, Content.Raw)", best["api-v2"]))])
    ratio = best["smtp"]["rate"] / best["api-v2"]["rate"] if best["api-v2"]["rate"] else 0.0
    print(f"\nSMTP rate is {ratio:.0%} of the API's; goal >= 50%: {'MET' if ratio >= 0.5 else 'MISSED'}")
    consistent = outbox.get("smtp", 0) == sent["smtp"] and outbox.get("api-v2", 0) == sent["api-v2"]
    print(f"acknowledged vs stored: smtp {sent['smtp']}/{outbox.get('smtp', 0)}, "
          f"api-v2 {sent['api-v2']}/{outbox.get('api-v2', 0)}: {'consistent' if consistent else 'MISMATCH'}")
    return 0 if consistent else 1


if __name__ == "__main__":
    sys.exit(main())
