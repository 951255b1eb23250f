"""`mailfrom-sim check`: the preflight against a real DNS server (the embedded one, over loopback)."""
import subprocess
import sys


def preflight(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "simulator.cli", "check", *args],
                          capture_output=True, text=True, timeout=60)


def test_found_exits_zero_and_prints_what_it_found(live, control):
    control.add_mx("mail.example.com", "feedback-smtp.eu-west-1.amazonses.com")
    result = preflight("mail.example.com", "--region", "eu-west-1", "--resolver", live.dns_address)
    assert result.returncode == 0, result.stdout
    assert "outcome: FOUND" in result.stdout and "feedback-smtp.eu-west-1.amazonses.com" in result.stdout


def test_missing_exits_one_and_prints_the_records_to_publish(live):
    result = preflight("mail.example.com", "--region", "eu-west-1", "--resolver", live.dns_address)
    assert result.returncode == 1
    assert "outcome: MISSING" in result.stdout
    assert "MX 10 feedback-smtp.eu-west-1.amazonses.com" in result.stdout
    assert "v=spf1 include:amazonses.com ~all" in result.stdout


def test_a_dns_failure_exits_one_as_transient(live, control):
    control.ok("PUT", "/_sim/dns/faults/mail.example.com", {"fault": "servfail"})
    result = preflight("mail.example.com", "--resolver", live.dns_address)
    assert result.returncode == 1 and "outcome: TRANSIENT" in result.stdout


def test_bad_arguments_exit_two(live):
    assert preflight("not_a..domain", "--resolver", live.dns_address).returncode == 2
    assert preflight("mail.example.com", "--resolver", "nonsense").returncode == 2


def test_spf_and_dmarc_readiness(live, control):
    control.add_mx("mail.example.com")
    result = preflight("mail.example.com", "--resolver", live.dns_address)
    assert "SPF readiness: NOT READY, no SPF record at mail.example.com" in result.stdout
    assert "DMARC (example.com): no record at _dmarc.example.com" in result.stdout

    for name, value in (("mail.example.com", "v=spf1 include:amazonses.com ~all"),
                        ("_dmarc.example.com", "v=DMARC1; p=reject")):
        control.ok("POST", "/_sim/dns/records", {"name": name, "type": "TXT", "value": value})
    result = preflight("mail.example.com", "--resolver", live.dns_address)
    assert "SPF readiness: ready (v=spf1 include:amazonses.com ~all)" in result.stdout
    assert ("DMARC (example.com): policy p=reject; SPF for mail.example.com aligns with From: ...@example.com"
            in result.stdout)


def test_dmarc_readiness_with_strict_alignment_and_broken_records(live, control):
    control.ok("POST", "/_sim/dns/records", {"name": "_dmarc.example.com", "type": "TXT",
                                             "value": "v=DMARC1; p=quarantine; aspf=s"})
    result = preflight("mail.example.com", "--resolver", live.dns_address)
    assert "SPF for mail.example.com does NOT align" in result.stdout
    control.ok("POST", "/_sim/dns/records", {"name": "mail.example.com", "type": "TXT", "value": "v=spf1 -all"})
    control.ok("PUT", "/_sim/dns/faults/_dmarc.example.com", {"fault": "servfail"})
    result = preflight("mail.example.com", "--resolver", live.dns_address)
    assert "does not include:amazonses.com" in result.stdout
    assert "DMARC (example.com): temperror" in result.stdout
