import pytest

import butler

CONFIG = """
[prism_central]
url = "https://127.0.0.1:1"
username = "butler"
"""


def test_unknown_config_keys_are_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("BUTLER_NUTANIX_PC_PASSWORD", "x")
    path = tmp_path / "nutanix.toml"
    path.write_text(CONFIG + "max_retrys = 0\n")
    with pytest.raises(butler.InvalidInput, match="max_retrys"):
        butler.Butler.nutanix(str(path), demo_catalog=True)


def test_missing_password_names_the_variable(tmp_path, monkeypatch):
    monkeypatch.delenv("BUTLER_NUTANIX_PC_PASSWORD", raising=False)
    path = tmp_path / "nutanix.toml"
    path.write_text(CONFIG)
    with pytest.raises(butler.InvalidInput, match="BUTLER_NUTANIX_PC_PASSWORD"):
        butler.Butler.nutanix(str(path), demo_catalog=True)


def test_unreachable_prism_is_a_backend_error_and_provisioning_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("BUTLER_NUTANIX_PC_PASSWORD", "s3cret-pw")
    path = tmp_path / "nutanix.toml"
    path.write_text("connect_timeout_secs = 1\nread_timeout_secs = 2\nmax_retries = 0\n" + CONFIG)
    b = butler.Butler.nutanix(str(path), demo_catalog=True)
    assert b.simulator is None
    ops = b.trusted_session("olga", ["operator"])
    with pytest.raises(butler.BackendError) as err:
        ops.create_group_with_vms("g", "c1", "c2", ["vm1"]) and ops.refresh(1)
    assert "s3cret-pw" not in str(err.value)
    with pytest.raises(butler.ButlerError, match="monitoring and billing"):
        b.provision()
    # Requests work without the platform.
    r = b.trusted_session("ana", ["requester"]).create_request(butler.VmSpec.demo("web01"))
    assert r.state == "created"


def test_plain_http_and_credentials_in_urls_are_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("BUTLER_NUTANIX_PC_PASSWORD", "x")
    path = tmp_path / "nutanix.toml"
    path.write_text(CONFIG.replace("https://", "http://"))
    with pytest.raises(butler.InvalidInput, match="plain http"):
        butler.Butler.nutanix(str(path), demo_catalog=True)
    path.write_text(CONFIG.replace("https://", "https://root:pw@"))
    with pytest.raises(butler.InvalidInput, match="no user name or password in the url"):
        butler.Butler.nutanix(str(path), demo_catalog=True)


def test_switched_off_steps_let_a_nutanix_deployment_provision(tmp_path, monkeypatch):
    monkeypatch.setenv("BUTLER_NUTANIX_PC_PASSWORD", "x")
    path = tmp_path / "nutanix.toml"
    path.write_text(CONFIG)
    b = butler.Butler.nutanix(str(path), monitoring=False, billing=False, demo_catalog=True)
    assert b.provision() == {"completed": 0, "failed": 0, "skipped": 0}


def test_deployment_sections_are_checked_and_named(tmp_path, monkeypatch):
    monkeypatch.setenv("BUTLER_NUTANIX_PC_PASSWORD", "x")
    monkeypatch.delenv("BUTLER_BILLING_WEBHOOK_SECRET", raising=False)
    path = tmp_path / "deployment.toml"
    path.write_text(CONFIG + '[billing.webhook]\nurl = "https://bill.example.com/hook"\n')
    with pytest.raises(butler.InvalidInput, match=r"billing\.webhook.*BUTLER_BILLING_WEBHOOK_SECRET"):
        butler.Butler.nutanix(str(path), demo_catalog=True)
    monkeypatch.setenv("BUTLER_BILLING_WEBHOOK_SECRET", "s" * 40)
    monkeypatch.setenv("BUTLER_ICINGA_PASSWORD", "icinga-pw")
    path.write_text(
        CONFIG
        + '[monitoring.icinga]\nurl = "http://icinga:5665"\nusername = "b"\n'
        + '[billing.webhook]\nurl = "https://bill.example.com/hook"\n'
    )
    with pytest.raises(butler.InvalidInput, match=r"monitoring\.icinga.*https"):
        butler.Butler.nutanix(str(path), demo_catalog=True)
    path.write_text(
        CONFIG
        + '[monitoring.icinga]\nurl = "https://icinga:5665"\nusername = "b"\n'
        + '[billing.nutanix_category]\n[billing.webhook]\nurl = "https://bill.example.com/hook"\n'
    )
    b = butler.Butler.nutanix(str(path), demo_catalog=True)
    # Both steps have adapters: this Butler provisions (nothing approved yet).
    assert b.provision() == {"completed": 0, "failed": 0, "skipped": 0}


def test_a_real_deployment_names_its_catalog_and_migration_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("BUTLER_NUTANIX_PC_PASSWORD", "x")
    path = tmp_path / "nutanix.toml"
    path.write_text(CONFIG)
    # No silent demo catalog on a real platform.
    with pytest.raises(ValueError, match="catalog="):
        butler.Butler.nutanix(str(path))
    b = butler.Butler.nutanix(
        str(path),
        catalog=butler.Catalog.demo(),
        rate_book=butler.RateBook.demo(),
        project_map={"prod-project": {"c2-santiago": "dr-project"}},
        recreate_schedules=[("c1-madrid", 60, 24)],
        max_parallel=4,
        deadline_seconds=3600,
    )
    assert b.simulator is None
    for bad in [
        {"max_parallel": 0},
        {"deadline_seconds": -1},
        {"recreate_schedules": [("", 60, 24)]},
    ]:
        with pytest.raises(butler.exceptions.InvalidInputError):
            butler.Butler.nutanix(str(path), demo_catalog=True, **bad)


def test_butler_needs_a_deployment_file_and_the_demo_is_asked_for_by_name(tmp_path, monkeypatch):
    with pytest.raises(TypeError):
        butler.Butler()  # type: ignore[call-arg]
    monkeypatch.setenv("BUTLER_NUTANIX_PC_PASSWORD", "x")
    path = tmp_path / "deployment.toml"
    path.write_text(CONFIG)
    # No demo data unless asked for.
    with pytest.raises(butler.InvalidInputError, match="catalog= and rate_book="):
        butler.Butler(str(path))
    b = butler.Butler(
        str(path), catalog=butler.Catalog.demo(), rate_book=butler.RateBook.demo(),
        monitoring=False, billing=False, four_eyes=False,
    )
    assert b.simulator is None
    bea = b.trusted_session("bea", ["requester", "approver"])
    r = bea.submit(bea.create_request(butler.VmSpec.demo("own01")))
    assert bea.approve(r).state == "approved", "four_eyes=False: approvers approve their own"
    demo = butler.Butler.demo()
    assert demo.simulator is not None
