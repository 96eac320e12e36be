"""Butler's exceptions.

Every error Butler raises is a :class:`ButlerError`. Each kind also derives
from the matching built-in exception, so generic handlers catch them too::

    try:
        session.get_request(42)
    except LookupError:          # NotFoundError is a LookupError
        ...

and each carries the library's details as attributes (who was refused
what and why, which versions disagreed, which spec fields are wrong).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, List, Optional

if TYPE_CHECKING:  # pragma: no cover
    from ._butler import SpecProblem

__all__ = [
    "ButlerError",
    "ValidationError",
    "InvalidInputError",
    "PermissionDeniedError",
    "LoginError",
    "NotFoundError",
    "ConflictError",
    "BackendError",
    "UnsupportedError",
    "MigrationRefusedError",
    "QuotaExceededError",
]


class ButlerError(Exception):
    """Base class of every Butler error."""


class ValidationError(ButlerError, ValueError):
    """The VM spec has problems; ``problems`` lists every one of them."""

    problems: List["SpecProblem"]

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        self.problems = []


class InvalidInputError(ButlerError, ValueError):
    """The input is malformed or past a limit (``field``, ``limit``,
    ``found`` and ``unit`` say which, for limits)."""

    field: Optional[str] = None
    limit: Optional[int] = None
    found: Optional[int] = None
    unit: Optional[str] = None


class PermissionDeniedError(ButlerError, PermissionError):
    """The user may not do this: ``actor`` may not ``action`` (on
    ``request`` in ``state``) because of ``reason`` (a stable code such as
    ``missing_role``, ``not_owner``, ``own_request``, ``wrong_state``)."""

    actor: Optional[str] = None
    action: Optional[str] = None
    request: Optional[int] = None
    state: Optional[str] = None
    reason: Optional[str] = None


class LoginError(ButlerError, PermissionError):
    """User name or password is wrong (the same error whether or not the
    user exists)."""


class NotFoundError(ButlerError, LookupError):
    """No such object (or one the user may not see); ``what`` names it."""

    what: Optional[str] = None


class ConflictError(ButlerError, RuntimeError):
    """Someone changed the object first (``expected_version`` was read,
    ``found_version`` is stored) or it exists already; reload and retry."""

    what: Optional[str] = None
    expected_version: Optional[int] = None
    found_version: Optional[int] = None


class BackendError(ButlerError, ConnectionError):
    """The platform, monitoring, billing or the store failed.

    ``error_class`` says what to do about it: ``"retryable"`` (trying again
    may work; ``retryable`` is then true), ``"permanent"``,
    ``"retries_exhausted"`` (Butler retried ``attempts`` times already) or
    ``"unsupported"`` (see :class:`UnsupportedError`). ``operation`` names
    the platform call that failed."""

    retryable: bool = False
    error_class: str = "permanent"
    operation: Optional[str] = None
    attempts: int = 1


class UnsupportedError(BackendError, NotImplementedError):
    """The platform lacks the feature this needs (no protection groups, no
    cross-cluster migration); asking again will not help."""


class MigrationRefusedError(ButlerError, RuntimeError):
    """Migration needs a fresh validation with no errors."""


class QuotaExceededError(ButlerError, RuntimeError):
    """A quota would be exceeded; nothing was written. ``scope_kind``
    (``"division"``, ``"unit"`` or ``"requester"``) and ``scope_name`` name
    the scope, ``dimension`` the limit (``"vcpus"``, ``"ram_gib"``,
    ``"storage_gib"``, ``"vms"``, ``"monthly_cost"``); ``limit``, ``used``
    and ``would_use`` are decimal strings."""

    scope_kind: Optional[str] = None
    scope_name: Optional[str] = None
    dimension: Optional[str] = None
    limit: Optional[str] = None
    used: Optional[str] = None
    would_use: Optional[str] = None


# The names of earlier releases, kept so existing scripts keep working.
PermissionDenied = PermissionDeniedError
Conflict = ConflictError
NotFound = NotFoundError
InvalidInput = InvalidInputError
MigrationRefused = MigrationRefusedError
