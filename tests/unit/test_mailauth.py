"""The pure rules of mail authentication (core/mailauth), and the two places where
the simulator does dkimpy's RSA through OpenSSL: each must answer exactly as
dkimpy's own code does."""
from __future__ import annotations

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from simulator.core import mailauth
from simulator.core.mailauth import DkimResult, DmarcRecord, SpfResult, evaluate_dmarc, parse_dmarc
from simulator.core.model import DnsFacts, DnsStatus, Identity, IdentityType, VerificationStatus
from simulator.mailauth import receiver, signing
from simulator.mailauth.keys import SigningKey


def org(name: str) -> str:
    return ".".join(name.split(".")[-2:])  # good enough for example.com and its subdomains


def records(table: dict[str, object]):
    def txt(name: str) -> DnsFacts:
        found = table.get(name)
        if isinstance(found, DnsStatus):
            return DnsFacts(name, "TXT", found, error=f"{name}: {found.value}")
        if found is None:
            return DnsFacts(name, "TXT", DnsStatus.NXDOMAIN)
        return DnsFacts(name, "TXT", DnsStatus.ANSWER, txt=tuple(found))
    return txt


SPF_DEFAULT = SpfResult("pass", "amazonses.com")
SPF_CUSTOM = SpfResult("pass", "mail.example.com")
DKIM_SES = DkimResult("pass", "amazonses.com", "sel")
DKIM_DOMAIN = DkimResult("pass", "example.com", "tok")


@pytest.mark.parametrize("text, expected", [
    ("v=DMARC1; p=reject", DmarcRecord("reject", "reject", "r", "r")),
    ("v=DMARC1;p=none;sp=quarantine;adkim=s;aspf=S; rua=mailto:x@example.com",
     DmarcRecord("none", "quarantine", "s", "s")),
    ("v=DMARC1; p=Reject; pct=50;", DmarcRecord("reject", "reject", "r", "r")),
])
def test_parse_dmarc(text, expected):
    assert parse_dmarc(text) == expected


@pytest.mark.parametrize("text", ["v=DMARC1", "v=DMARC1; p=maybe", "v=DMARC1; p=none; sp=x", "v=DMARC1; p=none; adkim=q",
                                  "p=reject; v=DMARC1", "v=DMARC1; p=none; p=reject", "v=DMARC1; p"])
def test_parse_dmarc_refuses(text):
    assert isinstance(parse_dmarc(text), str)


def test_default_mail_from_never_aligns_spf():
    result = evaluate_dmarc("example.com", SPF_DEFAULT, [DKIM_SES], records({"_dmarc.example.com": ["v=DMARC1; p=reject"]}), org)
    assert (result.result, result.policy, result.spf_aligned, result.dkim_aligned) == ("fail", "reject", False, False)


def test_custom_mail_from_aligns_relaxed_but_not_strict():
    relaxed = evaluate_dmarc("example.com", SPF_CUSTOM, [], records({"_dmarc.example.com": ["v=DMARC1; p=reject"]}), org)
    strict = evaluate_dmarc("example.com", SPF_CUSTOM, [], records({"_dmarc.example.com": ["v=DMARC1; p=reject; aspf=s"]}), org)
    assert (relaxed.result, relaxed.spf_aligned) == ("pass", True)
    assert (strict.result, strict.spf_aligned) == ("fail", False)


def test_only_a_passing_identifier_aligns():
    failing = [DkimResult("fail", "example.com", "tok"), DKIM_SES]
    result = evaluate_dmarc("example.com", SpfResult("softfail", "mail.example.com"), failing,
                            records({"_dmarc.example.com": ["v=DMARC1; p=quarantine"]}), org)
    assert (result.result, result.spf_aligned, result.dkim_aligned) == ("fail", False, False)
    passing = evaluate_dmarc("example.com", SPF_DEFAULT, [DKIM_DOMAIN],
                             records({"_dmarc.example.com": ["v=DMARC1; p=quarantine"]}), org)
    assert (passing.result, passing.dkim_aligned) == ("pass", True)


def test_organisational_domain_record_uses_sp():
    result = evaluate_dmarc("news.example.com", SPF_DEFAULT, [DKIM_DOMAIN],
                            records({"_dmarc.example.com": ["v=DMARC1; p=reject; sp=none"]}), org)
    assert (result.result, result.policy, result.record_domain) == ("pass", "none", "example.com")


@pytest.mark.parametrize("table, expected", [
    ({}, "none"),
    ({"_dmarc.example.com": ["some other text"]}, "none"),
    ({"_dmarc.example.com": DnsStatus.TIMEOUT}, "temperror"),
    ({"_dmarc.example.com": DnsStatus.SERVFAIL}, "temperror"),
    ({"_dmarc.example.com": DnsStatus.MALFORMED}, "temperror"),
    ({"_dmarc.example.com": ["v=DMARC1; p=reject", "v=DMARC1; p=none"]}, "permerror"),
    ({"_dmarc.example.com": ["v=DMARC1; p=nope"]}, "permerror"),
    ({"_dmarc.news.example.com": DnsStatus.NXDOMAIN, "_dmarc.example.com": DnsStatus.REFUSED}, "temperror"),
])
def test_dmarc_errors(table, expected):
    assert evaluate_dmarc("news.example.com", SPF_CUSTOM, [], records(table), org).result == expected


def test_amazonses_selector_is_fixed_per_region_and_looks_like_ses():
    east, west = mailauth.amazonses_selector("us-east-1"), mailauth.amazonses_selector("eu-west-1")
    assert east == mailauth.amazonses_selector("US-EAST-1 ") and east != west
    assert len(east) == 32 and east.isalnum() and east.islower()


def _identity(name: str, type_: IdentityType, status=VerificationStatus.SUCCESS) -> Identity:
    return Identity("1", "us-east-1", name, type_, status, 0.0,
                    ("a" * 32, "b" * 32, "c" * 32) if type_ is IdentityType.DOMAIN else ())


def test_the_most_specific_signing_domain_identity_signs():
    email = _identity("app@news.example.com", IdentityType.EMAIL_ADDRESS)
    sub = _identity("news.example.com", IdentityType.DOMAIN, VerificationStatus.PENDING)
    parent = _identity("example.com", IdentityType.DOMAIN)
    assert mailauth.domain_signer([email, sub, parent]) is parent
    assert mailauth.domain_signer([email]) is None
    assert not mailauth.signs_as_domain(email) and not mailauth.signs_as_domain(sub)


def test_authentication_results_header():
    result = mailauth.Authentication(
        SPF_CUSTOM, (DKIM_DOMAIN, DKIM_SES),
        mailauth.DmarcResult("pass", "reject", True, True, "example.com"), "id@mail.example.com")
    assert result.header() == (
        "Authentication-Results: mailfrom-sim;\r\n"
        " spf=pass smtp.mailfrom=id@mail.example.com;\r\n"
        " dkim=pass header.d=example.com header.s=tok;\r\n"
        " dkim=pass header.d=amazonses.com header.s=sel;\r\n"
        " dmarc=pass (p=REJECT) header.from=example.com\r\n")


# --- OpenSSL in dkimpy's place ----------------------------------------------------

MESSAGE = (b"From: App <app@example.com>\r\nTo: user@example.org\r\nSubject: hi there\r\n"
           b"Date: Mon, 01 Jan 2024 00:00:00 +0000\r\nMessage-ID: <x@example.com>\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: text/plain; charset=utf-8\r\n\r\nHello  world \r\n\r\n\r\n")


@pytest.fixture(scope="module")
def key() -> SigningKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
    return SigningKey("tok._domainkey.example.com", pem, private)


def test_the_signature_is_byte_for_byte_dkimpy_s(key, monkeypatch):
    monkeypatch.setattr(signing.time, "time", lambda: 1700000000)
    monkeypatch.setattr(dkim.time, "time", lambda: 1700000000)
    ours = signing.sign(MESSAGE, [("tok", "example.com", key)])
    theirs = dkim.sign(MESSAGE, b"tok", b"example.com", key.pem, canonicalize=(b"relaxed", b"relaxed"),
                       include_headers=[h for h in signing.SIGNED_HEADERS if h.decode() + ":" in MESSAGE.decode().lower()],
                       linesep=b"\r\n")
    assert ours == theirs


def test_openssl_verification_answers_as_dkimpy_s(key, monkeypatch):
    signed = signing.sign(MESSAGE, [("tok", "example.com", key)]) + MESSAGE
    tampered = signed.replace(b"Subject: hi there", b"Subject: hi thera")
    dnsfunc = lambda name, timeout=5: key.txt.encode()  # noqa: E731
    for replacement in (receiver._openssl_verify, receiver._pure_python_verify):
        monkeypatch.setattr(dkim, "RSASSA_PKCS1_v1_5_verify", replacement)
        assert dkim.DKIM(signed).verify(dnsfunc=dnsfunc) is True
        assert dkim.DKIM(tampered).verify(dnsfunc=dnsfunc) is False
