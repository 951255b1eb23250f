"""The facade (`Simulator`): the only path that mutates the simulator's state, in parts
along the domain's seams -- identities and accounts (facade.py), the check engine
(checks.py), sending (sending.py), templates and configuration sets (catalog.py), the
outbox (outbox.py), the embedded zone (zone.py) -- sharing common.py."""
from .common import MAX_BULK_ENTRIES, OUTBOX_RAW_BUDGET, VIA_PINPOINT, VIA_SMTP, VIA_V1, VIA_V2, VIA_VERIFICATION
from .facade import Simulator

__all__ = ["MAX_BULK_ENTRIES", "OUTBOX_RAW_BUDGET", "Simulator", "VIA_PINPOINT", "VIA_SMTP", "VIA_V1", "VIA_V2",
           "VIA_VERIFICATION"]
