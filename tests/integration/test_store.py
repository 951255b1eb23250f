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


# --- the read cache: identities and tags read outside a write, kept until the next commit ---
ACCOUNT, REGION = "000000000000", "us-east-1"


def test_a_cached_read_never_outlives_a_commit(tmp_path):
    store = Store(str(tmp_path / "sim.db"))
    assert store.get_identity(ACCOUNT, REGION, "example.com") is None  # "absent" is cached too
    assert store.get_identities(ACCOUNT, REGION, ["example.com"]) == {}
    store.write(lambda tx: store.insert_identity(tx, identity()))
    assert store.get_identity(ACCOUNT, REGION, "example.com") == identity()
    assert store.get_identities(ACCOUNT, REGION, ["example.com", "other.com"]) == {"example.com": identity()}
    configured, _ = rules.apply_put(identity(), "mail.example.com", B.REJECT_MESSAGE, 10.0, SETTINGS)
    assert store.write(lambda tx: store.update_mail_from_if_unchanged(tx, identity(), configured))
    assert store.get_identity(ACCOUNT, REGION, "example.com") == configured
    assert store.get_identities(ACCOUNT, REGION, ["example.com"]) == {"example.com": configured}
    assert store.identity_tags(ACCOUNT, REGION, "example.com") == []
    store.write(lambda tx: store.set_identity_tags(tx, ACCOUNT, REGION, "example.com", [{"Key": "k", "Value": "v"}]))
    tags = store.identity_tags(ACCOUNT, REGION, "example.com")
    assert tags == [{"Key": "k", "Value": "v"}]
    tags.append({"Key": "changed", "Value": "by the caller"})  # a caller's list is its own
    assert store.identity_tags(ACCOUNT, REGION, "example.com") == [{"Key": "k", "Value": "v"}]
    store.write(lambda tx: store.delete_identity(tx, ACCOUNT, REGION, "example.com"))
    assert store.get_identity(ACCOUNT, REGION, "example.com") is None
    store.close()


def test_a_write_reads_its_own_uncommitted_changes_and_a_rolled_back_one_is_not_kept(tmp_path):
    import pytest

    store = Store(str(tmp_path / "sim.db"))
    store.write(lambda tx: store.insert_identity(tx, identity()))
    assert store.get_identity(ACCOUNT, REGION, "example.com") == identity()  # cached outside the write
    configured, _ = rules.apply_put(identity(), "mail.example.com", B.REJECT_MESSAGE, 10.0, SETTINGS)

    def change_then_fail(tx):
        store.update_mail_from_if_unchanged(tx, identity(), configured)
        seen = store.get_identity(ACCOUNT, REGION, "example.com")  # the writer's own view
        assert seen == configured
        raise ValueError("refused after reading")

    with pytest.raises(ValueError):
        store.write(change_then_fail)
    assert store.get_identity(ACCOUNT, REGION, "example.com") == identity()  # rolled back: not cached
    store.close()


def test_reads_racing_writes_see_each_write_once_it_returned(tmp_path):
    """Readers on other threads hammer the cache while a writer moves the identity through
    100 MAIL FROM domains: after each write returns, every read shows that write or a later one."""
    import threading

    store = Store(str(tmp_path / "sim.db"))
    store.write(lambda tx: store.insert_identity(tx, identity()))
    done = threading.Event()
    latest = {"n": 0}
    stale: list[tuple[int, int]] = []

    def domain_number(found) -> int:
        return int(found.mail_from.domain.split(".")[0][1:]) if found.mail_from else 0

    def reader():
        while not done.is_set():
            floor = latest["n"]  # written and returned before this read started
            seen = domain_number(store.get_identity(ACCOUNT, REGION, "example.com"))
            if seen < floor:
                stale.append((floor, seen))

    readers = [threading.Thread(target=reader) for _ in range(4)]
    for thread in readers:
        thread.start()
    current = identity()
    for n in range(1, 101):
        updated, _ = rules.apply_put(current, f"m{n}.example.com", B.REJECT_MESSAGE, float(n), SETTINGS)
        assert store.write(lambda tx: store.update_mail_from_if_unchanged(tx, current, updated))
        current = updated
        latest["n"] = n
    done.set()
    for thread in readers:
        thread.join()
    assert stale == []
    assert domain_number(store.get_identity(ACCOUNT, REGION, "example.com")) == 100
    store.close()
