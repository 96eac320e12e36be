"""Small records are NamedTuples: read by name, unpacked as before."""

from decimal import Decimal

import butler


def test_history_changes_cost_and_group_vms_have_names():
    b = butler.Butler.demo()
    root = b.bootstrap_admin("root", "a long admin password")
    root.add_user("ana", ["requester"], "ana's long password")
    root.add_user("bea", ["approver"], "bea's long password")
    ana, bea = b.login("ana", "ana's long password"), b.login("bea", "bea's long password")
    r = ana.submit(ana.create_request(butler.VmSpec.demo("web01")))
    spec = r.spec.copy()
    spec.ram_gib = 8
    r = bea.review(r, spec)
    last = r.history[-1]
    change = next(c for c in last.changes if c.field == "ram_gib")
    assert isinstance(change, butler.FieldChange) and (change.old, change.new) == ("4", "8")
    field, old, new = change  # still a tuple
    assert field == "ram_gib"
    cost = last.cost
    assert isinstance(cost, butler.CostChange) and cost.after > cost.before
    assert isinstance(cost.before, Decimal) and cost.currency == "UF"
    lines = r.estimate.diff(r.estimate)
    assert all(isinstance(l, butler.LineDiff) and l.delta == 0 for l in lines)
    root.add_user("olga", ["operator"], "olga's long password")
    ops = b.login("olga", "olga's long password")
    names = b.simulator.generate_fleet(3, 1)
    g = ops.create_group_with_vms("g", "c1-madrid", "c2-santiago", names)
    assert [v.name for v in g.vms] == names and all(v.selected for v in g.vms)
