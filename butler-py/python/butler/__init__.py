"""Butler: VM provisioning requests and cluster migrations, from Python.

Start with ``Butler()`` (a simulated platform and an in-memory SQLite store)
and a ``Session`` per user::

    import butler
    b = butler.Butler()
    ana = b.session("ana", ["requester"])
    r = ana.create_request(butler.VmSpec.demo("web01"))

Every error is a ``butler.ButlerError``; ``ValidationError.problems`` lists
all problems of a VM spec at once.
"""

from ._butler import (
    BackendError,
    Butler,
    ButlerError,
    Catalog,
    Conflict,
    Estimate,
    Facts,
    Finding,
    HistoryEntry,
    InvalidInput,
    LineItem,
    MigrationEvent,
    MigrationGroup,
    MigrationRefused,
    MigrationReport,
    MigrationRun,
    NotFound,
    PermissionDenied,
    RateBook,
    Request,
    RequestPage,
    Session,
    Simulator,
    SpecProblem,
    ValidationError,
    ValidationReport,
    ValidationToken,
    VmReport,
    VmSpec,
    validate,
)

__all__ = [
    "BackendError",
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
    "Session",
    "Simulator",
    "SpecProblem",
    "ValidationError",
    "ValidationReport",
    "ValidationToken",
    "VmReport",
    "VmSpec",
    "validate",
]
