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
        butler.Butler.nutanix(str(path))


def test_missing_password_names_the_variable(tmp_path, monkeypatch):
    monkeypatch.delenv("BUTLER_NUTANIX_PC_PASSWORD", raising=False)
    path = tmp_path / "nutanix.toml"
    path.write_text(CONFIG)
    with pytest.raises(butler.InvalidInput, match="BUTLER_NUTANIX_PC_PASSWORD"):
        butler.Butler.nutanix(str(path))


def test_unreachable_prism_is_a_backend_error_and_provisioning_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("BUTLER_NUTANIX_PC_PASSWORD", "s3cret-pw")
    path = tmp_path / "nutanix.toml"
    path.write_text("connect_timeout_secs = 1\nread_timeout_secs = 2\nmax_retries = 0\n" + CONFIG)
    b = butler.Butler.nutanix(str(path))
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
        butler.Butler.nutanix(str(path))
    path.write_text(CONFIG.replace("https://", "https://root:pw@"))
    with pytest.raises(butler.InvalidInput, match="no user name or password in the url"):
        butler.Butler.nutanix(str(path))


def test_switched_off_steps_let_a_nutanix_deployment_provision(tmp_path, monkeypatch):
    monkeypatch.setenv("BUTLER_NUTANIX_PC_PASSWORD", "x")
    path = tmp_path / "nutanix.toml"
    path.write_text(CONFIG)
    b = butler.Butler.nutanix(str(path), monitoring=False, billing=False)
    assert b.provision() == {"completed": 0, "failed": 0, "skipped": 0}
