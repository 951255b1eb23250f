"""The sealer: a thread that seals accepted messages the facade acknowledged before
sealing them (simulator/service/sealing.py), whenever no API request is being served.

It only triggers; the facade seals. Requests come first: until no request has been
served for QUIET seconds the sealer waits, so a burst of sends is answered at the rate
the API can accept, and sealed in the quiet after it; under unbroken load it still
seals a batch every BUSY_PAUSE seconds. Stopping seals what it can in `STOP_SECONDS`; the rest
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

QUIET = 0.02  # seconds without a request before the sealer starts
BUSY_PAUSE = 1.0  # under unbroken load, one batch this often: the backlog still moves
BATCH = 4  # messages sealed per write (~10 ms): a request arriving meanwhile waits no longer
THREADS = 2  # RSA signing lets go of the interpreter: two threads seal ~1.2x as fast as one (a third: no gain)
STOP_SECONDS = 2.0


class Sealer:
    def __init__(self, simulator: "Simulator", activity: Activity):
        self.simulator = simulator
        self.activity = activity
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, name=f"mailfrom-sim-sealer-{n}", daemon=True)
                         for n in range(THREADS)]

    def start(self) -> "Sealer":
        for thread in self._threads:
            thread.start()
        return self

    def _run(self) -> None:
        simulator = self.simulator
        last_batch, empty = time.monotonic(), True
        while not self._stop.is_set():
            if not simulator.unsealed_count():
                empty = True
                simulator.wait_unsealed(0.5)
                continue
            if empty:  # a backlog begins: its first batch under load waits BUSY_PAUSE
                last_batch, empty = time.monotonic(), False
            quiet = self.activity.quiet_for()
            if quiet < QUIET and time.monotonic() - last_batch < BUSY_PAUSE:
                time.sleep(QUIET - quiet)
                continue
            last_batch = time.monotonic()
            try:
                simulator.seal_backlog(BATCH)
            except Exception:  # a failing batch must not end the thread; the rows stay waiting
                log.exception("sealing failed")
                self._stop.wait(1.0)

    def stop(self) -> None:
        """Stop; seal what is waiting for up to STOP_SECONDS (requests have stopped by now)."""
        self._stop.set()
        self.simulator.wake_sealer()
        for thread in self._threads:
            if thread.ident is not None:  # started
                thread.join(timeout=5)
        deadline = time.monotonic() + STOP_SECONDS
        try:
            while time.monotonic() < deadline and self.simulator.seal_backlog():
                pass
        except Exception:
            log.exception("sealing at stop failed; the rest is sealed at the next start")
