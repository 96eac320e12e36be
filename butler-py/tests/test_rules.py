"""Approval rules from Python: an admin puts a book, a refused book names
its rule and changes nothing, a requester's dry run says what a draft and
a form need, and a submit is decided by the rules."""

import pytest

import butler

RULES = """
[[rule]]
name = "small VMs"
when = { vcpus = { max = 2 } }
outcome = "approve"

[[rule]]
name = "big VMs"
when = { vcpus = { min = 8 } }
outcome = "require"
levels = [{ role = "approver" }, { role = "admin" }]
"""


def test_rules_decide_a_submit_and_a_dry_run_says_why(b, ana, bea):
    root = b.trusted_session("root", ["admin"])
    assert root.rules()["version"] == 0
    with pytest.raises(butler.PermissionDeniedError):
        ana.set_rules(RULES)
    with pytest.raises(butler.InvalidInputError, match=r'rule 1 \("dev"\): environments: no "DEVV"'):
        root.set_rules('[[rule]]\nname = "dev"\nwhen = { environments = ["DEVV"] }\noutcome = "approve"\n')
    with pytest.raises(butler.InvalidInputError, match="one of approve, require, refuse"):
        root.set_rules('[[rule]]\nname = "x"\noutcome = "maybe"\n')
    assert root.rules()["version"] == 0
    assert root.set_rules(RULES) == 1
    assert [v["version"] for v in root.rule_history()] == [1]

    big = butler.VmSpec.demo("big01")
    big.sockets = 8
    form = ana.dry_run_spec(big)
    assert form["decision"]["rules"] == ["big VMs"]
    assert [lvl["role"] for lvl in form["decision"]["outcome"]["levels"]] == ["approver", "admin"]

    draft = ana.create_request(butler.VmSpec.demo("small01"))
    why = ana.dry_run(draft.id)
    assert why["decision"]["outcome"] == {"outcome": "approve"}
    assert why["rules"][0]["conditions"][0] == {"condition": "vcpus ≤ 2", "value": "2", "holds": True}
    with pytest.raises(butler.InvalidInputError):
        bea.dry_run(draft.id)  # another user's: their roles decide
    done = ana.submit(draft)
    assert done.state == "approved"
    assert done.history[-1].note == 'approved automatically by rule "small VMs" (rules v1)'


def test_levels_are_approved_one_by_one_and_queues_follow(b, ana, bea):
    root = b.trusted_session("root", ["admin"])
    root.set_rules(RULES)
    ada = b.trusted_session("ada", ["approver", "admin"])
    big = butler.VmSpec.demo("big03")
    big.sockets = 8
    r = ana.submit(ana.create_request(big))
    assert r.state == "requested"
    assert [lvl["role"] for lvl in r.approval["levels"]] == ["approver", "admin"]
    assert [q.id for q in bea.approval_queue()] == [r.id]
    assert ana.approval_queue() == []
    r = bea.approve(r)
    assert r.state == "requested" and r.approval["approved_by"] == ["bea"]
    assert r.history[-1].note == "level 1 of 2 (approver)"
    with pytest.raises(butler.PermissionDeniedError, match="earlier level"):
        bea.approve(r)
    assert bea.approval_queue() == [] and [q.id for q in ada.approval_queue()] == [r.id]
    r = ada.approve(r)
    assert r.state == "approved"
