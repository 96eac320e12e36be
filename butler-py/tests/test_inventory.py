"""The inventory (SPEC §12) from Python: the VMs Butler made, their power."""

import pytest

import butler


def _provision(b, ana, bea, name):
    r = ana.create_request(butler.VmSpec.demo(name))
    r = ana.submit(r.id, r.version)
    bea.approve(r.id, r.version)
    assert b.provision()["completed"] == 1


def test_my_vms_power_and_history(b, ana, bea, ops):
    _provision(b, ana, bea, "py-inv1")
    mine = ana.vms()
    assert len(mine) == 1
    vm = mine[0]
    assert (vm.display_name, vm.owner, vm.power, vm.lifecycle) == ("py-inv1", "ana", "on", "active")
    assert vm.request is not None and vm.drift == []
    assert ana.power_off(vm.id) == "done"
    assert ana.power_off(vm.id) == "already"
    assert ana.vm(vm.id).power == "off"
    assert ops.power_on(vm.id) == "done"
    assert ops.restart(vm.id) == "done"
    whats = [what for _, _, what in ana.vm_history(vm.id)]
    assert whats[1:] == [
        "power guest_shutdown: done",
        "power guest_shutdown: already off",
        "power on: done",
        "power guest_restart: done",
    ]
    # Another requester neither sees nor powers it; a bad filter is refused.
    zoe = b.trusted_session("zoe", ["requester"])
    assert zoe.vms() == []
    with pytest.raises(butler.NotFoundError):
        zoe.power_on(vm.id)
    with pytest.raises(ValueError):
        ana.vms(lifecycle=["sleeping"])


def test_reconcile_is_for_operators(b, ana, bea, ops):
    _provision(b, ana, bea, "py-inv2")
    with pytest.raises(butler.PermissionDeniedError):
        ana.reconcile()
    assert ops.reconcile() == (1, 0, 0)


def test_retire_runs_the_decommission_flow(b, ana, bea, ops):
    _provision(b, ana, bea, "py-old")
    vm = ana.vms()[0]
    # Nobody else may ask for it: an operator is refused, a stranger learns nothing.
    with pytest.raises(butler.PermissionDeniedError):
        ops.retire(vm.id)
    with pytest.raises(butler.NotFoundError):
        b.trusted_session("zoe", ["requester"]).retire(vm.id)
    r = ana.retire(vm.id)
    assert (r.kind, r.state, r.target_vm, r.vm_name) == ("decommission", "requested", vm.id, vm.name)
    assert r.vm_uuid is not None
    bea.approve(r.id, r.version)
    assert b.provision()["completed"] == 1
    done = bea.get_request(r.id)
    assert done.state == "completed"
    steps = [h.note.split(" ")[0] for h in done.history if h.action == "step_done"]
    assert steps == ["power_off", "unprotect", "deregister", "stop_billing", "delete_vm"]
    assert ana.vm(vm.id).lifecycle == "retired"
    with pytest.raises(ValueError):
        ana.retire(vm.id)


def test_a_retired_vm_kept_in_its_grace_period_is_restored():
    b = butler.Butler.demo(seed=7, retirement_grace_days=7)
    ana = b.trusted_session("ana", ["requester"])
    bea = b.trusted_session("bea", ["approver"])
    _provision(b, ana, bea, "py-keep")
    vm = ana.vms()[0]
    with pytest.raises(ValueError, match="grace period"):
        ana.restore_vm(vm.id)
    r = ana.retire(vm.id)
    bea.approve(r.id, r.version)
    assert b.provision()["completed"] == 1
    kept = ana.vm(vm.id)
    assert (kept.lifecycle, kept.power) == ("retiring", "off")
    assert kept.kept_until is not None
    assert b.simulator.vm(vm.name) is not None, "kept, not deleted"
    back = ana.restore_vm(vm.id)
    assert (back.kind, back.state) == ("restore", "approved")
    assert b.provision()["completed"] == 1
    now = ana.vm(vm.id)
    assert (now.lifecycle, now.power, now.kept_until) == ("active", "on", None)
    with pytest.raises(butler.InvalidInput):
        ana.restore_vm(vm.id)
    with pytest.raises(ValueError):
        butler.Butler.demo(retirement_grace_days=400)


def test_reconfigure_changes_the_vm_once_approved(b, ana, bea):
    _provision(b, ana, bea, "py-grow")
    vm = ana.vms()[0]
    origin = ana.get_request(vm.request)
    spec = origin.spec
    spec.ram_gib = 2
    spec.disks_gib = [*spec.disks_gib, 40]
    with pytest.raises(butler.ValidationError) as bad:
        shrunk = origin.spec
        shrunk.disks_gib = [1]
        ana.reconfigure(vm.id, shrunk)
    assert "disk_shrinks" in str(bad.value)
    r = ana.reconfigure(vm.id, spec, accept_downtime=True)
    assert (r.kind, r.target_vm, r.state) == ("reconfigure", vm.id, "requested")
    first = r.history[0]
    assert [c.field for c in first.changes] == ["ram_gib", "disks_gib[1]"]
    assert first.cost is not None and first.cost.after < first.cost.before
    bea.approve(r.id, r.version)
    assert b.provision()["completed"] == 1
    now = ana.vm(vm.id)
    assert (now.ram_gib, now.disks_gib, now.power) == (2, [*origin.spec.disks_gib, 40], "on")


def test_a_lease_asked_becomes_the_vms_lease_end(b, ana, bea):
    import datetime

    spec = butler.VmSpec.demo("py-leased")
    spec.lease_days = 30
    r = ana.create_request(spec)
    assert r.spec.lease_days == 30
    r = ana.submit(r.id, r.version)
    bea.approve(r.id, r.version)
    assert b.provision()["completed"] == 1
    vm = ana.vms()[0]
    assert isinstance(vm.lease_end, datetime.date)
    assert ana.vms(lease_ends_by=vm.lease_end) == [vm]
    assert ana.vms(lease_ends_by=vm.lease_end - datetime.timedelta(days=1)) == []
    # Zero days is refused, naming the field.
    bad = butler.VmSpec.demo("py-lease0")
    bad.lease_days = 0
    with pytest.raises(butler.ValidationError) as e:
        ana.create_request(bad)
    assert "lease_days" in str(e.value)


def test_extend_lease_asks_for_a_later_end(b, ana, bea):
    import datetime

    spec = butler.VmSpec.demo("py-extend")
    spec.lease_days = 10
    r = ana.create_request(spec)
    r = ana.submit(r.id, r.version)
    bea.approve(r.id, r.version)
    assert b.provision()["completed"] == 1
    vm = ana.vms()[0]
    with pytest.raises(butler.ValidationError) as e:
        ana.extend_lease(vm.id, vm.lease_end)
    assert "until" in str(e.value)
    later = vm.lease_end + datetime.timedelta(days=30)
    x = ana.extend_lease(vm.id, later)
    assert (x.kind, x.state, x.target_vm) == ("extend_lease", "requested", vm.id)
    bea.approve(x.id, x.version)
    assert b.provision()["completed"] == 1
    assert ana.vm(vm.id).lease_end == later
