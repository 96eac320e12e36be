"""The per-VM facts table: rows and columns a script can show or hand
to pandas/polars."""

import butler


def test_facts_rows_and_columns_describe_each_vm():
    b = butler.Butler.demo()
    root = b.bootstrap_admin("root", "a long admin password")
    root.add_user("olga", ["operator"], "olga's long password")
    ops = b.login("olga", "olga's long password")
    names = b.simulator.generate_fleet(30, 5)
    g = ops.create_group_with_vms("facts", "c1-madrid", "c2-santiago", names)
    try:
        ops.facts(g.id)
        raise AssertionError("facts before the first refresh")
    except LookupError:
        pass
    ops.refresh(g.id)
    f = ops.facts(g.id)
    rows = f.rows()
    assert [r.vm for r in rows] == names
    assert all(r.found and r.cluster == "c1-madrid" for r in rows)
    assert all(r.protection_domain for r in rows)
    assert [r.vm for r in f.rows(offset=10, limit=5)] == names[10:15]
    cols = f.columns()
    assert set(cols) == {
        "vm", "found", "cluster", "project", "powered_on",
        "protection_domain", "schedules", "last_replica",
    }
    assert all(len(v) == len(names) for v in cols.values())
    assert cols["vm"] == names


def test_operators_list_the_platforms_vms_to_pick_from():
    b = butler.Butler.demo()
    root = b.bootstrap_admin("root", "a long admin password")
    root.add_user("olga", ["operator"], "olga's long password")
    root.add_user("ana", ["requester"], "ana's long password")
    ops = b.login("olga", "olga's long password")
    names = b.simulator.generate_fleet(12, 3)
    vms = ops.platform_vms("c1-madrid", contains=names[0][:4].upper(), limit=5)
    assert len(vms) == 5 and [v.name for v in vms] == sorted(v.name for v in vms)
    assert all(isinstance(v, butler.PlatformVm) and v.cluster == "c1-madrid" for v in vms)
    assert {v.power for v in vms} <= {"on", "off", "unknown"}
    import pytest

    with pytest.raises(PermissionError):
        b.login("ana", "ana's long password").platform_vms("c1-madrid")
    with pytest.raises(ValueError):
        ops.platform_vms("c1-madrid", limit=10**9)
