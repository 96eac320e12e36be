"""The Butler story from Python: a request through approval and provisioning,
then a migration drill with live progress.

    bash scripts/test.sh          # builds the module into .venv once
    .venv/bin/python examples/python_quickstart.py
"""

import butler


def main() -> None:
    b = butler.Butler.demo()  # simulated platform + in-memory SQLite store
    root = b.bootstrap_admin("root", "root's long demo password")
    for name, role in [("ana", "requester"), ("bea", "approver"), ("olga", "operator")]:
        root.add_user(name, [role], f"{name}'s long demo password")
    ana = b.login("ana", "ana's long demo password")
    bea = b.login("bea", "bea's long demo password")
    olga = b.login("olga", "olga's long demo password")

    spec = butler.VmSpec.demo("web01")
    spec.name = "web 01"
    try:
        ana.create_request(spec)
    except butler.ValidationError as e:
        for p in e.problems:
            print(f"refused: [{p.code}] {p.field}: {p.message}")

    spec.name = "web01"
    r = ana.create_request(spec)
    print(f"request {r.id}: {r.estimate.total} {r.estimate.currency}/month")
    for line in r.estimate.lines:
        print("  ", line)
    r = ana.submit(r.id, r.version)
    r = bea.approve(r.id, r.version)
    print("provisioning:", b.provision())
    r = bea.get_request(r.id)
    for h in r.history:
        print("  ", h)

    names = b.simulator.generate_fleet(50, 10, mix="realistic")
    g = olga.create_group_with_vms("drill", "c1-madrid", "c2-santiago", names)
    olga.refresh(g.id)
    report = olga.validate(g.id)
    print(f"validation: {report.errors} errors, {report.warnings} warnings; {report.counts()}")
    for f in report.findings(severity="error", limit=3):
        print("  ", f.message)

    # Keep only the VMs without errors. Deselecting a VM can leave its
    # protection domain half selected (an error too), so repeat until clean.
    dropped = 0
    while not report.can_migrate and report.findings(severity="error", limit=1)[0].vm:
        for name in {f.vm for f in report.findings(severity="error") if f.vm}:
            g = olga.select(g.id, g.version, name, False)
            dropped += 1
        report = olga.validate(g.id)
    print(f"after deselecting {dropped} VMs: can migrate = {report.can_migrate}")
    if report.can_migrate:
        result = olga.migrate(report.token, on_event=lambda e: print(f"  {e.percent:5.1f}% {e.step} {e.vm or e.protection_group or ''} {e.outcome}"))
        print(result)


if __name__ == "__main__":
    main()
