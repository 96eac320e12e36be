import asyncio

import butler
import butler.aio


def test_async_sessions_run_the_workflow_and_follow_a_migration():
    async def main():
        b = butler.Butler.demo()
        ab = butler.aio.AsyncButler(b)
        ana, bea, ops = ab.trusted_session("ana", ["requester"]), ab.trusted_session("bea", ["approver"]), ab.trusted_session("olga", ["operator"])
        assert ana.user == "ana"
        r = await ana.create_request(butler.VmSpec.demo("web01"))
        r = await ana.submit(r.id, r.version)
        # Two users at once on the same loop.
        r2, page = await asyncio.gather(bea.approve(r.id, r.version), bea.list_requests())
        assert r2.state == "approved" and page.total == 1
        assert (await ab.provision())["completed"] == 1
        names = b.simulator.generate_fleet(10, 2)
        g = await ops.create_group_with_vms("drill", "c1-madrid", "c2-santiago", names)
        await ops.refresh(g.id)
        report = await ops.validate(g.id)
        run = await ops.start_migration(report.token)
        seen = [e async for e in butler.aio.events(run)]
        result = await asyncio.to_thread(run.wait)
        assert seen and seen[-1].percent == 100.0 and result.migrated == 10
        try:
            await bea.approve(r.id, r.version)
        except butler.Conflict:
            pass
        else:
            raise AssertionError("a stale version must conflict")

    asyncio.run(main())
