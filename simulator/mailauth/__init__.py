"""Mail authentication (SPEC §12), the facade's `Authenticator` port: SES's
DKIM signatures on every accepted message, and the Authentication-Results a
receiving MTA would compute for it against the simulator's DNS.

- keys: SES's DKIM keys (per Easy DKIM token, per region for amazonses.com),
  stored, cached, published in the embedded zone with amazonses.com's SPF
- signing: dkimpy, RSA through OpenSSL
- receiver: SPF (pyspf), DKIM (dkimpy), DMARC (simulator.core.mailauth)
"""
from __future__ import annotations

import logging

from simulator.core import mailauth
from simulator.core.model import Identity
from simulator.lookup.records import RecordResolver
from simulator.ports import Store, Zone

from . import signing
from .keys import KEY_BITS, KeyRing
from .receiver import Receiver

__all__ = ["Authenticator"]

log = logging.getLogger(__name__)


def _ascii_domain(name: str) -> str:
    return name if name.isascii() else name.encode("idna").decode("ascii")


class Authenticator:
    """Signs as SES and checks as a receiver; `seal` never raises."""

    def __init__(self, store: Store, zone: Zone | None, nameserver: tuple[str, int] | None,
                 timeout: float = 2.0, bits: int = KEY_BITS) -> None:
        """`nameserver`: the DNS the simulator's lookups use ((host, port); None: the system's);
        `timeout`: seconds of DNS per message, all checks together."""
        generation = (lambda: zone.generation) if zone is not None else None  # type: ignore[attr-defined]
        self.keys = KeyRing(store, zone, bits)
        self.receiver = Receiver(RecordResolver(nameserver, min(timeout, 2.0), generation), budget=timeout)

    def seal(self, stamped: bytes, *, region: str, signer: tuple[str, tuple[str, ...]] | None,
             envelope_from: str) -> tuple[bytes, dict]:
        """`stamped`: the message as SES sends it; `signer`: the domain identity signing it too, as
        its name and DKIM tokens (`core.mailauth.domain_signer`). Returns it with SES's DKIM-Signature fields and,
        above them, the receiver's Authentication-Results field; and the results as a dict."""
        vouched: dict[tuple[bytes, bytes], bytes] = {}
        try:
            wanted = self._signatures(region, signer)
            signatures = signing.sign(stamped, wanted)
            vouched = {(domain.lower().encode(), selector.encode()): key.txt.encode() for selector, domain, key in wanted}
        except Exception:  # a message dkimpy cannot parse, a key that cannot be made: sent unsigned
            log.exception("DKIM signing failed; the message goes unsigned")
            signatures = b""
        signed = signatures + stamped
        try:
            results = self.receiver.authenticate(signed, envelope_from, vouched=vouched)
        except Exception:
            log.exception("authentication results failed")
            return signed, {}
        return results.header().encode("ascii") + signed, results.to_dict()

    def _signatures(self, region: str, signer: tuple[str, tuple[str, ...]] | None) -> list:
        found = []
        if signer is not None:
            name, tokens = signer
            key = self.keys.keys_for([mailauth.token_key_name(token) for token in tokens])[0]
            found.append((tokens[0], _ascii_domain(name), key))
        selector, key = self.keys.region_key(region)
        found.append((selector, mailauth.AMAZONSES, key))
        return found

    @property
    def key_bits(self) -> int:
        """The size of the DKIM keys it makes (--dkim-key-bits)."""
        return self.keys.bits

    def forget(self, identity: Identity) -> None:
        """An identity was deleted: its tokens' keys go (store, memory, zone)."""
        self.keys.forget([mailauth.token_key_name(token) for token in identity.dkim_tokens])

    def reset(self) -> None:
        self.keys.reset()
