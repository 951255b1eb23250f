"""The embedded zone over the simulator's database (as `serve` runs it): records are read
per name as asked, never loaded whole, so what these check is that reading lazily changes
nothing that can be seen -- a restart serves what was stored, a change is served at once,
a name with many records is whole, and the rules (duplicates, CNAMEs, SES's records) hold
against records the zone has not read yet."""
import socket
import sqlite3

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from simulator.nameserver.server import EmbeddedDnsServer
from simulator.nameserver.stored import StoredRecords
from simulator.nameserver.zone import DuplicateRecordError, Zone, ZoneError
from simulator.store import Store

FEEDBACK = "feedback-smtp.us-east-1.amazonses.com"


@pytest.fixture
def db(tmp_path):
    return str(tmp_path / "zone.db")


@pytest.fixture
def store(db):
    opened = Store(db)
    yield opened
    opened.close()


def zone_over(store, cache_names=8):
    return Zone(StoredRecords(store), cache_names=cache_names)


def texts(answer):
    return sorted(str(rdata) for rrset in answer.answer for rdata in rrset)


def test_a_restarted_zone_serves_what_was_stored_without_loading_it(db):
    first_store = Store(db)
    first = zone_over(first_store)
    mx = first.add("mail.example.com", "MX", f"10 {FEEDBACK}")
    first.add("a.b.deep.example.com", "A", "192.0.2.1")
    first.add("mail.example.com", "TXT", "v=spf1 include:amazonses.com ~all")
    first_store.close()

    store = Store(db)
    try:
        zone = zone_over(store)
        zone.load((), {})  # what the facade does at start: faults only
        assert texts(zone.answer("MAIL.example.com.", "MX")) == [f"10 {FEEDBACK}."]
        assert texts(zone.answer("mail.example.com", "TXT")) == ["\"v=spf1 include:amazonses.com ~all\""]
        assert zone.answer("b.deep.example.com", "A").rcode == dns.rcode.NOERROR  # an empty non-terminal
        assert zone.answer("deep.example.com", "MX").answer == ()
        assert zone.answer("other.example.com", "MX").rcode == dns.rcode.NXDOMAIN
        assert zone.records()[0] == mx and len(zone.records()) == 3
    finally:
        store.close()


def test_a_change_is_served_at_once_and_reported_to_the_server(store):
    zone = zone_over(store)
    assert zone.answer("mail.example.com", "MX").rcode == dns.rcode.NXDOMAIN  # now cached as such
    assert zone.answer("example.com", "MX").rcode == dns.rcode.NXDOMAIN
    before = zone.generation

    record = zone.add("mail.example.com", "MX", f"10 {FEEDBACK}")

    assert texts(zone.answer("mail.example.com", "MX")) == [f"10 {FEEDBACK}."]
    assert zone.answer("example.com", "MX").rcode == dns.rcode.NOERROR
    assert zone.changes_since(before) == (zone.generation, {"mail.example.com", "example.com", "com"})
    assert store.dns_record(record["id"]) == record

    assert zone.remove(record["id"]) is True
    assert zone.answer("mail.example.com", "MX").rcode == dns.rcode.NXDOMAIN
    assert zone.answer("example.com", "MX").rcode == dns.rcode.NXDOMAIN
    assert zone.remove(record["id"]) is False and store.dns_records() == []


def test_a_name_with_many_records_is_answered_whole(store):
    zone = zone_over(store)
    added = [zone.add("many.example.com", "A", f"192.0.2.{n}") for n in range(1, 201)]
    zone.add("many.example.com", "TXT", "hello")
    zone = zone_over(store)  # nothing read yet

    answer = zone.answer("many.example.com", "A")
    assert len(answer.answer[0]) == 200 and answer.section.count == 200
    zone.remove(added[0]["id"])
    assert len(zone.answer("many.example.com", "A").answer[0]) == 199
    assert texts(zone.answer("many.example.com", "TXT")) == ['"hello"']


def test_more_names_than_the_cache_holds_are_all_answered(store):
    zone = zone_over(store, cache_names=4)
    for n in range(40):
        zone.add(f"m{n}.example.com", "MX", f"{n} mx.example.net")
    for _ in range(2):
        for n in range(40):
            assert texts(zone.answer(f"m{n}.example.com", "MX")) == [f"{n} mx.example.net."]
    zone.prefetch([f"m{n}.example.com" for n in range(40)] + ["nope.example.com"])
    zone.add("m39.example.com", "MX", "99 other.example.net")  # after the read-ahead: still seen
    assert texts(zone.answer("m39.example.com", "MX")) == ["39 mx.example.net.", "99 other.example.net."]
    assert zone.answer("nope.example.com", "MX").rcode == dns.rcode.NXDOMAIN


def test_the_rules_hold_against_records_not_read_yet(store):
    zone_over(store).add("mail.example.com", "MX", f"10 {FEEDBACK}", id="stored-1")
    zone_over(store).add("alias.example.com", "CNAME", "mail.example.com")

    with pytest.raises(DuplicateRecordError, match="stored-1"):
        zone_over(store).add("Mail.Example.com.", "MX", f"10 {FEEDBACK.upper()}")
    with pytest.raises(ZoneError, match="CNAME"):
        zone_over(store).add("alias.example.com", "TXT", "x")
    with pytest.raises(ZoneError, match="already in use"):
        zone_over(store).add("other.example.com", "A", "192.0.2.1", id="stored-1")
    with pytest.raises(ZoneError, match="store"):
        zone_over(store).load([{"name": "x.example.com", "type": "A", "value": "192.0.2.1"}])
    assert len(store.dns_records()) == 2


def test_a_failed_write_changes_nothing(store):
    zone = zone_over(store)
    kept = zone.add("mail.example.com", "MX", f"10 {FEEDBACK}")
    with sqlite3.connect(store.path) as conn:
        conn.execute("CREATE TRIGGER refuse BEFORE INSERT ON dns_records BEGIN SELECT RAISE(ABORT, 'no'); END")
    generation = zone.generation

    with pytest.raises(sqlite3.Error):
        zone.add("new.example.com", "MX", f"10 {FEEDBACK}")

    assert zone.generation == generation and zone.records() == [kept]
    assert zone.answer("new.example.com", "MX").rcode == dns.rcode.NXDOMAIN


class Keys:
    """A RecordSource like the DKIM key ring: TXT records below keys.example.net."""

    def __init__(self):
        self.held = {}

    def records_at(self, name):
        return [{"type": "TXT", "value": self.held[name], "ttl": 60}] if name in self.held else []

    def has_names_below(self, name):
        return any(key.endswith("." + name) for key in self.held)


def test_ses_records_held_and_read_from_a_source_next_to_the_user_s(store):
    zone = zone_over(store)
    spf = zone.add("ses.example.net", "TXT", "v=spf1 -all", system=True)
    keys = Keys()
    zone.add_source(keys)
    assert zone.answer("k1.keys.example.net", "TXT").rcode == dns.rcode.NXDOMAIN

    keys.held["k1.keys.example.net"] = "v=DKIM1; p=AAAA"
    zone.touch(["k1.keys.example.net"])
    assert texts(zone.answer("k1.keys.example.net", "TXT")) == ['"v=DKIM1; p=AAAA"']
    assert zone.answer("keys.example.net", "TXT").rcode == dns.rcode.NOERROR  # an empty non-terminal
    assert zone.records() == []  # SES's are served, not listed
    with pytest.raises(DuplicateRecordError):
        zone.add("k1.keys.example.net", "TXT", "v=DKIM1; p=AAAA")
    assert zone.remove(spf["id"]) is False  # not the user's to remove

    zone.add("k2.keys.example.net", "CNAME", "elsewhere.example.org")  # the user's came first: it stays
    keys.held["k2.keys.example.net"] = "v=DKIM1; p=BBBB"
    zone.touch(["k2.keys.example.net"])
    assert [rrset.rdtype for rrset in zone.answer("k2.keys.example.net", "TXT").answer] == [dns.rdatatype.CNAME]

    zone.clear()
    assert store.dns_records() == [] and zone.answer("k2.keys.example.net", "TXT").answer[0].rdtype == dns.rdatatype.TXT
    assert texts(zone.answer("ses.example.net", "TXT")) == ['"v=spf1 -all"']
    assert zone.remove(spf["id"], system=True) is True
    assert zone.answer("ses.example.net", "TXT").rcode == dns.rcode.NXDOMAIN


def test_a_stored_record_the_zone_cannot_take_is_left_out(store, caplog):
    zone = zone_over(store)
    zone.add("mail.example.com", "MX", f"10 {FEEDBACK}")
    store.write(lambda tx: store.add_dns_record(tx, {"id": "bad", "name": "mail.example.com", "type": "MX",
                                                     "value": "not an mx", "ttl": 300}))

    assert texts(zone_over(store).answer("mail.example.com", "MX")) == [f"10 {FEEDBACK}."]
    assert "not served" in caplog.text


def test_a_database_from_before_the_name_index_is_brought_up_to_date(db):
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE dns_records (id TEXT PRIMARY KEY, seq INTEGER NOT NULL, name TEXT NOT NULL, "
                     "type TEXT NOT NULL, value TEXT NOT NULL, ttl INTEGER NOT NULL)")
        conn.execute("INSERT INTO dns_records VALUES ('old1', 1, 'a.b.example.com', 'A', '192.0.2.7', 300)")
    store = Store(db)
    try:
        zone = zone_over(store)
        assert texts(zone.answer("a.b.example.com", "A")) == ["192.0.2.7"]
        assert zone.answer("b.example.com", "A").rcode == dns.rcode.NOERROR
    finally:
        store.close()


def test_a_burst_of_queries_over_the_wire_is_answered_from_the_store(store):
    zone = zone_over(store, cache_names=16)
    for n in range(0, 120, 2):
        zone.add(f"m{n}.example.com", "MX", f"10 {FEEDBACK}")
    with EmbeddedDnsServer(zone_over(store, cache_names=16), host="127.0.0.1", port=0) as server:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(5)
            # Sent before any is read, they queue up as bursts (no more than a pipeline's window:
            # the server's receive queue holds that much).
            for n in range(120):
                query = dns.message.make_query(f"m{n}.example.com", "MX")
                query.id = n
                sock.sendto(query.to_wire(), server.address)
            answers = {}
            while len(answers) < 120:
                reply = dns.message.from_wire(sock.recv(65535))
                answers[reply.id] = reply
        assert sorted(answers) == list(range(120))
        assert all(answers[n].rcode() == (dns.rcode.NOERROR if n % 2 == 0 else dns.rcode.NXDOMAIN) for n in answers)
        assert all(len(answers[n].answer) == (n % 2 == 0) for n in answers)
