"""Admins keep the catalog and the rate cards from Python: read them,
refresh the catalog from the platform, replace them; nobody else may."""

import json

import pytest

import butler

CARD = """
[[rate_cards]]
version = "py-v1"
effective_from = "2020-01-01"
currency = "USD"
[rate_cards.default]
vcpu = { amount = "10", per = "month" }
ram_gib = { amount = "1", per = "month" }
disk_gib = { SSD = { amount = "0.1", per = "month" }, HDD = { amount = "0.05", per = "month" } }
nic = { amount = "0", per = "month" }
backup_local_gib = { amount = "0", per = "month" }
backup_remote_gib = { amount = "0", per = "month" }
cdrom = { amount = "0", per = "month" }
"""


def _sessions():
    b = butler.Butler.demo()
    return (
        b,
        b.trusted_session("root", ["admin"]),
        b.trusted_session("ana", ["requester"]),
    )


def test_a_refresh_reads_vlans_storage_and_categories_from_the_platform():
    b, root, ana = _sessions()
    before = json.loads(root.catalog().to_json())
    assert "platform_categories" not in before
    changes = root.refresh_catalog()
    assert set(changes) == {
        "clusters_added", "clusters_removed", "clusters_changed", "images_changed",
        "images_removed", "environments_changed", "categories_missing",
    }
    assert changes["categories_missing"] == []
    after = json.loads(root.catalog().to_json())
    madrid = next(c for c in after["clusters"] if c["name"] == "c1-madrid")
    assert madrid["storage_containers"] == ["ctr-hdd", "ctr-ssd"]
    assert "vlan-10" in madrid["vlans"]
    assert "Environment:Production" in after["platform_categories"]
    # Requests are checked against it: the demo spec still fits.
    assert ana.create_request(butler.VmSpec.demo("web01")).state == "created"
    with pytest.raises(PermissionError):
        ana.refresh_catalog()


def test_admins_replace_the_catalog_and_the_rate_book_and_others_may_not():
    b, root, ana = _sessions()
    spec = butler.VmSpec.demo("web01")
    demo_total = ana.create_request(spec).estimate.total
    book = butler.RateBook.from_toml(CARD)
    with pytest.raises(butler.PermissionDeniedError):
        ana.set_rate_book(book)
    root.set_rate_book(book)
    assert root.rate_book().versions == ["py-v1"]
    r = ana.create_request(butler.VmSpec.demo("web02"))
    assert r.estimate.card_version == "py-v1"
    assert r.estimate.currency == "USD" and r.estimate.total != demo_total

    # A catalog without the PRD environment: new requests for it are refused.
    doc = json.loads(root.catalog().to_json())
    doc["environments"] = [e for e in doc["environments"] if e["code"] != "PRD"]
    doc["cost_centers"] = [c for c in doc["cost_centers"] if c["environment"] != "PRD"]
    smaller = butler.Catalog.from_json(json.dumps(doc))
    with pytest.raises(PermissionError):
        ana.set_catalog(smaller)
    root.set_catalog(smaller)
    assert root.catalog().environments == ["DEV"]
    with pytest.raises(butler.ValidationError) as e:
        ana.create_request(butler.VmSpec.demo("web03"))
    assert "unknown_environment" in [p.code for p in e.value.problems]
