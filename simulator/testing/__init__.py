"""The testing kit: a pytest plugin (fixture `mailfrom_sim`) and the handle it yields.

`simulator.testing.plugin` is registered under the `pytest11` entry point, so
installing the package is all a test suite needs; `MailFromSim` also works
outside pytest: `with MailFromSim.start() as sim: ...`.
"""
from .kit import Dns, MailFromSim, SimCallError

__all__ = ["Dns", "MailFromSim", "SimCallError"]
