"""Butler from Python on VMware vSphere: a deployment file naming a vCenter
(VMware's simulator, vcsim, started by scripts/services/vcsim.sh), a
request provisioned, the VM powered off and on from the inventory."""

import json
import os
import time

import pytest

import butler

VARS = ("URL", "USER", "PASSWORD", "CA")


@pytest.fixture
def vcsim():
    env = {k: os.environ.get(f"BUTLER_TEST_VCSIM_{k}") for k in VARS}
    if not all(env.values()):
        if os.environ.get("CI") == "true":
            raise AssertionError("CI=true but no vcsim: BUTLER_TEST_VCSIM_* unset (scripts/test.sh starts it)")
        pytest.skip("no vcsim (BUTLER_TEST_VCSIM_* unset): SKIPPED")
    return env


def _catalog():
    """The demo catalog on vcsim's names."""
    c = json.loads(butler.Catalog.demo().to_json())
    c["clusters"] = [{"name": "DC0_C0"}, {"name": "DC0_C1"}]
    for e in c["environments"]:
        e["project"] = "prod-project"
        e["vlans"] = ["DC0_DVPG0"]
    for d in c["disk_types"]:
        d["storage_container"] = "LocalDS_0"
    c["images"] = [{"name": "tmpl-DC0_C0-linux", "size_gib": 20}]
    return butler.Catalog.from_json(json.dumps(c))


def test_a_vsphere_deployment_provisions_and_powers_from_python(vcsim, tmp_path, monkeypatch):
    config = tmp_path / "deployment.toml"
    config.write_text(
        f'ca_bundle = "{vcsim["CA"]}"\n\n[vcenter]\nurl = "{vcsim["URL"]}"\nusername = "{vcsim["USER"]}"\n\n'
        '[projects.prod-project]\nclusters = ["DC0_C0", "DC0_C1"]\nport_groups = ["DC0_DVPG0"]\n'
    )
    monkeypatch.setenv("BUTLER_VSPHERE_PASSWORD", vcsim["PASSWORD"])
    b = butler.Butler(str(config), catalog=_catalog(), rate_book=butler.RateBook.demo(), monitoring=False, billing=False)
    ana = b.trusted_session("ana", ["requester"])
    bea = b.trusted_session("bea", ["approver"])
    spec = butler.VmSpec.demo(f"py-vs{time.time_ns() % 10**9}")
    spec.cluster = "DC0_C0"
    spec.nics = ["DC0_DVPG0"]
    r = ana.create_request(spec)
    r = ana.submit(r.id, r.version)
    bea.approve(r.id, r.version)
    assert b.provision()["completed"] == 1
    vm = [v for v in ana.vms() if v.request == r.id][0]
    assert (vm.cluster, vm.power) == ("DC0_C0", "on")
    assert ana.power_off(vm.id) == "done"
    assert ana.vm(vm.id).power == "off"
    assert ana.power_on(vm.id) == "done"
    assert ana.vm(vm.id).power == "on"
