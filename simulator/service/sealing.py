"""The facade's sealing: what happens to an accepted message after its MessageId is decided.

Sealing builds the MIME (when the send only checked it: `mail.check_simple`), stamps it
(Message-ID, Date), DKIM-signs it, adds the receiver's Authentication-Results and the
Return-Path, then stores it, tells the event stream ("sent") and hands it to the relay.
A refused message recorded in the outbox is only built.

SES acknowledges a send once it is queued and signs it after; so does the simulator when
other API requests are being served (`Activity.in_flight > 1`) or messages are waiting to
be sealed already: the outbox row is written
with its *plan* (what sealing needs) and an empty raw message, and the answer goes out.
The plan is sealed later by the sealer thread (simulator/sealer.py) as soon as no request
is being served, or by whoever needs it first:
  * an outbox read seals the rows it returns (`outbox_page`, `raw_message`);
  * anything that would change a seal's result (a DNS record or fault added or removed,
    an identity deleted with its DKIM keys) seals every waiting message first, so a
    message is sealed against the state it was sent in (the signer, and the time it is
    stamped with, are in its plan and entry already);
  * past `SEAL_BACKLOG` waiting messages, sends seal as they come (back-pressure).
A quiet simulator -- one client at a time, the scenario runner, the tests -- seals each
message before answering, exactly as before. A plan is durable: after a crash the next
process seals what was left (`_unsealed` starts from the store's count).

A part of the facade (simulator/service/facade.py), which is the only path that
mutates state; the parts share its attributes (store, clock, ports, settings).
"""
from __future__ import annotations

import logging
import threading

from .. import mail
from ..core.model import MailFromDecision

from .common import RELAY_PENDING, Attempt

log = logging.getLogger("mailfrom_sim.sealing")

SEAL_BACKLOG = 100_000  # waiting messages past which a send seals before it answers
SEAL_BATCH = 32  # messages sealed per write by the sealer


class Sealing:
    def _init_sealing(self) -> None:
        self._seal_cv = threading.Condition()  # guards `_claimed`; stores and counts sealed rows
        self._claimed: set[str] = set()  # message ids being sealed right now
        self._unsealed = self.store.count_unsealed()  # waiting plans (from a previous process too)
        self._unsealed_wake = threading.Event()
        self._count_lock = threading.Lock()  # the count alone: a send never waits for a sealing batch

    # --- at send time ---------------------------------------------------------
    def _defer_sealing(self, count: int) -> bool:
        """Acknowledge before sealing: other requests are being served or messages wait already
        (under load a moment with this request alone is common), and the backlog has room."""
        return (self.activity.in_flight > 1 or self._unsealed > 0) and self._unsealed + count <= SEAL_BACKLOG

    @staticmethod
    def _plan(attempt: Attempt) -> dict:
        """What sealing `attempt` needs besides its outbox entry and raw bytes (JSON, stored)."""
        return {"recipe": attempt.composed.recipe, "signer": attempt.signer}

    def _seal(self, entry: dict, plan: dict, raw: bytes) -> tuple[dict, bytes]:
        """The sealed entry and raw message, from a plan (see the module's docstring)."""
        if plan["recipe"] is not None:
            raw = mail.build_from_simple(**plan["recipe"]).mime_bytes  # checked when the send was accepted
        if not _accepted(entry):  # a refusal recorded in the outbox is only built
            return entry, raw
        stamped = mail.stamp_message(raw, entry["message_id"], entry["region"], entry["sent_at"])
        if self.authenticator is not None:  # DKIM-signed, and the receiver's Authentication-Results on top
            signer = plan["signer"]
            stamped, authentication = self.authenticator.seal(
                stamped, region=entry["region"], signer=(signer[0], tuple(signer[1])) if signer else None,
                envelope_from=entry["envelope_from"])
            entry = {**entry, "authentication": authentication}
        return entry, mail.with_return_path(stamped, entry["envelope_from"])

    def _sealed_attempt(self, attempt: Attempt) -> Attempt:
        entry, raw = self._seal(attempt.entry, self._plan(attempt), attempt.raw)
        return Attempt(attempt.message_id, attempt.composed, attempt.verdict, entry, raw, attempt.signer)

    # --- later ------------------------------------------------------------------
    def unsealed_count(self) -> int:
        return self._unsealed

    def wait_unsealed(self, timeout: float) -> None:
        """Block until a send leaves a plan to seal, or `timeout`."""
        if not self._unsealed:
            self._unsealed_wake.wait(timeout)
            self._unsealed_wake.clear()

    def wake_sealer(self) -> None:
        self._unsealed_wake.set()

    def seal_backlog(self, limit: int = SEAL_BATCH, message_ids: list[str] | None = None) -> int:
        """Seal up to `limit` waiting messages, oldest first (or those of `message_ids`); returns
        how many. Each is stored, announced and relayed as a sealed send would be.

        Several threads may seal at once (the sealer runs two: RSA signing lets go of the
        interpreter): each claims its rows first, and asking for rows another claimed waits
        until that one has stored them."""
        with self._seal_cv:
            if message_ids is not None:
                self._seal_cv.wait_for(lambda: self._claimed.isdisjoint(message_ids))
            rows = [row for row in self.store.unsealed_outbox(limit + len(self._claimed), message_ids)
                    if row[0]["message_id"] not in self._claimed][:limit]
            if not rows:
                if message_ids is None and not self._claimed:  # the count ran ahead of a cleared outbox
                    self._recount_unsealed()
                return 0
            claimed = {row[0]["message_id"] for row in rows}
            self._claimed |= claimed
        try:
            sealed = []
            for entry, relay, raw, plan in rows:
                try:
                    entry, raw = self._seal(entry, plan, raw)
                except Exception:  # never lose an acknowledged message to a sealing bug
                    log.exception("sealing message %s failed; it is kept as it was accepted", entry["message_id"])
                    entry = {**entry, "sealing_failed": True}
                sealed.append((entry, relay, raw))
        finally:
            with self._seal_cv:  # stored, counted and released together (see _recount_unsealed)
                try:
                    done = self.store.write(lambda tx: [self.store.seal_outbox(tx, e["message_id"], e, r)
                                                        for e, _, r in sealed])
                    self._count_unsealed(-sum(done))
                finally:
                    self._claimed -= claimed
                    self._seal_cv.notify_all()
        for (entry, relay, raw), stored in zip(sealed, done):
            # Not a row the outbox lost meanwhile (cleared), nor a refusal: announced when it was made.
            if stored and _accepted(entry):
                self._announce(entry, relay, raw)
        return len(rows)

    def _announce(self, entry: dict, relay: str, raw: bytes) -> None:
        """A stored message told to the event stream ("sent", or "rejected" for a recorded
        refusal) and, if it is to be relayed, handed to the relay: now or once sealed."""
        self._publish("sent" if _accepted(entry) else "rejected", **entry, relay=relay)
        if relay == RELAY_PENDING and self.relay is not None:  # (a row from a process that had a relay)
            self.relay.submit(entry["message_id"], entry["envelope_from"], entry["destinations"], raw)

    def _count_unsealed(self, change: int) -> None:
        with self._count_lock:
            self._unsealed = max(0, self._unsealed + change)
        if change > 0:
            self._unsealed_wake.set()

    def settle(self) -> None:
        """Seal every waiting message: before a change that would alter how it is sealed."""
        while self._unsealed:
            if not self.seal_backlog(256):
                with self._seal_cv:  # what is left is being sealed by another thread
                    if not self._claimed:
                        return
                    self._seal_cv.wait_for(lambda: not self._claimed)

    def _recount_unsealed(self) -> None:
        with self._seal_cv, self._count_lock:
            self._unsealed = self.store.count_unsealed()


def _accepted(entry: dict) -> bool:
    """An outbox entry of a sent message, not of a refusal recorded under REJECT_MESSAGE."""
    return entry["mail_from_decision"] != MailFromDecision.REJECTED.value
