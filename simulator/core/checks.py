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
from .model import CHECK_MAIL_FROM, CHECK_VERIFICATION, Identity, VerificationMethod


@dataclass(frozen=True)
class CheckKind:
    name: str
    machine: machine.CheckMachine
    config: Callable[[Identity], Any]  # the identity's configuration of this kind, or None
    with_config: Callable[[Identity, Any], Identity]  # the identity carrying an updated configuration


MAIL_FROM = CheckKind(CHECK_MAIL_FROM, machine.MAIL_FROM,
                      lambda identity: identity.mail_from,
                      lambda identity, config: replace(identity, mail_from=config))


def _with_verification(identity: Identity, check) -> Identity:
    # A verification check's status is the identity's verification status.
    return replace(identity, verification=check, verification_status=check.status)


def _verification_of(method_is_link: bool):
    """The identity's verification check if it is of this kind (a link, or a domain's DNS)."""
    def config(identity: Identity):
        check = identity.verification
        return check if check is not None and (check.method is VerificationMethod.LINK) == method_is_link else None
    return config


# A domain's verification through DNS; an email address's link, which only expires (no DNS):
# two kinds over the same stored columns, each with its own machine.
VERIFICATION = CheckKind(CHECK_VERIFICATION, machine.VERIFICATION, _verification_of(False), _with_verification)
LINK = CheckKind(CHECK_VERIFICATION, machine.LINK_VERIFICATION, _verification_of(True), _with_verification)
KINDS = (MAIL_FROM, VERIFICATION, LINK)
