"""The receiving MTA's checks of a delivered message, against the simulator's
DNS: SPF with pyspf, each DKIM signature with dkimpy, DMARC with the core's
evaluator (simulator.core.mailauth). Every DNS query goes to one
RecordResolver (simulator.lookup.records), within one deadline per message.

Why not authheaders (which wraps the three): its SPF check cannot be given a
DNS function (it calls pyspf with pyspf's own resolver), its DKIM check looks
at the first signature only and reports every error as `fail`, its DMARC
check has no `temperror` and reports no per-method alignment, and it reads
the public suffix list file anew on every organisational-domain lookup.

Two library functions are replaced, once, at import:
- pyspf asks DNS through its module-level `spf.DNSLookup` (its own test
  suite swaps it the same way): the replacement uses the resolver of the
  check running on the calling thread (a ContextVar), and pyspf's own
  resolver for anyone else;
- dkimpy's RSA signature check, by the same check done by OpenSSL (below).
"""
from __future__ import annotations

import contextvars
import ipaddress
import time
from dataclasses import dataclass
from email.utils import getaddresses
from functools import lru_cache

import dkim
import dkim.util
import spf
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from publicsuffix2 import PublicSuffixList

from simulator.core import mailauth
from simulator.core.mailauth import DkimResult, SpfResult
from simulator.core.model import DnsFacts, DnsStatus
from simulator.core.names import normalize_domain
from simulator.lookup.records import RecordResolver
from simulator.mail.headers import split_header_block

from .signing import QUIET_LOGGER

__all__ = ["Receiver"]

_TEMPORARY = frozenset({DnsStatus.TIMEOUT, DnsStatus.SERVFAIL, DnsStatus.REFUSED, DnsStatus.UNREACHABLE,
                        DnsStatus.ERROR, DnsStatus.MALFORMED})
_SPF_TYPES = frozenset({"A", "AAAA", "MX", "PTR", "TXT", "SPF"})
_RESULTS = frozenset({"pass", "fail", "softfail", "neutral", "none", "temperror", "permerror"})
_SPF_RESULTS_KEPT = 4096


@dataclass
class _Check:
    """One message's checks: the resolver and the deadline they share."""

    resolver: RecordResolver
    deadline: float
    macros: bool = False  # an SPF record read for this message holds a macro (%{...})

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def query(self, name, rdtype):
        return self.resolver.query(name, rdtype, max(0.0, self.left()))


_current: contextvars.ContextVar[_Check | None] = contextvars.ContextVar("mailfrom_sim_spf_check", default=None)
_pyspf_lookup = spf.DNSLookup


def _spf_dns(name, qtype, strict=True, timeout=30):
    """pyspf's DNSLookup: ((name, type), value) pairs; raises spf.TempError on a temporary failure."""
    check = _current.get()
    if check is None:
        return _pyspf_lookup(name, qtype, strict, timeout)
    if qtype not in _SPF_TYPES:
        return []
    if check.left() <= 0:
        raise spf.TempError(f"DNS: the time for this message's checks ran out before {name} {qtype}")
    answer = check.query(name, "TXT" if qtype == "SPF" else qtype)
    if answer.status in _TEMPORARY:
        raise spf.TempError(f"DNS {answer.facts.error or answer.status.value}")
    if qtype == "SPF":
        return []  # type 99 is obsolete (RFC 7208 §3.1); asking TXT twice would only cost time
    if qtype == "MX":
        return [((name, qtype), (preference, exchange.rstrip("."))) for preference, exchange in answer.values]
    if qtype == "PTR":
        return [((name, qtype), target.rstrip(".")) for target in answer.values]
    if qtype == "TXT" and any(b"%{" in part for value in answer.values for part in value):
        check.macros = True  # the result may depend on the sender's local part: not kept
    return [((name, qtype), value) for value in answer.values]


spf.DNSLookup = _spf_dns

# dkimpy verifies RSA signatures in pure Python (~0.3 ms for a 2048-bit key,
# as much as the rest of a message's checks together); the same check through
# OpenSSL takes ~0.02 ms. It answers exactly as dkimpy's function does (True
# or False for the digest, the signature and the key), so it replaces it, in
# the one place dkimpy looks it up, for every caller alike.
_pure_python_verify = dkim.RSASSA_PKCS1_v1_5_verify
_OPENSSL_HASHES = {"sha256": hashes.SHA256, "sha1": hashes.SHA1}


@lru_cache(maxsize=1024)
def _openssl_public_key(modulus: int, exponent: int):
    return rsa.RSAPublicNumbers(exponent, modulus).public_key()


def _openssl_verify(hash, signature, public_key) -> bool:
    algorithm = _OPENSSL_HASHES.get(getattr(hash, "name", ""))
    try:
        key = _openssl_public_key(public_key["modulus"], public_key["publicExponent"])
    except Exception:  # a key OpenSSL will not take: let dkimpy judge it
        key = None
    if algorithm is None or key is None:
        return _pure_python_verify(hash, signature, public_key)
    try:
        key.verify(bytes(signature), hash.digest(), padding.PKCS1v15(), Prehashed(algorithm()))
    except InvalidSignature:
        return False
    return True


dkim.RSASSA_PKCS1_v1_5_verify = _openssl_verify


@lru_cache(maxsize=1)
def _suffixes() -> PublicSuffixList:
    return PublicSuffixList()


@lru_cache(maxsize=4096)
def org_domain(name: str) -> str:
    """The organisational domain (RFC 7489 §3.2): one label below the public suffix."""
    name = name.strip(".").lower()
    try:
        found = _suffixes().get_public_suffix(name)
    except Exception:
        found = None
    return found or name


def _from_domain(headers: list[tuple[bytes, bytes]]) -> str:
    """The RFC 5322.From domain (the first address of the first From field), or ''."""
    values = [value.decode("utf-8", "replace") for name, value in headers if name.lower() == b"from"]
    if not values:
        return ""
    addresses = [address for _, address in getaddresses([values[0]]) if "@" in address]
    return _domain_of(addresses[0]) if addresses else ""


def _domain_of(address: str) -> str:
    return normalize_domain(address.rpartition("@")[2])


class Receiver:
    """Computes a message's Authentication results as a receiving MTA would."""

    def __init__(self, resolver: RecordResolver, budget: float) -> None:
        self.resolver = resolver
        self.budget = budget  # seconds of DNS per message, all checks together
        # SPF results by (client IP, envelope domain, HELO) while the zone is unchanged (see _spf)
        self._spf_results: dict[tuple[str, str, str], tuple[int, SpfResult]] = {}

    def authenticate(self, message: bytes, envelope_from: str, client_ip: str = mailauth.SES_OUTBOUND_IP,
                     helo: str = mailauth.SES_HELO,
                     vouched: dict[tuple[bytes, bytes], bytes] | None = None) -> mailauth.Authentication:
        """SPF for `envelope_from` from `client_ip`, each DKIM signature of `message`, DMARC for its From domain.

        `vouched`: {(d, s): key record} for signatures the caller has just made over exactly
        `message` with the private half of that record. Such a signature verifies exactly
        when DNS serves that very record at s._domainkey.d: when every signature is one of
        those, each record is looked up and compared (`_vouched_only`), the message not parsed,
        hashed or RSA-checked again. Otherwise the whole message is verified in full.
        """
        check = _Check(self.resolver, time.monotonic() + self.budget)
        spf_result = self._spf(check, envelope_from, client_ip, helo)
        fast = self._vouched_only(check, message, vouched) if vouched else None
        if fast is not None:
            dkim_results, headers = fast
        else:
            try:
                verifier = _Verifier(message, logger=QUIET_LOGGER)
            except Exception as error:
                headers = []
                dkim_results = [DkimResult("permerror", "", "", f"unparsable message: {error}")]
            else:
                headers = verifier.headers
                dkim_results = self._dkim(check, verifier)

        def txt(name: str) -> DnsFacts:
            if check.left() <= 0:
                return DnsFacts(name, "TXT", DnsStatus.TIMEOUT, error="the time for this message's checks ran out")
            return check.query(name, "TXT").facts

        from_domain = _from_domain(headers)
        dmarc = mailauth.evaluate_dmarc(from_domain, spf_result, dkim_results, txt, org_domain)
        return mailauth.Authentication(spf_result, tuple(dkim_results), dmarc, envelope_from)

    # --- SPF ----------------------------------------------------------------

    def _spf(self, check: _Check, envelope_from: str, client_ip: str, helo: str) -> SpfResult:
        """SPF for the envelope sender. Kept and reused while the embedded zone is unchanged:
        without a macro in the records read, the result depends only on the IP, the domain
        and HELO (custom MAIL FROM envelopes differ per message only in the local part).
        Never kept: temperror, a result over a macro, or any without the zone's counter."""
        domain = _domain_of(envelope_from)
        generation = self.resolver.generation()
        key = (client_ip, domain, helo)
        if generation is not None:
            kept = self._spf_results.get(key)
            if kept is not None and kept[0] == generation:
                return kept[1]
        result = self._spf_evaluate(check, envelope_from, domain, client_ip, helo)
        if (generation is not None and not check.macros and result.result != "temperror"
                and self.resolver.generation() == generation):
            if len(self._spf_results) >= _SPF_RESULTS_KEPT:
                self._spf_results.clear()
            self._spf_results[key] = (generation, result)
        return result

    @staticmethod
    def _spf_evaluate(check: _Check, envelope_from: str, domain: str, client_ip: str, helo: str) -> SpfResult:
        token = _current.set(check)
        try:
            ipaddress.ip_address(client_ip)
            result, _code, explanation = spf.query(i=client_ip, s=envelope_from, h=helo,
                                                   querytime=max(0.001, check.left())).check()
        except Exception as error:  # pyspf raising instead of answering: nothing to judge by
            return SpfResult("temperror", domain, f"{type(error).__name__}: {error}")
        finally:
            _current.reset(token)
        result = str(result).lower()
        if result not in _RESULTS:  # e.g. pyspf's 'ambiguous' in harsh mode
            result = "permerror"
        return SpfResult(result, domain, str(explanation) if explanation else None)

    # --- DKIM ---------------------------------------------------------------

    @staticmethod
    def _vouched_only(check: _Check, message: bytes, vouched: dict[tuple[bytes, bytes], bytes]
                      ) -> tuple[list[DkimResult], list[tuple[bytes, bytes]]] | None:
        """The DKIM results and header fields of a message whose every signature is vouched
        for (see `authenticate`), each a pass when DNS serves the very record vouched for:
        no dkimpy parse of the message, no tag checks or hashing again (a third of what
        sealing a message cost after the signing itself). None when anything else is found
        (a signature not vouched for, another record, a DNS failure): then the message is
        verified in full, which words every other outcome."""
        try:
            fields, _body = split_header_block(message)
            headers = [(field.name.encode("ascii"), field.raw.split(b":", 1)[1]) for field in fields]
        except Exception:
            return None
        results = []
        for name, value in headers:
            if name.lower() != b"dkim-signature":
                continue
            try:
                tags = dkim.util.parse_tag_value(value)
            except Exception:
                return None
            domain, selector = tags.get(b"d", b"").lower(), tags.get(b"s", b"")
            record = vouched.get((domain, selector))
            if record is None or check.left() <= 0:
                return None
            answer = check.query((selector + b"._domainkey." + domain).decode("ascii", "replace"), "TXT")
            if answer.status in _TEMPORARY or not answer.values or b"".join(answer.values[0]) != record:
                return None
            results.append(DkimResult("pass", domain.decode("ascii", "replace"), selector.decode("ascii", "replace")))
        return (results, headers) if results else None

    def _dkim(self, check: _Check, verifier: "_Verifier") -> list[DkimResult]:
        signatures = [value for name, value in verifier.headers if name.lower() == b"dkim-signature"]
        return [self._one(check, verifier, index, value) for index, value in enumerate(signatures)]

    @staticmethod
    def _one(check: _Check, verifier: "_Verifier", index: int, value: bytes) -> DkimResult:
        try:
            tags = dkim.util.parse_tag_value(value)
        except Exception:
            tags = {}
        domain = tags.get(b"d", b"").decode("ascii", "replace").lower()
        selector = tags.get(b"s", b"").decode("ascii", "replace")
        verifier.key_loaded = False

        def dnsfunc(name, timeout=5):
            text = name.decode("ascii", "replace") if isinstance(name, bytes) else str(name)
            text = text.rstrip(".")
            if check.left() <= 0:
                raise _KeyProblem("the time for this message's checks ran out", temporary=True)
            answer = check.query(text, "TXT")
            if answer.status in _TEMPORARY:
                raise _KeyProblem(answer.facts.error or f"{text}: {answer.status.value}", temporary=True)
            if not answer.values:
                raise _KeyProblem(f"no key for signature: {text} {answer.status.value}")
            return b"".join(answer.values[0])

        try:
            verified = verifier.verify(idx=index, dnsfunc=dnsfunc)
        except _KeyProblem as problem:
            return DkimResult("temperror" if problem.temporary else "permerror", domain, selector, str(problem))
        except dkim.ValidationError as error:
            # Before the key is in hand: a signature that breaks the rules; after: e.g. the body hash.
            return DkimResult("fail" if verifier.key_loaded else "permerror", domain, selector, str(error))
        except Exception as error:
            return DkimResult("permerror", domain, selector, f"{type(error).__name__}: {error}")
        if verified:
            return DkimResult("pass", domain, selector)
        return DkimResult("fail", domain, selector, "signature did not verify")


class _KeyProblem(Exception):
    def __init__(self, text: str, temporary: bool = False) -> None:
        super().__init__(text)
        self.temporary = temporary


@lru_cache(maxsize=1024)
def _public_key(text: bytes):
    """dkimpy's reading of a key record, kept: parsing it costs more than verifying with it."""
    return dkim.evaluate_pk(b"", text)


class _Verifier(dkim.DKIM):
    """dkimpy's DKIM verifier, telling why a key could not be had (dkimpy's own says only False)."""

    key_loaded = False

    def verify_sig(self, sig, include_headers, sig_header, dnsfunc):
        name = sig[b"s"] + b"._domainkey." + sig[b"d"] + b"."
        text = dnsfunc(name)
        try:
            self.pk, self.keysize, self.ktag, self.seqtlsrpt = _public_key(text)
        except Exception as error:  # KeyFormatError, binascii.Error, a missing crypto module
            raise _KeyProblem(f"unusable key at {name.decode('ascii', 'replace').rstrip('.')}: {error}") from None
        self.key_loaded = True
        return self.verify_sig_process(sig, include_headers, sig_header, dnsfunc)
