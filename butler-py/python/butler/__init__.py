"""Butler: VM provisioning requests and cluster migrations, from Python.

Start with ``Butler()`` (a simulated platform and an in-memory SQLite store)
and a ``Session`` per user, from a login::

    import butler
    b = butler.Butler()
    root = b.bootstrap_admin("root", "a long admin password")
    root.add_user("ana", ["requester"], "ana's long password")
    ana = b.login("ana", "ana's long password")
    r = ana.create_request(butler.VmSpec.demo("web01"))

Scripts that authenticate users themselves use ``b.trusted_session(user,
roles)``, whose name says that Butler trusts the script for who the user is.

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
    LoginError,
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
