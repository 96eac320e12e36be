"""Showback (SPEC §14) from Python: what a provisioned VM costs, as a
report with exact decimals, a dict, CSV and an Arrow table whose money
sums exactly; who sees what; closing a month."""

import csv
import io
from decimal import Decimal

import pytest

import butler


def _month_after(month: str) -> str:
    y, m = (int(x) for x in month.split("-"))
    return f"{y + m // 12:04d}-{m % 12 + 1:02d}"


def test_a_vm_priced_as_a_report_csv_and_arrow(b, ana, bea, tmp_path):
    r = ana.create_request(butler.VmSpec.demo("py-sb1"))
    r = ana.submit(r.id, r.version)
    bea.approve(r.id, r.version)
    assert b.provision()["completed"] == 1
    made = r.created_at.strftime("%Y-%m")
    # The VM is made on the request's day or just after (a month's end).
    period = (made, _month_after(made))
    vm = ana.vms()[0]

    report = bea.showback(*period)
    assert report.currency == "UF"
    assert (report.from_month, report.to_month) == period
    d = report.as_dict()
    line = next(v for v in d["vms"] if v["vm"] == vm.id)
    assert (line["owner"], line["request"]) == ("ana", r.id)
    month = line["months"][0]
    assert Decimal(month["estimate"]) == r.estimate.total
    assert isinstance(report.actual, Decimal)
    assert report.actual == sum(Decimal(m["actual"]) for v in d["vms"] for m in v["months"])
    assert len(report) == sum(len(v["months"]) for v in d["vms"])

    table = report.to_arrow()
    assert table.num_rows == len(report)
    assert table.schema.metadata[b"currency"] == b"UF"
    assert str(table.schema.field("actual").type).startswith("decimal128(38, ")
    assert sum(table.column("actual").to_pylist()) == report.actual
    assert table.column("vm").to_pylist()[0] == vm.id
    assert table.column("owner").to_pylist()[0] == "ana"
    causes = ["cause_days", "cause_resizes", "cause_rate_cards", "cause_powered_off", "cause_other"]
    row = table.slice(0, 1).to_pylist()[0]
    assert sum(row[c] for c in causes) == row["actual"] - row["estimate"]

    rows = list(csv.DictReader(io.StringIO(report.to_csv())))
    assert [int(x["vm"]) for x in rows] == table.column("vm").to_pylist()
    assert sum(Decimal(x["actual"]) for x in rows) == report.actual

    # The workbook, read back by openpyxl: dates as dates, money as numbers.
    import openpyxl

    path = tmp_path / "showback.xlsx"
    report.to_xlsx(path, language="es")
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["Costo real", "Por centro de costo"]
    ws = wb["Costo real"]
    assert [c.value for c in ws[1]][:3] == ["Mes", "VM", "Nombre"]
    first = [c.value for c in ws[2]]
    assert first[0].year == int(made[:4]) and first[0].day == 1
    assert first[1] == vm.id
    assert isinstance(first[10], float)
    total = sum(row[10].value for row in ws.iter_rows(min_row=2))
    assert abs(Decimal(str(total)) - report.actual) < Decimal("0.000001")
    with pytest.raises(butler.InvalidInputError, match="language"):
        report.to_xlsx(path, language="fr")

    # Beside what the simulator's billing ledger charged for the VM.
    compared = bea.compare_with_billing(made)
    line = next(x for x in compared["lines"] if x["vm_name"] == vm.name)
    assert Decimal(line["butler"]) == next(
        Decimal(m["actual"]) for v in d["vms"] if v["vm"] == vm.id for m in v["months"] if m["month"] == made
    )
    assert Decimal(line["billed"]) > 0
    assert Decimal(line["difference"]) == Decimal(line["billed"]) - Decimal(line["butler"])
    with pytest.raises(butler.PermissionDeniedError):
        ana.compare_with_billing(made)
    with pytest.raises(butler.InvalidInputError, match="tolerance"):
        bea.compare_with_billing(made, tolerance="lots")

    # Ana sees hers; another requester nothing; a bad month is named.
    assert len(ana.showback(*period)) == len(report)
    zoe = b.trusted_session("zoe", ["requester"])
    assert len(zoe.showback(*period)) == 0
    with pytest.raises(butler.InvalidInputError, match="2026-13"):
        bea.showback("2026-13")
    with pytest.raises(butler.InvalidInputError, match="before it starts"):
        bea.showback(period[1], period[0])


def test_an_admin_closes_a_month_once(b, ana, bea):
    root = b.trusted_session("root", ["admin"])
    with pytest.raises(butler.PermissionDeniedError):
        ana.close_month("2020-01")
    closed = root.close_month("2020-01")
    assert (closed["month"], closed["closed_by"], closed["vms"]) == ("2020-01", "root", 0)
    with pytest.raises(butler.ConflictError, match="2020-01"):
        root.close_month("2020-01")
    with pytest.raises(butler.InvalidInputError, match="has not ended"):
        root.close_month("2999-01")
    with pytest.raises(butler.PermissionDeniedError):
        ana.closed_months()
    assert [m["month"] for m in bea.closed_months()] == ["2020-01"]
    assert bea.showback("2020-01").actual == 0
