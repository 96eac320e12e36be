import pytest

import butler


def drill(b, ops, vms=20, groups=4, mix="none", name="drill"):
    names = b.simulator.generate_fleet(vms, groups, mix=mix, prefix=name)
    g = ops.create_group_with_vms(name, "c1-madrid", "c2-santiago", names)
    ops.refresh(g.id)
    return g, names


def test_group_operations(b, ops):
    viewer = b.trusted_session("vic", ["viewer"])
    names = b.simulator.generate_fleet(4, 2)
    g = ops.create_group("north")
    with pytest.raises(butler.ButlerError, match="already exists"):
        ops.create_group("north")
    with pytest.raises(butler.PermissionDenied):
        viewer.create_group("x")
    g = ops.set_source(g.id, g.version, "c1-madrid")
    with pytest.raises(butler.InvalidInput):
        ops.set_destination(g.id, g.version, "c1-madrid")
    g = ops.set_destination(g.id, g.version, "c2-santiago")
    g = ops.add_vm(g.id, g.version, names[0])
    with pytest.raises(butler.InvalidInput):
        ops.add_vm(g.id, g.version, "ghost")
    g = ops.add_vm(g.id, g.version, names[1])
    g = ops.select(g.id, g.version, names[1], False)
    assert g.vms == [(names[0], True), (names[1], False)]
    g = ops.remove_vm(g.id, g.version, names[1])
    g = ops.rename_group(g.id, g.version, "north-2")
    back = ops.clone_group(g.id)
    assert back.name == "north-2 (return)"
    back = ops.switch(back.id, back.version)
    assert (back.source, back.destination) == ("c2-santiago", "c1-madrid")
    assert [x.name for x in viewer.find_groups("north")] == ["north-2", "north-2 (return)"]
    with pytest.raises(butler.Conflict):
        ops.rename_group(g.id, g.version - 1, "stale")
    ops.delete_group(back.id, back.version)
    with pytest.raises(butler.NotFound):
        ops.group(back.id)


def test_bulk_vm_edits_are_all_or_nothing_and_return_the_version(b, ops):
    names = b.simulator.generate_fleet(60, 6, prefix="bulk")
    g = ops.create_group_with_vms("bulk", "c1-madrid", "c2-santiago", names[:10])
    v = ops.add_vms(g.id, g.version, names[10:])
    assert v == g.version + 1 and len(ops.group(g.id).vms) == 60
    with pytest.raises(butler.InvalidInput, match="2 more are not on the platform"):
        ops.add_vms(g.id, v, ["ghost-1", "ghost-2", "ghost-3"])
    with pytest.raises(butler.InvalidInput, match="already in the group"):
        ops.add_vms(g.id, v, [names[0]])
    v = ops.select_vms(g.id, v, names[:5], False)
    with pytest.raises(butler.InvalidInput, match="not in the group"):
        ops.remove_vms(g.id, v, [names[5], "ghost"])
    assert len(ops.group(g.id).vms) == 60, "a refused batch changes nothing"
    v = ops.remove_vms(g.id, v, names[50:])
    after = ops.group(g.id)
    assert after.version == v and len(after.vms) == 50
    assert [s for _, s in after.vms[:6]] == [False] * 5 + [True]
    with pytest.raises(butler.Conflict):
        ops.add_vms(g.id, v - 1, [names[55]])


def test_validation_findings_codes_and_token_rules(b, ops):
    g, names = drill(b, ops, vms=400, groups=40, mix="realistic")
    report = ops.validate(g.id)
    assert not report.can_migrate
    counts = report.counts()
    for code in ["powered_on", "no_protection_group", "stale_replica", "not_on_source"]:
        assert counts.get(code, 0) > 0, code
    errors = report.findings(severity="error", limit=5)
    assert len(errors) == 5 and all(f.severity == "error" and f.message for f in errors)
    assert len(report) == sum(counts.values())
    with pytest.raises(butler.MigrationRefused, match="error"):
        ops.migrate(report.token)
    pure = butler.validate(ops.group(g.id), ops.refresh(g.id))
    assert pure.counts() == report.counts()


def test_migrate_with_events_callback_and_report(b, ops):
    g, names = drill(b, ops)
    report = ops.validate(g.id)
    assert report.can_migrate, report.findings(limit=3)
    events = []
    result = ops.migrate(report.token, on_event=events.append)
    assert (result.migrated, result.failed, result.skipped) == (20, 0, 0)
    assert events[-1].percent == 100.0
    assert {e.step for e in events} >= {"migrate", "wait", "verify"}
    assert all(b.simulator.vm(n)[0] == "c2-santiago" for n in names)
    stored = ops.report(result.id)
    assert stored.migrated == 20 and "20 migrated" in str(stored)
    assert [r.id for r in ops.reports(g.id)] == [result.id]
    # Cancelling is for runs still running, from any session or process.
    with pytest.raises(butler.InvalidInput, match="has ended"):
        ops.cancel_run(result.id)
    with pytest.raises(butler.NotFound):
        ops.cancel_run(10**9)
    # A used token is stale once the platform changed and facts were refreshed.
    ops.refresh(g.id)
    with pytest.raises(butler.MigrationRefused):
        ops.migrate(report.token)


def test_a_group_that_asks_for_live_moves_moves_running_vms_as_they_run(b, ops):
    g, names = drill(b, ops, vms=4, groups=1, name="live")
    everything_but_domains = [
        "project_remap", "storage_containers", "categories", "task_long_poll", "power",
        "delete", "reconfigure", "idempotent_create", "vm_migration", "live_migration",
    ]
    b.simulator.set_capabilities(everything_but_domains)
    running = names[:2]
    for n in running:
        assert b.simulator.set_power(n, True)
    ops.refresh(g.id)
    assert ops.validate(g.id).counts().get("powered_on") == 2
    g = ops.set_live(g, True)
    assert g.live
    assert ops.validate(g.id).counts().get("moves_not_checked") == 1
    ops.refresh(g.id)
    report = ops.validate(g.id)
    assert report.can_migrate and report.counts() == {}, report.counts()
    assert all(r.move_refusals == [] for r in ops.facts(g.id).rows())
    result = ops.migrate(report.token)
    assert result.migrated == 4 and result.power_cycle == []
    for n in names:
        assert b.simulator.vm(n)[0:2] == ("c2-santiago", "on" if n in running else "off")
    # A platform without live moves: the group cannot have them.
    b.simulator.set_capabilities([c for c in everything_but_domains if c != "live_migration"])
    ops.refresh(g.id)
    assert ops.validate(g.id).counts().get("live_moves_unavailable") == 1


def test_a_group_that_powers_vms_off_needs_the_operators_confirmation(b, ops):
    g, names = drill(b, ops, vms=6, groups=3, name="cycle")
    running = names[:2]
    for n in running:
        assert b.simulator.set_power(n, True)
    ops.refresh(g.id)
    assert ops.validate(g.id).counts().get("powered_on") == 2
    g = ops.set_power_off(g, True)
    assert g.power_off
    report = ops.validate(g.id)
    assert report.can_migrate and report.counts().get("power_off_planned") == 2
    with pytest.raises(butler.MigrationRefused, match="confirm the power-off"):
        ops.start_migration(report.token)
    assert all(b.simulator.vm(n)[0:2] == ("c1-madrid", "on") for n in running)
    events = []
    result = ops.migrate(report.token, on_event=events.append, confirm_power_off=True)
    assert result.migrated == 6 and sorted(result.power_cycle) == sorted(running)
    assert sorted(e.vm for e in events if e.step == "power_on" and e.outcome == "succeeded") == sorted(running)
    for n in names:
        assert b.simulator.vm(n)[0:2] == ("c2-santiago", "on" if n in running else "off")


def test_iterate_progress_cancel_and_retry_failed(b, ops):
    g, names = drill(b, ops, vms=40, groups=20)
    # Scripted, not random: which calls a random rate fails depends on the
    # order calls arrive in, which depends on the machine's load.
    failing = ["drill-pd-000003", "drill-pd-000011", "drill-pd-000017"]
    for pd in failing:
        b.simulator.script_fault("migrate_protection_group", "permanent", key=pd)
    run = ops.start_migration(ops.validate(g.id).token)
    seen = [e for e in run]
    first = run.wait()
    # Two VMs in each protection domain.
    assert seen and first.failed == 2 * len(failing) and first.migrated == 40 - first.failed
    with pytest.raises(butler.InvalidInput):
        run.wait()
    b.simulator.clear_faults()
    ops.refresh(g.id)
    retry = ops.validate_failed(first.id)
    assert retry.can_migrate
    second = ops.migrate(retry.token)
    assert second.migrated == first.failed and sorted(v.vm for v in second.vms) == sorted(first.failed_vms)
    assert all(b.simulator.vm(n)[0] == "c2-santiago" for n in names)


def test_cancel_skips_what_has_not_started(b, ops):
    g, _ = drill(b, ops, vms=40, groups=40)
    run = ops.start_migration(ops.validate(g.id).token)
    for event in run:
        if event.step == "verify" and event.outcome == "succeeded":
            run.cancel()
            break
    report = run.wait()
    # How far the run got before the cancel landed depends on thread timing;
    # what must hold: nothing failed, and every VM either moved or stayed.
    assert report.cancelled
    assert report.migrated + report.skipped == 40 and report.failed == 0
    for v in report.vms:
        where = b.simulator.vm(v.vm)[0]
        if v.outcome == "skipped":
            assert "cancelled" in v.reason and where == "c1-madrid"
        else:
            assert where == "c2-santiago"


def test_viewers_cannot_migrate(b, ops):
    g, _ = drill(b, ops)
    viewer = b.trusted_session("vic", ["viewer"])
    with pytest.raises(butler.PermissionDenied):
        viewer.migrate(viewer.validate(g.id).token)


def test_absurd_fleet_sizes_are_a_typed_error_not_a_panic(b):
    with pytest.raises(butler.InvalidInput, match="vms"):
        b.simulator.generate_fleet(2**62, 1)
    with pytest.raises(butler.InvalidInput, match="groups"):
        b.simulator.generate_fleet(10, 10**9)
    with pytest.raises(OverflowError):
        b.simulator.generate_fleet(-1, 1)


def test_ctrl_c_interrupts_a_long_call_promptly(tmp_path, monkeypatch, request):
    """Ctrl-C ends a call that waits on the platform, whatever the machine's
    speed: the Prism address is a loopback socket of the test's that takes
    the connection and never answers, and the signal is sent only once the
    call is known to be waiting on it."""
    import os
    import signal
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    waiting = threading.Event()
    held = []

    def hold_connections():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            held.append(conn)
            waiting.set()

    def interrupt_once_waiting():
        if waiting.wait(60):
            os.kill(os.getpid(), signal.SIGINT)

    # A process started in the background by a shell inherits SIGINT as
    # ignored, and Python then installs no KeyboardInterrupt handler: put
    # the default one in place for this test, as an interactive run has it.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    request.addfinalizer(lambda: signal.signal(signal.SIGINT, previous))
    threading.Thread(target=hold_connections, daemon=True).start()
    threading.Thread(target=interrupt_once_waiting, daemon=True).start()
    monkeypatch.setenv("BUTLER_NUTANIX_PC_PASSWORD", "x")
    path = tmp_path / "nutanix.toml"
    path.write_text(
        "connect_timeout_secs = 60\nread_timeout_secs = 600\nmax_retries = 0\n"
        f'[prism_central]\nurl = "https://127.0.0.1:{port}"\nusername = "butler"\n'
    )
    b = butler.Butler.nutanix(str(path), demo_catalog=True)
    ops = b.trusted_session("olga", ["operator"])
    try:
        with pytest.raises(KeyboardInterrupt):
            # Waits on the silent socket until interrupted.
            ops.create_group_with_vms("g", "c1-madrid", "c2-santiago", ["vm1"])
            ops.refresh(1)
    finally:
        listener.close()
        for conn in held:
            conn.close()
    assert waiting.is_set()
    # The module still answers afterwards (another platform, no waiting).
    assert butler.Butler.demo(seed=9).simulator.vm_count == 0

def test_a_platform_without_migration_raises_unsupported_naming_the_call(b, ops):
    g, _ = drill(b, ops, vms=4, groups=2, name="nomove")
    with pytest.raises(butler.InvalidInputError, match="teleport"):
        b.simulator.set_capabilities(["teleport"])
    b.simulator.set_capabilities(["protection", "project_remap", "categories"])
    with pytest.raises(butler.UnsupportedError) as err:
        ops.validate(g.id)
    e = err.value
    # Unsupported is a NotImplementedError, and a backend error that
    # retrying will not fix.
    assert isinstance(e, NotImplementedError) and isinstance(e, butler.BackendError)
    assert (e.error_class, e.retryable) == ("unsupported", False)
    assert "migration" in str(e) and e.operation
    assert b.simulator.calls("migrate_protection_group") == 0


def test_a_run_is_followed_from_another_butler_sharing_the_store(tmp_path):
    db = str(tmp_path / "shared.sqlite")
    a = butler.Butler.demo(db_path=db, seed=5)
    b = butler.Butler.demo(db_path=db, seed=5)
    ops_a = a.trusted_session("olga", ["operator"])
    g, names = drill(a, ops_a, vms=6, groups=3, name="followed")
    v = ops_a.validate(g.id)
    assert v.can_migrate
    report = ops_a.start_migration(v.token).wait()
    # b never ran it: it follows what the store holds.
    viewer = b.trusted_session("vic", ["viewer"])
    with pytest.raises(butler.NotFoundError):
        viewer.watch_run(report.id + 100)
    with pytest.raises(butler.InvalidInputError):
        viewer.watch_run(report.id, poll_seconds=0)
    watch = viewer.watch_run(report.id, poll_seconds=0.05)
    assert watch.report is None
    lines = list(watch)
    assert sorted(line.vm for line in lines) == sorted(names)
    assert all(line.outcome == "migrated" for line in lines)
    assert watch.report is not None and watch.report.id == report.id
    assert list(watch) == []
