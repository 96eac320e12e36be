"""Request events reach a Python callback, off the workflow's path; a
callback that raises never breaks the workflow."""

import threading
import time

import butler


def _wait(pred, seconds=5.0):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.01)
    return False


def test_every_state_change_reaches_the_callback():
    seen = []
    lock = threading.Lock()

    def on_event(e):
        with lock:
            seen.append(e)

    b = butler.Butler.demo(on_event=on_event)
    root = b.bootstrap_admin("root", "a long admin password")
    root.add_user("ana", ["requester"], "ana's long password")
    root.add_user("bea", ["approver"], "bea's long password")
    ana, bea = b.login("ana", "ana's long password"), b.login("bea", "bea's long password")
    r = bea.approve(ana.submit(ana.create_request(butler.VmSpec.demo("web01"))))
    b.provision()
    assert _wait(lambda: any(e.to_state == "completed" for e in list(seen)))
    states = [e.to_state for e in seen if e.request == r.id]
    assert states[:3] == ["created", "requested", "approved"], states
    first = seen[0]
    assert isinstance(first, butler.RequestEvent)
    assert first.from_state is None and first.requester == "ana" and first.actor == "ana"


def test_a_raising_callback_changes_nothing():
    def boom(e):
        raise RuntimeError("the script's own bug")

    b = butler.Butler.demo(on_event=boom)
    root = b.bootstrap_admin("root", "a long admin password")
    root.add_user("ana", ["requester"], "ana's long password")
    ana = b.login("ana", "ana's long password")
    r = ana.submit(ana.create_request(butler.VmSpec.demo("web01")))
    assert r.state == "requested"
    # The failed deliveries wait in the outbox; an Admin sees them and why.
    failed = []

    def listed():
        failed[:] = [d for d in root.failed_deliveries() if d.request == r.id]
        return len(failed) == 2

    assert _wait(listed), failed
    assert {d.to_state for d in failed} == {"created", "requested"}
    for d in failed:
        assert isinstance(d, butler.types.FailedDelivery)
        assert d.notifier == "python" and not d.gave_up and d.attempts >= 1
        assert "the script's own bug" in d.last_error and d.next_at is not None
    try:
        ana.failed_deliveries()
    except butler.PermissionDenied:
        pass
    else:
        raise AssertionError("only Admins see failed deliveries")
    try:
        root.failed_deliveries(limit=0)
    except ValueError as e:
        assert "limit" in str(e)
    else:
        raise AssertionError("a bad limit is refused")
