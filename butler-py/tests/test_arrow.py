"""Facts of 100,000 VMs as an Arrow table, read by pandas without copying
Python objects per VM."""

import os

import pytest

import butler

if os.environ.get("CI") == "true":
    # scripts/test.sh installs both: under CI their absence is a failure.
    import pandas as pd
    import pyarrow as pa
else:
    pa = pytest.importorskip("pyarrow", reason="pip install pyarrow pandas")
    pd = pytest.importorskip("pandas", reason="pip install pyarrow pandas")


def _facts(vms: int, groups: int, mix: str = "realistic"):
    b = butler.Butler.demo()
    ops = b.trusted_session("olga", ["operator"])
    names = b.simulator.generate_fleet(vms, groups, mix=mix)
    # Two names the platform does not know: their facts are nulls.
    g = ops.create_group_with_vms(
        "arrow", "c1-madrid", "c2-santiago", names + ["ghost-1", "ghost-2"]
    )
    ops.refresh(g.id)
    return ops.facts(g.id), names


def test_a_100000_vm_facts_table_becomes_a_pandas_dataframe():
    facts, names = _facts(100_000, 1_000)
    table = facts.to_arrow()
    assert isinstance(table, pa.Table)
    assert table.num_rows == len(names) + 2 == len(facts)
    assert table.column_names == [
        "vm", "found", "cluster", "project", "powered_on",
        "protection_domain", "schedules", "last_replica",
    ]
    assert table.schema.field("cluster").type == pa.dictionary(pa.int32(), pa.string())
    assert table.schema.field("last_replica").type == pa.timestamp("us", "UTC")

    df = table.to_pandas()
    assert len(df) == len(names) + 2
    assert df["vm"].tolist()[:3] == names[:3]
    assert df["vm"].iloc[-1] == "ghost-2"
    assert str(df["cluster"].dtype) == "category"
    # Every row agrees with the row-by-row view.
    rows = facts.rows()
    for i in [0, 1, 4_999, 50_000, 99_999, 100_000, 100_001]:
        r = rows[i]
        got = df.iloc[i]
        assert got["vm"] == r.vm
        assert bool(got["found"]) == r.found
        assert bool(got["powered_on"]) == r.powered_on
        for col in ["cluster", "project", "protection_domain"]:
            value = got[col]
            expected = getattr(r, col)
            assert (None if pd.isna(value) else value) == expected, (i, col)
        sched = got["schedules"]
        assert (None if pd.isna(sched) else int(sched)) == r.schedules
        replica = got["last_replica"]
        if r.last_replica is None:
            assert pd.isna(replica)
        else:
            assert replica.to_pydatetime() == r.last_replica
    # The unknown VMs: not found, no cluster, no protection domain.
    ghost = df.iloc[-1]
    assert not ghost["found"] and pd.isna(ghost["cluster"]) and pd.isna(ghost["protection_domain"])
    # Columns as a whole match the list view.
    cols = facts.columns()
    assert df["found"].tolist() == cols["found"]
    assert [None if pd.isna(v) else v for v in df["project"].tolist()] == cols["project"]


def test_an_empty_group_is_an_empty_table():
    b = butler.Butler.demo()
    ops = b.trusted_session("olga", ["operator"])
    g = ops.create_group("empty")
    ops.refresh(g.id)
    table = ops.facts(g.id).to_arrow()
    assert table.num_rows == 0
    assert table.to_pandas().empty
