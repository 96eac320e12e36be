"""The per-VM facts table: rows and columns a script can show or hand
to pandas/polars."""

import butler


def test_facts_rows_and_columns_describe_each_vm():
    b = butler.Butler()
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
