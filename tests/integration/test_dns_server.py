"""The embedded DNS server over real loopback sockets, queried with dnspython;
and its replies rendered by hand checked byte for byte against dnspython's."""
import logging
import random
import socket
import struct
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import dns.exception
import dns.flags
import dns.message
import dns.opcode
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.resolver
import pytest

from simulator.nameserver.server import UDP_RECEIVE_BUFFER, EmbeddedDnsServer, _plain_query_shape
from simulator.nameserver.zone import Zone

FEEDBACK = "feedback-smtp.us-east-1.amazonses.com"
HOST = "127.0.0.1"


def udp(server, name, rdtype="MX", **kwargs):
    query = dns.message.make_query(name, rdtype, **kwargs)
    return dns.query.udp(query, HOST, port=server.port, timeout=2)


def tcp(server, name, rdtype="MX"):
    return dns.query.tcp(dns.message.make_query(name, rdtype), HOST, port=server.port, timeout=2)


def raw_udp(server, payload, timeout=0.3):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(payload, (HOST, server.port))
        try:
            return sock.recv(65535)
        except socket.timeout:
            return None


def assert_still_serving(server, dns_zone):
    if not dns_zone.answer("alive.example.com", "A").answer:
        dns_zone.add("alive.example.com", "A", "192.0.2.1")
    assert udp(server, "alive.example.com", "A").answer
    assert tcp(server, "alive.example.com", "A").answer


# --- plain answers -------------------------------------------------------------


def test_udp_query_gets_an_authoritative_answer(dns_server, dns_zone):
    dns_zone.add("mail.example.com", "MX", f"10 {FEEDBACK}")

    response = udp(dns_server, "mail.example.com")

    assert response.rcode() == dns.rcode.NOERROR
    assert response.flags & dns.flags.AA
    assert [rrset.to_text() for rrset in response.answer] == [f"mail.example.com. 300 IN MX 10 {FEEDBACK}."]


def test_tcp_query_is_answered_on_the_same_port(dns_server, dns_zone):
    dns_zone.add("mail.example.com", "MX", f"10 {FEEDBACK}")

    response = tcp(dns_server, "mail.example.com")

    assert response.flags & dns.flags.AA
    assert response.answer[0][0].exchange.to_text() == f"{FEEDBACK}."


def test_port_zero_exposes_the_chosen_port(dns_server):
    assert dns_server.port > 0
    assert dns_server.address == (HOST, dns_server.port)


def test_unknown_name_is_nxdomain(dns_server, dns_zone):
    dns_zone.add("mail.example.com", "MX", f"10 {FEEDBACK}")

    assert udp(dns_server, "other.example.com").rcode() == dns.rcode.NXDOMAIN


def test_name_with_other_types_is_nodata(dns_server, dns_zone):
    dns_zone.add("mail.example.com", "TXT", "hello")

    response = udp(dns_server, "mail.example.com")

    assert response.rcode() == dns.rcode.NOERROR and response.answer == []


def test_empty_non_terminal_is_nodata(dns_server, dns_zone):
    dns_zone.add("a.mail.example.com", "A", "192.0.2.1")

    response = udp(dns_server, "mail.example.com")

    assert response.rcode() == dns.rcode.NOERROR and response.answer == []


def test_cname_is_answered_and_chased(dns_server, dns_zone):
    dns_zone.add("mail.example.com", "CNAME", "target.example.net")
    dns_zone.add("target.example.net", "MX", f"10 {FEEDBACK}")

    response = udp(dns_server, "mail.example.com")

    assert [rrset.rdtype for rrset in response.answer] == [dns.rdatatype.CNAME, dns.rdatatype.MX]
    assert response.resolve_chaining().answer[0].exchange.to_text() == f"{FEEDBACK}."


def test_changes_are_seen_by_the_very_next_query(dns_server, dns_zone):
    assert udp(dns_server, "mail.example.com").rcode() == dns.rcode.NXDOMAIN
    record = dns_zone.add("mail.example.com", "MX", f"10 {FEEDBACK}")
    assert len(udp(dns_server, "mail.example.com").answer) == 1
    dns_zone.set_fault("mail.example.com", "refused")
    assert udp(dns_server, "mail.example.com").rcode() == dns.rcode.REFUSED
    dns_zone.clear_fault("mail.example.com")
    dns_zone.remove(record["id"])
    assert udp(dns_server, "mail.example.com").rcode() == dns.rcode.NXDOMAIN


def test_the_question_is_echoed_in_the_case_the_client_used(dns_server, dns_zone):
    dns_zone.add("mail.example.com", "MX", f"10 {FEEDBACK}")

    for spelling in ("MaIl.ExAmPlE.cOm", "mail.EXAMPLE.com", "MaIl.ExAmPlE.cOm"):
        query = dns.message.make_query(spelling, "MX")
        response = dns.query.udp(query, HOST, port=dns_server.port, timeout=2)
        assert query.is_response(response)
        assert response.id == query.id
        assert response.question[0].name.to_text() == f"{spelling}."
        assert len(response.answer) == 1


def test_several_queries_share_one_tcp_connection(dns_server, dns_zone):
    dns_zone.add("mail.example.com", "MX", f"10 {FEEDBACK}")

    with socket.create_connection((HOST, dns_server.port), timeout=2) as sock:
        for name in ("mail.example.com", "nope.example.com", "mail.example.com"):
            response = dns.query.tcp(dns.message.make_query(name, "MX"), HOST, port=dns_server.port, sock=sock, timeout=2)
            assert response.question[0].name.to_text() == f"{name}."


# --- faults ------------------------------------------------------------------------


@pytest.mark.parametrize(("fault", "rcode"), [("servfail", dns.rcode.SERVFAIL), ("refused", dns.rcode.REFUSED)])
def test_rcode_faults_answer_with_that_rcode_for_the_name_and_below(dns_server, dns_zone, fault, rcode):
    dns_zone.add("mail.example.com", "MX", f"10 {FEEDBACK}")
    dns_zone.set_fault("example.com", fault)

    for response in (udp(dns_server, "mail.example.com"), tcp(dns_server, "x.mail.example.com")):
        assert response.rcode() == rcode
        assert response.answer == []
        assert not response.flags & dns.flags.AA
    assert udp(dns_server, "example.net").rcode() == dns.rcode.NXDOMAIN


def test_timeout_fault_gets_no_reply_at_all(dns_server, dns_zone):
    dns_zone.add("mail.example.com", "MX", f"10 {FEEDBACK}")
    dns_zone.set_fault("mail.example.com", "timeout")

    with pytest.raises(dns.exception.Timeout):
        dns.query.udp(dns.message.make_query("mail.example.com", "MX"), HOST, port=dns_server.port, timeout=0.3)
    with pytest.raises(dns.exception.Timeout):
        dns.query.tcp(dns.message.make_query("mail.example.com", "MX"), HOST, port=dns_server.port, timeout=0.3)
    assert udp(dns_server, "other.example.com").rcode() == dns.rcode.NXDOMAIN


# --- size limits -------------------------------------------------------------------


def test_big_udp_answer_is_truncated_and_complete_over_tcp(dns_server, dns_zone):
    text = "v=spf1 " + " ".join(f"ip4:192.0.2.{i}" for i in range(200)) + " ~all"
    dns_zone.add("big.example.com", "TXT", text)

    plain = udp(dns_server, "big.example.com", "TXT")
    edns = udp(dns_server, "big.example.com", "TXT", use_edns=0, payload=4096)
    over_tcp = tcp(dns_server, "big.example.com", "TXT")

    for truncated in (plain, edns):
        assert truncated.flags & dns.flags.TC and truncated.answer == []
    assert len(plain.to_wire()) <= 512
    assert b"".join(over_tcp.answer[0][0].strings).decode() == text


def test_answer_fitting_the_advertised_edns_size_is_not_truncated(dns_server, dns_zone):
    dns_zone.add("medium.example.com", "TXT", "x" * 800)

    assert udp(dns_server, "medium.example.com", "TXT").flags & dns.flags.TC
    response = udp(dns_server, "medium.example.com", "TXT", use_edns=0, payload=1232)
    assert not response.flags & dns.flags.TC
    assert len(b"".join(response.answer[0][0].strings)) == 800


def test_dnspython_resolver_falls_back_to_tcp_for_a_truncated_answer(dns_server, dns_zone):
    text = "y" * 3000
    dns_zone.add("big.example.com", "TXT", text)
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [HOST]
    resolver.port = dns_server.port
    resolver.lifetime = 2

    answer = resolver.resolve("big.example.com", "TXT")

    assert b"".join(answer.rrset[0].strings).decode() == text


# --- bad input ----------------------------------------------------------------------


@pytest.mark.parametrize("payload", [b"", b"\x00", b"\xff" * 3, b"\x12\x34" + b"\xff" * 40, bytes(range(256))])
def test_garbage_over_udp_does_not_stop_the_server(dns_server, dns_zone, payload, caplog):
    raw_udp(dns_server, payload, timeout=0.05)

    assert_still_serving(dns_server, dns_zone)
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]


def test_unparseable_query_with_a_header_gets_formerr_with_its_id(dns_server):
    header_claiming_a_question = struct.pack("!HHHHHH", 0xBEEF, 0x0100, 1, 0, 0, 0)

    reply = raw_udp(dns_server, header_claiming_a_question)

    query_id, flags = struct.unpack_from("!HH", reply)
    assert query_id == 0xBEEF
    assert flags & 0x8000 and flags & 0xF == dns.rcode.FORMERR


def test_a_packet_with_qr_set_gets_no_reply(dns_server, dns_zone):
    dns_zone.add("mail.example.com", "MX", f"10 {FEEDBACK}")
    query = dns.message.make_query("mail.example.com", "MX")
    query.flags |= dns.flags.QR

    assert raw_udp(dns_server, query.to_wire()) is None


@pytest.mark.parametrize(
    ("make", "rcode"),
    [
        (lambda: _with_opcode(dns.opcode.NOTIFY), dns.rcode.NOTIMP),
        (lambda: dns.message.make_query("mail.example.com", "MX", rdclass=dns.rdataclass.CH), dns.rcode.REFUSED),
        (lambda: dns.message.make_query("example.com", "AXFR"), dns.rcode.REFUSED),
    ],
)
def test_unsupported_requests_get_an_error_rcode(dns_server, make, rcode):
    response = dns.query.tcp(make(), HOST, port=dns_server.port, timeout=2)

    assert response.rcode() == rcode


def _with_opcode(opcode):
    query = dns.message.make_query("example.com", "SOA")
    query.set_opcode(opcode)
    return query


def test_garbage_and_abandoned_tcp_connections_do_not_stop_the_server(dns_server, dns_zone):
    with socket.create_connection((HOST, dns_server.port), timeout=2) as sock:
        sock.sendall(struct.pack("!H", 20) + b"\x12\x34\x01\x00" + b"\xff" * 16)
        reply = sock.recv(100)
        assert reply[2:4] == b"\x12\x34"  # a FORMERR echoing the id
    with socket.create_connection((HOST, dns_server.port), timeout=2) as sock:
        sock.sendall(struct.pack("!H", 500) + b"\x00" * 10)  # then hang up mid-message
    with socket.create_connection((HOST, dns_server.port), timeout=2):
        pass

    assert_still_serving(dns_server, dns_zone)


# --- lifecycle and load --------------------------------------------------------------


def test_stop_is_quick_releases_the_port_and_can_be_repeated(dns_zone):
    server = EmbeddedDnsServer(dns_zone, port=0).start()
    port = server.port
    idle = socket.create_connection((HOST, port), timeout=2)  # an open connection must not hold stop up
    try:
        started = time.monotonic()
        server.stop()
        server.stop()
        assert time.monotonic() - started < 1
    finally:
        idle.close()

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp_sock:
        udp_sock.bind((HOST, port))
    again = EmbeddedDnsServer(dns_zone, port=port).start()
    try:
        assert again.port == port
    finally:
        again.stop()
    assert not [t for t in threading.enumerate() if t.name.startswith("dns-") and str(port) in t.name]


def test_a_busy_port_fails_start_with_oserror(dns_server, dns_zone):
    with pytest.raises(OSError):
        EmbeddedDnsServer(dns_zone, port=dns_server.port).start()


def test_concurrent_clients_all_get_answers(dns_server, dns_zone):
    for i in range(50):
        dns_zone.add(f"m{i}.example.com", "MX", f"10 {FEEDBACK}")

    def ask(i):
        response = udp(dns_server, f"m{i % 50}.example.com") if i % 4 else tcp(dns_server, f"m{i % 50}.example.com")
        return len(response.answer)

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(ask, range(400))) == [1] * 400


# --- replies rendered by hand vs by dnspython ---------------------------------------------


def _equivalence_zone():
    zone = Zone()
    zone.add("mail.example.com", "MX", f"10 {FEEDBACK}")
    zone.add("mail.example.com", "TXT", "v=spf1 include:amazonses.com ~all")
    # Exchanges sharing suffixes with the owner and with each other: pointers
    # into the question and into an earlier record; TTLs: the RRset's lowest.
    zone.add("multi.example.com", "MX", "20 mx1.multi.example.com", ttl=600)
    zone.add("multi.example.com", "MX", "10 mx2.example.com", ttl=60)
    zone.add("multi.example.com", "MX", "30 mx3.example.com")
    zone.add("multi.example.com", "MX", "40 example.com")
    zone.add("nullmx.example.com", "MX", "0 .")
    zone.add("hosts.example.com", "A", "192.0.2.1")
    zone.add("hosts.example.com", "A", "192.0.2.2", ttl=0)
    zone.add("hosts.example.com", "AAAA", "2001:db8::1")
    zone.add("hosts.example.com", "NS", "ns1.hosts.example.com")
    zone.add("hosts.example.com", "NS", "ns2.example.net")
    zone.add("hosts.example.com", "TXT", "")
    zone.add("medium.example.com", "TXT", "m" * 800)  # fits 1232, not 512
    zone.add("big.example.com", "TXT", "v=spf1 " + " ".join(f"ip4:192.0.2.{i}" for i in range(200)))
    zone.add("alias.example.com", "CNAME", "mail.example.com")
    zone.add("dangling.example.com", "CNAME", "gone.example.net")
    zone.add("loop.example.com", "CNAME", "loop.example.com")
    zone.add("a.b.ent.example.com", "A", "192.0.2.9")  # ent.example.com, b.ent.example.com: NODATA
    zone.add("_dmarc.example.com", "TXT", "v=DMARC1; p=none")
    zone.add("deep.servfail.example.org", "MX", f"10 {FEEDBACK}")
    zone.set_fault("servfail.example.org", "servfail")
    zone.set_fault("refused.example.org", "refused")
    zone.set_fault("silent.example.org", "timeout")
    return zone


_NAMES = [
    "mail.example.com", "multi.example.com", "nullmx.example.com", "hosts.example.com",
    "medium.example.com", "big.example.com", "alias.example.com", "dangling.example.com",
    "loop.example.com", "ent.example.com", "b.ent.example.com", "a.b.ent.example.com", "_dmarc.example.com",
    "example.com", "com", "nope.example.com", "x.mail.example.com", "servfail.example.org",
    "deep.servfail.example.org", "refused.example.org", "x.refused.example.org", "silent.example.org",
    ".",  # the root
    r"a\.b.example.com", "star*.example.com", r"\000.example.com",  # labels a zone name never has
    ".".join(["a" * 63] * 3 + ["b" * 61]),  # 253 characters
]
_TYPES = ["MX", "TXT", "A", "AAAA", "CNAME", "NS", "SOA", "SRV", "CAA", 65000, 0, "ANY", "AXFR", "IXFR", "OPT"]


def _spellings(name, rng):
    yield name
    yield name.upper()
    yield "".join(c.upper() if rng.random() < 0.5 else c for c in name)


def _queries(rng):
    """(wire, over UDP) for the generated queries: every name, type and spelling
    with a random EDNS setting, RD and transport."""
    for name in _NAMES:
        for rdtype in _TYPES:
            for spelling in _spellings(name, rng):
                edns, payload = rng.choice([(-1, 0), (0, 512), (0, 1232), (0, 4096), (0, 600), (0, 100), (0, 65535)])
                query = dns.message.make_query(spelling, rdtype, use_edns=edns, payload=payload,
                                               want_dnssec=edns == 0 and rng.random() < 0.3)
                if rng.random() < 0.3:
                    query.flags &= ~dns.flags.RD
                if rng.random() < 0.2:
                    query.flags |= dns.flags.CD | dns.flags.AD
                yield query.to_wire(), rng.random() < 0.85


def test_replies_by_hand_are_byte_identical_to_dnspythons(monkeypatch):
    """Every plain query's reply (by hand where it can be, else dnspython; on
    a cache miss and on a hit spelt differently) against the dnspython path's
    reply to the same bytes."""
    # dnspython shuffles an RRset's records as it renders them; the reply by
    # hand keeps the zone's order, as a cached reply always did.
    monkeypatch.setattr(dns.rdataset, "random", type("NoShuffle", (), {"shuffle": staticmethod(lambda items: None)}))
    zone = _equivalence_zone()
    server = EmbeddedDnsServer(zone, port=0)  # not started: replies are asked of it directly
    rng = random.Random(20261126)
    compared = 0
    for data, over_udp in _queries(rng):
        for attempt in (data, _respelled(data, rng)):
            got = server._respond(attempt, udp=over_udp)
            want = server._answer(attempt, over_udp)
            assert _parsed(got) == _parsed(want), (attempt, over_udp)
            assert got == want, (attempt, over_udp)
            compared += 1
    assert compared > 1000
    counters = server.counters
    assert counters["by_hand"] > 500 and counters["cached"] > 500 and counters["dnspython"] > 100


def _respelled(data, rng):
    """The same query with another id and the question name's letters in another case."""
    shape = _plain_query_shape(data, True)
    name_end = shape[2] if shape else 12
    name = bytes(b ^ 0x20 if chr(b).isascii() and chr(b).isalpha() and rng.random() < 0.5 else b
                 for b in data[12:name_end])
    return rng.randbytes(2) + data[2:12] + name + data[name_end:]


def _parsed(wire):
    """What a client sees: rcode, flags, question, sections, EDNS."""
    if wire is None:
        return None
    message = dns.message.from_wire(wire)
    return (message.id, message.rcode(), message.flags, message.question, message.answer, message.authority,
            message.additional, message.edns, message.ednsflags, message.payload, message.options)


def test_big_txt_truncation_matches_dnspython_at_every_payload_size():
    zone = Zone()
    zone.add("big.example.com", "TXT", "t" * 1000)  # a reply of ~1,060 bytes with the OPT
    server = EmbeddedDnsServer(zone, port=0)
    for payload in range(1000, 1120):
        data = dns.message.make_query("big.example.com", "TXT", use_edns=0, payload=payload).to_wire()
        assert server._respond(data, udp=True) == server._answer(data, True)
    assert server.counters["by_hand"] == 120


# --- the answer cache across zone changes ----------------------------------------------------


def test_a_change_keeps_the_cached_answers_of_names_it_does_not_touch(dns_server, dns_zone):
    for i in range(10):
        dns_zone.add(f"m{i}.example.com", "MX", f"10 {FEEDBACK}")
    for i in range(10):
        udp(dns_server, f"m{i}.example.com")
    cached = dns_server.counters["cached"]

    dns_zone.add("m3.example.com", "MX", "20 other.example.net")
    answers = [len(udp(dns_server, f"m{i}.example.com").answer[0]) for i in range(10)]

    assert answers == [1, 1, 1, 2, 1, 1, 1, 1, 1, 1]
    assert dns_server.counters["cached"] == cached + 9


def test_a_name_added_below_turns_nxdomain_into_nodata_and_back(dns_server, dns_zone):
    assert udp(dns_server, "b.example.com").rcode() == dns.rcode.NXDOMAIN

    record = dns_zone.add("a.b.example.com", "A", "192.0.2.1")
    response = udp(dns_server, "b.example.com")
    assert response.rcode() == dns.rcode.NOERROR and response.answer == []

    dns_zone.remove(record["id"])
    assert udp(dns_server, "b.example.com").rcode() == dns.rcode.NXDOMAIN


def test_a_change_at_the_end_of_a_cname_chain_is_seen_through_the_alias(dns_server, dns_zone):
    dns_zone.add("mail.example.com", "CNAME", "target.example.net")
    record = dns_zone.add("target.example.net", "MX", f"10 {FEEDBACK}")
    assert len(udp(dns_server, "mail.example.com").answer) == 2

    dns_zone.remove(record["id"])
    assert [rrset.rdtype for rrset in udp(dns_server, "mail.example.com").answer] == [dns.rdatatype.CNAME]
    dns_zone.add("target.example.net", "MX", "20 mx.example.net")
    assert udp(dns_server, "mail.example.com").resolve_chaining().answer[0].exchange.to_text() == "mx.example.net."


def test_a_fault_on_an_ancestor_reaches_cached_answers_below_it(dns_server, dns_zone):
    dns_zone.add("mail.example.com", "MX", f"10 {FEEDBACK}")
    assert udp(dns_server, "mail.example.com").rcode() == dns.rcode.NOERROR

    dns_zone.set_fault("example.com", "servfail")
    assert udp(dns_server, "mail.example.com").rcode() == dns.rcode.SERVFAIL
    dns_zone.clear_fault("example.com")
    assert udp(dns_server, "mail.example.com").rcode() == dns.rcode.NOERROR


def test_answers_are_current_once_concurrent_changes_stop(dns_server, dns_zone):
    names = [f"c{i}.example.com" for i in range(16)]
    stop = threading.Event()
    failures: list[BaseException] = []

    def write():
        rng = random.Random(7)
        ids = {}
        while not stop.is_set():
            name = rng.choice(names)
            if name in ids:
                dns_zone.remove(ids.pop(name))
            else:
                ids[name] = dns_zone.add(name, "MX", f"10 {FEEDBACK}")["id"]
            time.sleep(0.0005)  # changes arrive through HTTP requests, not in a tight loop

    def read(worker):
        try:
            while not stop.is_set():
                for name in names:
                    udp(dns_server, name) if worker % 2 else tcp(dns_server, name)
        except BaseException as exc:  # a reader that stops answering must fail the test, not warn
            failures.append(exc)

    threads = [threading.Thread(target=write)] + [threading.Thread(target=read, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    stop.set()
    for thread in threads:
        thread.join()

    assert failures == []
    present = {record["name"] for record in dns_zone.records()}
    for name in names:
        response = udp(dns_server, name)
        assert (response.rcode() == dns.rcode.NOERROR and len(response.answer) == 1) == (name in present), name


def test_the_udp_socket_asks_for_a_big_receive_buffer(dns_server):
    try:
        with open("/proc/sys/net/core/rmem_max") as limit:
            granted = min(UDP_RECEIVE_BUFFER, int(limit.read()))
    except OSError:
        pytest.skip("no /proc/sys/net/core/rmem_max to compare with")

    # Linux reports twice what it granted (bookkeeping overhead included).
    assert dns_server._udp.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) >= granted
