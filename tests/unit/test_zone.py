"""The embedded zone: validation, record bookkeeping, faults and answer() logic."""
import threading

import dns.message
import dns.name
import dns.rcode
import dns.rdataset
import dns.rdatatype
import pytest

from simulator.nameserver.zone import DuplicateRecordError, Zone, ZoneError

FEEDBACK = "feedback-smtp.us-east-1.amazonses.com"


@pytest.fixture
def zone():
    return Zone()


# --- add: normalisation -------------------------------------------------------


def test_add_returns_the_stored_record_with_a_short_hex_id(zone):
    record = zone.add("mail.example.com", "MX", f"10 {FEEDBACK}")

    assert set(record) == {"id", "name", "type", "value", "ttl"}
    assert len(record["id"]) == 8 and int(record["id"], 16) >= 0
    assert record["ttl"] == 300


def test_add_lower_cases_names_and_drops_the_trailing_dot(zone):
    record = zone.add("Mail.EXAMPLE.com.", "mx", "10 FEEDBACK-SMTP.us-east-1.amazonses.COM")

    assert record["name"] == "mail.example.com"
    assert record["type"] == "MX"
    assert record["value"] == f"10 {FEEDBACK}."


@pytest.mark.parametrize(
    ("rtype", "value", "stored"),
    [
        ("MX", " 0005   mx.example.net ", "5 mx.example.net."),
        ("MX", "0 .", "0 ."),
        ("TXT", "v=spf1 include:amazonses.com ~all", "v=spf1 include:amazonses.com ~all"),
        ("TXT", '"v=spf1 include:amazonses.com ~all"', "v=spf1 include:amazonses.com ~all"),
        ("TXT", "", ""),
        ("A", "192.0.2.1", "192.0.2.1"),
        ("AAAA", "2001:DB8:0:0::1", "2001:db8::1"),
        ("CNAME", "Target.Example.NET", "target.example.net."),
        ("NS", "ns1.example.net.", "ns1.example.net."),
    ],
)
def test_add_stores_each_supported_type_normalised(zone, rtype, value, stored):
    assert zone.add("x.example.com", rtype, value)["value"] == stored


def test_add_accepts_underscores_and_an_explicit_id_and_ttl(zone):
    record = zone.add("_dmarc.example.com", "TXT", "v=DMARC1; p=none", ttl=0, id="rec-1")

    assert record == {"id": "rec-1", "name": "_dmarc.example.com", "type": "TXT", "value": "v=DMARC1; p=none", "ttl": 0}


# --- add: validation ------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "",
        ".",
        "a..example.com",
        "-a.example.com",
        "a-.example.com",
        "a b.example.com",
        "a*.example.com",
        "é.example.com",
        "x" * 64 + ".example.com",
        ".".join(["a" * 63] * 4) + ".com",  # 257 characters
        None,
        42,
    ],
)
def test_add_rejects_invalid_names(zone, name):
    with pytest.raises(ZoneError):
        zone.add(name, "A", "192.0.2.1")
    assert zone.records() == []


def test_add_accepts_a_name_of_253_characters(zone):
    name = ".".join(["a" * 63] * 3 + ["b" * 61])

    assert len(name) == 253
    assert zone.add(name, "A", "192.0.2.1")["name"] == name


@pytest.mark.parametrize(
    ("rtype", "value"),
    [
        ("MX", "10"),
        ("MX", "mail.example.com"),
        ("MX", "10 mail.example.com extra"),
        ("MX", "-1 mail.example.com"),
        ("MX", "65536 mail.example.com"),
        ("MX", "ten mail.example.com"),
        ("MX", "10 bad..host"),
        ("MX", "10 192.0.2.1:25"),
        ("TXT", "x" * 4001),
        ("TXT", 12),
        ("A", "256.0.0.1"),
        ("A", "192.0.2"),
        ("A", "2001:db8::1"),
        ("AAAA", "192.0.2.1"),
        ("AAAA", "fe80::1%eth0"),
        ("CNAME", "not a host"),
        ("CNAME", ""),
        ("NS", "-ns.example.com"),
    ],
)
def test_add_rejects_invalid_values(zone, rtype, value):
    with pytest.raises(ZoneError):
        zone.add("mail.example.com", rtype, value)
    assert zone.records() == []


@pytest.mark.parametrize("rtype", ["SOA", "SRV", "PTR", "", None, "ANY"])
def test_add_rejects_unsupported_types_naming_the_supported_ones(zone, rtype):
    with pytest.raises(ZoneError, match="MX"):
        zone.add("mail.example.com", rtype, "x")


@pytest.mark.parametrize("ttl", [-1, 2147483648, 1.5, "300", True, None])
def test_add_rejects_invalid_ttls(zone, ttl):
    with pytest.raises(ZoneError, match="ttl"):
        zone.add("mail.example.com", "A", "192.0.2.1", ttl=ttl)


@pytest.mark.parametrize("record_id", ["", "has space", "x" * 65, 7, "a/b"])
def test_add_rejects_invalid_ids(zone, record_id):
    with pytest.raises(ZoneError, match="id"):
        zone.add("mail.example.com", "A", "192.0.2.1", id=record_id)


def test_add_rejects_an_id_already_in_use(zone):
    zone.add("a.example.com", "A", "192.0.2.1", id="same")

    with pytest.raises(ZoneError, match="already in use"):
        zone.add("b.example.com", "A", "192.0.2.2", id="same")
    assert len(zone.records()) == 1


def test_add_rejects_an_identical_record_as_a_duplicate(zone):
    first = zone.add("mail.example.com", "MX", f"10 {FEEDBACK}")

    with pytest.raises(DuplicateRecordError, match=first["id"]):
        zone.add("MAIL.example.com.", "MX", f"10 {FEEDBACK.upper()}.")
    assert zone.records() == [first]


def test_a_cname_cannot_share_its_name(zone):
    zone.add("mail.example.com", "MX", f"10 {FEEDBACK}")
    zone.add("alias.example.com", "CNAME", "target.example.com")

    with pytest.raises(ZoneError, match="CNAME"):
        zone.add("mail.example.com", "CNAME", "target.example.com")
    with pytest.raises(ZoneError, match="CNAME"):
        zone.add("alias.example.com", "TXT", "hello")
    with pytest.raises(ZoneError, match="CNAME"):
        zone.add("alias.example.com", "CNAME", "other.example.com")


# --- bookkeeping ------------------------------------------------------------------


def test_records_keep_insertion_order_and_remove_by_id(zone):
    a = zone.add("b.example.com", "A", "192.0.2.1")
    b = zone.add("a.example.com", "A", "192.0.2.2")
    c = zone.add("b.example.com", "TXT", "t")

    assert zone.remove(b["id"]) is True
    assert zone.remove(b["id"]) is False
    assert zone.remove("nope") is False
    assert zone.records() == [a, c]


def test_faults_are_set_normalised_and_cleared(zone):
    zone.set_fault("Mail.Example.com.", "SERVFAIL")

    assert zone.faults() == {"mail.example.com": "servfail"}
    assert zone.clear_fault("mail.example.com") is True
    assert zone.clear_fault("mail.example.com") is False
    assert zone.clear_fault("not a name") is False
    assert zone.faults() == {}


@pytest.mark.parametrize(("name", "fault"), [("mail.example.com", "nxdomain"), ("mail.example.com", None), ("bad..name", "timeout")])
def test_set_fault_rejects_unknown_faults_and_bad_names(zone, name, fault):
    with pytest.raises(ZoneError):
        zone.set_fault(name, fault)
    assert zone.faults() == {}


def test_load_replaces_everything_and_keeps_ids(zone):
    zone.add("old.example.com", "A", "192.0.2.1")
    zone.set_fault("old.example.com", "timeout")
    records = [
        {"id": "r1", "name": "mail.example.com", "type": "MX", "value": f"10 {FEEDBACK}.", "ttl": 60},
        {"id": "r2", "name": "mail.example.com", "type": "TXT", "value": "v=spf1 include:amazonses.com ~all", "ttl": 300},
    ]

    zone.load(records, {"other.example.com": "refused"})

    assert zone.records() == records
    assert zone.faults() == {"other.example.com": "refused"}
    assert zone.answer("old.example.com", "A").rcode == dns.rcode.NXDOMAIN


def test_load_with_an_invalid_record_changes_nothing(zone):
    kept = zone.add("keep.example.com", "A", "192.0.2.1")

    with pytest.raises(ZoneError, match="record #1"):
        zone.load([{"name": "a.example.com", "type": "A", "value": "192.0.2.9"}, {"name": "b.example.com", "type": "MX", "value": "x"}], {})
    with pytest.raises(ZoneError, match="value"):
        zone.load([{"name": "a.example.com", "type": "A"}], {})
    assert zone.records() == [kept]


def test_clear_empties_records_and_faults(zone):
    zone.add("mail.example.com", "MX", f"10 {FEEDBACK}")
    zone.set_fault("example.com", "timeout")

    zone.clear()

    assert zone.records() == [] and zone.faults() == {}
    assert zone.answer("mail.example.com", "MX").rcode == dns.rcode.NXDOMAIN


def test_every_change_bumps_the_generation(zone):
    seen = [zone.generation]
    record = zone.add("a.example.com", "A", "192.0.2.1")
    seen.append(zone.generation)
    zone.set_fault("a.example.com", "timeout")
    seen.append(zone.generation)
    zone.clear_fault("a.example.com")
    seen.append(zone.generation)
    zone.remove(record["id"])
    seen.append(zone.generation)

    assert seen == sorted(set(seen))


# --- answer() ---------------------------------------------------------------------


def _texts(result):
    return [rrset.to_text() for rrset in result.answer]


def test_answer_gives_the_rrset_of_the_asked_type(zone):
    zone.add("mail.example.com", "MX", f"10 {FEEDBACK}", ttl=60)
    zone.add("mail.example.com", "TXT", "v=spf1 include:amazonses.com ~all")

    result = zone.answer(dns.name.from_text("MAIL.example.com"), dns.rdatatype.MX)

    assert result.rcode == dns.rcode.NOERROR and result.fault is None
    assert _texts(result) == [f"mail.example.com. 60 IN MX 10 {FEEDBACK}."]


def test_answer_puts_all_records_of_a_type_in_one_rrset(zone):
    zone.add("mail.example.com", "MX", "10 a.example.net", ttl=300)
    zone.add("mail.example.com", "MX", "20 b.example.net", ttl=60)

    (rrset,) = zone.answer("mail.example.com", "MX").answer

    assert len(rrset) == 2 and rrset.ttl == 60


def test_answer_is_nxdomain_for_a_name_with_nothing_at_or_below_it(zone):
    zone.add("mail.example.com", "MX", f"10 {FEEDBACK}")

    assert zone.answer("other.example.com", "MX").rcode == dns.rcode.NXDOMAIN
    assert zone.answer("x.mail.example.com", "MX").rcode == dns.rcode.NXDOMAIN


def test_answer_is_nodata_for_a_name_with_other_types_only(zone):
    zone.add("mail.example.com", "TXT", "hello")

    result = zone.answer("mail.example.com", "MX")

    assert result.rcode == dns.rcode.NOERROR and result.answer == ()


def test_answer_is_nodata_for_an_empty_non_terminal(zone):
    record = zone.add("a.b.mail.example.com", "A", "192.0.2.1")

    assert zone.answer("b.mail.example.com", "MX").rcode == dns.rcode.NOERROR
    assert zone.answer("example.com", "MX").rcode == dns.rcode.NOERROR
    zone.remove(record["id"])
    assert zone.answer("b.mail.example.com", "MX").rcode == dns.rcode.NXDOMAIN
    assert zone.answer("example.com", "MX").rcode == dns.rcode.NXDOMAIN


def test_answer_chases_a_cname_chain_inside_the_zone(zone):
    zone.add("mail.example.com", "CNAME", "hop.example.com")
    zone.add("hop.example.com", "CNAME", "target.example.net")
    zone.add("target.example.net", "MX", f"10 {FEEDBACK}")

    result = zone.answer("mail.example.com", "MX")

    assert result.rcode == dns.rcode.NOERROR
    assert [rrset.rdtype for rrset in result.answer] == [dns.rdatatype.CNAME, dns.rdatatype.CNAME, dns.rdatatype.MX]


def test_answer_to_a_cname_question_is_the_cname_alone(zone):
    zone.add("mail.example.com", "CNAME", "target.example.net")
    zone.add("target.example.net", "CNAME", "further.example.net")

    assert _texts(zone.answer("mail.example.com", "CNAME")) == ["mail.example.com. 300 IN CNAME target.example.net."]


def test_answer_for_a_cname_to_a_missing_name_is_nxdomain_with_the_chain(zone):
    zone.add("mail.example.com", "CNAME", "gone.example.net")

    result = zone.answer("mail.example.com", "MX")

    assert result.rcode == dns.rcode.NXDOMAIN
    assert [rrset.rdtype for rrset in result.answer] == [dns.rdatatype.CNAME]


def test_answer_for_a_cname_loop_stops_after_one_turn(zone):
    zone.add("a.example.com", "CNAME", "b.example.com")
    zone.add("b.example.com", "CNAME", "a.example.com")

    result = zone.answer("a.example.com", "MX")

    assert result.rcode == dns.rcode.NOERROR
    assert len(result.answer) == 2


def test_answer_to_any_gives_every_rrset_at_the_name(zone):
    zone.add("mail.example.com", "MX", f"10 {FEEDBACK}")
    zone.add("mail.example.com", "TXT", "hello")

    assert len(zone.answer("mail.example.com", "ANY").answer) == 2


@pytest.mark.parametrize(("fault", "rcode"), [("timeout", None), ("servfail", dns.rcode.SERVFAIL), ("refused", dns.rcode.REFUSED)])
def test_a_fault_applies_to_the_name_and_every_name_below_it(zone, fault, rcode):
    zone.add("mail.example.com", "MX", f"10 {FEEDBACK}")
    zone.set_fault("example.com", fault)

    for name in ("example.com", "mail.example.com", "deep.below.example.com"):
        result = zone.answer(name, "MX")
        assert (result.rcode, result.answer, result.fault) == (rcode, (), fault)
    assert zone.answer("example.net", "MX").fault is None
    assert zone.answer("notexample.com", "MX").fault is None


def test_a_cleared_fault_gives_the_records_back(zone):
    zone.add("mail.example.com", "MX", f"10 {FEEDBACK}")
    zone.set_fault("mail.example.com", "servfail")

    zone.clear_fault("mail.example.com")

    assert zone.answer("mail.example.com", "MX").rcode == dns.rcode.NOERROR


def test_concurrent_adds_and_answers_stay_consistent(zone):
    errors = []

    def writer(offset):
        try:
            for i in range(200):
                record = zone.add(f"n{offset}-{i}.example.com", "A", "192.0.2.1")
                if i % 2:
                    zone.remove(record["id"])
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    def reader():
        try:
            for i in range(400):
                zone.answer(f"n0-{i % 200}.example.com", "A")
        except Exception as error:  # pragma: no cover
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)] + [threading.Thread(target=reader)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(zone.records()) == 4 * 100
    assert zone.answer("example.com", "A").rcode == dns.rcode.NOERROR  # still an empty non-terminal


# --- what the server builds on: pre-rendered sections and the change log ------------------


def test_answers_at_the_asked_name_come_with_their_section(zone, monkeypatch):
    zone.add("mail.example.com", "MX", "20 mx1.mail.example.com", ttl=600)
    zone.add("mail.example.com", "MX", "10 mx2.example.com", ttl=60)
    zone.add("alias.example.com", "CNAME", "mail.example.com")
    zone.set_fault("bad.example.com", "refused")

    mx = zone.answer("MAIL.example.com", "MX")
    # Byte for byte what dnspython renders behind the question (records unshuffled).
    monkeypatch.setattr(dns.rdataset, "random", type("NoShuffle", (), {"shuffle": staticmethod(lambda items: None)}))
    query = dns.message.make_query("mail.example.com", "MX")
    response = dns.message.make_response(query)
    response.answer = list(mx.answer)
    question_end = 12 + len(query.question[0].name.to_wire()) + 4
    assert mx.section == (2, response.to_wire()[question_end:])
    for name, rdtype in [("nope.example.com", "MX"), ("mail.example.com", "TXT"), ("example.com", "MX"),
                         ("x.bad.example.com", "MX")]:
        assert zone.answer(name, rdtype).section == (0, b"")
    assert zone.answer("alias.example.com", "CNAME").section.count == 1
    assert zone.answer("alias.example.com", "MX").section is None  # a chased CNAME
    assert zone.answer("mail.example.com", "ANY").section is None


def test_a_section_follows_its_rrset_through_removals(zone):
    first = zone.add("mail.example.com", "MX", "10 a.example.net")
    zone.add("mail.example.com", "MX", "20 b.example.net", ttl=60)

    zone.remove(first["id"])

    (rrset,) = zone.answer("mail.example.com", "MX").answer
    assert zone.answer("mail.example.com", "MX").section.count == 1 and rrset.ttl == 60


def test_changes_since_names_the_names_whose_answers_changed(zone):
    start = zone.generation
    record = zone.add("a.b.example.com", "A", "192.0.2.1")  # b.example.com, example.com, com now exist
    after_first = zone.generation
    zone.add("a.b.example.com", "TXT", "t")
    zone.add("c.example.com", "A", "192.0.2.2")  # its ancestors existed already

    assert zone.changes_since(start) == (zone.generation, {"a.b.example.com", "b.example.com", "example.com", "com",
                                                           "c.example.com"})
    assert zone.changes_since(after_first) == (zone.generation, {"a.b.example.com", "c.example.com"})
    assert zone.changes_since(zone.generation) == (zone.generation, set())
    before_removal = zone.generation
    zone.remove(record["id"])
    assert zone.changes_since(before_removal)[1] == {"a.b.example.com"}  # the TXT is left
    zone.remove(zone.records()[0]["id"])
    assert zone.changes_since(before_removal)[1] == {"a.b.example.com", "b.example.com"}


@pytest.mark.parametrize(
    "change",
    [
        lambda zone: zone.set_fault("example.com", "timeout"),
        lambda zone: zone.load([], {}),
        lambda zone: zone.clear(),
        lambda zone: [zone.add(f"n{i}.example.com", "A", "192.0.2.1") for i in range(1100)],  # past the log
    ],
)
def test_changes_since_says_any_name_may_have_changed_when_it_cannot_tell(zone, change):
    zone.add("mail.example.com", "A", "192.0.2.1")
    before = zone.generation

    change(zone)

    assert zone.changes_since(before) == (zone.generation, None)
    assert zone.changes_since(-1)[1] is None


def test_the_public_names_are_exported():
    import simulator.nameserver.zone as module

    assert all(hasattr(module, name) for name in module.__all__)
