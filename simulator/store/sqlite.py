"""SQLite persistence (WAL) for identities, MAIL FROM configs, history, DNS records,
the clock offset, account settings and the outbox. The facade is its only user;
every facade mutation is one transaction here, so what was acknowledged survives
a restart (and `kill -9`: WAL with synchronous=NORMAL loses nothing on a crash
of the process). Writes go through one API, `write(work)`; no rule lives here:
when a configuration is next due is the machine's answer, stored in `mf_due_at`.
"""
from __future__ import annotations

import json
import sqlite3
import os
import tempfile
import threading
from contextlib import contextmanager
from typing import Callable, Iterator, TypeVar

from ..core import machine
from ..core.model import (
    CHECK_MAIL_FROM,
    CHECK_VERIFICATION,
    BehaviorOnMxFailure,
    HistoryEntry,
    Identity,
    IdentityType,
    LookupOutcome,
    MailFromConfig,
    MailFromStatus,
    MxLookup,
    VerificationCheck,
    VerificationMethod,
    VerificationStatus,
)
from . import jsontext

T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS identities (
    account TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL,
    type TEXT NOT NULL, verification_status TEXT NOT NULL, created_at REAL NOT NULL,
    dkim_tokens TEXT NOT NULL, behavior TEXT NOT NULL,
    mf_domain TEXT, mf_status TEXT, mf_status_since REAL, mf_deadline REAL,
    mf_next_check_at REAL, mf_last_lookup TEXT, mf_due_at REAL,
    v_method TEXT, v_status_since REAL, v_deadline REAL, v_next_check_at REAL, v_last_lookup TEXT, v_due_at REAL,
    verify_token TEXT, dkim_signing INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (account, region, name)
);
CREATE TABLE IF NOT EXISTS history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    account TEXT NOT NULL, region TEXT NOT NULL, identity TEXT NOT NULL,
    at REAL NOT NULL, entry TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS history_identity ON history (account, region, identity, seq);
CREATE TABLE IF NOT EXISTS dns_records (
    id TEXT PRIMARY KEY, seq INTEGER NOT NULL, name TEXT NOT NULL, type TEXT NOT NULL,
    value TEXT NOT NULL, ttl INTEGER NOT NULL,
    rname TEXT  -- the name's labels in reverse order (com.example.mail): names below one are a range
);
CREATE TABLE IF NOT EXISTS dns_faults (name TEXT PRIMARY KEY, fault TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS accounts (
    account TEXT NOT NULL, region TEXT NOT NULL, settings TEXT NOT NULL,
    PRIMARY KEY (account, region)
);
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT NOT NULL UNIQUE, account TEXT NOT NULL, region TEXT NOT NULL,
    sent_at REAL NOT NULL, decision TEXT NOT NULL, relay TEXT NOT NULL,
    entry TEXT NOT NULL, raw BLOB NOT NULL, recipients INTEGER NOT NULL DEFAULT 0,
    plan TEXT  -- accepted, not sealed yet (service/sealing.py): what sealing needs; NULL once sealed
);
CREATE INDEX IF NOT EXISTS outbox_scope ON outbox (account, region, seq);
-- Recipients per minute of simulated time, kept with every outbox insert: the sending quota
-- reads at most a day of minutes plus one partial minute, however large the outbox.
CREATE TABLE IF NOT EXISTS outbox_counts (
    account TEXT NOT NULL, region TEXT NOT NULL, minute INTEGER NOT NULL, decision TEXT NOT NULL,
    recipients INTEGER NOT NULL,
    PRIMARY KEY (account, region, minute, decision)
);
CREATE TABLE IF NOT EXISTS templates (
    account TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL, created_at REAL NOT NULL,
    subject TEXT, text TEXT, html TEXT, tags TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (account, region, name)
);
CREATE TABLE IF NOT EXISTS configuration_sets (
    account TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL, created_at REAL NOT NULL,
    tags TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (account, region, name)
);
CREATE TABLE IF NOT EXISTS identity_tags (
    account TEXT NOT NULL, region TEXT NOT NULL, name TEXT NOT NULL, tags TEXT NOT NULL,
    PRIMARY KEY (account, region, name)
);
CREATE TABLE IF NOT EXISTS dkim_keys (
    name TEXT PRIMARY KEY, private_key TEXT NOT NULL, created_at REAL NOT NULL
);
"""
# Indexes on columns a database made by an earlier version may lack until _migrate adds them.
INDEXES = """
CREATE INDEX IF NOT EXISTS identities_due ON identities (mf_due_at);
CREATE INDEX IF NOT EXISTS identities_verification_due ON identities (v_due_at);
CREATE INDEX IF NOT EXISTS identities_verify_token ON identities (verify_token) WHERE verify_token IS NOT NULL;
CREATE INDEX IF NOT EXISTS outbox_quota ON outbox (account, region, sent_at, decision, recipients);
-- The embedded zone reads a name's records, and whether names lie below one, as it is asked.
CREATE INDEX IF NOT EXISTS dns_records_rname ON dns_records (rname, seq);
CREATE INDEX IF NOT EXISTS dns_records_seq ON dns_records (seq);
-- Start-up hands the relay what it had not delivered: a few rows out of the whole outbox.
CREATE INDEX IF NOT EXISTS outbox_relay_pending ON outbox (seq) WHERE relay = 'pending';
-- Messages acknowledged before they were sealed: a few rows, found without a scan.
CREATE INDEX IF NOT EXISTS outbox_unsealed ON outbox (seq) WHERE plan IS NOT NULL;
"""

_IDENTITY_FIELDS = (
    "account", "region", "name", "type", "verification_status", "created_at", "dkim_tokens", "behavior",
    "mf_domain", "mf_status", "mf_status_since", "mf_deadline", "mf_next_check_at", "mf_last_lookup", "mf_due_at",
    "v_method", "v_status_since", "v_deadline", "v_next_check_at", "v_last_lookup", "v_due_at",
    "verify_token", "dkim_signing",
)
# Columns an earlier version's database may lack, added by Store._migrate.
_ADDED_COLUMNS = {
    "mf_due_at": "REAL", "v_method": "TEXT", "v_status_since": "REAL", "v_deadline": "REAL",
    "v_next_check_at": "REAL", "v_last_lookup": "TEXT", "v_due_at": "REAL", "verify_token": "TEXT",
    "dkim_signing": "INTEGER NOT NULL DEFAULT 1",
}
_IDENTITY_COLUMNS = ", ".join(_IDENTITY_FIELDS)
# What a Put or a check changes, and what a compare-and-set compares (mf_last_lookup only
# de-duplicates history, so a check that differs only there is no conflict).
# Per kind of check: (the columns a Put or a check writes, the columns a compare-and-set compares).
_CHECK_FIELDS = {
    CHECK_MAIL_FROM: (
        ("behavior", "mf_domain", "mf_status", "mf_status_since", "mf_deadline", "mf_next_check_at",
         "mf_last_lookup", "mf_due_at"),
        ("behavior", "mf_domain", "mf_status", "mf_status_since", "mf_deadline", "mf_next_check_at"),
    ),
    CHECK_VERIFICATION: (
        ("verification_status", "v_method", "v_status_since", "v_deadline", "v_next_check_at", "v_last_lookup",
         "v_due_at", "verify_token"),
        ("verification_status", "v_method", "v_status_since", "v_deadline", "v_next_check_at", "verify_token"),
    ),
}


def _rname(name: str) -> str:
    """dns_records.rname: a name's labels in reverse order, so the names below one share a prefix."""
    return ".".join(reversed(name.split(".")))


def _lookup_to_json(lookup: MxLookup | None) -> str | None:
    return json.dumps(lookup.to_dict()) if lookup else None


def _lookup_from_json(text: str | None) -> MxLookup | None:
    if not text:
        return None
    d = json.loads(text)
    return MxLookup(LookupOutcome(d["outcome"]), tuple(d["answers"]), d["error"], d.get("spf"))


def _identity_values(identity: Identity) -> dict:
    return {
        "account": identity.account, "region": identity.region, "name": identity.name,
        "type": identity.type.value, "created_at": identity.created_at,
        "dkim_tokens": json.dumps(list(identity.dkim_tokens)), "dkim_signing": int(identity.dkim_signing_enabled),
        **_check_values[CHECK_MAIL_FROM](identity), **_check_values[CHECK_VERIFICATION](identity),
    }


def _mail_from_values(identity: Identity, compared: bool = False) -> dict:
    mf = identity.mail_from
    if mf is None:
        return {"behavior": identity.behavior.value, **dict.fromkeys(_CHECK_FIELDS[CHECK_MAIL_FROM][0][1:])}
    values = {"behavior": identity.behavior.value, "mf_domain": mf.domain, "mf_status": mf.status.value,
              "mf_status_since": mf.status_since, "mf_deadline": mf.deadline, "mf_next_check_at": mf.next_check_at}
    if not compared:
        values["mf_last_lookup"] = _lookup_to_json(mf.last_lookup)
        values["mf_due_at"] = machine.due_at(mf)
    return values


def _verification_values(identity: Identity, compared: bool = False) -> dict:
    check = identity.verification
    values = {"verification_status": identity.verification_status.value, "verify_token": identity.verification_token}
    if check is None:
        values.update(dict.fromkeys(("v_method", "v_status_since", "v_deadline", "v_next_check_at", "v_last_lookup",
                                     "v_due_at")))
    else:
        values.update({"v_method": check.method.value, "v_status_since": check.status_since,
                       "v_deadline": check.deadline, "v_next_check_at": check.next_check_at})
        if not compared:
            values["v_last_lookup"] = _lookup_to_json(check.last_lookup)
            values["v_due_at"] = machine.verification_machine(check).due_at(check)
    return values


# Per kind of check: the values of the columns it writes (_CHECK_FIELDS), from an identity
# (`compared=True`: at least those its compare-and-set compares).
_check_values = {CHECK_MAIL_FROM: _mail_from_values, CHECK_VERIFICATION: _verification_values}
# Per kind of check: its compare-and-set, with ? parameters: the written columns' new values,
# the identity's key, then the compared columns' old values.
_CHECK_UPDATES = {
    check: f"UPDATE identities SET {', '.join(f'{f}=?' for f in written)} "
           "WHERE account=? AND region=? AND name=? AND " + " AND ".join(f"{f} IS ?" for f in compared)
    for check, (written, compared) in _CHECK_FIELDS.items()
}


def _identity_from_row(row: sqlite3.Row) -> Identity:
    mail_from = None
    if row["mf_domain"] is not None:
        mail_from = MailFromConfig(
            domain=row["mf_domain"], status=MailFromStatus(row["mf_status"]), status_since=row["mf_status_since"],
            deadline=row["mf_deadline"], next_check_at=row["mf_next_check_at"],
            last_lookup=_lookup_from_json(row["mf_last_lookup"]),
        )
    verification_status = VerificationStatus(row["verification_status"])
    verification = None
    if row["v_method"] is not None:
        name = row["name"]
        verification = VerificationCheck(
            domain=name.rsplit("@", 1)[-1], method=VerificationMethod(row["v_method"]), status=verification_status,
            status_since=row["v_status_since"], deadline=row["v_deadline"], next_check_at=row["v_next_check_at"],
            last_lookup=_lookup_from_json(row["v_last_lookup"]),
        )
    return Identity(
        account=row["account"], region=row["region"], name=row["name"], type=IdentityType(row["type"]),
        verification_status=verification_status, created_at=row["created_at"],
        dkim_tokens=tuple(json.loads(row["dkim_tokens"])), behavior=BehaviorOnMxFailure(row["behavior"]),
        mail_from=mail_from, verification=verification, verification_token=row["verify_token"],
        dkim_signing_enabled=bool(row["dkim_signing"]),
    )


# What names every table the read cache holds rows of: identities and identity_tags ("identit"),
# accounts, templates, configuration_sets.
_CACHED_TABLES = ("identit", "accounts", "templates", "configuration_sets")


def _writes_cached(sql: str) -> bool:
    return any(name in sql for name in _CACHED_TABLES) and sql.lstrip()[:6].upper() != "SELECT"


class _Connection(sqlite3.Connection):
    """Notes whether a statement may have written a table the read cache holds rows of
    (`_CACHED_TABLES`). Anything but a plain SELECT naming one counts, so a write the store
    adds later is never missed."""

    wrote_cached = True

    def execute(self, sql, *args):
        if _writes_cached(sql):
            self.wrote_cached = True
        return super().execute(sql, *args)

    def executemany(self, sql, *args):
        if _writes_cached(sql):
            self.wrote_cached = True
        return super().executemany(sql, *args)

    def executescript(self, script):
        self.wrote_cached = True
        return super().executescript(script)


class _QueuedWrite:
    __slots__ = ("work", "done", "result", "error")

    def __init__(self, work):
        self.work, self.done, self.result, self.error = work, threading.Event(), None, None


# Identities (and their tags) read outside a write are kept, keyed by name, until the next
# commit: GetEmailIdentity and the send path read them on every request, and a SQLite read
# hands the GIL to another thread and back several times (under 16 concurrent requests that
# was most of GetEmailIdentity's cost). At most this many are kept.
READ_CACHE_SIZE = 20_000
# A message larger than this is written into its row through incremental blob I/O. Bound
# as a parameter, SQLite keeps its own copy with the prepared statement, which Python's
# statement cache holds until that statement runs again: one 40 MB message kept ~40 MB
# of the process until the next send.
LARGE_BLOB_BYTES = 1024 * 1024


class Store:
    """One SQLite database; a connection per thread, one writer at a time."""

    def __init__(self, path: str = ":memory:"):
        self._scratch: tempfile.TemporaryDirectory | None = None
        if path == ":memory:":
            # A throwaway file rather than a shared-cache memory database: shared cache
            # locks whole tables, so a read during another thread's write fails at once
            # ("database table is locked"), while WAL lets readers and the writer overlap.
            self._scratch = tempfile.TemporaryDirectory(prefix="mailfrom-sim-db-")
            self._uri = f"file:{os.path.join(self._scratch.name, 'memory.db')}"
        else:
            self._uri = f"file:{path}"
        self.path = path
        self._local = threading.local()
        self._write_lock = threading.RLock()
        self._queue_cv = threading.Condition()
        self._queue: list[_QueuedWrite] = []
        self._writer: threading.Thread | None = None
        self._closing = False
        # The read cache: entries made at `_generation` serve only while it is current; every
        # transaction's end moves it on (after the commit, before the writers are answered), so
        # a read that started before a commit is never served after it.
        self._generation = 0
        self._cache: dict[tuple, tuple[int, object]] = {}
        self._keeper = self._connect()
        with self._write_lock:
            self._keeper.executescript(SCHEMA)
            self._migrate(self._keeper)
            self._keeper.executescript(INDEXES)

    @staticmethod
    def _migrate(conn: sqlite3.Connection) -> None:
        """Bring a database made by an earlier version up to this schema."""
        columns = {row["name"] for row in conn.execute("PRAGMA table_info(identities)")}
        for column, kind in _ADDED_COLUMNS.items():
            if column not in columns:
                conn.execute(f"ALTER TABLE identities ADD COLUMN {column} {kind}")
        if "mf_due_at" not in columns:
            conn.execute("DROP INDEX IF EXISTS identities_next_check")
            conn.execute("DROP INDEX IF EXISTS identities_deadline")
            rows = conn.execute(f"SELECT {_IDENTITY_COLUMNS} FROM identities WHERE mf_domain IS NOT NULL").fetchall()
            conn.executemany(
                "UPDATE identities SET mf_due_at=? WHERE account=? AND region=? AND name=?",
                [(machine.due_at(_identity_from_row(r).mail_from), r["account"], r["region"], r["name"])
                 for r in rows])
        dns_columns = {row["name"] for row in conn.execute("PRAGMA table_info(dns_records)")}
        if "rname" not in dns_columns:
            conn.execute("ALTER TABLE dns_records ADD COLUMN rname TEXT")
            rows = conn.execute("SELECT id, name FROM dns_records").fetchall()
            conn.execute("BEGIN")
            conn.executemany("UPDATE dns_records SET rname=? WHERE id=?", [(_rname(n), i) for i, n in rows])
            conn.execute("COMMIT")
        outbox_columns = {row["name"] for row in conn.execute("PRAGMA table_info(outbox)")}
        if "plan" not in outbox_columns:  # sealing after the acknowledgement (service/sealing.py)
            conn.execute("ALTER TABLE outbox ADD COLUMN plan TEXT")
        if "recipients" not in outbox_columns:  # the quota counts recipients (SPEC §10)
            conn.execute("ALTER TABLE outbox ADD COLUMN recipients INTEGER NOT NULL DEFAULT 0")
            conn.execute("UPDATE outbox SET recipients = json_array_length(json_extract(entry, '$.destinations'))")
        if (conn.execute("SELECT EXISTS (SELECT 1 FROM outbox)").fetchone()[0]
                and not conn.execute("SELECT EXISTS (SELECT 1 FROM outbox_counts)").fetchone()[0]):
            conn.execute("INSERT INTO outbox_counts (account, region, minute, decision, recipients) "
                         "SELECT account, region, CAST(sent_at / 60 AS INTEGER), decision, SUM(recipients) "
                         "FROM outbox GROUP BY 1, 2, 3, 4")

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self._uri, uri=True, check_same_thread=False, isolation_level=None, timeout=30,
                               factory=_Connection)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=OFF" if self._scratch else "PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=30000")
        conn.row_factory = sqlite3.Row
        return conn

    @property
    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        return conn

    def write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work(conn)` in a write transaction shared with concurrent writes; return its result.

        Under many concurrent requests, one writer thread committing whatever has queued
        costs far fewer lock and GIL hand-offs than a transaction per request (bench_send:
        ~380 -> ~600 sends/s, p99 ~200 -> ~45 ms). Each piece of work runs in its own
        savepoint, so an error it raises undoes only its own writes and reaches only its
        caller, who returns only after the commit. `work` must not open a transaction.
        """
        item = _QueuedWrite(work)
        with self._queue_cv:
            if self._closing:
                raise RuntimeError("the store is closed")
            if self._writer is None:
                self._writer = threading.Thread(target=self._write_queued, name="store-writer", daemon=True)
                self._writer.start()
            self._queue.append(item)
            self._queue_cv.notify()
        item.done.wait()
        if item.error is not None:
            raise item.error
        return item.result

    def _write_queued(self) -> None:
        while True:
            with self._queue_cv:
                while not self._queue and not self._closing:
                    self._queue_cv.wait()
                if not self._queue:  # closing, and everything queued was written
                    conn = getattr(self._local, "conn", None)
                    if conn is not None:
                        conn.close()
                    return
                batch, self._queue = self._queue, []
            try:
                with self._transaction() as tx:
                    for item in batch:
                        tx.execute("SAVEPOINT queued_write")
                        try:
                            item.result = item.work(tx)
                        except BaseException as exc:
                            tx.execute("ROLLBACK TO queued_write")
                            item.error = exc
                        tx.execute("RELEASE queued_write")
            except Exception as exc:  # the commit itself failed: nothing of this batch is stored
                for item in batch:
                    item.error = item.error or exc
            for item in batch:
                item.done.set()
            # Not kept while waiting for the next batch: a write's closure can hold a 40 MB message.
            batch = item = None

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; everything inside commits together or not at all."""
        with self._write_lock:
            conn = self.conn
            conn.execute("BEGIN IMMEDIATE")
            conn.wrote_cached = False
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                self._generation += 1
                raise
            try:
                conn.execute("COMMIT")
            finally:
                # A transaction that wrote no cached table (a send's outbox rows) leaves the cache
                # valid: under a stream of sends the identities stay cached.
                if conn.wrote_cached:
                    self._generation += 1

    def _cached(self, key: tuple, load: Callable[[], T]) -> T:
        """`load()`, or what it gave since the last commit that wrote a cached table
        (`_CACHED_TABLES`, `_Connection`). Reads on the writer's thread (inside a
        transaction, seeing its own uncommitted writes) are never cached."""
        if threading.current_thread() is self._writer:
            return load()
        generation = self._generation
        hit = self._cache.get(key)
        if hit is not None and hit[0] == generation:
            return hit[1]
        value = load()
        if len(self._cache) >= READ_CACHE_SIZE:
            self._cache.clear()
        self._cache[key] = (generation, value)
        return value

    def close(self) -> None:
        with self._queue_cv:
            self._closing = True
            self._queue_cv.notify()
        if self._writer is not None:
            self._writer.join(timeout=10)  # it writes what is queued before it stops
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
        self._keeper.close()
        if self._scratch is not None:
            self._scratch.cleanup()

    # --- identities -------------------------------------------------------
    def get_identity(self, account: str, region: str, name: str) -> Identity | None:
        return self._cached(("identity", account, region, name), lambda: self._load_identity(account, region, name))

    def _load_identity(self, account: str, region: str, name: str) -> Identity | None:
        row = self.conn.execute(
            f"SELECT {_IDENTITY_COLUMNS} FROM identities WHERE account=? AND region=? AND name=?",
            (account, region, name),
        ).fetchone()
        return _identity_from_row(row) if row else None

    def get_identities(self, account: str, region: str, names: list[str]) -> dict[str, Identity]:
        if threading.current_thread() is self._writer:
            return self._load_identities(account, region, names)
        generation, found, missing = self._generation, {}, []
        for name in names:
            hit = self._cache.get(("identity", account, region, name))
            if hit is None or hit[0] != generation:
                missing.append(name)
            elif hit[1] is not None:
                found[name] = hit[1]
        if missing:
            loaded = self._load_identities(account, region, missing)
            if len(self._cache) + len(missing) > READ_CACHE_SIZE:
                self._cache.clear()
            for name in missing:
                self._cache[("identity", account, region, name)] = (generation, loaded.get(name))
            found.update(loaded)
        return found

    def _load_identities(self, account: str, region: str, names: list[str]) -> dict[str, Identity]:
        if not names:
            return {}
        marks = ",".join("?" * len(names))
        rows = self.conn.execute(
            f"SELECT {_IDENTITY_COLUMNS} FROM identities WHERE account=? AND region=? AND name IN ({marks})",
            (account, region, *names),
        ).fetchall()
        return {row["name"]: _identity_from_row(row) for row in rows}

    def list_identities(self, account: str, region: str, after: str | None, limit: int,
                        type_: IdentityType | None = None) -> list[Identity]:
        sql = f"SELECT {_IDENTITY_COLUMNS} FROM identities WHERE account=? AND region=?"
        args: list = [account, region]
        if after is not None:
            sql += " AND name > ?"
            args.append(after)
        if type_ is not None:
            sql += " AND type = ?"
            args.append(type_.value)
        sql += " ORDER BY name LIMIT ?"
        args.append(limit)
        return [_identity_from_row(r) for r in self.conn.execute(sql, args).fetchall()]

    def total_identities(self) -> int:
        """Identities of every account and region."""
        return self.conn.execute("SELECT COUNT(*) FROM identities").fetchone()[0]

    @staticmethod
    def set_verification(conn: sqlite3.Connection, identity: Identity, status: VerificationStatus) -> None:
        """Set the status by hand (/_sim): any DNS verification or pending link stops there."""
        conn.execute("UPDATE identities SET verification_status=?, v_method=NULL, v_status_since=NULL, "
                     "v_deadline=NULL, v_next_check_at=NULL, v_last_lookup=NULL, v_due_at=NULL, verify_token=NULL "
                     "WHERE account=? AND region=? AND name=?",
                     (status.value, identity.account, identity.region, identity.name))

    @staticmethod
    def insert_identity(conn: sqlite3.Connection, identity: Identity) -> bool:
        """Add a new identity; False (and nothing written) if it exists already."""
        cursor = conn.execute(
            f"INSERT OR IGNORE INTO identities ({_IDENTITY_COLUMNS}) "
            f"VALUES ({', '.join(':' + f for f in _IDENTITY_FIELDS)})",
            _identity_values(identity),
        )
        return cursor.rowcount == 1

    @staticmethod
    def update_check_if_unchanged(conn: sqlite3.Connection, check: str, seen: Identity, updated: Identity) -> bool:
        """Write what `check` (a Put or a check of that kind) changed in `updated`, only if the
        stored values are still those of `seen`: a compare-and-set, so rules run outside the
        write lock and a Put, a delete or a check that came in between is never overwritten."""
        written, compared = _CHECK_FIELDS[check]
        values = _check_values[check]
        old, new = values(seen, compared=True), values(updated)
        cursor = conn.execute(_CHECK_UPDATES[check], (*[new[f] for f in written], seen.account, seen.region,
                                                      seen.name, *[old[f] for f in compared]))
        return cursor.rowcount == 1

    @classmethod
    def update_mail_from_if_unchanged(cls, conn: sqlite3.Connection, seen: Identity, updated: Identity) -> bool:
        return cls.update_check_if_unchanged(conn, CHECK_MAIL_FROM, seen, updated)

    @staticmethod
    def set_dkim_signing(conn: sqlite3.Connection, identity: Identity, enabled: bool) -> None:
        conn.execute("UPDATE identities SET dkim_signing=? WHERE account=? AND region=? AND name=?",
                     (int(enabled), identity.account, identity.region, identity.name))

    def identity_with_token(self, token: str) -> Identity | None:
        row = self.conn.execute(f"SELECT {_IDENTITY_COLUMNS} FROM identities WHERE verify_token=?",
                                (token,)).fetchone()
        return _identity_from_row(row) if row else None


    @staticmethod
    def delete_identity(conn: sqlite3.Connection, account: str, region: str, name: str) -> None:
        conn.execute("DELETE FROM identities WHERE account=? AND region=? AND name=?", (account, region, name))

    def due_identities(self, now: float, limit: int = 100000) -> list[Identity]:
        rows = self.conn.execute(
            f"SELECT {_IDENTITY_COLUMNS} FROM identities WHERE mf_due_at <= ? "
            f"UNION SELECT {_IDENTITY_COLUMNS} FROM identities WHERE v_due_at <= ? LIMIT ?", (now, now, limit),
        ).fetchall()
        return [_identity_from_row(r) for r in rows]

    def configured_identities(self, account: str | None = None, region: str | None = None) -> list[Identity]:
        sql = f"SELECT {_IDENTITY_COLUMNS} FROM identities WHERE (mf_domain IS NOT NULL OR v_method IS NOT NULL)"
        args: list = []
        if account is not None:
            sql += " AND account=? AND region=?"
            args += [account, region]
        return [_identity_from_row(r) for r in self.conn.execute(sql, args).fetchall()]

    # --- history ----------------------------------------------------------
    @staticmethod
    def add_history(conn: sqlite3.Connection, account: str, region: str, identity: str,
                    entries: list[HistoryEntry]) -> None:
        conn.executemany(
            "INSERT INTO history (account, region, identity, at, entry) VALUES (?,?,?,?,?)",
            [(account, region, identity, e.at, json.dumps(e.to_dict())) for e in entries],
        )

    def history(self, account: str, region: str, identity: str) -> list[HistoryEntry]:
        rows = self.conn.execute(
            "SELECT entry FROM history WHERE account=? AND region=? AND identity=? ORDER BY seq",
            (account, region, identity),
        ).fetchall()
        return [HistoryEntry.from_dict(json.loads(r[0])) for r in rows]

    @staticmethod
    def delete_history(conn: sqlite3.Connection, account: str, region: str, identity: str) -> None:
        conn.execute("DELETE FROM history WHERE account=? AND region=? AND identity=?", (account, region, identity))

    # --- DNS zone -----------------------------------------------------------
    def dns_records(self) -> list[dict]:
        rows = self.conn.execute("SELECT id, name, type, value, ttl FROM dns_records ORDER BY seq").fetchall()
        return [dict(id=r[0], name=r[1], type=r[2], value=r[3], ttl=r[4]) for r in rows]

    @staticmethod
    def add_dns_record(conn: sqlite3.Connection, record: dict) -> None:
        seq = conn.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM dns_records").fetchone()[0]
        conn.execute(
            "INSERT INTO dns_records (id, seq, name, type, value, ttl, rname) VALUES (?,?,?,?,?,?,?)",
            (record["id"], seq, record["name"], record["type"], record["value"], record["ttl"], _rname(record["name"])),
        )

    @staticmethod
    def remove_dns_record(conn: sqlite3.Connection, record_id: str) -> None:
        conn.execute("DELETE FROM dns_records WHERE id=?", (record_id,))

    # Read per name by the embedded zone (nameserver/stored.py) rather than loaded whole at start.
    def dns_records_at(self, name: str) -> list[dict]:
        rows = self.conn.execute("SELECT id, name, type, value, ttl FROM dns_records WHERE rname=? ORDER BY seq",
                                 (_rname(name),)).fetchall()
        return [dict(id=r[0], name=r[1], type=r[2], value=r[3], ttl=r[4]) for r in rows]

    # Each of these two reads gives one row, JSON, whatever the number of names: fetching a
    # row releases the GIL, which the embedded DNS server would otherwise hand back and forth
    # with a busy lookup thread once per row (bench_scale's sweep: 4x the context switches).
    def dns_records_among(self, names: list[str]) -> dict[str, list[dict]]:
        """dns_records_at for many names in one read: the embedded server's burst of questions."""
        rows = json.loads(self.conn.execute(
            "SELECT json_group_array(json_array(id, name, type, value, ttl, seq)) FROM dns_records "
            "WHERE rname IN (SELECT value FROM json_each(?))", (json.dumps([_rname(n) for n in names]),)).fetchone()[0])
        found: dict[str, list[dict]] = {}
        for r in sorted(rows, key=lambda r: r[5]):
            found.setdefault(r[1], []).append(dict(id=r[0], name=r[1], type=r[2], value=r[3], ttl=r[4]))
        return found

    def dns_names_below_among(self, names: list[str]) -> set[str]:
        """Those of `names` with a record's name below them (dns_names_below, in one read)."""
        by_rname = {_rname(name): name for name in names}
        below = json.loads(self.conn.execute(
            "SELECT json_group_array(asked.value) FROM json_each(?) AS asked WHERE EXISTS "
            "(SELECT 1 FROM dns_records WHERE rname > asked.value || '.' AND rname < asked.value || '/')",
            (json.dumps(list(by_rname)),)).fetchone()[0])
        return {by_rname[rname] for rname in below}

    def dns_record(self, record_id: str) -> dict | None:
        r = self.conn.execute("SELECT id, name, type, value, ttl FROM dns_records WHERE id=?", (record_id,)).fetchone()
        return dict(id=r[0], name=r[1], type=r[2], value=r[3], ttl=r[4]) if r else None

    def dns_names_below(self, name: str) -> bool:
        """Whether a record's name lies below `name` (an rname range: '.' + 1 is '/')."""
        prefix = _rname(name)
        return bool(self.conn.execute("SELECT EXISTS (SELECT 1 FROM dns_records WHERE rname > ? AND rname < ?)",
                                      (prefix + ".", prefix + "/")).fetchone()[0])

    @staticmethod
    def clear_dns_records(conn: sqlite3.Connection) -> None:
        conn.execute("DELETE FROM dns_records")

    def dns_faults(self) -> dict[str, str]:
        return dict(self.conn.execute("SELECT name, fault FROM dns_faults").fetchall())

    @staticmethod
    def set_dns_fault(conn: sqlite3.Connection, name: str, fault: str | None) -> None:
        if fault is None:
            conn.execute("DELETE FROM dns_faults WHERE name=?", (name,))
        else:
            conn.execute("INSERT OR REPLACE INTO dns_faults (name, fault) VALUES (?,?)", (name, fault))

    # --- meta: clock offset -------------------------------------------------
    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else default

    @staticmethod
    def set_meta(conn: sqlite3.Connection, key: str, value: str) -> None:
        conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?,?)", (key, value))

    # --- account settings ---------------------------------------------------
    def account_settings(self, account: str, region: str) -> dict:
        text = self._cached(("accounts", account, region), lambda: self._load_account_settings(account, region))
        return json.loads(text) if text else {}

    def _load_account_settings(self, account: str, region: str) -> str | None:
        row = self.conn.execute(
            "SELECT settings FROM accounts WHERE account=? AND region=?", (account, region)
        ).fetchone()
        return row[0] if row else None

    @staticmethod
    def save_account_settings(conn: sqlite3.Connection, account: str, region: str, settings: dict) -> None:
        conn.execute(
            "INSERT OR REPLACE INTO accounts (account, region, settings) VALUES (?,?,?)",
            (account, region, json.dumps(settings)),
        )

    # --- outbox -------------------------------------------------------------
    @staticmethod
    def add_outbox_many(conn: sqlite3.Connection, rows: list[tuple[dict, str, bytes, int, dict | None]]) -> None:
        """Store send attempts, each `(entry, relay, raw, recipients, plan)`: its relay state lives
        in its own column, updated as delivery goes; `recipients` is what it counts toward the
        sending quota; `plan`: not sealed yet (see service/sealing.py), `raw` is then the MIME as
        composed or empty. One statement for all (a bulk send's 50), the quota's minutes summed."""
        small, counts = [], {}
        for entry, relay, raw, recipients, plan in rows:
            values = (entry["message_id"], entry["account"], entry["region"], entry["sent_at"],
                      entry["mail_from_decision"], relay, jsontext.dumps(entry), raw, recipients,
                      jsontext.dumps(plan) if plan is not None else None)
            if len(raw) > LARGE_BLOB_BYTES:  # written in place: a bound copy would stay with the cached statement
                cursor = conn.execute(
                    "INSERT INTO outbox (message_id, account, region, sent_at, decision, relay, entry, raw, "
                    "recipients, plan) VALUES (?,?,?,?,?,?,?,zeroblob(?),?,?)", (*values[:7], len(raw), *values[8:]))
                with conn.blobopen("outbox", "raw", cursor.lastrowid) as blob:
                    blob.write(raw)
            else:
                small.append(values)
            key = (entry["account"], entry["region"], int(entry["sent_at"] // 60), entry["mail_from_decision"])
            counts[key] = counts.get(key, 0) + recipients
        if small:
            conn.executemany(
                "INSERT INTO outbox (message_id, account, region, sent_at, decision, relay, entry, raw, recipients, "
                "plan) VALUES (?,?,?,?,?,?,?,?,?,?)", small)
        conn.executemany(
            "INSERT INTO outbox_counts (account, region, minute, decision, recipients) VALUES (?,?,?,?,?) "
            "ON CONFLICT (account, region, minute, decision) DO UPDATE SET recipients = recipients + excluded.recipients",
            [(*key, recipients) for key, recipients in counts.items()])

    def unsealed_outbox(self, limit: int, message_ids: list[str] | None = None
                        ) -> list[tuple[dict, str, bytes, dict]]:
        """Rows still waiting to be sealed, oldest first (or those among `message_ids`):
        (entry, relay, raw, plan)."""
        if message_ids is None:
            rows = self.conn.execute("SELECT entry, relay, raw, plan FROM outbox WHERE plan IS NOT NULL "
                                     "ORDER BY seq LIMIT ?", (limit,)).fetchall()
        else:
            marks = ",".join("?" * len(message_ids))
            rows = self.conn.execute(f"SELECT entry, relay, raw, plan FROM outbox WHERE message_id IN ({marks}) "
                                     "AND plan IS NOT NULL ORDER BY seq LIMIT ?", (*message_ids, limit)).fetchall()
        return [(jsontext.loads(entry), relay, raw, jsontext.loads(plan)) for entry, relay, raw, plan in rows]

    def unsealed_in_page(self, account: str, region: str, limit: int, before: int | None) -> list[str]:
        """The newest `limit` unsealed rows older than seq `before`: every unsealed row of that page."""
        return [row[0] for row in self.conn.execute(
            "SELECT message_id FROM outbox WHERE plan IS NOT NULL AND seq < ? AND account=? AND region=? "
            "ORDER BY seq DESC LIMIT ?", (before if before is not None else 1 << 62, account, region, limit))]

    @staticmethod
    def seal_outbox(conn: sqlite3.Connection, message_id: str, entry: dict, raw: bytes) -> bool:
        """The sealed entry and raw message replace the plan; False if the row is gone (cleared)."""
        large = len(raw) > LARGE_BLOB_BYTES
        cursor = conn.execute(
            f"UPDATE outbox SET entry=?, raw={'zeroblob(?)' if large else '?'}, plan=NULL "
            "WHERE message_id=? AND plan IS NOT NULL RETURNING seq",
            (jsontext.dumps(entry), len(raw) if large else raw, message_id))
        row = cursor.fetchone()
        cursor.close()
        if row is None:
            return False
        if large:
            with conn.blobopen("outbox", "raw", row[0]) as blob:
                blob.write(raw)
        return True

    def count_unsealed(self) -> int:
        return self.conn.execute("SELECT count(*) FROM outbox WHERE plan IS NOT NULL").fetchone()[0]

    @staticmethod
    def set_outbox_relay(conn: sqlite3.Connection, message_id: str, relay: str) -> None:
        conn.execute("UPDATE outbox SET relay=? WHERE message_id=?", (relay, message_id))

    def outbox(self, account: str, region: str, limit: int, before: int | None = None,
               raw_budget: int | None = None) -> list[tuple[int, dict, str, bytes | None, int]]:
        """Newest first, older than seq `before`: (seq, entry, relay, raw, raw size). A raw message
        is read only while the page's raw bytes stay within `raw_budget` (None: no budget);
        past it, raw is None and only its size is known (length() does not read the blob)."""
        rows = self.conn.execute(
            "SELECT seq, entry, relay, length(raw) FROM outbox WHERE account=? AND region=? AND seq < ? "
            "ORDER BY seq DESC LIMIT ?",
            (account, region, before if before is not None else 1 << 62, limit),
        ).fetchall()
        page, spent = [], 0
        for seq, entry, relay, size in rows:
            raw = None
            if raw_budget is None or spent + size <= raw_budget:
                raw = self.conn.execute("SELECT raw FROM outbox WHERE seq=?", (seq,)).fetchone()[0]
                spent += size
            page.append((seq, jsontext.loads(entry), relay, raw, size))
        return page

    def outbox_entry(self, message_id: str) -> tuple[dict, str, bytes] | None:
        row = self.conn.execute("SELECT entry, relay, raw FROM outbox WHERE message_id=?", (message_id,)).fetchone()
        return (jsontext.loads(row[0]), row[1], row[2]) if row else None

    def count_sent_since(self, account: str, region: str, since: float, rejected: str) -> int:
        """Recipients (To + Cc + Bcc) of the outbox entries since `since` whose decision is not
        `rejected`: SES's quota counts recipients. The whole minutes come from `outbox_counts`, the
        partial first minute from the covering index `outbox_quota`: a flat cost at any outbox size."""
        first_whole = int(since // 60) + 1
        conn = self.conn
        whole = conn.execute(
            "SELECT COALESCE(SUM(recipients), 0) FROM outbox_counts WHERE account=? AND region=? AND minute >= ? "
            "AND decision != ?", (account, region, first_whole, rejected)).fetchone()[0]
        partial = conn.execute(
            "SELECT COALESCE(SUM(recipients), 0) FROM outbox WHERE account=? AND region=? AND sent_at >= ? "
            "AND sent_at < ? AND decision != ?", (account, region, since, first_whole * 60.0, rejected)).fetchone()[0]
        return whole + partial

    def with_relay_state(self, relay: str) -> list[tuple[dict, bytes]]:
        # Not a row waiting to be sealed: the sealer hands it to the relay once it is.
        rows = self.conn.execute("SELECT entry, raw FROM outbox WHERE relay=? AND plan IS NULL ORDER BY seq",
                                 (relay,)).fetchall()
        return [(jsontext.loads(r[0]), r[1]) for r in rows]

    @staticmethod
    def clear_outbox(conn: sqlite3.Connection, account: str | None = None, region: str | None = None) -> None:
        for table in ("outbox", "outbox_counts"):
            if account is None:
                conn.execute(f"DELETE FROM {table}")
            else:
                conn.execute(f"DELETE FROM {table} WHERE account=? AND region=?", (account, region))

    # --- templates, configuration sets, identity tags -------------------------
    # A "named" row is a dict of the table's columns; tags are stored as JSON text.
    _NAMED_COLUMNS = {"templates": ("name", "created_at", "subject", "text", "html", "tags"),
                      "configuration_sets": ("name", "created_at", "tags")}

    @classmethod
    def insert_named(cls, conn: sqlite3.Connection, table: str, account: str, region: str, row: dict) -> bool:
        """Add a template or configuration set; False (and nothing written) if the name is taken."""
        columns = cls._NAMED_COLUMNS[table]
        cursor = conn.execute(
            f"INSERT OR IGNORE INTO {table} (account, region, {', '.join(columns)}) "
            f"VALUES (?, ?, {', '.join('?' * len(columns))})",
            (account, region, *(json.dumps(row[c]) if c == "tags" else row.get(c) for c in columns)))
        return cursor.rowcount == 1

    @staticmethod
    def update_template(conn: sqlite3.Connection, account: str, region: str, row: dict) -> bool:
        cursor = conn.execute("UPDATE templates SET subject=?, text=?, html=? WHERE account=? AND region=? AND name=?",
                              (row.get("subject"), row.get("text"), row.get("html"), account, region, row["name"]))
        return cursor.rowcount == 1

    @staticmethod
    def delete_named(conn: sqlite3.Connection, table: str, account: str, region: str, name: str) -> bool:
        cursor = conn.execute(f"DELETE FROM {table} WHERE account=? AND region=? AND name=?", (account, region, name))
        return cursor.rowcount == 1

    def get_named(self, table: str, account: str, region: str, name: str) -> dict | None:
        row = self._cached(("named", table, account, region, name),
                           lambda: self._load_named(table, account, region, name))
        return self._named(row) if row else None

    def _load_named(self, table: str, account: str, region: str, name: str) -> sqlite3.Row | None:
        columns = self._NAMED_COLUMNS[table]
        return self.conn.execute(f"SELECT {', '.join(columns)} FROM {table} WHERE account=? AND region=? AND name=?",
                                 (account, region, name)).fetchone()

    def list_named(self, table: str, account: str, region: str, after: str | None, limit: int) -> list[dict]:
        columns = self._NAMED_COLUMNS[table]
        rows = self.conn.execute(
            f"SELECT {', '.join(columns)} FROM {table} WHERE account=? AND region=? AND name > ? "
            "ORDER BY name LIMIT ?", (account, region, after or "", limit)).fetchall()
        return [self._named(r) for r in rows]

    @staticmethod
    def _named(row: sqlite3.Row) -> dict:
        named = dict(row)
        named["tags"] = json.loads(named["tags"])
        return named

    @staticmethod
    def set_identity_tags(conn: sqlite3.Connection, account: str, region: str, name: str,
                          tags: list[dict] | None) -> None:
        if tags:
            conn.execute("INSERT OR REPLACE INTO identity_tags (account, region, name, tags) VALUES (?,?,?,?)",
                         (account, region, name, json.dumps(tags)))
        else:
            conn.execute("DELETE FROM identity_tags WHERE account=? AND region=? AND name=?", (account, region, name))

    def identity_tags(self, account: str, region: str, name: str) -> list[dict]:
        text = self._cached(("tags", account, region, name), lambda: self._load_tags(account, region, name))
        return json.loads(text) if text else []  # a fresh list each time: callers may change it

    def _load_tags(self, account: str, region: str, name: str) -> str | None:
        row = self.conn.execute("SELECT tags FROM identity_tags WHERE account=? AND region=? AND name=?",
                                (account, region, name)).fetchone()
        return row[0] if row else None

    # --- DKIM keys (SES's side: the name the public key is published at -> PEM) ---
    def dkim_keys(self) -> dict[str, str]:
        return {r[0]: r[1] for r in self.conn.execute("SELECT name, private_key FROM dkim_keys ORDER BY name")}

    def dkim_keys_at(self, names: list[str]) -> dict[str, str]:
        if not names:
            return {}
        rows = self.conn.execute(f"SELECT name, private_key FROM dkim_keys WHERE name IN ({','.join('?' * len(names))})",
                                 names).fetchall()
        return {r[0]: r[1] for r in rows}

    def dkim_keys_below(self, domain: str) -> bool:
        """Whether a key is published below `domain` (a scan, for the few names SES's keys lie under)."""
        return bool(self.conn.execute("SELECT EXISTS (SELECT 1 FROM dkim_keys WHERE name GLOB ?)",
                                      ("*." + domain,)).fetchone()[0])

    @staticmethod
    def add_dkim_keys(conn: sqlite3.Connection, keys: dict[str, str], now: float) -> None:
        conn.executemany("INSERT OR IGNORE INTO dkim_keys (name, private_key, created_at) VALUES (?, ?, ?)",
                         [(name, pem, now) for name, pem in keys.items()])

    @staticmethod
    def remove_dkim_keys(conn: sqlite3.Connection, names: list[str]) -> None:
        conn.executemany("DELETE FROM dkim_keys WHERE name=?", [(name,) for name in names])

    @staticmethod
    def reset(conn: sqlite3.Connection) -> None:
        for table in ("identities", "history", "dns_records", "dns_faults", "meta", "accounts", "outbox", "outbox_counts",
                      "templates", "configuration_sets", "identity_tags", "dkim_keys"):
            conn.execute(f"DELETE FROM {table}")
