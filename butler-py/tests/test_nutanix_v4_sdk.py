"""Nutanix's own v4 Python SDKs (PyPI ``ntnx-vmm-py-client`` 4.1,
``ntnx-prism-py-client`` 4.0, ``ntnx-clustermgmt-py-client`` 4.0,
``ntnx-networking-py-client`` 4.0, ``ntnx-datapolicies-py-client`` 4.2,
``ntnx-dataprotection-py-client`` 4.2) judge the fake Prism's v4 answers and
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


def test_recovery_plans_and_their_jobs_are_what_the_sdks_read(fake_prism, tmp_path):
    """Leap recovery plans as ``datapolicies`` 4.2 and ``dataprotection``
    4.2 model them: a plan the SDK makes (its stage recovering the fleet's
    category, ``DataProtection:Gold``: the fake's ``leap-web-*`` VMs) is read
    back, validated, failed over live and followed as ``RecoveryPlanJob``,
    its steps and findings as the SDK types them.
    Butler configured for recovery plans then migrates a group by a plan
    of its own making, whose plan, stage, validation and failover bodies
    the fake kept as they crossed the wire read back as the SDK's models."""
    from ntnx_datapolicies_py_client.models.datapolicies.v4.config.DisasterRecoveryLocation import (
        DisasterRecoveryLocation,
    )
    from ntnx_datapolicies_py_client.models.datapolicies.v4.config.EntityReference import (
        EntityReference as PlanEntity,
    )
    from ntnx_datapolicies_py_client.models.datapolicies.v4.config.RecoveryPlan import RecoveryPlan
    from ntnx_datapolicies_py_client.models.datapolicies.v4.config.RecoveryStage import RecoveryStage
    from ntnx_dataprotection_py_client.models.dataprotection.v4.config.EntityReference import (
        EntityReference as JobEntity,
    )
    from ntnx_dataprotection_py_client.models.dataprotection.v4.config.FailoverDirection import (
        FailoverDirection,
    )
    from ntnx_dataprotection_py_client.models.dataprotection.v4.config.RecoveryPlanJob import (
        RecoveryPlanJob,
    )
    from ntnx_dataprotection_py_client.models.dataprotection.v4.config.RecoveryPlanJobExecutionStep import (
        RecoveryPlanJobExecutionStep,
    )
    from ntnx_dataprotection_py_client.models.dataprotection.v4.operations.BaseRecoveryPlanActionSpec import (
        BaseRecoveryPlanActionSpec,
    )
    from ntnx_dataprotection_py_client.models.dataprotection.v4.operations.PlannedFailoverSpec import (
        PlannedFailoverSpec,
    )

    config, source, destination, names = fake_prism
    host, port, password = _endpoint(config)
    clusters = clustermgmt.ClustersApi(api_client=_configure(clustermgmt, host, port, password))
    ids = {c.name: c.ext_id for c in clusters.list_clusters().data}
    categories = prism.CategoriesApi(api_client=_configure(prism, host, port, password))
    gold = categories.list_categories(
        _filter="key eq 'DataProtection' and value eq 'Gold'"
    ).data[0]
    leap = [f"leap-web-{i}" for i in (1, 2, 3)]  # examples/fake_prism.rs
    policies_client = _configure(datapolicies, host, port, password)
    plans = datapolicies.RecoveryPlansApi(api_client=policies_client)
    protection_client = _configure(dataprotection, host, port, password)
    actions = dataprotection.RecoveryPlanActionsApi(api_client=protection_client)
    jobs = dataprotection.RecoveryPlanJobsApi(api_client=protection_client)
    tasks = prism.TasksApi(api_client=_configure(prism, host, port, password))

    def located(name):
        return DisasterRecoveryLocation(clusters=[PlanEntity(ext_id=ids[name])])

    made = plans.create_recovery_plan(
        RecoveryPlan(name="sdk-plan", primary_location=located(source), recovery_location=located(destination))
    )
    plan_rel = [e for e in _task(tasks, made.data.ext_id).entities_affected if e.rel == "datapolicies:config:recovery-plan"]
    plan_id = plan_rel[0].ext_id
    plan = plans.get_recovery_plan_by_id(plan_id).data
    assert isinstance(plan, RecoveryPlan) and plan.name == "sdk-plan"
    assert plan.primary_location.clusters[0].ext_id == ids[source]
    plans.create_recovery_stage(
        plan_id, RecoveryStage(entity_type="VM", category_ext_ids=[gold.ext_id], priority=1)
    )
    stage = plans.list_recovery_stages(plan_id).data[0]
    assert isinstance(stage, RecoveryStage) and stage.category_ext_ids == [gold.ext_id]

    directions = [
        FailoverDirection(
            source_cluster=JobEntity(ext_id=ids[source]), target_cluster=JobEntity(ext_id=ids[destination])
        )
    ]
    checked = actions.validate_recovery_plan(
        plan_id, BaseRecoveryPlanActionSpec(name="sdk-validate", failover_directions=directions)
    )
    assert _task(tasks, checked.data.ext_id).status == "SUCCEEDED"
    listed = jobs.list_recovery_plan_jobs(_filter=f"recoveryPlanExtId eq '{plan_id}'").data
    assert all(isinstance(j, RecoveryPlanJob) for j in listed)
    assert [j.action_type for j in listed] == ["VALIDATE"]
    assert jobs.list_validation_errors_by_recovery_plan_job_id(listed[0].ext_id).data in (None, [])

    moved = actions.planned_failover_recovery_plan(
        plan_id,
        PlannedFailoverSpec(name="sdk-failover", failover_directions=directions, should_live_migrate_v_ms=True),
    )
    job_rel = [e for e in _task(tasks, moved.data.ext_id).entities_affected if e.rel == "dataprotection:config:recovery-plan-job"]
    job = None
    for _ in range(50):
        job = jobs.get_recovery_plan_job_by_id(job_rel[0].ext_id).data
        if job.status in ("SUCCEEDED", "FAILED"):
            break
    assert isinstance(job, RecoveryPlanJob) and job.status == "SUCCEEDED", job
    assert job.is_live_migrate_v_ms is True and job.action_type == "PLANNED_FAILOVER"
    steps = jobs.list_execution_steps_by_recovery_plan_job_id(job.ext_id).data
    assert steps and all(isinstance(s, RecoveryPlanJobExecutionStep) for s in steps)
    assert {s.operation_type for s in steps} == {"ENTITY_LIVE_MIGRATION"}
    assert sorted(e.name for s in steps for e in s.affected_entities) == leap
    plans.delete_recovery_plan_by_id(plan_id)
    assert not plans.list_recovery_plans().data

    # Back, by Butler: its own plan, validated and failed over live.
    by_plans = tmp_path / "by-plans.toml"
    by_plans.write_text(
        'migration = "recovery_plans"\nprotection_category = "DataProtection:Gold"\n' + config.read_text()
    )
    b = butler.Butler.nutanix(str(by_plans), catalog=butler.Catalog.demo(), rate_book=butler.RateBook.demo())
    ops = b.trusted_session("olga", ["operator"])
    g = ops.create_group_with_vms("by-plan", destination, source, leap)
    g = ops.set_live(g, True)
    ops.refresh(g.id)
    report = ops.validate(g.id)
    assert report.can_migrate, report.findings(severity="error", limit=5)
    result = ops.migrate(report.token)
    assert result.migrated == 3, result
    read = policies_client.deserialize
    sent_plan = read(_last_body(host, port, "recovery-plan"), "datapolicies.v4.config.RecoveryPlan")
    assert isinstance(sent_plan, RecoveryPlan) and sent_plan.name.startswith("butler-DataProtection-Gold")
    assert sent_plan.primary_location.clusters[0].ext_id == ids[destination]
    sent_stage = read(_last_body(host, port, "recovery-stage"), "datapolicies.v4.config.RecoveryStage")
    assert sent_stage.category_ext_ids == [gold.ext_id]
    sent_check = protection_client.deserialize(
        _last_body(host, port, "plan-validate"), "dataprotection.v4.operations.BaseRecoveryPlanActionSpec"
    )
    assert sent_check.failover_directions[0].target_cluster.ext_id == ids[source]
    sent_move = protection_client.deserialize(
        _last_body(host, port, "planned-failover"), "dataprotection.v4.operations.PlannedFailoverSpec"
    )
    assert isinstance(sent_move, PlannedFailoverSpec) and sent_move.should_live_migrate_v_ms is True
    assert not plans.list_recovery_plans().data, "Butler deleted the plan it made"
