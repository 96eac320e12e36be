"""A write names what it acts on: a request method given a migration group
(or a group method given a request) is refused, never applied to the other
kind's object that happens to share its id."""

import pytest

import butler


def test_a_request_method_refuses_a_group_and_a_group_method_a_request():
    b = butler.Butler.demo(seed=5)
    ana = b.trusted_session("ana", ["requester"])
    bea = b.trusted_session("bea", ["approver"])
    ops = b.trusted_session("olga", ["operator"])
    r = ana.submit(ana.create_request(butler.VmSpec.demo("tgt01")))
    g = ops.create_group_with_vms("targets", "c1-madrid", "c2-santiago", b.simulator.generate_fleet(4, 1))
    assert (r.id, g.id) == (1, 1), "the same id on both kinds"
    with pytest.raises(butler.InvalidInput, match="approve acts on a Request, not a MigrationGroup"):
        bea.approve(g)
    assert bea.get_request(r.id).state == "requested", "the request with that id is untouched"
    with pytest.raises(butler.InvalidInput, match="rename_group acts on a MigrationGroup, not a Request"):
        ops.rename_group(r, "renamed")
    assert ops.group(g.id).name == "targets"
    # Ids with versions still work for both.
    assert bea.approve(r.id, r.version).state == "approved"
