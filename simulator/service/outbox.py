"""The facade's outbox: pages of what was sent or refused, raw messages, and relay results.

A part of the facade (simulator/service/facade.py), which is the only path that
mutates state; the parts share its attributes (store, clock, ports, settings).
"""
from __future__ import annotations

from ..core.clock import rfc3339
from ..core.errors import Conflict, SimNotFound, ValidationError
from ..core.model import Scope

from .common import OUTBOX_RAW_BUDGET, RELAY_NONE, RELAY_PENDING


class Outbox:
    def record_relay_result(self, message_id: str, relay_status: str) -> None:
        self.store.write(lambda tx: self.store.set_outbox_relay(tx, message_id, relay_status))
        self._publish("relay", message_id=message_id, relay=relay_status)

    def resume_pending_relays(self) -> int:
        """Hand the relay every accepted message a previous process had not delivered yet."""
        if self.relay is None:
            return 0
        pending = self.store.with_relay_state(RELAY_PENDING)
        for entry, raw in pending:
            self.relay.submit(entry["message_id"], entry["envelope_from"], entry["destinations"], raw)
        return len(pending)

    def _stored_message(self, message_id: str) -> tuple[dict, str, bytes]:
        if self._unsealed:
            self.seal_backlog(1, [message_id])  # read as it is sent (service/sealing.py)
        found = self.store.outbox_entry(message_id)
        if found is None:
            raise SimNotFound(f"message {message_id} is not in the outbox")
        return found

    def raw_message(self, message_id: str) -> bytes:
        """The message as stored (as relayed, for accepted mail)."""
        return self._stored_message(message_id)[2]

    def requeue_relay(self, message_id: str) -> dict:
        """Hand a message whose delivery failed (or was never relayed) to the relay again."""
        entry, relay, raw = self._stored_message(message_id)
        if self.relay is None:
            raise ValidationError("no SMTP relay is configured (--smtp-relay)")
        if not entry.get("envelope_from"):
            raise ValidationError(f"message {message_id} was rejected: there is nothing to relay")
        if relay != RELAY_NONE and not relay.startswith("failed"):
            raise Conflict(f"message {message_id} is {relay}, not failed: it is not sent again")
        self.store.write(lambda tx: self.store.set_outbox_relay(tx, message_id, RELAY_PENDING))
        self.relay.submit(message_id, entry["envelope_from"], entry["destinations"], raw)
        return {"message_id": message_id, "relay": RELAY_PENDING, "previous": relay}

    def outbox(self, scope: Scope, limit: int = 100) -> list[dict]:
        return self.outbox_page(scope, limit)["messages"]

    def outbox_page(self, scope: Scope, limit: int = 100, before: int | None = None,
                    raw_budget: int = OUTBOX_RAW_BUDGET) -> dict:
        """Newest first. The raw messages of one page stay within `raw_budget` bytes: an entry
        past it has `raw` null and `raw_omitted` true (GET /_sim/outbox/{id}/raw serves it).
        `next` (when more entries are older) is the `before` of the next page. Its messages are
        sealed first if they were not yet (service/sealing.py)."""
        if self._unsealed:
            waiting = self.store.unsealed_in_page(scope.account, scope.region, limit, before)
            if waiting:
                self.seal_backlog(len(waiting), waiting)
        rows = self.store.outbox(scope.account, scope.region, limit + 1, before, raw_budget)
        messages = [{**entry, "relay": relay, "sent_at": rfc3339(entry["sent_at"]),
                     "raw": raw.decode("utf-8", errors="replace") if raw is not None else None,
                     "raw_size": size, **({"raw_omitted": True} if raw is None else {})}
                    for _, entry, relay, raw, size in rows[:limit]]
        return {"messages": messages, "next": str(rows[limit - 1][0]) if len(rows) > limit else None}

    def clear_outbox(self, scope: Scope | None = None) -> None:
        """Messages waiting to be sealed go too (as they would from a queue that is purged)."""
        self.store.write(lambda tx: self.store.clear_outbox(tx, scope.account if scope else None,
                                                           scope.region if scope else None))
        self._recount_unsealed()
        self._publish("outbox", action="cleared",  # no scope: every account's and region's
                      **({"account": scope.account, "region": scope.region} if scope else {}))

