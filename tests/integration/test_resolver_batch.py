"""MxResolver.lookup_many, the pipelined bulk check: for every case it must give
exactly what lookup() gives, in one batch, within the timeout, and never raise.
The single-name cases of test_resolver.py already run through both paths; here
are the batch-only properties and the wire reader checked against dnspython."""
import random
import socket
import struct
import time
from concurrent.futures import ThreadPoolExecutor

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.resolver
import dns.rrset
import pytest

from simulator.core.model import DnsStatus, LookupOutcome, MxLookup, VerificationMethod
from simulator.core.verdicts import SPF_RECORD, method_verdict, mx_verdict, spf_advice
from simulator.lookup import pipeline
from simulator.lookup.resolver import MxResolver
from tests.integration.test_resolver import FakeNameserver, garbage, silent, wrong_id, wrong_source

FOUND, MISSING, TRANSIENT = LookupOutcome.FOUND, LookupOutcome.MISSING, LookupOutcome.TRANSIENT
FEEDBACK = "feedback-smtp.us-east-1.amazonses.com"
HOST = "127.0.0.1"
SHORT = 0.5
# Where results are compared with lookup()'s: long enough that a busy machine
# never turns an answer into a timeout on one side only.
STEADY = 1.0


def reference(resolver, items, check_spf=True):
    """What lookup() says for each item, from a few threads (the timeouts overlap)."""
    with ThreadPoolExecutor(max_workers=24) as pool:
        return list(pool.map(lambda item: resolver.lookup(*item, check_spf=check_spf), items))


def timed_batch(resolver, items, **options):
    started = time.monotonic()
    results = resolver.lookup_many(items, **options)
    return results, time.monotonic() - started


def build_mixed_zone(zone, count, timeouts=True):
    """`count` names cycling through every FOUND/MISSING/TRANSIENT shape the zone can serve
    (with `timeouts`, a few names whose queries the server ignores)."""
    items, silent_names = [], []
    for i in range(count):
        name = f"m{i}.c{i % 7}.example.com"
        kind = i % 16
        region = "eu-west-1" if i % 5 == 0 else "us-east-1"
        if kind == 0:
            zone.add(name, "MX", f"10 feedback-smtp.{region}.amazonses.com")
            zone.add(name, "TXT", SPF_RECORD)
        elif kind == 1:
            zone.add(name, "MX", "10 mx.elsewhere.example.net")
        elif kind == 2:
            zone.add(name, "TXT", SPF_RECORD)  # NOERROR, no MX
        elif kind == 3:
            pass  # NXDOMAIN
        elif kind == 4:
            zone.add(name, "MX", f"10 {FEEDBACK}")
            zone.add(name, "MX", "20 mx.elsewhere.example.net")
        elif kind == 5:
            zone.add(name, "MX", "0 .")
        elif kind == 6:
            zone.add(name, "CNAME", "m0.c0.example.com")
        elif kind == 7:
            zone.add(name, "CNAME", f"gone{i}.example.net")
        elif kind == 8:
            zone.add(name, "MX", f"10 {FEEDBACK}")
            zone.set_fault(name, "servfail")
        elif kind == 9:
            zone.add(name, "MX", f"10 {FEEDBACK}")
            zone.set_fault(name, "refused")
        elif kind == 10 and i % 128 == 10 and timeouts:
            zone.add(name, "MX", f"10 {FEEDBACK}")
            zone.set_fault(name, "timeout")
            silent_names.append((name, region))  # first: their wait overlaps everything else
            continue
        elif kind == 11:
            zone.add(name, "MX", f"10 {FEEDBACK.upper()}.")
            zone.add(name, "TXT", "v=spf1 -all")
            zone.add(name, "TXT", "other=1")
        elif kind == 12:
            zone.add(name, "MX", f"10 {FEEDBACK}")
            zone.set_fault(name, "servfail")  # the name's own fault...
            zone.clear_fault(name)  # ...lifted again
            name = name.upper()
        elif kind == 13:
            zone.add(name, "CNAME", f"loop{i}.example.com")
            zone.add(f"loop{i}.example.com", "CNAME", name)
        elif kind == 14:
            zone.add(name, "A", "192.0.2.1")
        else:
            zone.add(name, "MX", f"10 {FEEDBACK}")
            zone.add(name, "TXT", "v=spf1 include:amazonses.com ~all")
            zone.add(name, "TXT", "v=spf1 include:other.example ~all")
        items.append((name, region))
    # Answers too big for UDP: fetched over TCP in a batch too.
    zone.add("bigtxt.example.com", "MX", f"10 {FEEDBACK}")
    zone.add("bigtxt.example.com", "TXT", "v=spf1 " + " ".join(f"ip4:198.51.100.{n}" for n in range(120)) + " ~all")
    for n in range(60):
        zone.add("bigmx.example.com", "MX", f"{n} mx{n}.a-rather-long-mail-exchanger-name.example.net")
    items[100:100] = [("bigtxt.example.com", "us-east-1"), ("bigmx.example.com", "us-east-1")]
    return silent_names + items


# --- one batch, every case ------------------------------------------------------------------


def test_a_thousand_mixed_names_come_out_exactly_as_lookup_says(dns_server, dns_zone):
    items = build_mixed_zone(dns_zone, 1000)
    resolver = MxResolver(dns_server.address, timeout=STEADY)

    batch, elapsed = timed_batch(resolver, items)
    expected = reference(resolver, items)

    assert len(batch) == len(items)
    assert [i for i, (got, want) in enumerate(zip(batch, expected)) if got != want] == []
    outcomes = {result.outcome for result in batch}
    assert outcomes == {FOUND, MISSING, TRANSIENT}
    assert any(r.error and "timeout" in r.error for r in batch)
    assert any(r.error and "SERVFAIL" in r.error for r in batch)
    assert any(r.error and "REFUSED" in r.error for r in batch)
    assert any(r.error and "CNAME chain too long" in r.error for r in batch)
    big_txt, big_mx = (batch[items.index((name, "us-east-1"))] for name in ("bigtxt.example.com", "bigmx.example.com"))
    assert len(big_mx.answers) == 60 and big_txt.spf.startswith("v=spf1 ip4:")
    # The "timeout" names wait out the budget once, side by side, not one after the other.
    assert elapsed < STEADY + 1.5
    stats = resolver.last_batch_stats
    assert stats["truncated"] == 2 and stats["resent"] > 0


def test_a_batch_without_spf_matches_lookup_without_spf(dns_server, dns_zone):
    items = build_mixed_zone(dns_zone, 200, timeouts=False)
    resolver = MxResolver(dns_server.address, timeout=STEADY)

    batch = resolver.lookup_many(items, check_spf=False)

    assert batch == reference(resolver, items, check_spf=False)
    assert all(result.spf is None for result in batch)


def test_results_keep_the_order_of_the_items(dns_server, dns_zone):
    for i in range(300):
        dns_zone.add(f"o{i}.example.com", "MX", f"{i} mx{i}.example.net")
    items = [(f"o{i}.example.com", "us-east-1") for i in reversed(range(300))]

    batch = MxResolver(dns_server.address).lookup_many(items)

    assert [result.answers for result in batch] == [(f"{i} mx{i}.example.net.",) for i in reversed(range(300))]


def test_duplicate_names_are_fine_and_asked_once(dns_zone, dns_server):
    dns_zone.add("mail.example.com", "MX", f"10 {FEEDBACK}")
    dns_zone.add("mail.example.com", "TXT", SPF_RECORD)
    items = [("mail.example.com", "us-east-1")] * 3 + [
        ("MAIL.Example.COM.", "us-east-1"),
        ("mail.example.com", "eu-west-1"),
        ("nx.example.com", "us-east-1"),
        ("nx.example.com", "us-east-1"),
    ]
    resolver = MxResolver(dns_server.address)

    batch = resolver.lookup_many(items)

    assert batch == [resolver.lookup(*item) for item in items]
    assert [r.outcome for r in batch] == [FOUND] * 4 + [MISSING] * 3
    # Asked once per name as written (the letter case shows in NXDOMAIN texts).
    assert resolver.last_batch_stats["names"] == 3
    assert resolver.last_batch_stats["queries"] == 5  # MX + TXT for each spelling of mail, MX for nx


def test_an_empty_batch_asks_nothing():
    assert MxResolver((HOST, 9)).lookup_many([]) == []


def test_many_threads_each_with_a_batch(dns_server, dns_zone):
    for i in range(200):
        dns_zone.add(f"t{i}.example.com", "MX", f"10 {FEEDBACK}" if i % 2 else "10 mx.other.com")
    resolver = MxResolver(dns_server.address, timeout=2.0)
    items = [(f"t{i}.example.com", "us-east-1") for i in range(200)]

    with ThreadPoolExecutor(max_workers=3) as pool:
        batches = list(pool.map(lambda _: resolver.lookup_many(items), range(3)))

    for batch in batches:
        assert [r.outcome for r in batch] == [MISSING, FOUND] * 100


# --- nameservers that misbehave ---------------------------------------------------------------


@pytest.mark.parametrize("reply", [garbage, wrong_id, wrong_source, silent], ids=lambda f: f.__name__)
def test_a_batch_ends_transient_within_the_timeout_without_an_acceptable_answer(reply):
    items = [(f"n{i}.example.com", "us-east-1") for i in range(100)]
    with FakeNameserver(reply) as nameserver:
        batch, elapsed = timed_batch(MxResolver(nameserver.address, timeout=SHORT), items)

    assert nameserver.queries >= 100
    assert all(r.outcome is TRANSIENT and r.error == f"timeout: no answer for n{i}.example.com MX within {SHORT:g} s"
               for i, r in enumerate(batch))
    assert elapsed < SHORT + 0.5


def test_names_the_server_ignores_do_not_hold_up_the_rest(dns_server, dns_zone):
    for i in range(1000):
        dns_zone.add(f"s{i}.example.com", "MX", f"10 {FEEDBACK}")
        if i % 10:
            dns_zone.set_fault(f"s{i}.example.com", "timeout")
    items = [(f"s{i}.example.com", "us-east-1") for i in range(1000)]

    batch, elapsed = timed_batch(MxResolver(dns_server.address, timeout=STEADY), items)

    assert [r.outcome for r in batch] == ([FOUND] + [TRANSIENT] * 9) * 100
    # 900 silent queries fill seven windows, but an answer to a later query frees
    # their places at once: the batch waits out about one timeout, not seven.
    assert elapsed < STEADY * 3


def test_no_more_than_a_window_waits_at_a_server(monkeypatch):
    items = [(f"w{i}.example.com", "us-east-1") for i in range(300)]
    with FakeNameserver(silent) as nameserver:
        resolver = MxResolver(nameserver.address, timeout=SHORT)
        with ThreadPoolExecutor(max_workers=1) as pool:
            batch = pool.submit(resolver.lookup_many, items)
            time.sleep(0.1)
            early = nameserver.queries
            batch.result()

    assert 0 < early <= pipeline.DEFAULT_WINDOW
    # Then, the server saying nothing at all, the rest go out without waiting for timeouts.
    assert nameserver.queries >= 300
    assert all(r.outcome is TRANSIENT for r in batch.result())


def answer_for(query, *, txt=SPF_RECORD, mx=f"10 {FEEDBACK}."):
    response = dns.message.make_response(query)
    question = query.question[0]
    if question.rdtype == dns.rdatatype.MX:
        response.answer.append(dns.rrset.from_text(question.name, 300, "IN", "MX", mx))
    else:
        response.answer.append(dns.rrset.from_text(question.name, 300, "IN", "TXT", f'"{txt}"'))
    return response


def noise_then_answer(data, sock, peer):
    """Everything a careless client would take for an answer, then the answer."""
    query = dns.message.from_wire(data)
    sock.sendto(b"\xde\xad" + data[2:4] + b"\xbe\xef" * 8, peer)  # garbage
    sock.sendto(data[:2] + b"\x81\x80" + b"\x00" * 8, peer)  # the id, no question, NOERROR
    wrong = answer_for(query)
    wrong.id ^= 0x5A5A
    sock.sendto(wrong.to_wire(), peer)  # another id
    other = dns.message.make_query("someone-else.example.com", query.question[0].rdtype)
    other.id = query.id
    sock.sendto(answer_for(other).to_wire(), peer)  # this id, another question
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as elsewhere:
        elsewhere.bind((HOST, 0))
        elsewhere.sendto(answer_for(query, mx="10 spoofed.example.net.").to_wire(), peer)  # another source
    sock.sendto(answer_for(query).to_wire(), peer)


def test_only_the_proper_answer_is_taken():
    items = [(f"p{i}.example.com", "us-east-1") for i in range(100)]
    with FakeNameserver(noise_then_answer) as nameserver:
        resolver = MxResolver(nameserver.address, timeout=2.0)
        batch, elapsed = timed_batch(resolver, items)
        single = resolver.lookup(*items[0])

    assert batch == [MxLookup(FOUND, (f"10 {FEEDBACK}.",), None, SPF_RECORD)] * 100
    assert batch[0] == single
    assert elapsed < 1.0  # nothing waited for a timeout


def garbage_then_silence_for_mx(data, sock, peer):
    query = dns.message.from_wire(data)
    if query.question[0].rdtype == dns.rdatatype.MX:
        sock.sendto(data[:2] + b"\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00\xff", peer)  # malformed
    else:
        sock.sendto(answer_for(query).to_wire(), peer)


def test_a_malformed_answer_alone_ends_as_a_timeout_like_lookup():
    items = [(f"g{i}.example.com", "us-east-1") for i in range(20)]
    with FakeNameserver(garbage_then_silence_for_mx) as nameserver:
        resolver = MxResolver(nameserver.address, timeout=SHORT)
        batch, elapsed = timed_batch(resolver, items)
        single = resolver.lookup(*items[0])

    assert all(r.outcome is TRANSIENT and r.error.startswith("timeout") for r in batch)
    assert batch[0] == single
    assert elapsed < SHORT + 0.5


def test_nothing_listening_ends_transient_within_the_timeout():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((HOST, 0))
        closed_port = probe.getsockname()[1]
    resolver = MxResolver((HOST, closed_port), timeout=SHORT)

    batch, elapsed = timed_batch(resolver, [(f"c{i}.example.com", "us-east-1") for i in range(50)])

    assert all(r.outcome is TRANSIENT for r in batch)
    assert batch[0] == resolver.lookup("c0.example.com", "us-east-1")
    assert elapsed < SHORT + 0.5


def test_a_send_error_ends_as_lookup_says():
    # Datagrams to the broadcast address fail at once (no SO_BROADCAST): dnspython's
    # NoNameservers with the OSError, through either path.
    resolver = MxResolver(("255.255.255.255", 53), timeout=SHORT)

    batch, elapsed = timed_batch(resolver, [(f"b{i}.example.com", "us-east-1") for i in range(20)])

    assert batch[0] == resolver.lookup("b0.example.com", "us-east-1")
    assert all(r.outcome is TRANSIENT and "unreachable" in r.error for r in batch)
    assert elapsed < 0.2


def test_an_ipv6_nameserver(dns_zone):
    from simulator.nameserver.server import EmbeddedDnsServer

    try:
        server = EmbeddedDnsServer(dns_zone, host="::1", port=0).start()
    except OSError:
        pytest.skip("no IPv6 loopback here")
    try:
        dns_zone.add("mail.example.com", "MX", f"10 {FEEDBACK}")
        resolver = MxResolver(server.address)
        items = [("mail.example.com", "us-east-1"), ("nx.example.com", "us-east-1")]

        assert resolver.lookup_many(items) == [resolver.lookup(*item) for item in items]
        assert resolver.lookup_many(items)[0].outcome is FOUND
    finally:
        server.stop()


def test_a_batch_against_bind_matches_lookup(bind_server):
    # A real server's answers have other shapes (SOA in the authority section,
    # compression elsewhere): whatever the wire reader declines, dnspython reads.
    bind_server.update("bf.example.com", "MX", f"10 {FEEDBACK}")
    bind_server.update("bf.example.com", "TXT", SPF_RECORD)
    bind_server.update("be.example.com", "MX", "10 mx.other.com.")
    bind_server.update("bn.example.com", "TXT", SPF_RECORD)
    bind_server.update("b2.example.com", "MX", f"10 {FEEDBACK}.")
    bind_server.update("b2.example.com", "MX", "20 mx.other.com.")
    bind_server.update("ba.example.com", "CNAME", "bf.example.com.")
    bind_server.update("bx.example.com", "CNAME", "gone.example.com.")
    bind_server.update("bl1.example.com", "CNAME", "bl2.example.com.")
    bind_server.update("bl2.example.com", "CNAME", "bl1.example.com.")
    names = ["bf", "be", "bn", "b2", "ba", "bx", "bl1", "nothing", "BF"]
    items = [(f"{name}.example.com", "us-east-1") for name in names] + [("outside.example.org", "us-east-1")]
    resolver = MxResolver(bind_server.address, timeout=2.0)

    batch = resolver.lookup_many(items)

    assert batch == [resolver.lookup(*item) for item in items]
    assert [r.outcome for r in batch[:4]] == [FOUND, MISSING, MISSING, MISSING]
    assert batch[0].spf == SPF_RECORD and batch[-1].outcome is TRANSIENT


class Recorder:
    """Records the datagrams a resolver sends, answering each properly."""

    def __init__(self):
        self.datagrams = []

    def __call__(self, data, sock, peer):
        self.datagrams.append(data)
        sock.sendto(answer_for(dns.message.from_wire(data)).to_wire(), peer)


def test_pipelined_queries_are_the_bytes_dnspython_sends():
    recorder = Recorder()
    with FakeNameserver(recorder) as nameserver:
        resolver = MxResolver(nameserver.address)
        resolver.lookup("Mail.Example.com", "us-east-1")
        resolver.lookup_many([("Mail.Example.com", "us-east-1")])

    one_mx, one_txt, many_mx, many_txt = recorder.datagrams
    assert (many_mx[2:], many_txt[2:]) == (one_mx[2:], one_txt[2:])


# --- never raises, and its fallbacks ----------------------------------------------------------


def test_a_batch_never_raises(dns_server, dns_zone):
    dns_zone.add("mail.example.com", "MX", f"10 {FEEDBACK}")
    resolver = MxResolver(dns_server.address)
    good_shapes = [("mail.example.com", None), (42, object()), (None, "us-east-1"), ("", "us-east-1"),
                   ("a..example.com", "us-east-1"), ("mail.example.com", "us-east-1")]
    items = [None, ("only-one",), 42, *good_shapes, ("a", "b", "c")]

    batch = resolver.lookup_many(items)

    assert all(isinstance(r, MxLookup) for r in batch) and len(batch) == len(items)
    assert batch[3:9] == [resolver.lookup(*item) for item in good_shapes]
    assert batch[0].outcome is TRANSIENT and batch[0].error.startswith("lookup failed: TypeError")
    assert resolver.lookup_many(42) == []
    assert resolver.lookup_many(item for item in [("mail.example.com", "us-east-1")])[0].outcome is FOUND


def test_without_the_pipeline_it_is_lookup_on_threads(dns_server, dns_zone, monkeypatch):
    items = build_mixed_zone(dns_zone, 64, timeouts=False)
    resolver = MxResolver(dns_server.address, timeout=STEADY)
    expected = reference(resolver, items)
    monkeypatch.setattr(pipeline.Pipeline, "supports", staticmethod(lambda resolver: False))

    assert resolver.lookup_many(items) == expected


def test_questions_in_a_batch_come_out_exactly_as_asked_one_by_one(dns_server, dns_zone, monkeypatch):
    """resolve_many (the verification checks' path: DKIM CNAMEs, TXT tokens) pipelined gives
    the very facts dnspython's Resolver.resolve gives for each question, names spelt any way."""
    questions = []
    for i in range(60):
        domain = f"v{i}.example.com"
        token = f"tok{i}"
        kind = i % 6
        if kind == 0:
            dns_zone.add(f"{token}._domainkey.{domain}", "CNAME", f"{token}.dkim.amazonses.com")
        elif kind == 1:
            dns_zone.add(f"{token}._domainkey.{domain}", "CNAME", "Elsewhere.Example.NET.")
        elif kind == 2:
            dns_zone.add(f"{token}._domainkey.{domain}", "TXT", "v=DKIM1; p=")  # NOERROR, no CNAME
        elif kind == 3:
            dns_zone.add(f"{token}._domainkey.{domain}", "CNAME", f"{token}.dkim.amazonses.com")
            dns_zone.set_fault(f"{token}._domainkey.{domain}", "servfail")
        elif kind == 4:
            dns_zone.add(f"_amazonses.{domain}", "TXT", f"token-{i}")
        questions += [(f"{token}._domainkey.{domain}", "CNAME"), (f"{token}._domainkey.{domain}.".upper(), "CNAME"),
                      (f" {token}._domainkey.{domain} ", "CNAME"), (f"_amazonses.{domain}", "TXT")]
    questions += [("a..b.example.com", "CNAME"), ("sp ace.example.com", "CNAME"), ("bücher.example", "CNAME"),
                  ("a\\.b.example.com", "CNAME"), ("x" * 64 + ".example.com", "TXT"), ("", "CNAME")]
    resolver = MxResolver(dns_server.address, timeout=STEADY)

    batch = resolver.resolve_many(questions)
    monkeypatch.setattr(pipeline.Pipeline, "supports", staticmethod(lambda resolver: False))
    one_by_one = resolver.resolve_many(questions)

    assert [q for q, got, want in zip(questions, batch, one_by_one) if got != want] == []
    statuses = {facts.status for facts in batch}
    assert {DnsStatus.ANSWER, DnsStatus.NODATA, DnsStatus.NXDOMAIN, DnsStatus.SERVFAIL} <= statuses
    assert any(facts.cname == ("tok0.dkim.amazonses.com.",) for facts in batch)


def test_a_failing_engine_falls_back_to_lookup(dns_server, dns_zone, monkeypatch):
    items = build_mixed_zone(dns_zone, 64, timeouts=False)
    resolver = MxResolver(dns_server.address, timeout=STEADY)
    expected = reference(resolver, items)

    def broken(self):
        raise RuntimeError("engine bug")

    monkeypatch.setattr(pipeline.Pipeline, "run", broken)

    assert resolver.lookup_many(items) == expected


def test_the_system_resolver_batch_is_lookup_on_threads(monkeypatch):
    resolver = MxResolver(None, timeout=SHORT)
    calls = []
    monkeypatch.setattr(resolver, "lookup", lambda d, r, check_spf=True: calls.append(d) or MxLookup(MISSING))

    batch = resolver.lookup_many([("a.example.com", "us-east-1"), ("b.example.com", "us-east-1")])

    assert batch == [MxLookup(MISSING)] * 2 and sorted(calls) == ["a.example.com", "b.example.com"]


# --- the wire reader against dnspython ------------------------------------------------------


def test_plain_names_are_read_as_dnspython_reads_them():
    resolver = MxResolver((HOST, 53))
    rng = random.Random(7)
    names = ["a", "a.", "Mail.Example.COM.", "x" * 63 + ".com", "x" * 64 + ".com", ".", "..", "a..b", ".a",
             "-a.b-", "_dmarc.example.com", "a" * 253, "a" * 254, "bücher.example", "a\\.b.example", " a.b "]
    names += [".".join(["y" * 63] * 3 + ["z" * n]) + dot for n in range(58, 64) for dot in ("", ".")]
    names += ["".join(rng.choice("aZ09-_.\\@* é") for _ in range(rng.randint(1, 12))) for _ in range(3000)]
    for text in names:
        mine = resolver._qname(text)
        try:
            theirs = dns.name.from_text(text.strip())
        except Exception:
            theirs = None
        if isinstance(mine, dns.name.Name):
            assert theirs is not None and mine.labels == theirs.labels, text
        else:
            assert mine.status is DnsStatus.BAD_NAME, text
            assert mx_verdict(mine, "us-east-1").outcome is MISSING and (theirs is None or theirs == dns.name.root), text



def engine_query(rdtype, name="Mail.Example.COM"):
    """A pipeline and one of its queries (with an id), without sockets."""
    engine = pipeline.Pipeline(MxResolver((HOST, 53), timeout=2.0)._resolver)
    engine.submit(dns.name.from_text(name), rdtype, 2.0, lambda reply, started: None)
    query = engine._pending[0]
    query.id = 0x1234
    return engine, query


def response_wires(query_wire, rdtype):
    """Responses of every everyday shape and many odd ones, rendered by dnspython or by hand."""
    query = dns.message.from_wire(query_wire)
    name = query.question[0].name
    wires = []

    def add(response, **options):
        wires.append(response.to_wire(**options))

    def response(rcode=dns.rcode.NOERROR, edns=True):
        message = dns.message.make_response(query)
        message.set_rcode(rcode)
        if not edns:
            message.use_edns(False)
        return message

    mx_sets = [[f"10 {FEEDBACK}."], [f"0 {FEEDBACK.upper()}."], ["10 mx.other.com."], ["0 ."],
               [f"10 {FEEDBACK}.", "20 mx.other.com."], [f"10 {FEEDBACK}.", f"10 {FEEDBACK.upper()}."],
               ["10 weird\\.label.example.com."], ["10 sp\\032ace.example."], ["10 under_score.example."],
               [f"10 {FEEDBACK}.", f"10 {FEEDBACK}."], ["65535 a.b.", "0 a.b."]]
    txt_sets = [[f'"{SPF_RECORD}"'], ['"v=spf1 " "include:amazonses.com ~all"', '"other"'], ['""'],
                ['"V=SPF1 -all"', '"v=spf1"', '"v=spf10"'], ['"\\255\\254 v=spf1"', '"v=spf1 \\255"']]
    cname_sets = [["tok.dkim.amazonses.com."], ["TOK.DKIM.AmazonSES.com."], ["."], ["weird\\.label.example."],
                  ["sp\\032ace.example."], ["under_score.example."]]
    sets = {dns.rdatatype.MX: mx_sets, dns.rdatatype.TXT: txt_sets, dns.rdatatype.CNAME: cname_sets}[rdtype]
    for values in sets:
        for edns in (True, False):
            message = response(edns=edns)
            message.answer.append(dns.rrset.from_text_list(name, 300, "IN", dns.rdatatype.to_text(rdtype), values))
            add(message)
    for rcode in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN, dns.rcode.SERVFAIL, dns.rcode.REFUSED,
                  dns.rcode.YXDOMAIN, dns.rcode.FORMERR, dns.rcode.NOTIMP, dns.rcode.BADVERS):
        add(response(rcode))
        add(response(rcode, edns=False))
    cname = response()
    cname.answer.append(dns.rrset.from_text(name, 300, "IN", "CNAME", "target.example.net."))
    add(cname)
    nx_with_answer = response(dns.rcode.NXDOMAIN)
    nx_with_answer.answer.append(dns.rrset.from_text(name, 300, "IN", "MX", f"10 {FEEDBACK}."))
    add(nx_with_answer)
    soa = response(dns.rcode.NXDOMAIN)
    soa.authority.append(dns.rrset.from_text("example.com.", 300, "IN", "SOA", "ns. host. 1 2 3 4 5"))
    add(soa)
    other_name = response()
    other_name.answer.append(dns.rrset.from_text("other.example.com.", 300, "IN", "MX", f"10 {FEEDBACK}."))
    add(other_name)
    chaos = response()
    chaos.answer.append(dns.rrset.from_text(name, 300, "CH", dns.rdatatype.to_text(rdtype),
                                            {dns.rdatatype.MX: f"10 {FEEDBACK}.",
                                             dns.rdatatype.CNAME: "x.example."}.get(rdtype, '"x"')))
    add(chaos)
    truncated = response()
    truncated.flags |= dns.flags.TC
    add(truncated)
    with_option = response()
    with_option.use_edns(0, 0, 1232, options=[dns.edns.GenericOption(65001, b"x")])
    add(with_option)
    # By hand: the header of a NOERROR answer with one record, then odd rdata.
    header_question = query_wire[:2] + b"\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00" + query_wire[12:12 + len(name.to_wire()) + 4]
    rr = b"\xc0\x0c" + struct.pack("!HHI", rdtype, 1, 300)
    # Two records of one type at the name (dnspython keeps only the last CNAME of several).
    for first, second in [(b"\x01a\x00", b"\x01b\x00"), (b"\x01b\x00", b"\x01a\x00"), (b"\x01a\x00", b"\x01a\x00")]:
        if rdtype == dns.rdatatype.MX:
            first, second = b"\x00\x0a" + first, b"\x00\x14" + second
        wires.append(header_question[:6] + b"\x00\x02" + header_question[8:] + rr + struct.pack("!H", len(first))
                     + first + rr + struct.pack("!H", len(second)) + second)
    for rdata in [b"\x00\x0a\xc0\x0c", b"\x00\x0a\xc0\x40", b"\x00\x0a\x01a\x00", b"\x00\x0a\x01a\x00\x00",
                  b"\x00\x0a\x40a\x00", b"\x00\x0a\x01a", b"\x00", b"", b"\x03abc", b"\x05abc",
                  b"\x00\x0a\x01a\xc0\x10", b"\x00\x0a" + b"\x3f" + b"a" * 63 + b"\x3f" + b"b" * 63 + b"\x3f" + b"c" * 63
                  + b"\x3f" + b"d" * 63 + b"\x00", b"\x00\x0a\x01\x00\x00"]:
        wires.append(header_question + rr + struct.pack("!H", len(rdata)) + rdata)
    wires.append(header_question + rr + b"\x00\x04\x00\x0a\x00\x00" + b"junk")
    wires.append(header_question[:-4] + b"\x00\x0f\x00\x03" + rr)  # question of another class
    return wires


def mutations(wires, count, seed=20240611):
    rng = random.Random(seed)
    for _ in range(count):
        wire = bytearray(rng.choice(wires))
        for _ in range(rng.randint(1, 3)):
            if not wire:
                break
            action = rng.random()
            position = rng.randrange(len(wire))
            if action < 0.6:
                wire[position] = rng.randrange(256)
            elif action < 0.8:
                del wire[position:]
            else:
                wire[position:position] = bytes([rng.randrange(256)])
        if len(wire) >= 2:
            wire[0:2] = b"\x12\x34"
        yield bytes(wire)


@pytest.mark.parametrize("rdtype", [dns.rdatatype.MX, dns.rdatatype.TXT, dns.rdatatype.CNAME],
                         ids=["MX", "TXT", "CNAME"])
def test_the_wire_reader_agrees_with_dnspython_on_every_reply_it_reads(rdtype):
    engine, query = engine_query(rdtype)
    query_wire = query.id.to_bytes(2, "big") + query.body
    wires = response_wires(query_wire, rdtype)
    read = 0
    for wire in [*wires, *mutations(wires, 4000)]:
        fast = pipeline._fast_reply(wire, query)
        if fast is None:
            continue
        read += 1
        query.problems = []
        slow = engine._dnspython_reply(wire, query)
        assert slow is not None and slow is not pipeline._DELEGATE, wire
        if rdtype == dns.rdatatype.MX:
            for region in ("us-east-1", "eu-west-1"):
                assert mx_verdict(fast, region) == mx_verdict(slow, region), wire
            assert (fast.status is DnsStatus.NXDOMAIN) == (slow.status is DnsStatus.NXDOMAIN)
        elif rdtype == dns.rdatatype.TXT:
            assert spf_advice(fast) == spf_advice(slow), wire
        else:
            assert method_verdict(VerificationMethod.DKIM, ("tok",), None, [fast]) == \
                method_verdict(VerificationMethod.DKIM, ("tok",), None, [slow]), wire
        assert fast == slow, wire  # the very same facts, whichever way they were read
    assert read >= 20  # the everyday shapes did take the fast way
