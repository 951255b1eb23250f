"""The facade's check engine: sweeps of every kind of DNS-driven check (MAIL FROM,
identity verification), run when due or on demand, and simulated time.

A part of the facade (simulator/service/facade.py), which is the only path that
mutates state; the parts share its attributes (store, clock, ports, settings).
"""
from __future__ import annotations

import logging
import math
import threading

from ..core import checks, rules, verdicts
from ..core.clock import MAX_ADVANCE, MAX_TIME, rfc3339
from ..core.errors import ValidationError
from ..core.model import Identity, MxLookup, Scope
from ..memory import paused_gc, release

from .common import is_due, no_resolver_lookup, skipped_check, still_answers

log = logging.getLogger("mailfrom_sim.checks")


class Checks:
    # --- checks and time ----------------------------------------------------
    def _apply_checks(self, work: list[tuple[checks.CheckKind, Identity, MxLookup | None]], now: float,
                      force: bool, skipped: list[dict] | None = None) -> list[dict]:
        """Commit each check's outcome with its history entries, unless a Put changed it meanwhile.

        With `skipped` (checks/run): a configuration changed meanwhile is read again and the
        check applied to it when its lookup still answers it (same names asked); otherwise it
        is listed in `skipped` with the reason, never left out silently."""
        results: list[dict] = []

        def apply(tx, chunk: list[tuple[checks.CheckKind, Identity, MxLookup | None]]) -> None:
            for kind, seen, lookup in chunk:
                config = kind.config(seen)
                updated, entries = kind.machine.catch_up(config, lookup, now, self.settings, force=force)
                if not self.store.update_check_if_unchanged(tx, kind.name, seen, kind.with_config(seen, updated)):
                    if skipped is None:
                        continue  # deleted or Put meanwhile: the new config is checked on its own schedule
                    fresh = self.store.get_identity(seen.account, seen.region, seen.name)  # `tx`'s thread
                    reason = still_answers(kind, seen, fresh, lookup, now, force)
                    if reason is not None:
                        skipped.append(skipped_check(kind, seen, reason))
                        continue
                    seen, config = fresh, kind.config(fresh)
                    updated, entries = kind.machine.catch_up(config, lookup, now, self.settings, force=force)
                    if not self.store.update_check_if_unchanged(tx, kind.name, seen, kind.with_config(seen, updated)):
                        skipped.append(skipped_check(kind, seen, "changed by a concurrent request"))
                        continue
                self.store.add_history(tx, seen.account, seen.region, seen.name, entries)
                results.append({
                    "check": kind.name, "identity": seen.name, "account": seen.account, "region": seen.region,
                    "domain": config.domain, "from": config.status.value, "to": updated.status.value,
                    "lookup": lookup.to_dict() if lookup else None,
                    "transitions": [e.to_dict() for e in entries],
                })

        for start in range(0, len(work), 500):
            chunk = work[start:start + 500]
            self.store.write(lambda tx: apply(tx, chunk))
        self._publish_checks(results)
        return results

    def _lookups_for(self, identities: list[Identity], now: float, force: bool, cancel: threading.Event | None = None
                     ) -> tuple[list[tuple[checks.CheckKind, Identity, MxLookup | None]],
                                list[tuple[checks.CheckKind, Identity]]]:
        """Every configuration of every kind among `identities`, with its lookup when a check is due
        (all of a kind's lookups at once, pipelined; one MX lookup per (domain, region)); and
        apart, those whose lookup was not made (the sweep's deadline or `cancel` came first),
        which stay due."""
        work = [(kind, identity) for kind in checks.KINDS for identity in identities
                if kind.config(identity) is not None and (force or is_due(kind, kind.config(identity), now))]
        due = [(kind, identity) for kind, identity in work
               if kind.machine.needs_lookup(kind.config(identity), now, force)]
        answers = self._mx_lookups([i for kind, i in due if kind is checks.MAIL_FROM], cancel)
        answers.update(self._verification_lookups([i for kind, i in due if kind is checks.VERIFICATION], cancel))
        checked, not_checked = [], []
        for kind, identity in work:
            key = (kind.name, identity.account, identity.region, identity.name)
            if key in answers and answers[key] is None:
                not_checked.append((kind, identity))  # asked for, not looked up
            else:
                checked.append((kind, identity, answers.get(key)))
        return checked, not_checked

    def _mx_lookups(self, identities: list[Identity], cancel: threading.Event | None) -> dict[tuple, MxLookup | None]:
        keys = list(dict.fromkeys((i.mail_from.domain, i.region) for i in identities))
        if self.lookup is None:
            found = {key: no_resolver_lookup() for key in keys}
        else:  # pipelined: far cheaper than a thread each
            found = dict(zip(keys, self.lookup.lookup_many(keys, cancel=cancel))) if keys else {}
        return {(checks.MAIL_FROM.name, i.account, i.region, i.name): found[(i.mail_from.domain, i.region)]
                for i in identities}

    def _verification_lookups(self, identities: list[Identity],
                              cancel: threading.Event | None) -> dict[tuple, MxLookup | None]:
        """Each identity's verification lookup: the questions of them all asked in one pipelined
        batch (each distinct question once), each identity judged on the answers to its own
        questions (one domain may be an identity in several accounts and regions, with other tokens)."""
        if self.lookup is None:
            return {(checks.VERIFICATION.name, i.account, i.region, i.name): no_resolver_lookup() for i in identities}
        asking = []  # (identity, its v1 token, its questions)
        for i in identities:
            check, txt_token = i.verification, rules.verification_token(i)
            asking.append((i, txt_token, verdicts.verification_questions(check.domain, i.dkim_tokens)))
        asked = list(dict.fromkeys(q for _, _, questions in asking for q in questions))
        facts = dict(zip(asked, self.lookup.resolve_many(asked, cancel=cancel))) if asked else {}
        answers: dict[tuple, MxLookup | None] = {}
        for i, txt_token, questions in asking:
            found = [facts[q] for q in questions]
            answers[(checks.VERIFICATION.name, i.account, i.region, i.name)] = \
                None if any(f is None for f in found) else \
                verdicts.verification_verdict(i.verification.method, i.dkim_tokens, txt_token, found)
        return answers

    def run_due(self, now: float | None = None, *, scheduled: bool = False) -> list[dict]:
        """Run every check and deadline due by `now` (the scheduler's tick and the clock's advance).

        `scheduled` (the scheduler's tick): skip if a sweep is running, and give way to
        any control-plane call. A check whose lookup the sweep did not get to stays due."""
        with (self._sweeps.scheduled() if scheduled else self._sweeps.control()) as cancel:
            if cancel is None:
                return []  # a sweep is running; the next tick catches up
            with paused_gc():
                now = self.now() if now is None else now
                due = self.store.due_identities(now)
                if not due:
                    return []
                work, not_checked = self._lookups_for(due, now, False, cancel)
                if not_checked:
                    log.info("check sweep: %d due configuration(s) not looked up this time (%s); they stay due",
                             len(not_checked), "interrupted" if cancel.is_set() else "the sweep's deadline passed")
                results = self._apply_checks(work, now, force=False)
                release(work)
                release(due)
                return results

    def run_checks(self, scope: Scope, raw_name: str | None = None) -> list[dict]:
        """Check now, whether due or not: every active configuration of the scope, or one identity's."""
        return self.check_now(scope, raw_name)["checks"]

    def check_now(self, scope: Scope | None, raw_name: str | None = None) -> dict:
        """`run_checks` with what it could not check: {"checks": [...], "skipped": [{"check",
        "identity", "account", "region", "domain", "reason"}]}; scope None checks every account
        and region's configurations (not with `raw_name`) -- a configuration a concurrent
        request changed so that the lookup no longer answers it, deleted meanwhile, or not
        looked up (interrupted by a reset or stop, or the sweep's deadline passed)."""
        if raw_name is not None:
            identity = self.get_identity(scope, raw_name)
            if not any(kind.config(identity) is not None for kind in checks.KINDS):
                raise ValidationError(f"identity {identity.name} has nothing to check: no MAIL FROM domain set, "
                                      "and no verification through DNS under way")
        with self._sweeps.control() as cancel, paused_gc():
            # Read under the lock: a scheduled sweep cannot change them between the read and the write.
            if raw_name is not None:
                identities = [self.get_identity(scope, raw_name)]
            elif scope is None:
                identities = self.store.configured_identities()
            else:
                identities = self.store.configured_identities(scope.account, scope.region)
            now = self.now()
            work, not_checked = self._lookups_for(identities, now, True, cancel)
            reason = ("not checked: interrupted by a reset or stop" if cancel.is_set()
                      else "not checked: the sweep's deadline passed before its lookup")
            skipped = [skipped_check(kind, identity, reason) for kind, identity in not_checked]
            results = self._apply_checks(work, now, True, skipped)
            release(work)
            release(identities)
            return {"checks": results, "skipped": skipped}

    def advance(self, seconds: float) -> dict:
        if (isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not math.isfinite(seconds)
                or not 0 <= seconds <= MAX_ADVANCE):
            raise ValidationError(f"seconds must be a number from 0 to {MAX_ADVANCE}")
        with self._sweeps.control():
            if seconds > self.clock.room():
                raise ValidationError(f"seconds: the clock cannot pass {rfc3339(MAX_TIME)} "
                                      f"({self.clock.room():.0f} seconds from now)")
            offset = self.clock.offset + float(seconds)
            self.store.write(lambda tx: self.store.set_meta(tx, "clock_offset", repr(offset)))
            now = self.clock.advance(float(seconds))  # in memory only once the new offset is stored
        self._publish("clock", now=rfc3339(now), offset=self.clock.offset, advanced=seconds)
        results = self.run_due(now)
        checked, transitions = len(results), sum(len(r["transitions"]) for r in results)
        release(results)
        return {"now": now, "offset": self.clock.offset, "checked": checked, "transitions": transitions}

    def stop_sweeps(self) -> None:
        """Shutting down: the running sweep stops looking up, and later ones look nothing up."""
        self._sweeps.close()

