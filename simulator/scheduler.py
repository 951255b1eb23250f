"""APScheduler wiring: one background job per process that asks the facade to run
whatever checks and deadlines are due. The job only triggers; the facade decides.
"""
from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from apscheduler.schedulers.background import BackgroundScheduler

from .memory import release

if TYPE_CHECKING:
    from .service import Simulator

log = logging.getLogger("mailfrom_sim.scheduler")
# A tick skipped because the previous sweep still runs is normal here, not a warning.
logging.getLogger("apscheduler").setLevel(logging.ERROR)


# How long a stop waits for a running sweep, which it has asked to stop looking up.
STOP_WAIT_SECONDS = 3.0


class CheckScheduler:
    def __init__(self, simulator: "Simulator", tick_seconds: float = 1.0):
        self.simulator = simulator
        self.tick_seconds = tick_seconds
        self._idle = threading.Event()  # no tick is running
        self._idle.set()
        self._stopped = False
        self._scheduler = BackgroundScheduler(daemon=True)
        self._scheduler.add_job(
            self._tick, "interval", seconds=tick_seconds, id="due-checks",
            max_instances=1, coalesce=True, misfire_grace_time=None,
        )

    def _tick(self) -> None:
        if self._stopped:
            return
        self._idle.clear()
        try:
            # Gives way to control-plane calls and to stop(); its results freed in pieces.
            release(self.simulator.run_due(scheduled=True))
        except Exception:  # a failing sweep must never stop the schedule
            log.exception("scheduled check sweep failed")
        finally:
            self._idle.set()

    def start(self) -> None:
        self._scheduler.start()

    def stop(self) -> None:
        """Stop ticking; the running sweep (if any) stops looking up and commits what it has.
        Waits for it a few seconds at most: a stalled DNS server never holds a shutdown."""
        self._stopped = True
        self.simulator.stop_sweeps()
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        if not self._idle.wait(STOP_WAIT_SECONDS):
            log.warning("a check sweep was still running %.0f s after the stop; not waiting for it",
                        STOP_WAIT_SECONDS)
