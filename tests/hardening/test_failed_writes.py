"""A control-plane write the database refuses changes nothing in memory either (SPEC §14):
the DNS server, faults, the clock and the identities stay as they were, and a restart
shows the same state. The real process's writes are made to fail by triggers another
connection installs in its database file, as a full or broken disk would fail them."""
import sqlite3

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from tests.helpers import SimControl, SimulatorProcess, aws_client

TABLES = ("dns_records", "dns_faults", "meta", "identities", "history", "accounts", "outbox")


def answer(process: SimulatorProcess, name: str) -> tuple[str, list[str]]:
    host, port = process.dns.rsplit(":", 1)
    response = dns.query.udp(dns.message.make_query(name, dns.rdatatype.MX), host, port=int(port), timeout=5)
    return dns.rcode.to_text(response.rcode()), sorted(str(r) for rrset in response.answer for r in rrset)


def break_writes(db: str) -> None:
    with sqlite3.connect(db) as conn:
        for table in TABLES:
            for event in ("INSERT", "UPDATE", "DELETE"):
                conn.execute(f"CREATE TRIGGER fail_{event.lower()}_{table} BEFORE {event} ON {table} "
                             f"BEGIN SELECT RAISE(ABORT, 'the disk refuses this write'); END")


def mend_writes(db: str) -> None:
    with sqlite3.connect(db) as conn:
        for table in TABLES:
            for event in ("insert", "update", "delete"):
                conn.execute(f"DROP TRIGGER fail_{event}_{table}")


def snapshot(process: SimulatorProcess) -> dict:
    control = SimControl(process.url)
    return {
        "records": control.ok("GET", "/_sim/dns/records")["records"],
        "offset": control.ok("GET", "/_sim/clock")["offset"],
        "identities": [i["IdentityName"] for i in
                       aws_client("sesv2", process.url).list_email_identities()["EmailIdentities"]],
        "served": answer(process, "mail.example.com"), "faulted": answer(process, "bad.example.com"),
        "new": answer(process, "new.example.com"),
    }


@pytest.fixture
def process(tmp_path):
    db = str(tmp_path / "sim.db")
    running = SimulatorProcess("--db", db).start()
    running.db = db
    yield running
    if running.process.poll() is None:
        running.stop()


def test_failed_control_plane_writes_change_nothing_in_memory(process):
    control = SimControl(process.url)
    aws_client("sesv2", process.url).create_email_identity(EmailIdentity="example.com")
    record_id = control.add_mx("mail.example.com")
    control.ok("PUT", "/_sim/dns/faults/bad.example.com", {"fault": "servfail"})
    control.ok("POST", "/_sim/clock/advance", {"seconds": 60})
    before = snapshot(process)
    assert before["served"][0] == "NOERROR" and before["faulted"][0] == "SERVFAIL" and before["new"][0] == "NXDOMAIN"

    break_writes(process.db)
    attempts = [
        ("POST", "/_sim/dns/records", {"name": "new.example.com", "type": "MX", "value": "10 mx.example.net"}),
        ("DELETE", f"/_sim/dns/records/{record_id}", None),
        ("PUT", "/_sim/dns/faults/new.example.com", {"fault": "timeout"}),
        ("PUT", "/_sim/dns/faults/bad.example.com", {"fault": "nxdomain"}),
        ("PUT", "/_sim/dns/faults/bad.example.com", {"fault": "none"}),
        ("DELETE", "/_sim/dns/faults/bad.example.com", None),
        ("POST", "/_sim/clock/advance", {"seconds": 3600}),
        ("POST", "/_sim/reset", None),
    ]
    for method, path, body in attempts:
        status, reply = control.call(method, path, body)
        assert status >= 400 and reply["success"] is False, (method, path, status, reply)
        assert snapshot(process) == before, (method, path)

    mend_writes(process.db)
    process.stop()
    restarted = SimulatorProcess("--db", process.db).start()
    try:
        assert snapshot(restarted) == before  # what memory held is what the disk held
    finally:
        restarted.stop()
