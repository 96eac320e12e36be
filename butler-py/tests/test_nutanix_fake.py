"""A platform team's script against Prism over HTTP: the fake Prism runs as
its own process (``examples/fake_prism.rs``; ``scripts/test.sh`` builds it
and sets ``BUTLER_FAKE_PRISM_BIN``), Butler is configured from the
deployment file it writes, and a group migrates with its projects
remapped."""

import butler

def test_a_script_migrates_a_group_with_its_projects_remapped(fake_prism):
    config, source, destination, names = fake_prism
    assert len(names) == 40
    b = butler.Butler.nutanix(
        str(config),
        catalog=butler.Catalog.demo(),
        rate_book=butler.RateBook.demo(),
        project_map={"prod-project": {destination: "dev-project"}},
        max_parallel=4,
        deadline_seconds=120,
    )
    assert b.simulator is None, "a real HTTP platform, not the in-process simulator"
    ops = b.trusted_session("olga", ["operator"])
    g = ops.create_group_with_vms("remap", source, destination, names)
    before = ops.refresh(g.id).rows()
    assert {(r.cluster, r.project) for r in before} == {(source, "prod-project")}
    report = ops.validate(g.id)
    assert report.can_migrate, [f.message for f in report.findings(severity="error")]
    events = []
    result = ops.migrate(report.token, on_event=events.append)
    assert (result.migrated, result.failed, result.still_running) == (40, 0, 0)
    assert events, "progress events reached the script"
    after = ops.refresh(g.id).rows()
    assert {(r.cluster, r.project) for r in after} == {(destination, "dev-project")}
