"""The store's compare-and-set: a stale write changes nothing (real SQLite, file database)."""
from dataclasses import replace

from simulator.core import rules
from simulator.core.model import BehaviorOnMxFailure as B, Identity, IdentityType, Settings, VerificationStatus
from simulator.store import Store

SETTINGS = Settings()


def identity() -> Identity:
    return Identity("000000000000", "us-east-1", "example.com", IdentityType.DOMAIN, VerificationStatus.SUCCESS,
                    0.0, ("t1", "t2", "t3"))


def test_a_write_based_on_a_stale_read_is_refused_and_changes_nothing(tmp_path):
    store = Store(str(tmp_path / "sim.db"))
    original = identity()
    assert store.write(lambda tx: store.insert_identity(tx, original))
    assert not store.write(lambda tx: store.insert_identity(tx, original))  # exists already
    first, _ = rules.apply_put(original, "mail.example.com", B.REJECT_MESSAGE, 10.0, SETTINGS)
    stale, _ = rules.apply_put(original, "bounce.example.com", B.USE_DEFAULT_VALUE, 11.0, SETTINGS)
    assert store.write(lambda tx: store.update_mail_from_if_unchanged(tx, original, first))
    # read before `first` landed:
    assert not store.write(lambda tx: store.update_mail_from_if_unchanged(tx, original, stale))
    assert store.get_identity("000000000000", "us-east-1", "example.com") == first
    store.close()


def test_verification_changes_only_its_own_column(tmp_path):
    store = Store(str(tmp_path / "sim.db"))
    configured, _ = rules.apply_put(identity(), "mail.example.com", B.REJECT_MESSAGE, 10.0, SETTINGS)
    def work(tx):
        store.insert_identity(tx, configured)
        store.set_verification(tx, identity(), VerificationStatus.FAILED)  # an older copy of the identity

    store.write(work)
    assert store.get_identity("000000000000", "us-east-1", "example.com") == replace(
        configured, verification_status=VerificationStatus.FAILED)
    store.close()


def test_grouped_writes_commit_together_and_a_failing_one_undoes_only_itself(tmp_path):
    import threading

    import pytest

    store = Store(str(tmp_path / "sim.db"))
    results: dict[str, object] = {}

    def create(name: str, fail: bool) -> None:
        def work(tx):
            tx.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (name, "x"))
            if fail:
                raise ValueError(f"{name} refused")
            return name
        try:
            results[name] = store.write(work)
        except ValueError as exc:
            results[name] = exc

    threads = [threading.Thread(target=create, args=(f"k{i}", i % 5 == 0)) for i in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    stored = {row[0] for row in store.conn.execute("SELECT key FROM meta")}
    assert stored == {f"k{i}" for i in range(40) if i % 5}
    assert all(isinstance(results[f"k{i}"], ValueError) == (i % 5 == 0) for i in range(40))
    store.close()
    with pytest.raises(RuntimeError):
        store.write(lambda tx: None)


def test_a_database_from_before_the_due_column_is_migrated_and_its_due_checks_found(tmp_path):
    import sqlite3

    path = str(tmp_path / "old.db")
    store = Store(path)
    configured, _ = rules.apply_put(identity(), "mail.example.com", B.REJECT_MESSAGE, 10.0, SETTINGS)
    store.write(lambda tx: store.insert_identity(tx, configured))
    store.close()
    old = sqlite3.connect(path)  # make it look like an earlier version's file
    old.execute("DROP INDEX identities_due")
    old.execute("ALTER TABLE identities DROP COLUMN mf_due_at")
    old.commit()
    old.close()
    store = Store(path)
    assert store.due_identities(10.0 + SETTINGS.check_interval - 1) == []
    assert store.due_identities(10.0 + SETTINGS.check_interval) == [configured]
    store.close()
