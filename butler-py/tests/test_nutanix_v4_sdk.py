"""Nutanix's own v4 Python SDKs (PyPI ``ntnx-vmm-py-client`` 4.1,
``ntnx-prism-py-client`` 4.0, ``ntnx-clustermgmt-py-client`` 4.0,
``ntnx-networking-py-client`` 4.0, ``ntnx-datapolicies-py-client`` 4.0,
``ntnx-dataprotection-py-client`` 4.0) judge the fake Prism's v4 answers and
Butler's v4 request bodies: every answer must deserialise into the SDK's
models, and the VM body Butler sent must read back as a
``vmm.v4.ahv.config.Vm`` with its fields typed as the SDK types them."""

import json
import os
import tomllib
import urllib.request

import pytest

import butler

try:
    import ntnx_clustermgmt_py_client as clustermgmt
    import ntnx_networking_py_client as networking
    import ntnx_prism_py_client as prism
    from ntnx_clustermgmt_py_client.models.clustermgmt.v4.config.Cluster import Cluster
    from ntnx_clustermgmt_py_client.models.clustermgmt.v4.config.StorageContainer import (
        StorageContainer,
    )
    from ntnx_networking_py_client.models.networking.v4.config.Subnet import Subnet
    import ntnx_datapolicies_py_client as datapolicies
    import ntnx_dataprotection_py_client as dataprotection
    from ntnx_datapolicies_py_client.models.datapolicies.v4.config.ProtectionPolicy import (
        ProtectionPolicy,
    )
    from ntnx_dataprotection_py_client.models.dataprotection.v4.config.ProtectedResource import (
        ProtectedResource,
    )
    import ntnx_vmm_py_client as vmm
    from ntnx_vmm_py_client.models.vmm.v4.ahv.config.AssociateVmCategoriesParams import (
        AssociateVmCategoriesParams,
    )
    from ntnx_vmm_py_client.models.vmm.v4.ahv.config.CategoryReference import CategoryReference
    from ntnx_vmm_py_client.models.vmm.v4.ahv.config.UefiBoot import UefiBoot
    from ntnx_vmm_py_client.models.vmm.v4.ahv.config.Vm import Vm
    from ntnx_vmm_py_client.models.vmm.v4.ahv.config.VmDisk import VmDisk
except ImportError:
    if os.environ.get("CI") == "true":
        raise
    pytest.skip(
        "Nutanix's v4 SDKs are not installed (scripts/test.sh installs them): SKIPPED",
        allow_module_level=True,
    )


def _endpoint(config):
    url = tomllib.loads(config.read_text())["prism_central"]["url"]
    host, port = url.removeprefix("http://").split(":")
    return host, int(port), os.environ["BUTLER_NUTANIX_PC_PASSWORD"]


def _configure(sdk, host, port, password):
    c = sdk.Configuration()
    c.host, c.port, c.scheme = host, port, "http"
    c.username, c.password = "admin", password
    c.verify_ssl = False
    c.max_retry_attempts = 1
    return sdk.ApiClient(configuration=c)


def _last_body(host, port, kind):
    """The fake's copy of the last v4 write of `kind`, as it crossed the wire."""
    url = f"http://{host}:{port}/fake/last-v4-body/{kind}"
    with urllib.request.urlopen(urllib.request.Request(url), timeout=10) as answer:
        return json.load(answer)


def _task(tasks, ext_id):
    for _ in range(20):
        t = tasks.get_task_by_id(ext_id).data
        if t.status in ("SUCCEEDED", "FAILED", "CANCELED"):
            return t
    raise AssertionError(f"task {ext_id} did not end")


def test_the_fake_v4_answers_are_what_nutanix_sdks_read(fake_prism):
    config, source, _destination, names = fake_prism
    host, port, password = _endpoint(config)
    vms = vmm.VmApi(api_client=_configure(vmm, host, port, password))
    tasks = prism.TasksApi(api_client=_configure(prism, host, port, password))

    listed = vms.list_vms(_limit=5)
    assert len(listed.data) == 5
    assert all(isinstance(v, Vm) for v in listed.data)
    total = [f for f in listed.metadata.flags if f.name == "hasError"]
    assert total and total[0].value is False
    assert listed.metadata.total_available_results >= len(names)

    first = listed.data[0]
    got = vms.get_vm_by_id(first.ext_id)
    assert got.data.name == first.name and got.data.power_state in ("ON", "OFF")
    etag = vms.api_client.get_etag(got)
    assert etag, "the VM's ETag reaches the SDK"

    # A power action under the ETag: a task the prism SDK follows to its end.
    action = vms.power_off_vm if got.data.power_state == "ON" else vms.power_on_vm
    ref = action(first.ext_id, if_match=etag)
    done = _task(tasks, ref.data.ext_id)
    assert done.status == "SUCCEEDED"

    # A category associated with the SDK's own request body: the fake
    # reads what the SDK sends.
    categories = prism.CategoriesApi(api_client=_configure(prism, host, port, password))
    env = categories.list_categories(_filter="key eq 'Environment'").data[0]
    fresh = vms.get_vm_by_id(first.ext_id)
    ref = vms.associate_categories(
        first.ext_id,
        AssociateVmCategoriesParams(categories=[CategoryReference(ext_id=env.ext_id)]),
        if_match=vms.api_client.get_etag(fresh),
    )
    assert _task(tasks, ref.data.ext_id).status == "SUCCEEDED"
    carried = vms.get_vm_by_id(first.ext_id).data.categories or []
    assert env.ext_id in [c.ext_id for c in carried]

    # A stale ETag is refused with v4's error body.
    with pytest.raises(vmm.rest.ApiException) as stale:
        vms.power_on_vm(first.ext_id, if_match=etag)
    assert stale.value.status == 412
    body = json.loads(stale.value.body)
    err = vms.api_client.deserialize(body["data"], "vmm.v4.error.ErrorResponse")
    assert err.error[0].error_group == "VM_ETAG_MISMATCH"


def test_the_fake_v4_lists_are_what_nutanix_sdks_read(fake_prism):
    """Every list Butler reads on v4, paged and filtered as Butler asks,
    read by the SDK of its namespace."""
    config, _source, _destination, names = fake_prism
    host, port, password = _endpoint(config)

    clusters_api = clustermgmt.ClustersApi(api_client=_configure(clustermgmt, host, port, password))
    clusters = clusters_api.list_clusters(_limit=100).data
    assert clusters and all(isinstance(c, Cluster) for c in clusters)
    functions = {f for c in clusters for f in c.config.cluster_function}
    assert {"PRISM_CENTRAL", "AOS"} <= functions
    one = [c for c in clusters if "AOS" in c.config.cluster_function][0]

    containers_api = clustermgmt.StorageContainersApi(
        api_client=_configure(clustermgmt, host, port, password)
    )
    containers = containers_api.list_storage_containers(_page=0, _limit=100).data
    assert containers and all(isinstance(c, StorageContainer) for c in containers)
    assert {c.cluster_ext_id for c in containers} <= {c.ext_id for c in clusters}

    subnets_api = networking.SubnetsApi(api_client=_configure(networking, host, port, password))
    subnets = subnets_api.list_subnets(_limit=100).data
    assert subnets and all(isinstance(s, Subnet) for s in subnets)
    assert all(s.subnet_type in ("VLAN", "OVERLAY") for s in subnets)

    categories_api = prism.CategoriesApi(api_client=_configure(prism, host, port, password))
    env = categories_api.list_categories(_filter="key eq 'Environment'", _limit=100).data
    assert env and {c.key for c in env} == {"Environment"}

    vms = vmm.VmApi(api_client=_configure(vmm, host, port, password))
    on_one = vms.list_vms(_page=0, _limit=100, _filter=f"cluster/extId eq '{one.ext_id}'")
    assert on_one.data and all(v.cluster.ext_id == one.ext_id for v in on_one.data)
    assert on_one.metadata.total_available_results >= len(on_one.data)
    by_name = vms.list_vms(_filter=f"name eq '{names[0]}'").data
    assert [v.name for v in by_name] == [names[0]]
    subnet_ids = {s.ext_id for s in subnets}
    nics = [n for v in on_one.data for n in (v.nics or [])]
    assert nics and all(n.network_info.subnet.ext_id in subnet_ids for n in nics)

    # Past v4's page limit: Prism's validation error, as the SDK reads it.
    with pytest.raises(vmm.rest.ApiException) as too_many:
        vms.list_vms(_limit=101)
    assert too_many.value.status == 400


def test_butlers_v4_create_body_is_a_vm_as_the_sdk_models_it(fake_prism, tmp_path):
    config, _source, _destination, _names = fake_prism
    host, port, password = _endpoint(config)
    b = butler.Butler.nutanix(
        str(config),
        catalog=butler.Catalog.demo(),
        rate_book=butler.RateBook.demo(),
        deadline_seconds=120,
        monitoring=False,
        billing=False,
    )
    ana = b.trusted_session("ana", ["requester"])
    bea = b.trusted_session("bea", ["approver"])
    r = ana.create_request(butler.VmSpec.demo("sdk-v4"))
    r = ana.submit(r.id, r.version)
    bea.approve(r.id, r.version)
    assert b.provision()["completed"] == 1

    sent = _last_body(host, port, "vm")
    assert sent is not None, "Butler created the VM through v4"
    client = _configure(vmm, host, port, password)
    vm = client.deserialize(sent, "vmm.v4.ahv.config.Vm")
    assert isinstance(vm, Vm)
    assert vm.name.startswith("sdk-v4-r")
    assert vm.num_sockets >= 1 and vm.num_cores_per_socket >= 1
    assert vm.memory_size_bytes % (1 << 30) == 0
    assert isinstance(vm.boot_config, UefiBoot)
    assert vm.disks and isinstance(vm.disks[0].backing_info, VmDisk)
    assert vm.disks[0].backing_info.disk_size_bytes % (1 << 30) == 0
    assert vm.cluster.ext_id and vm.nics[0].network_info.subnet.ext_id
    assert vm.project.ext_id and vm.categories[0].ext_id

    # A reconfigure through Butler: more memory, a disk grown and one added,
    # each v4 write's body read by the SDK's model of it.
    made = ana.vms()[0]
    spec = ana.get_request(made.request).spec
    spec.ram_gib += 2
    spec.disks_gib = [spec.disks_gib[0] + 10, *spec.disks_gib[1:], 20]
    r = ana.reconfigure(made.id, spec, accept_downtime=True)
    bea.approve(r.id, r.version)
    assert b.provision()["completed"] == 1
    assert ana.vm(made.id).disks_gib == spec.disks_gib
    updated = client.deserialize(_last_body(host, port, "update-vm"), "vmm.v4.ahv.config.Vm")
    assert updated.memory_size_bytes == spec.ram_gib << 30
    grown = client.deserialize(_last_body(host, port, "disk-update"), "vmm.v4.ahv.config.Disk")
    assert grown.backing_info.disk_size_bytes == spec.disks_gib[0] << 30
    added = client.deserialize(_last_body(host, port, "disk"), "vmm.v4.ahv.config.Disk")
    assert isinstance(added.backing_info, VmDisk)
    assert added.backing_info.disk_size_bytes == 20 << 30


def test_cross_cluster_migrate_dry_runs_are_what_the_sdk_reads(fake_prism, tmp_path):
    """Prism v4's cross-cluster migrate, asked through the SDK with
    ``$dryrun``, objects to a VM a protection domain holds in an
    ``ErrorResponse`` the SDK reads; Butler configured to move VMs one by
    one asks the same at refresh (each objection a ``platform_refuses``
    finding), with a body that is the SDK's ``VmCrossClusterMigrateParams``."""
    from ntnx_vmm_py_client.models.vmm.v4.ahv.config.ClusterReference import ClusterReference
    from ntnx_vmm_py_client.models.vmm.v4.ahv.config.VmCrossClusterMigrateParams import (
        VmCrossClusterMigrateParams,
    )
    from ntnx_vmm_py_client.models.vmm.v4.error.ErrorResponse import ErrorResponse

    config, source, destination, names = fake_prism
    host, port, password = _endpoint(config)
    client = _configure(vmm, host, port, password)
    vms = vmm.VmApi(api_client=client)
    clusters = clustermgmt.ClustersApi(api_client=_configure(clustermgmt, host, port, password))
    target = next(c.ext_id for c in clusters.list_clusters().data if c.name == destination)
    vm = vms.list_vms(_filter=f"name eq '{names[0]}'").data[0]
    params = VmCrossClusterMigrateParams(
        target_cluster=ClusterReference(ext_id=target), is_live_migration=False
    )
    with pytest.raises(vmm.rest.ApiException) as refused:
        vms.cross_cluster_migrate_vm(vm.ext_id, params, _dryrun=True)
    assert refused.value.status == 400
    error = client.deserialize(json.loads(refused.value.body)["data"], "vmm.v4.error.ErrorResponse")
    assert isinstance(error, ErrorResponse)
    assert "protected by" in error.error[0].message

    by_vm = tmp_path / "vm-by-vm.toml"
    by_vm.write_text('migration = "vm_by_vm"\n' + config.read_text())
    b = butler.Butler.nutanix(
        str(by_vm), catalog=butler.Catalog.demo(), rate_book=butler.RateBook.demo()
    )
    ops = b.trusted_session("olga", ["operator"])
    g = ops.create_group_with_vms("vm-by-vm", source, destination, names[:3])
    ops.refresh(g.id)
    report = ops.validate(g.id)
    assert report.counts().get("platform_refuses") == 3, report.counts()
    said = report.findings(code="platform_refuses")[0].message
    assert "protected by" in said and destination in said, said
    sent = client.deserialize(_last_body(host, port, "migrate"), "vmm.v4.ahv.config.VmCrossClusterMigrateParams")
    assert isinstance(sent, VmCrossClusterMigrateParams)
    assert sent.target_cluster.ext_id == target and sent.is_live_migration is False


def test_protection_policies_and_protected_resources_are_what_the_sdks_read(fake_prism):
    """What protection by policy reads: Prism's protection policies (the
    fake's ``gold`` applies to ``Environment:Production``, the fleet's
    category) as ``datapolicies``' ``ProtectionPolicy``, and a VM carrying
    it as ``dataprotection``'s ``ProtectedResource``; an unknown VM is a
    404."""
    config, _source, _destination, names = fake_prism
    host, port, password = _endpoint(config)
    policies = datapolicies.ProtectionPoliciesApi(
        api_client=_configure(datapolicies, host, port, password)
    ).list_protection_policies(_page=0, _limit=50)
    assert policies.data and all(isinstance(p, ProtectionPolicy) for p in policies.data)
    gold = next(p for p in policies.data if p.name == "gold")
    categories = prism.CategoriesApi(api_client=_configure(prism, host, port, password))
    production = categories.list_categories(_filter="key eq 'Environment' and value eq 'Production'").data[0]
    assert gold.category_ids == [production.ext_id]

    vm = vmm.VmApi(api_client=_configure(vmm, host, port, password)).list_vms(
        _filter=f"name eq '{names[0]}'"
    ).data[0]
    resources = dataprotection.ProtectedResourcesApi(
        api_client=_configure(dataprotection, host, port, password)
    )
    protected = resources.get_protected_resource_by_id(vm.ext_id).data
    assert isinstance(protected, ProtectedResource)
    assert protected.entity_ext_id == vm.ext_id
    assert protected.category_fq_names == ["Environment/Production"]
    with pytest.raises(dataprotection.rest.ApiException) as missing:
        resources.get_protected_resource_by_id("00000000-0000-4000-8000-000000000000")
    assert missing.value.status == 404
