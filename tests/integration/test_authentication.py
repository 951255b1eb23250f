"""DKIM signatures and authentication results (SPEC §12), end to end: real boto3
sends, the outbox over HTTP, and an independent verifier -- dkimpy's own code
path (its pure-Python RSA, not the simulator's OpenSSL replacement) with a
plain dnspython resolver asking the embedded DNS server over loopback."""
from __future__ import annotations

import dkim
import dns.resolver
import pytest

from simulator.core import mailauth
from simulator.mailauth import receiver

SEND = {
    "Destination": {"ToAddresses": ["user@example.org"]},
    "Content": {"Simple": {"Subject": {"Data": "Your order shipped"}, "Body": {"Text": {"Data": "On its way.\n"}}}},
}


@pytest.fixture
def verify(live, monkeypatch):
    """verify(raw) -> [True/False per DKIM-Signature], by dkimpy unaided against the embedded DNS."""
    monkeypatch.setattr(dkim, "RSASSA_PKCS1_v1_5_verify", receiver._pure_python_verify)
    host, port = live.dns_address.rsplit(":", 1)
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [host]
    resolver.port = int(port)
    resolver.cache = None

    def txt(name, timeout=5):
        try:
            answer = resolver.resolve(name.decode() if isinstance(name, bytes) else name, "TXT", lifetime=timeout)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return None
        return b"".join(answer[0].strings)

    def check(raw: str) -> list[bool]:
        data = raw.encode()
        count = sum(1 for line in data.split(b"\r\n") if line.lower().startswith(b"dkim-signature:"))
        return [dkim.DKIM(data).verify(idx=i, dnsfunc=txt) for i in range(count)]

    return check


@pytest.fixture
def send(sesv2, control):
    def go(sender: str = "app@example.com") -> dict:
        sesv2.send_email(FromEmailAddress=sender, **SEND)  # never an error, whatever DNS holds
        return control.ok("GET", "/_sim/outbox?limit=1")["messages"][0]
    return go


def dns_add(control, name: str, type_: str, value: str) -> str:
    return control.ok("POST", "/_sim/dns/records", {"name": name, "type": type_, "value": value})["id"]


def publish_cnames(control, tokens: list[str], domain: str = "example.com") -> None:
    for token in tokens:
        dns_add(control, f"{token}._domainkey.{domain}", "CNAME", f"{token}.dkim.amazonses.com")


def custom_mail_from(sesv2, control, spf: str | None = "v=spf1 include:amazonses.com ~all") -> None:
    sesv2.put_email_identity_mail_from_attributes(EmailIdentity="example.com", MailFromDomain="mail.example.com")
    control.add_mx("mail.example.com")
    if spf is not None:
        dns_add(control, "mail.example.com", "TXT", spf)
    control.ok("POST", "/_sim/checks/run", {})
    attributes = sesv2.get_email_identity(EmailIdentity="example.com")["MailFromAttributes"]
    assert attributes["MailFromDomainStatus"] == "SUCCESS"


def dkim_results(message: dict) -> list[tuple[str, str]]:
    return [(d["domain"], d["result"]) for d in message["authentication"]["dkim"]]


# --- signatures -------------------------------------------------------------------

def test_an_email_identity_s_mail_is_signed_by_amazonses_com_and_verifies(sesv2, send, verify):
    sesv2.create_email_identity(EmailIdentity="app@example.net")
    message = send("app@example.net")

    assert dkim_results(message) == [("amazonses.com", "pass")]
    assert message["authentication"]["dkim"][0]["selector"] == mailauth.amazonses_selector("us-east-1")
    assert verify(message["raw"]) == [True]
    assert "c=relaxed/relaxed" in message["raw"] and "a=rsa-sha256" in message["raw"]


def test_the_domain_signature_verifies_once_the_user_publishes_the_cnames(sesv2, control, send, verify):
    tokens = sesv2.create_email_identity(EmailIdentity="example.com")["DkimAttributes"]["Tokens"]

    before = send()
    assert dkim_results(before) == [("example.com", "permerror"), ("amazonses.com", "pass")]
    assert before["authentication"]["dkim"][0]["selector"] == tokens[0]
    assert "no key for signature" in before["authentication"]["dkim"][0]["reason"]
    assert verify(before["raw"]) == [False, True]

    publish_cnames(control, tokens)
    after = send()
    assert dkim_results(after) == [("example.com", "pass"), ("amazonses.com", "pass")]
    assert verify(after["raw"]) == [True, True]
    # The message that went out before the CNAMEs verifies now as well: the keys were there all along.
    assert verify(before["raw"]) == [True, True]


def test_a_subdomain_sender_is_signed_by_its_parent_domain_identity(sesv2, control, send, verify):
    tokens = sesv2.create_email_identity(EmailIdentity="example.com")["DkimAttributes"]["Tokens"]
    publish_cnames(control, tokens)
    message = send("app@news.example.com")
    assert dkim_results(message) == [("example.com", "pass"), ("amazonses.com", "pass")]
    assert message["authentication"]["dmarc"]["domain"] == "news.example.com"
    assert verify(message["raw"]) == [True, True]


def test_ses_s_records_are_served_but_are_not_the_user_s(sesv2, control, send, live):
    tokens = sesv2.create_email_identity(EmailIdentity="example.com")["DkimAttributes"]["Tokens"]
    send()
    host, port = live.dns_address.rsplit(":", 1)
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers, resolver.port = [host], int(port)
    for token in tokens:  # all three keys, published together
        text = b"".join(resolver.resolve(f"{token}.dkim.amazonses.com", "TXT")[0].strings).decode()
        assert text.startswith("v=DKIM1; k=rsa; p=")
    spf = b"".join(resolver.resolve("amazonses.com", "TXT")[0].strings).decode()
    assert spf == f"v=spf1 ip4:{mailauth.SES_OUTBOUND_RANGE} -all"
    assert control.ok("GET", "/_sim/dns/records")["records"] == []

    sesv2.delete_email_identity(EmailIdentity="example.com")
    with pytest.raises(dns.resolver.NXDOMAIN):
        resolver.resolve(f"{tokens[0]}.dkim.amazonses.com", "TXT")


def test_delivered_message_puts_authentication_results_right_after_return_path(sesv2, send):
    sesv2.create_email_identity(EmailIdentity="example.com")
    raw = send()["raw"]
    names = [line.split(":", 1)[0] for line in raw.split("\r\n\r\n", 1)[0].split("\r\n") if line[:1] not in " \t"]
    assert names[:4] == ["Return-Path", "Authentication-Results", "DKIM-Signature", "DKIM-Signature"]
    assert raw.split("\r\n")[1] == "Authentication-Results: mailfrom-sim;"


# --- SPF ------------------------------------------------------------------------

@pytest.mark.parametrize("record, result", [
    (None, "none"),
    ("v=spf1 ~all", "softfail"),
    ("v=spf1 -all", "fail"),
    ("v=spf1 ?all", "neutral"),
    ("v=spf1 include:amazonses.com ~all", "pass"),
    ("v=spf1 ip4:198.51.100.25 -all", "pass"),
    ("v=spf1 include:amazonses.com bogus-mechanism ~all", "permerror"),
    ("v=spf1 include:nowhere.example.net -all", "permerror"),
])
def test_spf_of_the_custom_mail_from_domain(sesv2, control, send, record, result):
    sesv2.create_email_identity(EmailIdentity="example.com")
    custom_mail_from(sesv2, control, spf=record)
    spf = send()["authentication"]["spf"]
    assert (spf["domain"], spf["result"]) == ("mail.example.com", result)


def test_spf_of_the_default_mail_from_passes_through_amazonses_com(sesv2, send):
    sesv2.create_email_identity(EmailIdentity="example.com")
    message = send()
    assert message["envelope_from"].endswith("@amazonses.com")
    assert message["authentication"]["spf"] == {"result": "pass", "domain": "amazonses.com",
                                                "reason": "sender SPF authorized"}


def test_spf_of_another_region_s_default_mail_from(client_for, control):
    client = client_for("sesv2", "eu-west-1")
    client.create_email_identity(EmailIdentity="example.com")
    client.send_email(FromEmailAddress="app@example.com", **SEND)
    message = control.ok("GET", "/_sim/outbox?limit=1&region=eu-west-1")["messages"][0]
    assert message["envelope_from"].endswith("@eu-west-1.amazonses.com")
    assert message["authentication"]["spf"]["result"] == "pass"
    assert dkim_results(message)[-1] == ("amazonses.com", "pass")


# --- DMARC ----------------------------------------------------------------------

def test_the_dmarc_story(sesv2, control, send, verify):
    tokens = sesv2.create_email_identity(EmailIdentity="example.com")["DkimAttributes"]["Tokens"]
    dns_add(control, "_dmarc.example.com", "TXT", "v=DMARC1; p=reject")

    # SES's default MAIL FROM: SPF passes for amazonses.com, which is not example.com.
    default = send()["authentication"]
    assert default["spf"]["result"] == "pass" and default["spf"]["domain"] == "amazonses.com"
    assert default["dmarc"] == {"result": "fail", "policy": "reject", "spf_aligned": False, "dkim_aligned": False,
                                "domain": "example.com", "record_domain": "example.com", "reason": None}

    # The custom MAIL FROM domain with its SPF record: SPF aligns, DMARC passes.
    custom_mail_from(sesv2, control)
    custom = send()["authentication"]
    assert custom["spf"] == {"result": "pass", "domain": "mail.example.com", "reason": "sender SPF authorized"}
    assert custom["dmarc"]["result"] == "pass" and custom["dmarc"]["spf_aligned"] is True
    assert custom["dmarc"]["dkim_aligned"] is False

    # Easy DKIM's CNAMEs published as well: the domain signature aligns too.
    publish_cnames(control, tokens)
    both = send()
    assert both["authentication"]["dmarc"]["spf_aligned"] is True
    assert both["authentication"]["dmarc"]["dkim_aligned"] is True
    assert verify(both["raw"]) == [True, True]


def test_dkim_alone_aligns_with_the_default_mail_from(sesv2, control, send):
    tokens = sesv2.create_email_identity(EmailIdentity="example.com")["DkimAttributes"]["Tokens"]
    dns_add(control, "_dmarc.example.com", "TXT", "v=DMARC1; p=quarantine; adkim=s")
    publish_cnames(control, tokens)
    dmarc = send()["authentication"]["dmarc"]
    assert (dmarc["result"], dmarc["policy"], dmarc["spf_aligned"], dmarc["dkim_aligned"]) == \
        ("pass", "quarantine", False, True)


def test_strict_spf_alignment_needs_the_from_domain_itself(sesv2, control, send):
    sesv2.create_email_identity(EmailIdentity="example.com")
    dns_add(control, "_dmarc.example.com", "TXT", "v=DMARC1; p=reject; aspf=s")
    custom_mail_from(sesv2, control)
    dmarc = send()["authentication"]["dmarc"]
    assert (dmarc["result"], dmarc["spf_aligned"]) == ("fail", False)


def test_a_subdomain_falls_back_to_the_organisational_domain_s_policy(sesv2, control, send):
    sesv2.create_email_identity(EmailIdentity="example.com")
    dns_add(control, "_dmarc.example.com", "TXT", "v=DMARC1; p=reject; sp=quarantine")
    dmarc = send("app@news.example.com")["authentication"]["dmarc"]
    assert (dmarc["result"], dmarc["policy"], dmarc["record_domain"]) == ("fail", "quarantine", "example.com")


def test_no_dmarc_record_is_none(sesv2, send):
    sesv2.create_email_identity(EmailIdentity="example.com")
    dmarc = send()["authentication"]["dmarc"]
    assert (dmarc["result"], dmarc["policy"]) == ("none", None)


# --- bad input: an RFC 8601 error, never a failed send ---------------------------------

def test_dns_faults_are_temperror_and_do_not_stall_the_send(sesv2, control, send):
    sesv2.create_email_identity(EmailIdentity="example.com")
    dns_add(control, "_dmarc.example.com", "TXT", "v=DMARC1; p=reject")
    control.ok("PUT", "/_sim/dns/faults/example.com", {"fault": "servfail"})
    servfail = send()["authentication"]
    assert servfail["dmarc"]["result"] == "temperror"
    assert dkim_results({"authentication": servfail})[0] == ("example.com", "temperror")

    control.ok("PUT", "/_sim/dns/faults/example.com", {"fault": "timeout"})
    timeout = send()["authentication"]  # bounded by the per-message DNS budget (0.5 s in these tests)
    assert timeout["dmarc"]["result"] == "temperror"
    assert timeout["dkim"][0]["result"] == "temperror"
    assert timeout["spf"]["result"] == "pass"  # amazonses.com still answers


@pytest.mark.parametrize("record, result", [
    ("v=DMARC1; p=bogus", "permerror"),
    ("v=DMARC1; adkim=r", "permerror"),
    ("v=DMARC1; p=reject; aspf=x", "permerror"),
    ("v=DMARC1 p=reject", "permerror"),
    ("not a dmarc record", "none"),
    ("v=dmarc1; p=reject", "none"),  # "DMARC1" is case-sensitive: not a DMARC record, discarded
    ("V=DMARC1; p=none", "fail"),  # the tag name is not
    ("v=DMARC1; p=none", "fail"),
])
def test_malformed_dmarc_records(sesv2, control, send, record, result):
    sesv2.create_email_identity(EmailIdentity="example.com")
    dns_add(control, "_dmarc.example.com", "TXT", record)
    assert send()["authentication"]["dmarc"]["result"] == result


def test_two_dmarc_records_are_permerror(sesv2, control, send):
    sesv2.create_email_identity(EmailIdentity="example.com")
    dns_add(control, "_dmarc.example.com", "TXT", "v=DMARC1; p=reject")
    dns_add(control, "_dmarc.example.com", "TXT", "v=DMARC1; p=none")
    assert send()["authentication"]["dmarc"]["result"] == "permerror"


@pytest.mark.parametrize("key_record, result", [
    ("v=DKIM1; k=rsa; p=bm90IGEga2V5", "permerror"),  # base64 of something that is no key
    ("v=DKIM1; k=rsa; p=!!!", "permerror"),
    ("v=DKIM1; k=rsa", "permerror"),
    ("garbage without tags", "permerror"),
    ("v=DKIM1; k=rsa; p=" + "A" * 3900, "permerror"),  # oversized and meaningless
])
def test_malformed_dkim_keys_published_by_the_user(sesv2, control, send, key_record, result):
    tokens = sesv2.create_email_identity(EmailIdentity="example.com")["DkimAttributes"]["Tokens"]
    dns_add(control, f"{tokens[0]}._domainkey.example.com", "CNAME", "key.example.net")
    dns_add(control, "key.example.net", "TXT", key_record)
    assert dkim_results(send())[0] == ("example.com", result)


def test_a_cname_loop_at_the_selector_is_temperror(sesv2, control, send):
    tokens = sesv2.create_email_identity(EmailIdentity="example.com")["DkimAttributes"]["Tokens"]
    dns_add(control, f"{tokens[0]}._domainkey.example.com", "CNAME", "loop.example.com")
    dns_add(control, "loop.example.com", "CNAME", f"{tokens[0]}._domainkey.example.com")
    message = send()
    assert dkim_results(message)[0] == ("example.com", "temperror")
    assert dkim_results(message)[1] == ("amazonses.com", "pass")


def test_a_signature_with_a_key_that_does_not_match_fails(sesv2, control, send, verify):
    tokens = sesv2.create_email_identity(EmailIdentity="example.com")["DkimAttributes"]["Tokens"]
    # Point the selector at SES's amazonses.com key: a real key, but not the one that signed.
    selector = mailauth.amazonses_selector("us-east-1")
    dns_add(control, f"{tokens[0]}._domainkey.example.com", "CNAME", f"{selector}._domainkey.amazonses.com")
    message = send()
    assert dkim_results(message) == [("example.com", "fail"), ("amazonses.com", "pass")]
    assert verify(message["raw"]) == [False, True]


def test_a_signature_the_sender_added_is_verified_in_full_next_to_ses_s(sesv2, control):
    """A Raw message may carry its own DKIM-Signature (SES adds its own on top): SES's are
    passes, the sender's is judged like any other (here: no key published -> permerror)."""
    sesv2.create_email_identity(EmailIdentity="app@example.net")
    mime = (b"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.net; s=own;\r\n"
            b" h=from:to:subject; bh=AAAA; b=AAAA\r\n"
            b"From: app@example.net\r\nTo: user@example.org\r\nSubject: own signature\r\n\r\nhello\r\n")
    sesv2.send_email(FromEmailAddress="app@example.net", Content={"Raw": {"Data": mime}})
    message = control.ok("GET", "/_sim/outbox?limit=1")["messages"][0]
    assert dkim_results(message) == [("amazonses.com", "pass"), ("example.net", "permerror")]


def test_a_forged_verdict_under_the_receivers_name_is_removed(sesv2, control):
    """RFC 8601 §5: the receiver deletes Authentication-Results fields claiming its own
    authserv-id; another receiver's stay."""
    sesv2.create_email_identity(EmailIdentity="app@example.net")
    mime = (b"Authentication-Results: mailfrom-sim; dmarc=pass header.from=example.net\r\n"
            b"Authentication-Results: MAILFROM-SIM 1; spf=pass\r\n"
            b"Authentication-Results: relay.example.org; spf=pass\r\n"
            b"From: app@example.net\r\nTo: user@example.org\r\nSubject: forged\r\n\r\nhello\r\n")
    sesv2.send_email(FromEmailAddress="app@example.net", Content={"Raw": {"Data": mime}})
    raw = control.ok("GET", "/_sim/outbox?limit=1")["messages"][0]["raw"]
    head = raw.split("\r\n\r\n", 1)[0]
    assert "dmarc=pass header.from=example.net" not in head and "MAILFROM-SIM 1" not in head
    fields = [line for line in head.split("\r\n") if line.lower().startswith("authentication-results")]
    assert len(fields) == 2, fields  # the receiver's own, and the other receiver's
    assert fields[0].startswith("Authentication-Results: mailfrom-sim;")
    assert fields[1] == "Authentication-Results: relay.example.org; spf=pass"


def test_spf_include_loop_and_oversized_record_are_permerror(sesv2, control, send):
    sesv2.create_email_identity(EmailIdentity="example.com")
    custom_mail_from(sesv2, control, spf="v=spf1 include:mail.example.com -all")
    assert send()["authentication"]["spf"]["result"] == "permerror"
    control.remove_records("mail.example.com")
    control.add_mx("mail.example.com")
    dns_add(control, "mail.example.com", "TXT", "v=spf1 " + " ".join(f"a:h{i}.example.net" for i in range(200)))  # ~3.6 kB
    assert send()["authentication"]["spf"]["result"] == "permerror"


def test_mail_auth_can_be_turned_off():
    from simulator.runtime import Options, Runtime
    from tests.helpers import aws_client

    runtime = Runtime(Options(port=0, dns_port=0, db=":memory:", mail_auth=False, scheduler=False)).start()
    try:
        client = aws_client("sesv2", runtime.url)
        client.create_email_identity(EmailIdentity="example.com")
        client.send_email(FromEmailAddress="app@example.com", **SEND)
        from tests.helpers import SimControl
        message = SimControl(runtime.url).ok("GET", "/_sim/outbox?limit=1")["messages"][0]
        assert "authentication" not in message
        assert "DKIM-Signature" not in message["raw"] and "Authentication-Results" not in message["raw"]
    finally:
        runtime.stop()


def test_the_key_length_reported_is_the_one_signed_with():
    from simulator.runtime import Options, Runtime
    from tests.helpers import aws_client

    runtime = Runtime(Options(port=0, dns_port=0, db=":memory:", dkim_key_bits=1024, scheduler=False)).start()
    try:
        client = aws_client("sesv2", runtime.url)
        created = client.create_email_identity(EmailIdentity="example.com")["DkimAttributes"]
        got = client.get_email_identity(EmailIdentity="example.com")["DkimAttributes"]
        for attributes in (created, got):
            assert (attributes["CurrentSigningKeyLength"], attributes["NextSigningKeyLength"]) == \
                ("RSA_1024_BIT", "RSA_1024_BIT")
    finally:
        runtime.stop()


def test_ses_s_keys_are_read_back_after_a_restart_not_made_again(tmp_path, monkeypatch):
    """Keys are not loaded at start: the restarted server reads each from the store when it is
    asked for it (over DNS or to sign), and a message signed before the restart still verifies."""
    from simulator.runtime import Options, Runtime
    from tests.helpers import SimControl, aws_client

    monkeypatch.setattr(dkim, "RSASSA_PKCS1_v1_5_verify", receiver._pure_python_verify)
    db = str(tmp_path / "sim.db")

    def resolver_of(runtime):
        resolver = dns.resolver.Resolver(configure=False)
        host, port = runtime.dns_address.rsplit(":", 1)
        resolver.nameservers, resolver.port, resolver.cache = [host], int(port), None
        return resolver

    def key_text(runtime, name):
        return b"".join(resolver_of(runtime).resolve(name, "TXT")[0].strings).decode()

    first = Runtime(Options(port=0, dns_port=0, db=db, scheduler=False)).start()
    try:
        client = aws_client("sesv2", first.url)
        tokens = client.create_email_identity(EmailIdentity="example.com")["DkimAttributes"]["Tokens"]
        client.send_email(FromEmailAddress="app@example.com", **SEND)
        signed = SimControl(first.url).ok("GET", "/_sim/outbox?limit=1")["messages"][0]["raw"]
        published = {name: key_text(first, name) for name in (
            f"{tokens[0]}.dkim.amazonses.com", f"{mailauth.amazonses_selector('us-east-1')}._domainkey.amazonses.com")}
    finally:
        first.stop()

    second = Runtime(Options(port=0, dns_port=0, db=db, scheduler=False)).start()
    try:
        control, client = SimControl(second.url), aws_client("sesv2", second.url)
        assert {name: key_text(second, name) for name in published} == published
        publish_cnames(control, tokens)
        txt = lambda name, timeout=5: b"".join(  # noqa: E731 - dkimpy's dnsfunc
            resolver_of(second).resolve(name.decode(), "TXT", lifetime=timeout)[0].strings)
        assert [dkim.DKIM(signed.encode()).verify(idx=i, dnsfunc=txt) for i in range(2)] == [True, True]
        client.send_email(FromEmailAddress="app@example.com", **SEND)
        assert dkim_results(control.ok("GET", "/_sim/outbox?limit=1")["messages"][0]) == [
            ("example.com", "pass"), ("amazonses.com", "pass")]

        client.delete_email_identity(EmailIdentity="example.com")
        with pytest.raises(dns.resolver.NXDOMAIN):
            resolver_of(second).resolve(f"{tokens[0]}.dkim.amazonses.com", "TXT")
        with pytest.raises(dns.resolver.NXDOMAIN):  # no key is left below it...
            resolver_of(second).resolve("dkim.amazonses.com", "TXT")
        # ...while the region's amazonses.com key is below this one: it exists, with no records of its own
        assert resolver_of(second).resolve("_domainkey.amazonses.com", "TXT", raise_on_no_answer=False).rrset is None
    finally:
        second.stop()
