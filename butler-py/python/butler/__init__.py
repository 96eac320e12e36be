"""Butler: VM provisioning requests and cluster migrations, from Python.

Start with ``Butler.demo()`` (a simulated platform and an in-memory SQLite store)
and a ``Session`` per user, from a login::

    import butler
    b = butler.Butler.demo()
    root = b.bootstrap_admin("root", "a long admin password")
    root.add_user("ana", ["requester"], "ana's long password")
    ana = b.login("ana", "ana's long password")
    r = ana.create_request(butler.VmSpec.demo("web01"))

Scripts that authenticate users themselves use ``b.trusted_session(user,
roles)``, whose name says that Butler trusts the script for who the user is.

Every error is a ``butler.ButlerError`` (``butler.exceptions``); each kind
also derives from the matching built-in (``NotFoundError`` is a
``LookupError``, ``PermissionDeniedError`` a ``PermissionError``,
``ValidationError`` and ``InvalidInputError`` are ``ValueError``s) and
carries the details as attributes. ``ValidationError.problems`` lists all
problems of a VM spec at once.
"""

from . import exceptions, types
from .types import Attempt, CostChange, FieldChange, GroupVm, LineDiff, StepFailure
from .exceptions import (
    BackendError,
    ButlerError,
    Conflict,
    ConflictError,
    InvalidInput,
    InvalidInputError,
    LoginError,
    MigrationRefused,
    MigrationRefusedError,
    NotFound,
    NotFoundError,
    PermissionDenied,
    PermissionDeniedError,
    QuotaExceededError,
    UnsupportedError,
    ValidationError,
)
from ._butler import (
    PlatformVm,
    RequestEvent,
    VmFactsRow,
    Butler,
    Catalog,
    Estimate,
    Facts,
    Finding,
    HistoryEntry,
    LineItem,
    MigrationEvent,
    MigrationGroup,
    MigrationReport,
    MigrationRun,
    RateBook,
    Request,
    RequestPage,
    RunWatch,
    Session,
    Showback,
    Simulator,
    SpecProblem,
    ValidationReport,
    ValidationToken,
    VmReport,
    VmSpec,
    validate,
)

__all__ = [
    "PlatformVm",
    "RequestEvent",
    "VmFactsRow",
    "exceptions",
    "types",
    "Attempt",
    "CostChange",
    "FieldChange",
    "GroupVm",
    "LineDiff",
    "StepFailure",
    "ConflictError",
    "InvalidInputError",
    "MigrationRefusedError",
    "NotFoundError",
    "PermissionDeniedError",
    "QuotaExceededError",
    "BackendError",
    "UnsupportedError",
    "Butler",
    "ButlerError",
    "Catalog",
    "Conflict",
    "Estimate",
    "Facts",
    "Finding",
    "HistoryEntry",
    "InvalidInput",
    "LineItem",
    "LoginError",
    "MigrationEvent",
    "MigrationGroup",
    "MigrationRefused",
    "MigrationReport",
    "MigrationRun",
    "NotFound",
    "PermissionDenied",
    "RateBook",
    "Request",
    "RequestPage",
    "RunWatch",
    "Session",
    "Showback",
    "Simulator",
    "SpecProblem",
    "ValidationError",
    "ValidationReport",
    "ValidationToken",
    "VmReport",
    "VmSpec",
    "validate",
]
