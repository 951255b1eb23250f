"""SES's DKIM keys: one RSA key per Easy DKIM token (published at
<token>.dkim.amazonses.com) and one per region for d=amazonses.com (at
<selector>._domainkey.amazonses.com); persisted in the store's dkim_keys
table, read from it per name when a message is signed or the embedded zone
is asked for a key (the ring is the zone's `RecordSource` for those names),
the most recently used kept in memory; amazonses.com's SPF records are held
by the zone as system records. A start-up reads no key.

Key size: 2048 bits, SES's default for Easy DKIM (RSA_2048_BIT). Signing
goes through OpenSSL (signing.py), where a 2048-bit signature costs ~0.3 ms;
dkimpy's own pure-Python RSA takes ~6.4 ms for one (~1.2 ms at 1024 bits),
which alone would cost a send more than everything else it does. Measured
on the development machine (one thread, an otherwise busy 2-core box):

    2048 bits: dkimpy RSA 6.4 ms, OpenSSL 0.29 ms; key generation ~44 ms
    1024 bits: dkimpy RSA 1.1 ms, OpenSSL 0.09 ms; key generation ~11 ms

Keys are made when first needed, not when an identity is created: three
2048-bit keys take ~130 ms, which would turn creating 10,000 identities into
minutes. A domain's three keys are made (and published) together, the first
time the domain signs a message; a region's amazonses.com key the first time
a message is sent there.
"""
from __future__ import annotations

import base64
import logging
import threading
import time
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from simulator.core import mailauth
from simulator.lru import Lru
from simulator.ports import Store, Zone

__all__ = ["KEY_BITS", "KeyRing", "SigningKey"]

log = logging.getLogger(__name__)

KEY_BITS = 2048
KEY_TTL = 3600
KEYS_KEPT = 1024  # keys kept in memory, the most recently used
# Where the keys are published: one label below each.
_KEY_DOMAINS = (mailauth.token_key_name("x").split(".", 1)[1], mailauth.amazonses_key_name("x").split(".", 1)[1])


@dataclass(frozen=True)
class SigningKey:
    name: str  # where its public key is published
    pem: bytes  # PKCS#1 private key, what dkimpy takes
    key: rsa.RSAPrivateKey  # the same key for OpenSSL

    @property
    def txt(self) -> str:
        der = self.key.public_key().public_bytes(serialization.Encoding.DER,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo)
        return f"v=DKIM1; k=rsa; p={base64.b64encode(der).decode('ascii')}"


def _from_pem(name: str, pem: str | bytes) -> SigningKey:
    data = pem.encode("ascii") if isinstance(pem, str) else pem
    # A key this simulator made and stored: OpenSSL's check of its maths (~35 ms a key) is skipped.
    key = serialization.load_pem_private_key(data, password=None, unsafe_skip_rsa_key_validation=True)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"the stored DKIM key for {name} is not an RSA key")
    return SigningKey(name, data, key)


def _generate(name: str, bits: int) -> SigningKey:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                            serialization.NoEncryption())
    return SigningKey(name, pem, key)


class KeyRing:
    """The keys: made when first needed, stored, read back per name, and served by `zone`
    (None: no embedded DNS) as its source of records at the keys' names."""

    def __init__(self, store: Store, zone: Zone | None, bits: int = KEY_BITS) -> None:
        self._store = store
        self._zone = zone
        self.bits = bits
        self._lock = threading.Lock()  # making and forgetting keys
        self._keys: Lru[str, SigningKey] = Lru(KEYS_KEPT)
        self._published: dict[str, str] = {}  # record name -> zone record id (the SPF records)
        self._regions: set[str] = set()
        self._publish_static()
        if zone is not None:
            zone.add_source(self)

    # --- reads --------------------------------------------------------------

    def keys_for(self, names: list[str]) -> list[SigningKey]:
        """The keys published at `names`, made (and stored and published) the first time. May raise."""
        found = self._load(names)
        if len(found) == len(names):
            return [found[name] for name in names]
        with self._lock:
            found = self._load(names)
            made = {name: _generate(name, self.bits) for name in names if name not in found}
            if made:
                def store(tx) -> None:
                    self._store.remove_dkim_keys(tx, list(made))  # a stored key that could not be read
                    self._store.add_dkim_keys(tx, {name: key.pem.decode("ascii") for name, key in made.items()},
                                              time.time())

                self._store.write(store)
                for name, key in made.items():
                    self._keys.put(name, key)
                    found[name] = key
                if self._zone is not None:
                    self._zone.touch(made)  # served from now on
        return [found[name] for name in names]

    def region_key(self, region: str) -> tuple[str, SigningKey]:
        """(selector, key) of d=amazonses.com in `region`; also publishes the region's MAIL FROM SPF."""
        selector = mailauth.amazonses_selector(region)
        if region not in self._regions:
            host = mailauth.regional_mail_from_host(region)
            if host is not None:
                with self._lock:
                    if host not in self._published:
                        self._publish(host, mailauth.REGIONAL_SPF)
            self._regions.add(region)
        return selector, self.keys_for([mailauth.amazonses_key_name(selector)])[0]

    # --- the zone's source of records at the keys' names ---------------------

    def records_at(self, name: str) -> list[dict]:
        parent = name.split(".", 1)[-1]
        if parent not in _KEY_DOMAINS or parent == name:
            return []
        key = self._load([name]).get(name)
        return [] if key is None else [{"type": "TXT", "value": key.txt, "ttl": KEY_TTL}]

    def has_names_below(self, name: str) -> bool:
        return any((domain == name or domain.endswith("." + name)) and self._store.dkim_keys_below(domain)
                   for domain in _KEY_DOMAINS)

    # --- changes ------------------------------------------------------------

    def forget(self, names: list[str]) -> None:
        """Drop the keys at `names` (an identity deleted): from the store, memory and the zone."""
        with self._lock:
            names = list(self._store.dkim_keys_at(names))
            if not names:
                return
            self._store.write(lambda tx: self._store.remove_dkim_keys(tx, names))
            for name in names:
                self._keys.pop(name)
            if self._zone is not None:
                self._zone.touch(names)

    def reset(self) -> None:
        """After the store was emptied: forget every key and regional record; SPF for amazonses.com stays."""
        with self._lock:
            for name in list(self._published):
                if name != mailauth.AMAZONSES:
                    self._unpublish(name)
            self._keys.clear()
            self._regions.clear()
            if self._zone is not None:
                self._zone.touch(None)  # views of keys read before the store was emptied

    # --- internals -------------------------------------------------------------

    def _load(self, names: list[str]) -> dict[str, SigningKey]:
        """The keys at `names` there are (a stored one that cannot be read is logged, and left out)."""
        found = {}
        missing = []
        for name in names:
            key = self._keys.get(name)
            if key is None:
                missing.append(name)
            else:
                found[name] = key
        for name, pem in self._store.dkim_keys_at(missing).items():
            try:
                key = _from_pem(name, pem)
            except Exception:
                log.exception("unusable DKIM key for %s in the store; a new one will be made", name)
                continue
            self._keys.put(name, key)
            found[name] = key
        return found

    def _publish_static(self) -> None:
        self._publish(mailauth.AMAZONSES, mailauth.amazonses_spf())

    def _publish(self, name: str, txt: str) -> None:
        if self._zone is None or name in self._published:
            return
        try:
            record = self._zone.add(name, "TXT", txt, KEY_TTL, system=True)
        except ValueError as error:  # e.g. a user's CNAME already holds the name
            log.warning("cannot publish SES's TXT record at %s: %s", name, error)
            return
        self._published[name] = record["id"]

    def _unpublish(self, name: str) -> None:
        record_id = self._published.pop(name, None)
        if record_id is not None and self._zone is not None:
            self._zone.remove(record_id, system=True)
