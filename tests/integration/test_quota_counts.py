"""The sending quota read from per-minute counts plus one partial minute (issue 11) gives
exactly what summing the outbox gives, for any window start, after a scoped clear, and
for a database written before the counts existed."""
import random
import sqlite3

from simulator.store import Store

REJECTED = "rejected"


def entry(n: int, sent_at: float, account: str = "111111111111", decision: str = "custom") -> dict:
    return {"message_id": f"m{n}", "account": account, "region": "us-east-1", "sent_at": sent_at,
            "mail_from_decision": decision}


def brute_force(db: str, account: str, since: float) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT COALESCE(SUM(recipients), 0) FROM outbox WHERE account=? AND sent_at >= ? "
                            "AND decision != ?", (account, since, REJECTED)).fetchone()[0]


def test_the_quota_matches_a_sum_over_the_outbox_for_any_window(tmp_path):
    db = str(tmp_path / "sim.db")
    store = Store(db)
    rng = random.Random(7)
    rows = [entry(n, 1_000_000 + rng.uniform(0, 3 * 86400), rng.choice(["111111111111", "222222222222"]),
                  rng.choice(["custom", "default", REJECTED])) for n in range(600)]
    store.write(lambda tx: [Store.add_outbox_many(tx, [(e, "none", b"raw", 1 + n % 4, None)])
                            for n, e in enumerate(rows)])
    starts = [1_000_000 + rng.uniform(-100, 3 * 86400 + 100) for _ in range(40)] + [1_000_000 + 60 * 100]
    for since in starts:
        for account in ("111111111111", "222222222222"):
            assert store.count_sent_since(account, "us-east-1", since, REJECTED) == brute_force(db, account, since)

    store.write(lambda tx: Store.clear_outbox(tx, "111111111111", "us-east-1"))
    assert store.count_sent_since("111111111111", "us-east-1", 0, REJECTED) == 0
    assert store.count_sent_since("222222222222", "us-east-1", 0, REJECTED) == brute_force(db, "222222222222", 0)
    store.close()

    with sqlite3.connect(db) as conn:  # as a database from before the counts: none kept
        conn.execute("DELETE FROM outbox_counts")
    reopened = Store(db)
    try:
        for since in starts:
            assert (reopened.count_sent_since("222222222222", "us-east-1", since, REJECTED)
                    == brute_force(db, "222222222222", since))
    finally:
        reopened.close()
