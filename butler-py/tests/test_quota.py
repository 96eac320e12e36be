"""Quotas from Python: an admin puts a quota with the rules, a requester
previews what a form and a draft would leave, a submit past the quota
raises QuotaExceededError with the figures and changes nothing, and the
quota page lists what each scope holds."""

import pytest

import butler

QUOTA = """
[[quota]]
unit = "IT"
vcpus = 3
"""


def test_a_quota_is_previewed_enforced_and_listed(b, ana, bea):
    root = b.trusted_session("root", ["admin"])
    with pytest.raises(butler.InvalidInputError, match=r'quota 1 \("unit NOPE"\): no unit "NOPE"'):
        root.set_rules('[[quota]]\nunit = "NOPE"\nvms = 1\n')
    assert root.set_rules(QUOTA) == 1
    assert root.rules()["quotas"] == [{"unit": "IT", "vcpus": 3}]

    form = ana.quota_preview_spec(butler.VmSpec.demo("q01"))
    unit = next(line for line in form["lines"] if line["scope"]["kind"] == "unit")
    assert unit["scope"]["name"] == "IT"
    assert (unit["limits"]["vcpus"], unit["used"]["vcpus"], unit["with_request"]["vcpus"]) == (3, 0, 2)

    first = ana.submit(ana.create_request(butler.VmSpec.demo("q01")))
    assert first.state == "requested"
    second = ana.create_request(butler.VmSpec.demo("q02"))
    preview = ana.quota_preview(second.id)
    assert preview["share"]["vcpus"] == 2
    with pytest.raises(butler.QuotaExceededError) as refused:
        ana.submit(second)
    e = refused.value
    assert (e.scope_kind, e.scope_name, e.dimension) == ("unit", "IT", "vcpus")
    assert (e.limit, e.used, e.would_use) == ("3", "2", "4")
    assert isinstance(e, butler.ButlerError)
    assert ana.get_request(second.id).state == "created"

    page = bea.quotas()
    it = next(line for line in page if line["scope"] == {"kind": "unit", "name": "IT"})
    assert (it["limits"]["vcpus"], it["used"]["vcpus"], it["used"]["vms"]) == (3, 2, 1)
    with pytest.raises(butler.PermissionDeniedError):
        ana.recount_quotas()
    assert root.recount_quotas() == 1
