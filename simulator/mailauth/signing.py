"""DKIM signing as SES does it: rsa-sha256, relaxed/relaxed, with dkimpy.

dkimpy canonicalises, hashes and lays out the DKIM-Signature field; only the
RSA operation itself goes through OpenSSL (the `cryptography` package):
dkimpy's pure-Python RSA costs ~6.4 ms per 2048-bit signature, OpenSSL
~0.3 ms (see keys.py). RSASSA-PKCS1-v1_5 is deterministic, so the signature
is byte for byte the one dkimpy itself would make (tests/unit check that).
"""
from __future__ import annotations

import base64
import hashlib
import logging
import time

import dkim
from dkim.canonicalization import CanonicalizationPolicy
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from .keys import SigningKey

__all__ = ["QUIET_LOGGER", "SIGNED_HEADERS", "sign"]

# What SES signs, of the fields present (From always).
SIGNED_HEADERS = (b"from", b"reply-to", b"subject", b"date", b"message-id", b"to", b"cc", b"mime-version",
                  b"content-type", b"content-transfer-encoding")
_RELAXED = CanonicalizationPolicy.from_c_value(b"relaxed/relaxed")
# dkimpy logs every failed verification as an error; the results say why instead.
QUIET_LOGGER = logging.getLogger("mailfrom_sim.dkimpy")
QUIET_LOGGER.setLevel(logging.CRITICAL)


class _Signer(dkim.DKIM):
    """dkimpy's DKIM with the rsa-sha256 signature made by OpenSSL from a key already loaded.

    `sign_with` lays out the fields exactly as dkimpy's `sign` does (which
    would also parse the PEM key in Python every time, ~0.2 ms), and
    `gen_header` is dkimpy's but for the RSA step.
    """

    key: SigningKey | None = None
    _body_hash: bytes | None = None
    _canonical_headers: list | None = None

    def sign_with(self, selector: bytes, domain: bytes, key: SigningKey, include_headers: list[bytes]) -> bytes:
        if self._body_hash is None:  # the same for every signature of this message
            body = _RELAXED.canonicalize_body(self.body)
            self._body_hash = base64.b64encode(hashlib.sha256(body).digest())
        self.key = key
        self.signature_algorithm = b"rsa-sha256"
        self.hasher = hashlib.sha256
        self.include_headers = tuple(include_headers)
        fields = [
            (b"v", b"1"), (b"a", b"rsa-sha256"), (b"c", _RELAXED.to_c_value()), (b"d", domain),
            (b"i", b"@" + domain), (b"q", b"dns/txt"), (b"s", selector),
            (b"t", str(int(time.time())).encode("ascii")), (b"h", b" : ".join(include_headers)),
            (b"bh", self._body_hash), (b"b", b"0" * 60),
        ]
        header = self.gen_header(fields, self.include_headers, _RELAXED, b"DKIM-Signature", None)
        self.domain, self.selector, self.signature_fields = domain, selector, dict(fields)
        return b"DKIM-Signature: " + header

    def gen_header(self, fields, include_headers, canon_policy, header_name, pk, standardize=False):
        if self.key is None or standardize or self.signature_algorithm != b"rsa-sha256":
            return super().gen_header(fields, include_headers, canon_policy, header_name, pk, standardize)
        header_value = b"; ".join(b"=".join(x) for x in fields)
        header_value = dkim.fold(header_value, namelen=len(header_name), linesep=b"\r\n")
        header_value = dkim.RE_BTAG.sub(b"\\1", header_value)
        header = (header_name, b" " + header_value)
        digest = hashlib.sha256()
        if self._canonical_headers is None:  # the same for every signature of this message
            self._canonical_headers = canon_policy.canonicalize_headers(self.headers)
        headers = self._canonical_headers
        self.signed_headers = dkim.hash_headers(digest, canon_policy, headers, include_headers, header, dict(fields))
        signature = self.key.key.sign(digest.digest(), padding.PKCS1v15(), Prehashed(hashes.SHA256()))
        index = next(i for i, (tag, _) in enumerate(fields) if tag == b"b")
        fields[index] = (b"b", base64.b64encode(signature))
        header_value = b"; ".join(b"=".join(x) for x in fields) + self.linesep
        return dkim.fold(header_value, namelen=len(header_name), linesep=self.linesep)


def sign(message: bytes, signatures: list[tuple[str, str, SigningKey]]) -> bytes:
    """The DKIM-Signature fields for `message` (CRLF line ends), one per
    (selector, domain, key), in that order, each ending in CRLF."""
    signer = _Signer(message, logger=QUIET_LOGGER, linesep=b"\r\n")
    present = {name.lower() for name, _ in signer.headers}
    include = [name for name in SIGNED_HEADERS if name in present]
    return b"".join(signer.sign_with(selector.encode("ascii"), domain.encode("ascii"), key, include)
                    for selector, domain, key in signatures)
