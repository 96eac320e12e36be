import datetime

import pytest

import butler


def test_full_workflow_with_history_cost_diff_and_provisioning(b, ana, bea):
    r = ana.create_request(butler.VmSpec.demo("web01"))
    r = ana.submit(r.id, r.version)
    bigger = r.spec
    bigger.ram_gib = 8
    r = bea.review(r.id, r.version, bigger)
    assert r.state == "reviewed" and r.approver == "bea"
    review = r.history[-1]
    assert review.action == "review"
    assert review.changes == [("ram_gib", "4", "8")]
    before, after, currency = review.cost
    assert after > before and currency == "UF"
    r = bea.approve(r.id, r.version)
    assert b.provision() == {"completed": 1, "failed": 0, "skipped": 0}
    done = bea.get_request(r.id)
    assert done.state == "completed"
    assert done.vm_uuid
    sim = b.simulator
    assert sim.vms_named(done.vm_name) == 1
    assert sim.monitor_registrations(done.vm_name) == 1
    assert sim.billing_activations(done.vm_name) == 1
    assert [h.to_state for h in done.history][-1] == "completed"
    assert isinstance(done.history[0].at, datetime.datetime)


def test_roles_are_enforced(b, ana, bea):
    r = ana.create_request(butler.VmSpec.demo("a1"))
    viewer = b.trusted_session("vic", ["viewer"])
    with pytest.raises(butler.PermissionDenied, match="vic may not approve"):
        viewer.approve(r.id, r.version)
    with pytest.raises(butler.PermissionDenied):
        viewer.create_request(butler.VmSpec.demo("v"))
    otto = b.trusted_session("otto", ["requester"])
    with pytest.raises(butler.NotFound):
        otto.get_request(r.id)
    assert otto.list_requests().total == 0
    assert viewer.get_request(r.id).id == r.id
    with pytest.raises(butler.InvalidInput):
        b.trusted_session("x", ["wizard"])
    with pytest.raises(butler.InvalidInput):
        b.trusted_session("  ", ["viewer"])


def test_stale_versions_conflict_and_bad_input_changes_nothing(ana, bea):
    r = ana.create_request(butler.VmSpec.demo("a1"))
    ana.submit(r.id, r.version)
    with pytest.raises(butler.Conflict):
        ana.cancel(r.id, r.version)
    with pytest.raises(butler.ValidationError):
        ana.create_request(butler.VmSpec(name="x"))
    assert bea.list_requests().total == 1
    with pytest.raises(butler.InvalidInput):
        bea.reject(r.id, r.version + 1, " ")
    with pytest.raises(butler.InvalidInput):
        bea.list_requests(states=["nonsense"])


def test_lists_filter_page_and_export(tmp_path, ana, bea):
    for i in range(5):
        r = ana.create_request(butler.VmSpec.demo(f"vm{i}"))
        if i % 2 == 0:
            ana.submit(r.id, r.version)
    page = bea.list_requests(states=["requested"], limit=2)
    assert page.total == 3 and len(page.items) == 2
    assert page.items[0].id > page.items[1].id
    path = tmp_path / "requests.xlsx"
    assert bea.export_xlsx(str(path), states=["created"]) == 2
    assert path.read_bytes()[:2] == b"PK"
    assert ana.export_xlsx(str(tmp_path / "mine.xlsx"), states=["created"]) == 5
    with pytest.raises(butler.BackendError):
        bea.export_xlsx(str(tmp_path / "no" / "dir" / "x.xlsx"))
    # Headed in the exporter's language (read back with openpyxl).
    import openpyxl

    es = tmp_path / "es.xlsx"
    assert bea.export_xlsx(str(es), states=["created"], language="es") == 2
    wb = openpyxl.load_workbook(es)
    assert wb.sheetnames == ["Solicitudes"]
    header = [c.value for c in next(wb["Solicitudes"].iter_rows(max_row=1))]
    assert header[:2] == ["Solicitud", "Estado"] and header[6] == "Centro de costo"
    assert openpyxl.load_workbook(path).sheetnames == ["Requests"]
    with pytest.raises(butler.InvalidInput):
        bea.export_xlsx(str(tmp_path / "x.xlsx"), language="fr")


def test_failures_end_in_error_and_admin_retry_resumes(b, ana, bea):
    r = ana.create_request(butler.VmSpec.demo("e1"))
    r = ana.submit(r.id, r.version)
    r = bea.approve(r.id, r.version)
    b.simulator.set_faults("monitor_register", permanent=1.0)
    assert b.provision()["failed"] == 1
    failed = bea.get_request(r.id)
    assert failed.state == "error"
    step, attempts, reason = failed.failure
    assert step == "monitor" and attempts == 1 and "monitor_register" in reason
    b.simulator.clear_faults()
    admin = b.trusted_session("root", ["admin"])
    admin.retry(failed.id, failed.version)
    assert b.provision()["completed"] == 1
    assert b.simulator.monitor_registrations(failed.vm_name) == 1
    with pytest.raises(butler.InvalidInput):
        b.simulator.set_faults("monitor_register", transient=2.0)
    with pytest.raises(butler.InvalidInput):
        b.simulator.set_faults("no_such_op", transient=0.1)


def test_store_on_a_file_survives_a_new_butler(tmp_path):
    path = str(tmp_path / "b.sqlite")
    first = butler.Butler.demo(db_path=path)
    r = first.trusted_session("ana", ["requester"]).create_request(butler.VmSpec.demo("keep"))
    del first
    again = butler.Butler.demo(db_path=path)
    assert again.trusted_session("vic", ["viewer"]).get_request(r.id).spec.name == "keep"
