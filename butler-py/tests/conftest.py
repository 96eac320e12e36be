import os
import subprocess

import pytest

import butler


@pytest.fixture
def b():
    return butler.Butler.demo(seed=7)


@pytest.fixture
def ana(b):
    return b.trusted_session("ana", ["requester"])


@pytest.fixture
def bea(b):
    return b.trusted_session("bea", ["approver"])


@pytest.fixture
def ops(b):
    return b.trusted_session("olga", ["operator"])


FAKE = os.environ.get("BUTLER_FAKE_PRISM_BIN")
PASSWORD_VARS = [
    "BUTLER_NUTANIX_PC_PASSWORD",
    "BUTLER_NUTANIX_C1_MADRID_PASSWORD",
    "BUTLER_NUTANIX_C2_SANTIAGO_PASSWORD",
]


@pytest.fixture
def fake_prism(tmp_path, monkeypatch):
    if not FAKE:
        message = (
            "BUTLER_FAKE_PRISM_BIN is not set: build it with "
            "`cargo build --example fake_prism --features fake-prism`"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    config = tmp_path / "nutanix.toml"
    proc = subprocess.Popen(
        [FAKE, str(config), "40", "4"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        ready = proc.stdout.readline().split()
        fleet = proc.stdout.readline().split()
        assert ready[0] == "ready" and fleet[0] == "fleet", (ready, fleet)
        for var in PASSWORD_VARS:
            monkeypatch.setenv(var, ready[3])
        yield config, fleet[1], fleet[2], fleet[3].split(",")
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        proc.wait(timeout=30)
