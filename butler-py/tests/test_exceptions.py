"""Exceptions: every one a ButlerError ending in ``Error`` (or the
documented aliases), each also the matching built-in, with the library's
details as attributes."""

import pytest

import butler
from butler import exceptions as ex


def _session():
    b = butler.Butler.demo()
    root = b.bootstrap_admin("root", "a long admin password")
    root.add_user("ana", ["requester"], "ana's long password")
    root.add_user("bea", ["approver"], "bea's long password")
    return b, b.login("ana", "ana's long password"), b.login("bea", "bea's long password")


def test_each_kind_is_also_the_matching_builtin():
    pairs = [
        (ex.ValidationError, ValueError),
        (ex.InvalidInputError, ValueError),
        (ex.PermissionDeniedError, PermissionError),
        (ex.LoginError, PermissionError),
        (ex.NotFoundError, LookupError),
        (ex.ConflictError, RuntimeError),
        (ex.BackendError, ConnectionError),
        (ex.MigrationRefusedError, RuntimeError),
    ]
    for cls, builtin in pairs:
        assert issubclass(cls, ex.ButlerError) and issubclass(cls, builtin), cls
    for name in ex.__all__:
        assert name.endswith("Error"), name
    # The names of earlier releases still work.
    assert butler.NotFound is ex.NotFoundError and butler.PermissionDenied is ex.PermissionDeniedError


def test_a_refusal_says_who_what_where_and_why():
    _, ana, _ = _session()
    r = ana.create_request(butler.VmSpec.demo("web01"))
    with pytest.raises(PermissionError) as info:
        ana.approve(r.id, r.version)
    e = info.value
    assert isinstance(e, ex.PermissionDeniedError)
    assert e.actor == "ana" and e.request == r.id and e.state == "created"
    assert e.reason == "missing_role"
    assert "approve" in e.action


def test_a_stale_write_names_both_versions_and_missing_is_a_lookup_error():
    _, ana, _ = _session()
    r = ana.create_request(butler.VmSpec.demo("web01"))
    ana.submit(r.id, r.version)
    with pytest.raises(RuntimeError) as info:
        ana.submit(r.id, r.version)
    e = info.value
    assert isinstance(e, ex.ConflictError)
    assert (e.expected_version, e.found_version) == (r.version, r.version + 1)
    with pytest.raises(LookupError) as missing:
        ana.get_request(987654)
    assert isinstance(missing.value, ex.NotFoundError) and "987654" in str(missing.value.what)


def test_validation_problems_and_limits_are_value_errors_with_details():
    _, ana, _ = _session()
    bad = butler.VmSpec.demo("web 01")
    with pytest.raises(ValueError) as info:
        ana.create_request(bad)
    assert isinstance(info.value, ex.ValidationError)
    assert [p.field for p in info.value.problems] == ["name"]
    with pytest.raises(PermissionError):
        butler.Butler.demo().login("nobody", "whatever password")
