"""The kinds of DNS-driven check one engine runs: what each checks on an identity.

A kind names its state machine (core/machine.py) and how its configuration is
read from and written back into an Identity; what it asks DNS and how the
answers are judged is in core/verdicts.py. The facade's sweep, the store's
due index and compare-and-set, and `catch_up` under `advance` are shared.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from . import machine
from .model import CHECK_MAIL_FROM, CHECK_VERIFICATION, Identity


@dataclass(frozen=True)
class CheckKind:
    name: str
    machine: machine.CheckMachine
    config: Callable[[Identity], Any]  # the identity's configuration of this kind, or None
    with_config: Callable[[Identity, Any], Identity]  # the identity carrying an updated configuration


MAIL_FROM = CheckKind(CHECK_MAIL_FROM, machine.MAIL_FROM,
                      lambda identity: identity.mail_from,
                      lambda identity, config: replace(identity, mail_from=config))
# A verification check's status is the identity's verification status.
VERIFICATION = CheckKind(CHECK_VERIFICATION, machine.VERIFICATION,
                         lambda identity: identity.verification,
                         lambda identity, check: replace(identity, verification=check,
                                                         verification_status=check.status))
KINDS = (MAIL_FROM, VERIFICATION)
