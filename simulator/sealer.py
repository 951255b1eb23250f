"""The sealer: a thread that seals accepted messages the facade acknowledged before
sealing them (simulator/service/sealing.py), whenever no API request is being served.

It only triggers; the facade seals. Requests come first: while any is in flight the
sealer waits, so a burst of sends is answered at the rate the API can accept, and
sealed in the quiet after it. Stopping seals what it can in `STOP_SECONDS`; the rest
stays in the store and the next process seals it.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from .activity import Activity

if TYPE_CHECKING:
    from .service import Simulator

log = logging.getLogger("mailfrom_sim.sealer")

QUIET_POLL = 0.002  # seconds between looks at the API while it is busy
STOP_SECONDS = 2.0


class Sealer:
    def __init__(self, simulator: "Simulator", activity: Activity):
        self.simulator = simulator
        self.activity = activity
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mailfrom-sim-sealer", daemon=True)

    def start(self) -> "Sealer":
        self._thread.start()
        return self

    def _run(self) -> None:
        simulator = self.simulator
        while not self._stop.is_set():
            if not simulator.wait_unsealed(0.5):
                continue
            if self.activity.in_flight:
                time.sleep(QUIET_POLL)
                continue
            try:
                simulator.seal_backlog()
            except Exception:  # a failing batch must not end the thread; the rows stay waiting
                log.exception("sealing failed")
                self._stop.wait(1.0)

    def stop(self) -> None:
        """Stop; seal what is waiting for up to STOP_SECONDS (requests have stopped by now)."""
        self._stop.set()
        self.simulator.wake_sealer()
        if self._thread.ident is not None:  # started
            self._thread.join(timeout=5)
        deadline = time.monotonic() + STOP_SECONDS
        try:
            while time.monotonic() < deadline and self.simulator.seal_backlog():
                pass
        except Exception:
            log.exception("sealing at stop failed; the rest is sealed at the next start")
