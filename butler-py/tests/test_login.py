"""Stored users and login from Python (SPEC §1): no user enumeration,
disabled users, and sessions that cannot gain roles."""

import statistics
import time

import pytest

import butler

ROOT_PW = "root's long test password"


@pytest.fixture
def b():
    b = butler.Butler.demo(seed=3)
    root = b.bootstrap_admin("root", ROOT_PW)
    root.add_user("ana", ["requester"], "ana's long password")
    root.add_user("bea", ["approver"], "bea's long password")
    return b


def test_login_gives_a_session_with_the_stored_roles(b):
    ana = b.login("ana", "ana's long password")
    assert (ana.user, ana.roles) == ("ana", ["requester"])
    r = ana.create_request(butler.VmSpec.demo("web01"))
    assert r.owner == "ana"
    with pytest.raises(butler.PermissionDenied):
        ana.approve(r.id, r.version)


def test_wrong_password_unknown_and_disabled_users_look_alike(b):
    root = b.login("root", ROOT_PW)
    root.set_user_disabled("bea", True)
    messages = []
    for name, pw in [("ana", "not the password"), ("nobody", "whatever password"), ("bea", "bea's long password")]:
        with pytest.raises(butler.LoginError) as e:
            b.login(name, pw)
        messages.append(str(e.value))
    assert len(set(messages)) == 1, messages


def test_a_missing_user_costs_the_same_time_as_a_wrong_password(b):
    def median_seconds(name):
        times = []
        for _ in range(7):
            t = time.perf_counter()
            with pytest.raises(butler.LoginError):
                b.login(name, "a wrong password!")
            times.append(time.perf_counter() - t)
        return statistics.median(times)

    known, unknown = median_seconds("ana"), median_seconds("nobody-at-all")
    # Both pay one Argon2id verification; without the decoy the unknown
    # name would answer in microseconds, hundreds of times faster.
    assert unknown > known / 3, (known, unknown)


def test_sessions_cannot_gain_roles(b):
    ana = b.login("ana", "ana's long password")
    with pytest.raises(AttributeError):
        ana.roles = ["admin"]
    with pytest.raises(AttributeError):
        ana.actor = None
    with pytest.raises(TypeError):
        butler.Session()
    assert ana.roles == ["requester"]
    with pytest.raises(butler.PermissionDenied):
        ana.add_user("eve", ["admin"], "eve's long password!")


def test_admins_manage_users_and_names_and_passwords_are_checked(b):
    root = b.login("root", ROOT_PW)
    with pytest.raises(butler.InvalidInput):
        root.add_user("p\u0430ypal", ["viewer"], "a long enough password")  # Cyrillic а
    with pytest.raises(butler.InvalidInput):
        root.add_user("butler-engine", ["admin"], "a long enough password")
    with pytest.raises(butler.InvalidInput):
        root.add_user("zoe", ["viewer"], " " * 20)
    with pytest.raises(butler.InvalidInput):
        root.add_user("zoe", ["engine"], "a long enough password")
    with pytest.raises(butler.Conflict):
        root.add_user("ana", ["viewer"], "a long enough password")
    with pytest.raises(butler.Conflict):
        b.bootstrap_admin("eve", "eve's long password")
    root.set_user_roles("ana", ["requester", "approver"])
    assert b.login("ana", "ana's long password").roles == ["requester", "approver"]
    ana = b.login("ana", "ana's long password")
    ana.change_password("ana's long password", "ana's new long password")
    with pytest.raises(butler.LoginError):
        b.login("ana", "ana's long password")
    root.remove_user("bea")
    assert [u[0] for u in root.users()] == ["ana", "root"]


def test_four_eyes_hold_unless_the_deployment_switches_them_off(b):
    root = b.login("root", ROOT_PW)
    root.set_user_roles("bea", ["approver"])
    bea = b.login("bea", "bea's long password")
    r = bea.submit(*_draft(bea))
    with pytest.raises(butler.PermissionDenied, match="four eyes"):
        bea.approve(r.id, r.version)
    lax = butler.Butler.demo(four_eyes=False)
    solo = lax.trusted_session("bea", ["approver"])
    r = solo.submit(*_draft(solo))
    assert solo.approve(r.id, r.version).state == "approved"


def _draft(s):
    r = s.create_request(butler.VmSpec.demo("mine"))
    return r.id, r.version


def test_tokens_travel_as_text_and_tampering_is_refused(b):
    root = b.login("root", ROOT_PW)
    root.add_user("olga", ["operator"], "olga's long password")
    ops = b.login("olga", "olga's long password")
    names = b.simulator.generate_fleet(4, 1)
    g = ops.create_group_with_vms("drill", "c1-madrid", "c2-santiago", names)
    ops.refresh(g.id)
    token = ops.validate(g.id).token
    text = str(token)
    back = ops.parse_token(text)
    assert (back.group_id, back.group_version) == (token.group_id, token.group_version)
    tampered = text[:-3] + ("AAA" if not text.endswith("AAA") else "BBB")
    with pytest.raises(butler.MigrationRefused):
        ops.parse_token(tampered)
    report = ops.migrate(back)
    assert all(v.outcome == "migrated" for v in report.vms)


def test_rust_warnings_reach_python_logging(caplog):
    import logging

    with caplog.at_level(logging.WARNING):
        butler.Butler.demo(four_eyes=False)
    assert any("four eyes are OFF" in r.getMessage() for r in caplog.records), caplog.records
