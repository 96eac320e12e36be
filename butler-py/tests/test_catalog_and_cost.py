import datetime
from decimal import Decimal

import pytest

import butler


def test_demo_spec_is_valid_and_derives_its_cost_center():
    cat = butler.Catalog.demo()
    spec = butler.VmSpec.demo("web01")
    assert cat.validate(spec) == []
    assert cat.cost_center(spec) == "CC-1001"
    assert "c1-madrid" in cat.clusters
    assert spec.vcpus == 2


def test_validation_lists_every_problem_with_field_and_code():
    cat = butler.Catalog.demo()
    spec = butler.VmSpec.demo("x")
    spec.name = "-bad"
    spec.nics = ["vlan-10", "vlan-999", "vlan-10"]
    spec.disks_gib = [10, 0]
    problems = cat.validate(spec)
    assert [(p.field, p.code) for p in problems] == [
        ("name", "name_invalid"),
        ("disks_gib[1]", "disk_size_out_of_range"),
        ("nics[1]", "nic_vlan_not_allowed"),
        ("nics[2]", "nic_duplicate"),
    ]
    assert all(p.message for p in problems)


def test_estimate_is_exact_decimal_with_lines_that_add_up():
    cat = butler.Catalog.demo()
    book = butler.RateBook.demo()
    e = book.estimate(butler.VmSpec.demo("a"), cat, datetime.date(2026, 2, 1))
    assert e.card_version == "2026-01"
    assert e.currency == "UF"
    assert isinstance(e.total, Decimal)
    assert e.total == Decimal("4.835")
    assert sum(line.amount for line in e.lines) == e.subtotal
    vcpu = next(line for line in e.lines if line.item == "vCPU")
    assert (vcpu.rate, vcpu.per, vcpu.periods, vcpu.quantity, vcpu.amount) == (
        Decimal("0.0015"), "hour", Decimal("720"), Decimal("2"), Decimal("2.1600"))
    assert "720" in str(vcpu)
    later = book.estimate(butler.VmSpec.demo("a"), cat, datetime.date(2026, 7, 1))
    assert later.margin_amount > 0
    diff = e.diff(later)
    assert any(item == "vCPU" for item, *_ in diff)


def test_estimate_of_an_invalid_spec_raises_validation_error():
    with pytest.raises(butler.ValidationError) as err:
        butler.RateBook.demo().estimate(butler.VmSpec(), butler.Catalog.demo())
    assert "name_empty" in [p.code for p in err.value.problems]


def test_a_problem_carries_what_it_names_for_a_translation():
    spec = butler.VmSpec.demo("ok1")
    spec.division = "NOPE"
    spec.ram_gib = 100000
    with pytest.raises(butler.ValidationError) as err:
        butler.RateBook.demo().estimate(spec, butler.Catalog.demo())
    by_code = {p.code: p for p in err.value.problems}
    assert by_code["unknown_division"].values == {"value": "NOPE"}
    assert by_code["ram_out_of_range"].values["max"].isdigit()


def test_bad_catalog_and_rate_files_name_the_problem(tmp_path):
    with pytest.raises(butler.InvalidInput, match="units\\[0\\]"):
        butler.Catalog.from_toml('environments=[]\ndisk_types=[]\nclusters=[]\ncost_centers=[]\n'
                                 '[[divisions]]\ncode="A"\nname="A"\n[[units]]\ncode="U"\nname="U"\ndivision="NOPE"\n')
    with pytest.raises(butler.InvalidInput):
        butler.Catalog.from_json("{not json")
    with pytest.raises(butler.InvalidInput):
        butler.Catalog.from_path(str(tmp_path / "missing.toml"))
    with pytest.raises(butler.InvalidInput):
        butler.RateBook.from_toml("rate_cards = 3")
    assert isinstance(butler.ButlerError, type) and issubclass(butler.InvalidInput, butler.ButlerError)


def test_spec_fields_are_settable_and_wrong_types_raise_type_error():
    spec = butler.VmSpec(name="a", ram_gib=8)
    assert spec.ram_gib == 8 and spec.backup_local and spec.cdrom
    with pytest.raises(TypeError):
        butler.VmSpec(ram_gib="eight")
    with pytest.raises(OverflowError):
        butler.VmSpec(ram_gib=-1)


def test_absurd_rates_are_refused_at_load_not_a_panic_later():
    card = """
[[rate_cards]]
version = "huge"
effective_from = "2026-01-01"
currency = "UF"
[rate_cards.default]
vcpu = { amount = "100000000000000000000000000", per = "hour" }
"""
    with pytest.raises(butler.InvalidInput, match="above the limit"):
        butler.RateBook.from_toml(card)
    with pytest.raises(butler.InvalidInput, match="margin"):
        butler.RateBook.from_toml(card.replace('"100000000000000000000000000"', '"1"').replace(
            'currency = "UF"', 'currency = "UF"\nmargin = "1000"'))
