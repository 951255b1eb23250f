"""Mail authentication rules (SPEC §12): who DKIM-signs a message, the names
SES publishes keys and SPF under, DMARC record parsing, alignment and policy,
and the results a receiving MTA reports (RFC 8601 spellings).

Pure: the DNS queries and the public suffix list are handed in as functions
by the edge (simulator/mailauth), which also does the signing and the SPF and
DKIM verification with their libraries.

Choices (documented in the README):
- SES's simulated outbound range is 198.51.100.0/24 (RFC 5737 TEST-NET-2,
  never routed), and every message leaves from SES_OUTBOUND_IP with the HELO
  name SES_HELO. amazonses.com's SPF record authorises the whole range.
- SES's own DKIM selector for amazonses.com is one per region, 32 characters
  of base32 like the real ones, derived from the region's name so it is the
  same in every run (`amazonses_selector`).
- Easy DKIM keys are published at <token>.dkim.amazonses.com (the user's
  <token>._domainkey.<domain> CNAMEs point there); a domain signs with its
  first token's key, s=<token>.
"""
from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .errors import BadRequestException
from .model import DnsFacts, DnsStatus, Identity, IdentityType, VerificationStatus
from .names import normalize_domain

__all__ = [
    "AMAZONSES",
    "AUTHSERV_ID",
    "Authentication",
    "DkimResult",
    "DmarcRecord",
    "DmarcResult",
    "SES_HELO",
    "SES_OUTBOUND_IP",
    "SES_OUTBOUND_RANGE",
    "SpfResult",
    "aligned",
    "amazonses_key_name",
    "amazonses_selector",
    "amazonses_spf",
    "domain_signer",
    "evaluate_dmarc",
    "parse_dmarc",
    "regional_mail_from_host",
    "signs_as_domain",
    "token_key_name",
]

AMAZONSES = "amazonses.com"
SES_OUTBOUND_RANGE = "198.51.100.0/24"
SES_OUTBOUND_IP = "198.51.100.25"
SES_HELO = "a198-51-100-25.smtp-out.amazonses.com"
# The receiving MTA's authserv-id in Authentication-Results.
AUTHSERV_ID = "mailfrom-sim"
REGIONAL_SPF = f"v=spf1 include:{AMAZONSES} ~all"  # what SES publishes at <region>.amazonses.com

# RFC 8601 result words.
PASS, FAIL, SOFTFAIL, NEUTRAL, NONE, TEMPERROR, PERMERROR = (
    "pass", "fail", "softfail", "neutral", "none", "temperror", "permerror")
_TEMPORARY = frozenset({DnsStatus.TIMEOUT, DnsStatus.SERVFAIL, DnsStatus.REFUSED, DnsStatus.UNREACHABLE,
                        DnsStatus.ERROR, DnsStatus.MALFORMED})
_ABSENT = frozenset({DnsStatus.NXDOMAIN, DnsStatus.NODATA, DnsStatus.BAD_NAME})


# --- what SES publishes ---------------------------------------------------------

def amazonses_spf() -> str:
    return f"v=spf1 ip4:{SES_OUTBOUND_RANGE} -all"


def amazonses_selector(region: str) -> str:
    """SES's own selector for d=amazonses.com in `region`: fixed, 32 characters of base32."""
    digest = hashlib.sha256(f"mailfrom-sim amazonses.com dkim {region.strip().lower()}".encode()).digest()
    return base64.b32encode(digest[:20]).decode().lower()


def amazonses_key_name(selector: str) -> str:
    return f"{selector}._domainkey.{AMAZONSES}"


def token_key_name(token: str) -> str:
    """Where SES publishes an Easy DKIM token's public key (the user's CNAME target)."""
    return f"{token}.dkim.{AMAZONSES}"


def regional_mail_from_host(region: str) -> str | None:
    """The default MAIL FROM host of a region other than us-east-1 (it has its own SPF record)."""
    region = region.strip().lower()
    return None if region == "us-east-1" else f"{region}.{AMAZONSES}"


# --- who signs ----------------------------------------------------------------

def signs_as_domain(identity: Identity) -> bool:
    """Whether a domain identity's Easy DKIM signs its mail: DKIM SUCCESS and signing enabled
    (PutEmailIdentityDkimAttributes)."""
    return (identity.type is IdentityType.DOMAIN and identity.dkim_status is VerificationStatus.SUCCESS
            and identity.dkim_signing_enabled and bool(identity.dkim_tokens))


def domain_signer(sender_chain: Sequence[Identity]) -> Identity | None:
    """The domain identity whose Easy DKIM signs mail from this sender (most specific first, SES inheritance)."""
    return next((i for i in sender_chain if i.type is IdentityType.DOMAIN and signs_as_domain(i)), None)


# --- results ------------------------------------------------------------------

@dataclass(frozen=True)
class SpfResult:
    result: str
    domain: str  # the envelope sender's domain (MAIL FROM)
    reason: str | None = None

    def to_dict(self) -> dict:
        return {"result": self.result, "domain": self.domain, "reason": self.reason}


@dataclass(frozen=True)
class DkimResult:
    result: str
    domain: str  # d=
    selector: str  # s=
    reason: str | None = None

    def to_dict(self) -> dict:
        return {"result": self.result, "domain": self.domain, "selector": self.selector, "reason": self.reason}


@dataclass(frozen=True)
class DmarcResult:
    result: str
    policy: str | None  # none / quarantine / reject, as applied to the From domain; None without a record
    spf_aligned: bool
    dkim_aligned: bool
    domain: str  # the From domain
    record_domain: str | None = None  # where the record was found (the From or its organisational domain)
    reason: str | None = None

    def to_dict(self) -> dict:
        return {"result": self.result, "policy": self.policy, "spf_aligned": self.spf_aligned,
                "dkim_aligned": self.dkim_aligned, "domain": self.domain, "record_domain": self.record_domain,
                "reason": self.reason}


@dataclass(frozen=True)
class Authentication:
    spf: SpfResult
    dkim: tuple[DkimResult, ...]
    dmarc: DmarcResult
    envelope_from: str

    def to_dict(self) -> dict:
        return {"spf": self.spf.to_dict(), "dkim": [d.to_dict() for d in self.dkim], "dmarc": self.dmarc.to_dict()}

    def header(self, authserv_id: str = AUTHSERV_ID) -> str:
        """The Authentication-Results field (RFC 8601), folded, with its final CRLF."""
        methods = [f"spf={self.spf.result} smtp.mailfrom={_ascii(self.envelope_from)}"]
        methods += [f"dkim={d.result} header.d={_ascii(d.domain)} header.s={_ascii(d.selector)}" for d in self.dkim] \
            or ["dkim=none"]
        dmarc = self.dmarc
        comment = f" (p={dmarc.policy.upper()})" if dmarc.policy else ""
        methods.append(f"dmarc={dmarc.result}{comment} header.from={_ascii(dmarc.domain)}")
        return f"Authentication-Results: {authserv_id};" + ";".join(f"\r\n {m}" for m in methods) + "\r\n"


_PLAIN_VALUE = re.compile(r"[!#-'*-:<-\[\]-~]+")  # printable ASCII but blanks, quotes, ( ) ; and backslash


def _ascii(value: str) -> str:
    """A property value as RFC 8601 can carry it (ASCII, no blanks, quotes or semicolons)."""
    if _PLAIN_VALUE.fullmatch(value):
        return value
    try:
        text = value.encode("idna").decode("ascii") if not value.isascii() and "@" not in value else value
    except UnicodeError:
        text = value
    return "".join(_PLAIN_VALUE.findall(text)) or "unknown"


# --- DMARC (RFC 7489) ---------------------------------------------------------

@dataclass(frozen=True)
class DmarcRecord:
    policy: str  # p=
    subdomain_policy: str  # sp=, p= when absent
    adkim: str  # "r" or "s"
    aspf: str


_POLICIES = ("none", "quarantine", "reject")


def parse_dmarc(text: str) -> DmarcRecord | str:
    """A DMARC record, or why it is not one we can apply (the caller's permerror)."""
    tags: dict[str, str] = {}
    for part in text.split(";"):
        part = part.strip()
        if not part:
            continue
        name, sep, value = part.partition("=")
        if not sep:
            return f"malformed tag {part[:40]!r}"
        name = name.strip().lower()
        if name in tags:
            return f"tag {name} is repeated"
        tags[name] = value.strip()
    if next(iter(tags), None) != "v" or tags["v"] != "DMARC1":
        return "the record does not start with v=DMARC1"
    policy = tags.get("p", "").lower()
    if policy not in _POLICIES:
        return "p= is missing" if "p" not in tags else f"p={tags['p'][:20]} is not none, quarantine or reject"
    subdomain_policy = tags.get("sp", policy).lower()
    if subdomain_policy not in _POLICIES:
        return f"sp={tags['sp'][:20]} is not none, quarantine or reject"
    modes = {}
    for tag in ("adkim", "aspf"):
        mode = tags.get(tag, "r").lower()
        if mode not in ("r", "s"):
            return f"{tag}={tags[tag][:20]} is not r or s"
        modes[tag] = mode
    return DmarcRecord(policy, subdomain_policy, modes["adkim"], modes["aspf"])


def aligned(identifier: str, from_domain: str, mode: str, org_domain: Callable[[str], str]) -> bool:
    """RFC 7489 §3.1: strict = the same name; relaxed = the same organisational domain."""
    identifier, from_domain = normalize_domain(identifier), normalize_domain(from_domain)
    if not identifier or not from_domain:
        return False
    if mode == "s":
        return identifier == from_domain
    return identifier == from_domain or org_domain(identifier) == org_domain(from_domain)


def _dmarc_records(facts: DnsFacts) -> list[str]:
    # RFC 7489 §6.4: the tag name is case-insensitive, "DMARC1" is not (%x44 %x4d ...); a
    # record that does not start with the version is discarded (§6.6.3), not an error.
    return [t for t in facts.txt if t[:2].lower() == "v=" and t[2:8] == "DMARC1" and (len(t) == 8 or t[8] in " ;\t")]


def evaluate_dmarc(from_domain: str, spf: SpfResult, dkim: Sequence[DkimResult],
                   txt: Callable[[str], DnsFacts], org_domain: Callable[[str], str]) -> DmarcResult:
    """DMARC for the From domain: the policy record at _dmarc.<from> or at its
    organisational domain, the alignment of the passing SPF and DKIM
    identifiers with the From domain, and the result.

    `txt(name)` asks DNS for TXT records; `org_domain(name)` is the
    organisational domain (public suffix list). A temporary DNS failure is
    `temperror`; a record that is not valid DMARC, or more than one, is
    `permerror`; no record is `none` (alignment then shown as relaxed).
    """
    from_domain = normalize_domain(from_domain)

    def alignment(record: DmarcRecord | None) -> tuple[bool, bool]:
        aspf, adkim = (record.aspf, record.adkim) if record else ("r", "r")
        spf_ok = spf.result == PASS and aligned(spf.domain, from_domain, aspf, org_domain)
        dkim_ok = any(d.result == PASS and aligned(d.domain, from_domain, adkim, org_domain) for d in dkim)
        return spf_ok, dkim_ok

    def result(value: str, record: DmarcRecord | None = None, policy: str | None = None,
               where: str | None = None, reason: str | None = None) -> DmarcResult:
        spf_ok, dkim_ok = alignment(record)
        if value == PASS and not (spf_ok or dkim_ok):
            value = FAIL
        return DmarcResult(value, policy, spf_ok, dkim_ok, from_domain, where, reason)

    if not from_domain:
        return result(PERMERROR, reason="the message has no From domain")
    organisational = org_domain(from_domain)
    names = [from_domain] + ([organisational] if organisational and organisational != from_domain else [])
    for name in names:
        facts = txt(f"_dmarc.{name}")
        if facts.status in _TEMPORARY:
            return result(TEMPERROR, reason=facts.error or f"_dmarc.{name}: {facts.status.value}")
        if facts.status in _ABSENT:
            continue
        records = _dmarc_records(facts)
        if not records:
            continue
        if len(records) > 1:
            return result(PERMERROR, where=name, reason=f"_dmarc.{name} has {len(records)} DMARC records")
        record = parse_dmarc(records[0])
        if isinstance(record, str):
            return result(PERMERROR, where=name, reason=f"_dmarc.{name}: {record}")
        policy = record.policy if name == from_domain else record.subdomain_policy
        return result(PASS, record, policy, name)
    return result(NONE, reason="no DMARC record")


# --- Bring Your Own DKIM (CreateEmailIdentity DkimSigningAttributes) ------------------------
# The sesv2 model's Selector and PrivateKey shapes.
_SELECTOR = re.compile(r"^(([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9\-]*[a-zA-Z0-9]))$")
_PRIVATE_KEY = re.compile(r"^[a-zA-Z0-9+/]+={0,2}$")


def check_signing_attributes(attributes: object, identity_type: IdentityType) -> None:
    """CreateEmailIdentity's DkimSigningAttributes, checked as SES would take them: a selector
    of the model's form and a base64 (DER) 1024- or 2048-bit RSA private key, for a domain.
    BYODKIM is not simulated beyond this: the identity signs with Easy DKIM (a README choice)."""
    if attributes is None:
        return
    if not isinstance(attributes, dict):
        raise BadRequestException("DkimSigningAttributes must be a structure.")
    if identity_type is not IdentityType.DOMAIN:
        raise BadRequestException("DkimSigningAttributes apply to domain identities only.")
    length = attributes.get("NextSigningKeyLength")
    if length is not None and length not in ("RSA_1024_BIT", "RSA_2048_BIT"):
        raise BadRequestException("DkimSigningAttributes.NextSigningKeyLength must be RSA_1024_BIT or RSA_2048_BIT.")
    selector, key = attributes.get("DomainSigningSelector"), attributes.get("DomainSigningPrivateKey")
    if selector is None and key is None:
        return
    if not isinstance(selector, str) or len(selector) > 63 or not _SELECTOR.match(selector):
        raise BadRequestException("DkimSigningAttributes.DomainSigningSelector must be 1 to 63 letters, digits "
                                  "or inner hyphens.")
    bad_key = BadRequestException("DkimSigningAttributes.DomainSigningPrivateKey must be a base64-encoded 1024- "
                                  "or 2048-bit RSA private key.")
    if not isinstance(key, str) or len(key) > 20480 or not _PRIVATE_KEY.match(key):
        raise bad_key
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    try:
        loaded = serialization.load_der_private_key(base64.b64decode(key, validate=True), password=None)
    except Exception:  # not base64, not DER, encrypted, not a key
        raise bad_key from None
    if not isinstance(loaded, rsa.RSAPrivateKey) or loaded.key_size not in (1024, 2048):
        raise bad_key
