"""Two Butler instances in Python sharing one PostgreSQL database (the
server scripts/test.sh starts; BUTLER_TEST_POSTGRES_URL names it)."""

import glob
import os
import shutil
import subprocess
import uuid

import pytest

import butler

URL_ENV = "BUTLER_TEST_POSTGRES_URL"


@pytest.fixture
def postgres(monkeypatch):
    """A fresh database on the test server, named by an environment
    variable (as a deployment would name its connection string)."""
    base = os.environ.get(URL_ENV)
    psql = shutil.which("psql") or next(iter(sorted(glob.glob("/usr/lib/postgresql/*/bin/psql"))), None)
    if not base or not psql:
        message = f"{URL_ENV} (and psql) are needed: PostgreSQL tests use scripts/test.sh's server"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    name = f"butler_py_{uuid.uuid4().hex[:12]}"
    run = lambda sql: subprocess.run([psql, base, "-q", "-c", sql], check=True, capture_output=True)
    run(f"CREATE DATABASE {name}")
    monkeypatch.setenv("BUTLER_PY_TEST_DATABASE_URL", base.rsplit("/", 1)[0] + "/" + name)
    yield "BUTLER_PY_TEST_DATABASE_URL"
    run(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_two_instances_share_requests_through_postgresql(postgres):
    a = butler.Butler.demo(postgres_url_env=postgres)
    b = butler.Butler.demo(postgres_url_env=postgres)
    ana = a.trusted_session("ana", ["requester"])
    bea = b.trusted_session("bea", ["approver"])
    r = ana.submit(ana.create_request(butler.VmSpec.demo(f"pg{os.getpid()}")))
    # The other instance reads and approves what the first one wrote.
    seen = bea.get_request(r.id)
    assert seen.state == "requested" and seen.version == r.version
    approved = bea.approve(seen)
    assert ana.get_request(r.id).state == "approved" == approved.state
    # A stale write from the first instance is refused, not lost.
    with pytest.raises(butler.ConflictError):
        ana.cancel(r)


def test_a_missing_or_conflicting_store_setting_is_a_clear_error(postgres, monkeypatch):
    monkeypatch.delenv("BUTLER_NO_SUCH_URL", raising=False)
    with pytest.raises(butler.InvalidInputError, match="set BUTLER_NO_SUCH_URL"):
        butler.Butler.demo(postgres_url_env="BUTLER_NO_SUCH_URL")
    with pytest.raises(butler.InvalidInputError, match="not both"):
        butler.Butler.demo(db_path="x.sqlite", postgres_url_env=postgres)
    monkeypatch.setenv("BUTLER_BAD_URL", "postgres://butler:secret-pw@127.0.0.1:1/none")
    with pytest.raises(butler.ButlerError) as e:
        butler.Butler.demo(postgres_url_env="BUTLER_BAD_URL")
    assert "secret-pw" not in str(e.value)
