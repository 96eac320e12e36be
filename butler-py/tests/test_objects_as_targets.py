"""Writes take the object read: its id and version come from it, so a
script cannot pair an id with another object's version."""

import pytest

import butler


def _people():
    b = butler.Butler.demo()
    root = b.bootstrap_admin("root", "a long admin password")
    root.add_user("ana", ["requester"], "ana's long password")
    root.add_user("bea", ["approver"], "bea's long password")
    root.add_user("olga", ["operator"], "olga's long password")
    return (
        b,
        b.login("ana", "ana's long password"),
        b.login("bea", "bea's long password"),
        b.login("olga", "olga's long password"),
    )


def test_the_request_workflow_with_objects():
    b, ana, bea, _ = _people()
    r = ana.create_request(butler.VmSpec.demo("web01"))
    spec = r.spec.copy()
    spec.ram_gib = 8
    r = ana.save(r, spec)
    r = ana.submit(r)
    assert r.state == "requested"
    edited = r.spec.copy()
    edited.ram_gib = 16
    r = bea.review(r, edited)
    r = bea.approve(r)
    assert r.state == "approved" and r.spec.ram_gib == 16
    # An old copy is stale: the version travels with the object.
    other = ana.create_request(butler.VmSpec.demo("web02"))
    ana.submit(other)
    with pytest.raises(butler.exceptions.ConflictError):
        ana.submit(other)
    fresh = ana.get_request(other.id)
    assert ana.cancel(fresh, reason="not needed").state == "cancelled"


def test_groups_with_objects_and_clear_errors_for_wrong_arguments():
    b, ana, _, olga = _people()
    g = olga.create_group("drill")
    g = olga.set_source(g, "c1-madrid")
    g = olga.set_destination(g, "c2-santiago")
    g = olga.switch(g)
    assert (g.source, g.destination) == ("c2-santiago", "c1-madrid")
    g = olga.rename_group(g, "drill-2")
    olga.delete_group(g)
    with pytest.raises(butler.exceptions.InvalidInputError, match="submit"):
        ana.submit("not a request")
    with pytest.raises(butler.exceptions.InvalidInputError, match="version"):
        ana.submit(1)
    r = ana.create_request(butler.VmSpec.demo("web03"))
    with pytest.raises(butler.exceptions.InvalidInputError, match="expected 0"):
        ana.submit(r, 5)
