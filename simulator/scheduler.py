"""APScheduler wiring: one background job per process that asks the facade to run
whatever checks and deadlines are due. The job only triggers; the facade decides.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from apscheduler.schedulers.background import BackgroundScheduler

if TYPE_CHECKING:
    from .service import Simulator

log = logging.getLogger("mailfrom_sim.scheduler")
# A tick skipped because the previous sweep still runs is normal here, not a warning.
logging.getLogger("apscheduler").setLevel(logging.ERROR)


class CheckScheduler:
    def __init__(self, simulator: "Simulator", tick_seconds: float = 1.0):
        self.simulator = simulator
        self.tick_seconds = tick_seconds
        self._scheduler = BackgroundScheduler(daemon=True)
        self._scheduler.add_job(
            self._tick, "interval", seconds=tick_seconds, id="due-checks",
            max_instances=1, coalesce=True, misfire_grace_time=None,
        )

    def _tick(self) -> None:
        try:
            self.simulator.run_due()
        except Exception:  # a failing sweep must never stop the schedule
            log.exception("scheduled check sweep failed")

    def start(self) -> None:
        self._scheduler.start()

    def stop(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=True)
