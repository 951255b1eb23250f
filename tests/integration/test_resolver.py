"""MxResolver against real nameservers on loopback: the embedded server for the
FOUND/MISSING/TRANSIENT rows, and tiny misbehaving UDP "nameservers" for the
failures a well-behaved server never produces."""
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from simulator.core.model import LookupOutcome, MxLookup
from simulator.core.verdicts import SPF_RECORD, records_to_publish
from simulator.lookup.resolver import MxResolver, parse_resolver_spec

FOUND, MISSING, TRANSIENT = LookupOutcome.FOUND, LookupOutcome.MISSING, LookupOutcome.TRANSIENT
FEEDBACK = "feedback-smtp.us-east-1.amazonses.com"
HOST = "127.0.0.1"
SHORT = 0.5  # timeout for the rows that must wait one out


@pytest.fixture
def resolver(dns_server):
    return MxResolver(dns_server.address, timeout=2.0)


@pytest.fixture(params=["lookup", "lookup_many"])
def look(request):
    """One check through `lookup`, or through `lookup_many([...])[0]` (the pipelined
    engine): every case in this module must come out exactly the same both ways."""

    def look(resolver, domain="mail.example.com", region="us-east-1", **options) -> MxLookup:
        if request.param == "lookup":
            return resolver.lookup(domain, region, **options)
        [result] = resolver.lookup_many([(domain, region)], **options)
        return result

    return look


# --- FOUND ---------------------------------------------------------------------------


def test_found_for_the_one_mx_pointing_at_the_regions_feedback_host(resolver, dns_zone, look):
    dns_zone.add("mail.example.com", "MX", f"10 {FEEDBACK}")

    result = look(resolver)

    assert result == MxLookup(FOUND, (f"10 {FEEDBACK}.",), None, None)


def test_found_ignores_case_trailing_dots_and_the_preference(resolver, dns_zone, look):
    dns_zone.add("mail.example.com", "MX", f"0 {FEEDBACK.upper()}.")

    result = look(resolver, "MAIL.Example.COM.", " US-EAST-1 ")

    assert result.outcome is FOUND
    assert result.answers == (f"0 {FEEDBACK}.",)


def test_found_for_another_region(resolver, dns_zone, look):
    dns_zone.add("mail.example.com", "MX", "10 feedback-smtp.eu-west-1.amazonses.com")

    assert look(resolver, region="eu-west-1").outcome is FOUND
    assert look(resolver, region="us-east-1").outcome is MISSING


def test_found_through_a_cname_chain(resolver, dns_zone, look):
    dns_zone.add("mail.example.com", "CNAME", "hop.example.net")
    dns_zone.add("hop.example.net", "CNAME", "mx-config.example.org")
    dns_zone.add("mx-config.example.org", "MX", f"10 {FEEDBACK}")

    assert look(resolver).outcome is FOUND


# --- MISSING ---------------------------------------------------------------------------


def test_missing_for_nxdomain(resolver, dns_zone, look):
    dns_zone.add("other.example.com", "MX", f"10 {FEEDBACK}")

    result = look(resolver)

    assert result == MxLookup(MISSING, (), "NXDOMAIN: mail.example.com does not exist", None)


def test_missing_for_a_name_without_mx(resolver, dns_zone, look):
    dns_zone.add("mail.example.com", "TXT", SPF_RECORD)

    result = look(resolver)

    assert result == MxLookup(MISSING, (), "no MX record at mail.example.com (NOERROR, no data)", SPF_RECORD)


def test_missing_for_an_mx_pointing_elsewhere(resolver, dns_zone, look):
    dns_zone.add("mail.example.com", "MX", "10 mx.other.com")

    result = look(resolver)

    assert result.outcome is MISSING
    assert result.answers == ("10 mx.other.com.",)
    assert result.error == f"MX points to mx.other.com., expected {FEEDBACK}"


def test_missing_for_a_null_mx(resolver, dns_zone, look):
    dns_zone.add("mail.example.com", "MX", "0 .")

    result = look(resolver)

    assert (result.outcome, result.answers) == (MISSING, ("0 .",))


def test_missing_for_more_than_one_mx_even_if_one_is_right(resolver, dns_zone, look):
    dns_zone.add("mail.example.com", "MX", "20 mx.other.com")
    dns_zone.add("mail.example.com", "MX", f"10 {FEEDBACK}")

    result = look(resolver)

    assert result.outcome is MISSING
    assert result.answers == (f"10 {FEEDBACK}.", "20 mx.other.com.")
    assert result.error == "2 MX records; exactly one is required"


def test_missing_for_a_cname_to_a_name_that_does_not_exist(resolver, dns_zone, look):
    dns_zone.add("mail.example.com", "CNAME", "gone.example.net")

    result = look(resolver)

    assert result.outcome is MISSING
    assert result.error == "NXDOMAIN: mail.example.com is an alias of gone.example.net, which does not exist"


@pytest.mark.parametrize("domain", ["", ".", "x" * 64 + ".example.com", "a..example.com"])
def test_missing_for_a_name_that_cannot_exist(resolver, domain, look):
    result = look(resolver, domain, "us-east-1")

    assert result.outcome is MISSING and result.error


def test_a_removed_record_is_missing_at_once(resolver, dns_zone, look):
    record = dns_zone.add("mail.example.com", "MX", f"10 {FEEDBACK}")
    assert look(resolver).outcome is FOUND

    dns_zone.remove(record["id"])

    assert look(resolver).outcome is MISSING


# --- TRANSIENT from the embedded server ------------------------------------------------


@pytest.mark.parametrize("fault", ["servfail", "refused"])
def test_transient_for_an_error_rcode_and_quickly(resolver, dns_zone, fault, look):
    dns_zone.add("mail.example.com", "MX", f"10 {FEEDBACK}")
    dns_zone.set_fault("example.com", fault)

    started = time.monotonic()
    result = look(resolver)

    assert time.monotonic() - started < 0.5
    assert result.outcome is TRANSIENT and result.spf is None
    assert f"{fault.upper()} from 127.0.0.1:" in result.error


def test_transient_for_a_timeout_within_the_timeout(dns_server, dns_zone, look):
    dns_zone.add("mail.example.com", "MX", f"10 {FEEDBACK}")
    dns_zone.set_fault("mail.example.com", "timeout")

    result, elapsed = timed_lookup(look, MxResolver(dns_server.address, timeout=SHORT))

    assert result.outcome is TRANSIENT
    assert result.error == f"timeout: no answer for mail.example.com MX within {SHORT:g} s"
    assert SHORT * 0.9 <= elapsed < SHORT + 0.5


def test_transient_for_a_cname_loop(resolver, dns_zone, look):
    dns_zone.add("mail.example.com", "CNAME", "loop.example.com")
    dns_zone.add("loop.example.com", "CNAME", "mail.example.com")

    result = look(resolver)

    assert result.outcome is TRANSIENT
    assert "CNAME chain too long or looping" in result.error


def test_transient_for_a_cname_chain_longer_than_the_resolver_follows(resolver, dns_zone, look):
    for hop in range(20):
        dns_zone.add(f"h{hop}.example.com", "CNAME", f"h{hop + 1}.example.com")
    dns_zone.add("h20.example.com", "MX", f"10 {FEEDBACK}")

    assert look(resolver, "h0.example.com").outcome is TRANSIENT


# --- TRANSIENT from misbehaving nameservers ----------------------------------------------


class FakeNameserver:
    """A UDP socket on loopback that handles each datagram with `reply(data, sock, peer)`."""

    def __init__(self, reply):
        self.reply = reply
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((HOST, 0))
        self.sock.settimeout(0.05)
        self.address = self.sock.getsockname()
        self.queries = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self):
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(65535)
            except OSError:
                continue
            self.queries += 1
            self.reply(data, self.sock, peer)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        self._thread.join()
        self.sock.close()


def proper_response(data, rcode=dns.rcode.NOERROR, mx=f"10 {FEEDBACK}."):
    query = dns.message.from_wire(data)
    response = dns.message.make_response(query)
    response.set_rcode(rcode)
    if mx and query.question[0].rdtype == dns.rdatatype.MX:
        response.answer.append(dns.rrset.from_text(query.question[0].name, 300, "IN", "MX", mx))
    return response


def garbage(data, sock, peer):
    sock.sendto(b"\xde\xad\xbe\xef" * 8, peer)


def wrong_id(data, sock, peer):
    response = proper_response(data)
    response.id ^= 0x5A5A
    sock.sendto(response.to_wire(), peer)


def wrong_source(data, sock, peer):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as other:
        other.bind((HOST, 0))
        other.sendto(proper_response(data).to_wire(), peer)


def silent(data, sock, peer):
    pass


def answer_with_nxdomain(data, sock, peer):
    sock.sendto(proper_response(data, rcode=dns.rcode.NXDOMAIN).to_wire(), peer)


def truncated_with_no_tcp(data, sock, peer):
    response = proper_response(data, mx=None)
    response.flags |= dns.flags.TC
    sock.sendto(response.to_wire(), peer)


def mx_but_servfail_for_txt(data, sock, peer):
    query = dns.message.from_wire(data)
    failing = query.question[0].rdtype != dns.rdatatype.MX
    sock.sendto(proper_response(data, rcode=dns.rcode.SERVFAIL if failing else dns.rcode.NOERROR).to_wire(), peer)


def timed_lookup(look, resolver):
    started = time.monotonic()
    result = look(resolver, "mail.example.com", "us-east-1")
    return result, time.monotonic() - started


@pytest.mark.parametrize("reply", [garbage, wrong_id, wrong_source, silent], ids=lambda f: f.__name__)
def test_transient_when_no_acceptable_answer_arrives(reply, look):
    with FakeNameserver(reply) as nameserver:
        result, elapsed = timed_lookup(look, MxResolver(nameserver.address, timeout=SHORT))

    assert nameserver.queries >= 1
    assert result.outcome is TRANSIENT and result.error.startswith("timeout")
    assert elapsed < SHORT + 0.5


@pytest.mark.parametrize(
    ("reply", "error"),
    [(answer_with_nxdomain, "malformed answer"), (truncated_with_no_tcp, "unreachable")],
    ids=["nxdomain_with_answer", "truncated_but_no_tcp"],
)
def test_transient_for_a_malformed_answer_quickly(reply, error, look):
    with FakeNameserver(reply) as nameserver:
        result, elapsed = timed_lookup(look, MxResolver(nameserver.address, timeout=2.0))

    assert result.outcome is TRANSIENT and error in result.error
    assert elapsed < 0.5


def test_transient_when_nothing_listens_on_the_port(look):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((HOST, 0))
        closed_port = probe.getsockname()[1]

    result, elapsed = timed_lookup(look, MxResolver((HOST, closed_port), timeout=SHORT))

    assert result.outcome is TRANSIENT
    assert elapsed < SHORT + 0.5


# --- SPF advice ---------------------------------------------------------------------------


def test_spf_is_reported_alongside_found(resolver, dns_zone, look):
    dns_zone.add("mail.example.com", "MX", f"10 {FEEDBACK}")
    dns_zone.add("mail.example.com", "TXT", "google-site-verification=abc")
    dns_zone.add("mail.example.com", "TXT", SPF_RECORD)

    result = look(resolver)

    assert (result.outcome, result.spf) == (FOUND, SPF_RECORD)


@pytest.mark.parametrize("txt", [None, "not spf", "v=spf10 nope"])
def test_spf_is_none_without_an_spf_txt(resolver, dns_zone, txt, look):
    dns_zone.add("mail.example.com", "MX", f"10 {FEEDBACK}")
    if txt:
        dns_zone.add("mail.example.com", "TXT", txt)

    result = look(resolver)

    assert (result.outcome, result.spf) == (FOUND, None)


def test_spf_never_changes_the_outcome(resolver, dns_zone, look):
    dns_zone.add("mail.example.com", "MX", "10 mx.other.com")
    dns_zone.add("mail.example.com", "TXT", SPF_RECORD)

    result = look(resolver)

    assert (result.outcome, result.spf) == (MISSING, SPF_RECORD)


def test_a_failing_txt_lookup_is_just_no_spf(look):
    with FakeNameserver(mx_but_servfail_for_txt) as nameserver:
        result, _ = timed_lookup(look, MxResolver(nameserver.address, timeout=2.0))

    assert (result.outcome, result.spf) == (FOUND, None)


def test_a_truncated_answer_is_fetched_over_tcp(resolver, dns_zone, look):
    big_spf = "v=spf1 " + " ".join(f"ip4:198.51.100.{i}" for i in range(120)) + " include:amazonses.com ~all"
    assert len(big_spf) > 1500
    dns_zone.add("mail.example.com", "MX", f"10 {FEEDBACK}")
    dns_zone.add("mail.example.com", "TXT", big_spf)
    for i in range(60):  # and an MX answer too big for UDP as well
        dns_zone.add("big.example.com", "MX", f"{i} mx{i}.a-rather-long-mail-exchanger-name.example.net")

    assert look(resolver).spf == big_spf
    assert len(look(resolver, "big.example.com").answers) == 60


# --- robustness -------------------------------------------------------------------------------


@pytest.mark.parametrize(("domain", "region"), [(None, "us-east-1"), ("mail.example.com", None), (42, object())])
def test_lookup_never_raises(resolver, domain, region, look):
    result = look(resolver, domain, region)

    assert isinstance(result, MxLookup) and result.outcome in (MISSING, TRANSIENT)


def test_one_resolver_serves_many_threads(resolver, dns_zone, look):
    for i in range(40):
        dns_zone.add(f"m{i}.example.com", "MX", f"10 {FEEDBACK}" if i % 2 else "10 mx.other.com")

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(lambda i: look(resolver, f"m{i}.example.com").outcome, range(40)))

    assert outcomes == [MISSING, FOUND] * 20


# --- configuration ------------------------------------------------------------------------------


def test_parse_embedded_uses_the_embedded_servers_address():
    resolver = parse_resolver_spec(" Embedded ", ("127.0.0.1", 8553))

    assert resolver.nameserver == ("127.0.0.1", 8553)
    assert resolver.description == "127.0.0.1:8553"


def test_parse_system_uses_resolv_conf():
    resolver = parse_resolver_spec("system", None, timeout=1.5)

    assert resolver.nameserver is None and resolver.timeout == 1.5
    assert resolver.description.startswith("system (")


@pytest.mark.parametrize(
    ("spec", "host", "port"),
    [("192.0.2.53:53", "192.0.2.53", 53), ("[::1]:5353", "::1", 5353), ("localhost:8553", "localhost", 8553)],
)
def test_parse_host_and_port(spec, host, port):
    resolver = parse_resolver_spec(spec, None)

    assert resolver.nameserver == (host, port)


@pytest.mark.parametrize(
    "spec",
    ["", "  ", "embeded", "192.0.2.1", "192.0.2.1:", ":53", "192.0.2.1:0", "192.0.2.1:65536", "192.0.2.1:dns",
     "::1:53", "[::1]", "[::1]53", "host name:53", None],
)
def test_parse_rejects_garbage_with_a_clear_message(spec):
    with pytest.raises(ValueError, match="resolver|nameserver"):
        parse_resolver_spec(spec, ("127.0.0.1", 8553))


def test_parse_embedded_without_a_running_server_is_an_error():
    with pytest.raises(ValueError, match="not running"):
        parse_resolver_spec("embedded", None)


def test_records_to_publish_are_the_mx_and_the_spf_txt():
    assert records_to_publish("Mail.Example.com.", "eu-west-1") == [
        "mail.example.com. MX 10 feedback-smtp.eu-west-1.amazonses.com.",
        'mail.example.com. TXT "v=spf1 include:amazonses.com ~all"',
    ]
    assert MxResolver.records_to_publish("mail.example.com", "us-east-1")[0].endswith(f"{FEEDBACK}.")


@pytest.mark.parametrize("module_name", ["simulator.lookup.resolver", "simulator.lookup.pipeline", "simulator.lookup.facts",
                                         "simulator.nameserver.server", "simulator.core.verdicts", "simulator.core.names"])
def test_the_public_names_are_exported(module_name):
    import importlib

    module = importlib.import_module(module_name)

    assert all(hasattr(module, name) for name in module.__all__)


def test_the_spf_query_can_be_skipped(resolver, dns_zone, look):
    dns_zone.add("mail.example.com", "MX", f"10 {FEEDBACK}")
    dns_zone.add("mail.example.com", "TXT", SPF_RECORD)

    result = look(resolver, "mail.example.com", "us-east-1", check_spf=False)

    assert (result.outcome, result.spf) == (FOUND, None)
