"""MxResolver against a real BIND 9 changed by RFC 2136 updates: the outcomes
must match what the embedded server gives. Each test uses its own name, as
named is started once per module."""
import pytest

from simulator.core.model import LookupOutcome
from simulator.core.verdicts import SPF_RECORD
from simulator.lookup.resolver import MxResolver

FOUND, MISSING, TRANSIENT = LookupOutcome.FOUND, LookupOutcome.MISSING, LookupOutcome.TRANSIENT
FEEDBACK = "feedback-smtp.us-east-1.amazonses.com"


@pytest.fixture
def resolver(bind_server):
    return MxResolver(bind_server.address, timeout=2.0)


def test_missing_then_found_then_missing_with_a_second_mx(bind_server, resolver):
    domain = "mail.example.com"
    assert resolver.lookup(domain, "us-east-1").error == f"NXDOMAIN: {domain} does not exist"

    bind_server.update(domain, "MX", f"10 {FEEDBACK}.")
    found = resolver.lookup(domain, "us-east-1")
    bind_server.update(domain, "MX", "20 mx.other.com.")
    two = resolver.lookup(domain, "us-east-1")

    assert (found.outcome, found.answers) == (FOUND, (f"10 {FEEDBACK}.",))
    assert (two.outcome, two.error) == (MISSING, "2 MX records; exactly one is required")


def test_deleting_the_mx_leaves_nodata_and_reports_the_spf(bind_server, resolver):
    domain = "bounce.example.com"
    bind_server.update(domain, "MX", f"10 {FEEDBACK}")
    bind_server.update(domain, "TXT", SPF_RECORD)
    assert resolver.lookup(domain, "us-east-1").outcome is FOUND

    bind_server.delete(domain, "MX")
    result = resolver.lookup(domain, "us-east-1")

    assert (result.outcome, result.spf) == (MISSING, SPF_RECORD)
    assert result.error == f"no MX record at {domain} (NOERROR, no data)"


def test_missing_for_an_mx_pointing_elsewhere_or_to_another_region(bind_server, resolver):
    domain = "mf.example.com"
    bind_server.update(domain, "MX", "10 feedback-smtp.eu-west-1.amazonses.com")

    assert resolver.lookup(domain, "us-east-1").outcome is MISSING
    assert resolver.lookup(domain, "eu-west-1").outcome is FOUND


def test_found_through_a_cname_inside_the_zone(bind_server, resolver):
    bind_server.update("target.example.com", "MX", f"10 {FEEDBACK}")
    bind_server.update("alias.example.com", "CNAME", "target.example.com.")

    assert resolver.lookup("alias.example.com", "us-east-1").outcome is FOUND


def test_transient_for_a_cname_loop(bind_server, resolver):
    bind_server.update("loop1.example.com", "CNAME", "loop2.example.com.")
    bind_server.update("loop2.example.com", "CNAME", "loop1.example.com.")

    assert resolver.lookup("loop1.example.com", "us-east-1").outcome is TRANSIENT


def test_transient_for_a_name_outside_the_zone_which_bind_refuses(resolver):
    result = resolver.lookup("mail.example.org", "us-east-1")

    assert result.outcome is TRANSIENT
    assert "REFUSED" in result.error


def test_a_big_spf_comes_back_over_tcp(bind_server, resolver):
    domain = "big.example.com"
    big_spf = "v=spf1 " + " ".join(f"ip4:198.51.100.{i}" for i in range(120)) + " ~all"
    bind_server.update(domain, "MX", f"10 {FEEDBACK}")
    bind_server.update(domain, "TXT", big_spf)

    result = resolver.lookup(domain, "us-east-1")

    assert (result.outcome, result.spf) == (FOUND, big_spf)
