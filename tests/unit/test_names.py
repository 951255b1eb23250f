"""The one domain normaliser, host-name validator and HOST:PORT parser."""
import pytest

from simulator.core import rules
from simulator.core.names import host_name_problem, normalize_domain, parse_host_port


@pytest.mark.parametrize(("raw", "normal"), [("Mail.Example.COM", "mail.example.com"), (" mail.example.com. ", "mail.example.com"),
                                             ("a.b..", "a.b."), ("", "")])
def test_normalize_domain_drops_case_blanks_and_one_final_dot(raw, normal):
    assert normalize_domain(raw) == normal


def test_rules_keeps_the_names_importable():
    assert rules.normalize_domain is normalize_domain and rules.host_name_problem is host_name_problem


@pytest.mark.parametrize(("name", "problem"), [
    ("", "the domain is empty"), ("mäil.example.com", "non-ASCII"), ("a" * 254, "longer than 253"),
    ("localhost", "at least two labels"), ("a..example.com", "empty label"), ("a" * 64 + ".com", "63"),
    ("_dmarc.example.com", "characters a host name cannot have"), ("-a.example.com", "characters"),
    ("1.2.3.4", "IP address"),
])
def test_host_name_problems(name, problem):
    assert problem in host_name_problem(name)


def test_a_good_host_name_has_no_problem():
    assert host_name_problem("mail.example.com") is None
    assert host_name_problem(".".join(["a" * 63] * 3 + ["b" * 61])) is None


@pytest.mark.parametrize("name", ["_dmarc.example.com", "localhost", "host.10", "_amazonses.example.com"])
def test_dns_names_take_underscores_single_labels_and_numbers(name):
    assert host_name_problem(name, dns_labels=True) is None


@pytest.mark.parametrize("name", ["", "a..b", "-a.b", "a b.c", "é.example"])
def test_dns_names_still_refuse_what_dns_cannot_hold(name):
    assert host_name_problem(name, dns_labels=True, subject="the name")


@pytest.mark.parametrize(("spec", "expected"), [
    ("localhost:25", ("localhost", 25)), (" 127.0.0.1:2525 ", ("127.0.0.1", 2525)), ("[::1]:1025", ("::1", 1025)),
    ("192.0.2.53:65535", ("192.0.2.53", 65535)),
])
def test_parse_host_port(spec, expected):
    assert parse_host_port(spec) == expected


@pytest.mark.parametrize(("spec", "expected"), [("mail.example.com", ("mail.example.com", 25)), ("[::1]", ("::1", 25)),
                                                ("mail.example.com:2525", ("mail.example.com", 2525))])
def test_parse_host_port_with_a_default_port(spec, expected):
    assert parse_host_port(spec, default_port=25) == expected


@pytest.mark.parametrize("spec", ["", " ", None, 42, "localhost", "localhost:", ":25", "host:0", "host:70000", "host:abc",
                                  "host:²", "::1:25", "[::1]25", "[::1", "a b:25", "[]:25"])
def test_parse_host_port_refuses_garbage(spec):
    with pytest.raises(ValueError):
        parse_host_port(spec)
