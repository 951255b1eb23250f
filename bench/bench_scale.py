"""Costs that must stay flat as the data grows (issue 11), on one database holding
100,000 identities with MAIL FROM domains (half with their MX published in the embedded
DNS server) and a 1,000,000-message outbox, all sent in the last 24 hours (the worst
case for the sending quota).

The database is built once per run: one identity, one DNS record and one message made
through the facade, then cloned in SQL (making 100,000 identities through the API would
take minutes and measures nothing of interest here). Then:
  * `mailfrom-sim serve` on it, as a child process: seconds from exec to the ready line;
  * GetSendQuota (v1 query) and GetAccount (v2) medians over one keep-alive connection; RSS
    idle, once the start-up sweep over every due configuration has ended (CPU quiet for a
    second), and again once quiet after one 50 MB SendEmail;
  * in-process (the facade, like bench_checks): one forced check sweep over the 100,000
    configurations, `advance(72 h)`, and GetEmailIdentity latency with wrk at 16
    connections while sweeps run back to back.
Prints figures and MET/MISSED; asserts nothing about time. Run time: about 2-3 minutes.
`--identities N --messages M` for a smaller run (not for figures).
"""
from __future__ import annotations

import argparse
import base64
import http.client
import json
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

from simulator.core.model import Scope  # noqa: E402
from simulator.runtime import Options, Runtime  # noqa: E402
from simulator.memory import release  # noqa: E402

FEEDBACK = "10 feedback-smtp.us-east-1.amazonses.com"


def build(db: str, identities: int, messages: int) -> float:
    """The database: seeds made through the facade, clones made in SQL. Returns seconds."""
    started = time.perf_counter()
    runtime = Runtime(Options(host=common.LOOPBACK, port=0, dns_port=0, db=db, scheduler=False, mail_auth=False))
    try:
        sim, scope = runtime.simulator, Scope()
        from simulator.core.model import BehaviorOnMxFailure

        sim.create_identity(scope, "seed.example.com")
        sim.put_mail_from(scope, "seed.example.com", "mail.seed.example.com", BehaviorOnMxFailure.USE_DEFAULT_VALUE)
        sim.add_dns_record("mail.seed.example.com", "MX", FEEDBACK)
        sim.send_email(scope, from_address="a@seed.example.com", destination={"ToAddresses": ["b@example.org"]},
                       content={"Simple": {"Subject": {"Data": "hi"}, "Body": {"Text": {"Data": "hello"}}}})
    finally:
        runtime.stop()
    conn = sqlite3.connect(db)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=OFF")
        columns = [r[1] for r in conn.execute("PRAGMA table_info(identities)")]
        picked = ", ".join({"name": "printf('d%06d.example.com', i)",
                            "mf_domain": "printf('mail.d%06d.example.com', i)"}.get(c, c) for c in columns)
        numbers = "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
        with conn:
            conn.execute(f"{numbers} INSERT INTO identities ({', '.join(columns)}) SELECT {picked} "
                         "FROM n, identities WHERE identities.name = 'seed.example.com'", (identities - 2,))
            conn.execute("DELETE FROM identities WHERE name = 'seed.example.com'")
            conn.execute("UPDATE identities SET mf_due_at = 0")  # every configuration is due
            columns = [r[1] for r in conn.execute("PRAGMA table_info(dns_records)")]
            picked = ", ".join({"id": "printf('bench-%06d', i)", "seq": "i + 1000",
                                "name": "printf('mail.d%06d.example.com', i)",
                                "rname": "printf('com.example.d%06d.mail', i)"}.get(c, c) for c in columns)
            conn.execute(f"{numbers} INSERT INTO dns_records ({', '.join(columns)}) SELECT {picked} "
                         "FROM n, dns_records WHERE dns_records.name = 'mail.seed.example.com' AND i % 2 = 0",
                         (identities - 1,))
            conn.execute("DELETE FROM dns_records WHERE name = 'mail.seed.example.com'")
            now = time.time()
            columns = [r[1] for r in conn.execute("PRAGMA table_info(outbox)") if r[1] != "seq"]
            picked = ", ".join({"message_id": "printf('bench-%07d', i)",
                                "sent_at": f"{now} - 86000.0 * i / {messages}"}.get(c, c) for c in columns)
            conn.execute(f"{numbers} INSERT INTO outbox ({', '.join(columns)}) SELECT {picked} "
                         "FROM n, (SELECT * FROM outbox LIMIT 1)", (messages - 2,))
            conn.execute("DELETE FROM outbox_counts")
            conn.execute("INSERT INTO outbox_counts (account, region, minute, decision, recipients) "
                         "SELECT account, region, CAST(sent_at / 60 AS INTEGER), decision, SUM(recipients) "
                         "FROM outbox GROUP BY 1, 2, 3, 4")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return time.perf_counter() - started


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


def wait_quiet(pid: int, timeout: float = 180.0) -> float:
    """Wait until the process has used (almost) no CPU for a second: the start-up sweep over
    every due configuration has ended. Returns the seconds waited."""
    def cpu_ticks() -> int:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime

    started = time.perf_counter()
    last = cpu_ticks()
    while time.perf_counter() - started < timeout:
        time.sleep(1.0)
        now = cpu_ticks()
        if now - last <= 3:  # <= 3 % of one CPU
            break
        last = now
    return time.perf_counter() - started


def median_ms(conn: http.client.HTTPConnection, method: str, path: str, body: str | None, headers: dict,
              n: int = 300) -> float:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"{method} {path}: HTTP {response.status}")
        times.append(1000 * (time.perf_counter() - started))
    return statistics.median(times)


def serve_figures(processes: common.Processes, db: str) -> dict:
    started = time.perf_counter()
    sim = common.Simulator(processes, db).start(timeout=120)
    ready_s = time.perf_counter() - started
    pid = sim.process.pid
    host, port = sim.url.removeprefix("http://").rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    auth = {"Authorization": common.AUTH_HEADER}
    quota = median_ms(conn, "POST", "/", "Action=GetSendQuota&Version=2010-12-01",
                      {**auth, "Content-Type": "application/x-www-form-urlencoded"})
    account = median_ms(conn, "GET", "/v2/email/account", None, auth)
    # Idle means idle: the scheduler's first sweep (every configuration is due at start) ends first.
    conn.close()  # idle keep-alive connections are dropped after 10 s; the wait may be longer
    quiet_s = wait_quiet(pid)
    idle = rss_mb(pid)
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    raw = (b"From: a@d000000.example.com\r\nTo: b@example.org\r\nSubject: big\r\n\r\n"
           + (b"x" * 76 + b"\r\n") * (37 * 1024 * 1024 // 78))
    big = json.dumps({"Content": {"Raw": {"Data": base64.b64encode(raw).decode()}}})
    del raw
    conn.request("POST", "/v2/email/outbound-emails", body=big, headers={**auth, "Content-Type": "application/json"})
    response = conn.getresponse()
    response.read()
    size_mb = len(big) / 2**20
    del big
    wait_quiet(pid)
    after = rss_mb(pid)
    conn.close()
    sim.stop()
    return {"ready_s": ready_s, "quota_ms": quota, "account_ms": account, "idle_mb": idle, "after_mb": after,
            "big_status": response.status, "big_mb": size_mb, "quiet_s": quiet_s}


def sweep_figures(db: str) -> dict:
    runtime = Runtime(Options(host=common.LOOPBACK, port=0, dns_port=0, db=db, scheduler=False,
                              check_interval=60)).start()
    try:
        sim, scope = runtime.simulator, Scope()
        started = time.perf_counter()
        checks = len(sim.run_checks(scope))
        sweep_s = time.perf_counter() - started
        target = f"{runtime.url}/v2/email/identities/d000001.example.com"
        script = common.wrk_script("GET")
        common.http("GET", target, headers={"Authorization": common.AUTH_HEADER})
        stop, sweeps = threading.Event(), []

        def sweeping():
            while not stop.is_set():
                t0 = time.perf_counter()
                release(sim.run_checks(scope))  # as the scheduler and checks/run free a sweep's results
                sweeps.append(time.perf_counter() - t0)

        background = threading.Thread(target=sweeping, daemon=True)
        background.start()
        time.sleep(0.3)
        busy = common.run_wrk(target, script, connections=16, duration=5)
        stop.set()
        background.join(timeout=120)
        started = time.perf_counter()
        advanced = sim.advance(72 * 3600)
        advance_s = time.perf_counter() - started
    finally:
        runtime.stop()
    return {"checks": checks, "sweep_s": sweep_s, "busy": busy, "sweeps_during": len(sweeps),
            "advance_s": advance_s, "advanced": advanced["checked"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--identities", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    args = parser.parse_args()
    common.require_wrk()
    started = time.monotonic()
    print(f"bench_scale: {args.identities:,} identities, {args.messages:,} outbox messages; {common.machine_line()}",
          flush=True)
    processes = common.Processes()
    with tempfile.TemporaryDirectory(prefix="mailfrom-bench-") as tmp:
        db = str(Path(tmp) / "scale.db")
        build_s = build(db, args.identities, args.messages)
        print(f"  built the database in {build_s:.1f} s ({Path(db).stat().st_size / 2**20:.0f} MB)", flush=True)
        try:
            served = serve_figures(processes, db)
        finally:
            processes.close()
        print(f"  serve: ready in {served['ready_s']:.2f} s; GetSendQuota median {served['quota_ms']:.2f} ms, "
              f"GetAccount {served['account_ms']:.2f} ms; RSS idle (once the start-up sweep ended, "
              f"{served['quiet_s']:.0f} s) {served['idle_mb']:.0f} MB, after a "
              f"{served['big_mb']:.0f} MB SendEmail (HTTP {served['big_status']}) {served['after_mb']:.0f} MB",
              flush=True)
        swept = sweep_figures(db)
    rate = swept["checks"] / swept["sweep_s"]
    busy = swept["busy"]
    print(f"  sweep: {swept['checks']:,} checks in {swept['sweep_s']:.2f} s = {rate:.0f} checks/s; advance(72 h) "
          f"{swept['advance_s']:.2f} s over {swept['advanced']:,}; GetEmailIdentity during {swept['sweeps_during']} "
          f"sweeps: {busy['rps']:.0f} req/s, p99 {common.ms(busy['p99_us'])} ms", flush=True)
    ratio = swept["advance_s"] / swept["sweep_s"]
    at_scale = args.identities >= 100_000 and args.messages >= 1_000_000  # the goals' sizes
    for name, measured, met in (
            ("GetSendQuota at 1,000,000 outbox messages: < 2 ms median", f"{served['quota_ms']:.2f} ms",
             served["quota_ms"] < 2),
            ("Check sweep at 100,000 configurations: >= 5,000 checks/s", f"{rate:.0f} checks/s", rate >= 5000),
            ("advance 72 h at 100,000 configurations: <= 2x one sweep",
             f"{ratio:.2f}x ({swept['advance_s']:.1f} s)", ratio <= 2),
            ("GetEmailIdentity p99 while a sweep runs, 16 connections: < 50 ms",
             f"{common.ms(busy['p99_us'])} ms", busy["p99_us"] < 50_000),
            ("Start-up with 100,000 identities + 1,000,000 outbox rows: < 3 s to the ready line",
             f"{served['ready_s']:.2f} s", served["ready_s"] < 3),
            ("RSS with that data, idle: < 300 MB", f"{served['idle_mb']:.0f} MB", served["idle_mb"] < 300),
            ("RSS after a 50 MB request: back under 2x idle",
             f"{served['after_mb']:.0f} MB = {served['after_mb'] / served['idle_mb']:.2f}x idle",
             served["after_mb"] < 2 * served["idle_mb"])):
        if at_scale:
            common.record_goal(name, measured, "-", met)
    common.table(
        ["goal", "measured", "result"],
        [["GetSendQuota at 1,000,000 outbox messages < 2 ms median", f"{served['quota_ms']:.2f} ms",
          common.goal(served["quota_ms"] < 2)],
         [f"Check sweep at {swept['checks']:,} configurations >= 5,000 checks/s", f"{rate:.0f}",
          common.goal(rate >= 5000)],
         ["advance 72 h <= 2x one sweep", f"{ratio:.2f}x ({swept['advance_s']:.1f} s)", common.goal(ratio <= 2)],
         ["GetEmailIdentity p99 while a sweep runs, 16 connections < 50 ms", f"{common.ms(busy['p99_us'])} ms",
          common.goal(busy["p99_us"] < 50_000)],
         ["Start-up with 100,000 identities + 1,000,000 outbox rows < 3 s", f"{served['ready_s']:.2f} s",
          common.goal(served["ready_s"] < 3)],
         ["RSS with that data, idle < 300 MB", f"{served['idle_mb']:.0f} MB", common.goal(served["idle_mb"] < 300)],
         ["RSS back under 2x idle after a 50 MB request", f"{served['after_mb'] / served['idle_mb']:.2f}x",
          common.goal(served["after_mb"] < 2 * served["idle_mb"])]],
        title="goals (issue 11, flat costs)",
    )
    print(f"\n(total run time {time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
