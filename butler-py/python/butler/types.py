"""Named results: what Butler returns as small records. Each is a
``NamedTuple``, so ``field, old, new = change`` keeps working and
``change.field`` reads better."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import NamedTuple, Optional

__all__ = [
    "FieldChange",
    "CostChange",
    "StepFailure",
    "LineDiff",
    "GroupVm",
    "Attempt",
    "UserInfo",
    "SimVm",
    "FailedDelivery",
    "Vm",
]


class FieldChange(NamedTuple):
    """One field a history entry changed."""

    field: str
    old: Optional[str]
    new: Optional[str]


class CostChange(NamedTuple):
    """The monthly estimate before and after a change."""

    before: Decimal
    after: Decimal
    currency: str


class StepFailure(NamedTuple):
    """Why provisioning stopped in ``error``."""

    step: str
    attempts: int
    reason: str


class LineDiff(NamedTuple):
    """One estimate line before and after (``None``: absent on that side)."""

    item: str
    before: Optional[Decimal]
    after: Optional[Decimal]
    delta: Decimal


class GroupVm(NamedTuple):
    """A VM of a migration group and whether it is selected."""

    name: str
    selected: bool


class Attempt(NamedTuple):
    """One attempt at migrating a VM."""

    number: int
    started: datetime.datetime
    ended: datetime.datetime
    error: Optional[str]


class UserInfo(NamedTuple):
    """A stored user as an Admin lists them."""

    name: str
    roles: list
    disabled: bool


class SimVm(NamedTuple):
    """Where the simulator holds a VM and how it is."""

    cluster: str
    power: str
    project: Optional[str]


class FailedDelivery(NamedTuple):
    """A notification that could not be delivered yet (or was given up)."""

    notifier: str
    request: int
    to_state: str
    summary: str
    at: datetime.datetime
    attempts: int
    last_error: Optional[str]
    gave_up: bool
    next_at: Optional[datetime.datetime]


class Vm(NamedTuple):
    """A VM of the inventory (SPEC §12)."""

    id: int
    name: str
    display_name: str
    owner: str
    cluster: str
    cost_center: str
    power: str
    lifecycle: str
    drift: list
    request: Optional[int]
    vcpus: int
    ram_gib: int
    disks_gib: list
    version: int
    lease_end: Optional[datetime.date] = None
    kept_until: Optional[datetime.datetime] = None
