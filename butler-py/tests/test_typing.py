"""The stubs give scripts real types: closed vocabularies are Literal, so
mypy catches a misspelt state or role before the script runs."""

import subprocess
import sys
import textwrap

import pytest

mypy = pytest.importorskip("mypy")


def _mypy(tmp_path, source):
    f = tmp_path / "script.py"
    f.write_text(textwrap.dedent(source))
    run = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(f)],
        capture_output=True,
        text=True,
    )
    return run.returncode, run.stdout


def test_a_correct_script_type_checks(tmp_path):
    code, out = _mypy(
        tmp_path,
        """
        import butler
        b = butler.Butler.demo()
        root = b.bootstrap_admin("root", "a long admin password")
        root.add_user("ana", ["requester"], "ana's long password")
        r = b.login("ana", "ana's long password").create_request(butler.VmSpec.demo("web01"))
        if r.state == "created":
            print(r.id)
        try:
            root.get_request(99)
        except butler.exceptions.NotFoundError as e:
            print(e.what)
        """,
    )
    assert code == 0, out


def test_misspelt_states_and_roles_are_type_errors(tmp_path):
    code, out = _mypy(
        tmp_path,
        """
        import butler
        b = butler.Butler.demo()
        root = b.bootstrap_admin("root", "a long admin password")
        r = root.list_requests(states=["complete"])
        root.add_user("bob", ["boss"], "bob's long password")
        """,
    )
    assert code == 1, out
    assert "complete" in out and "boss" in out, out


def test_the_asyncio_face_is_typed(tmp_path):
    code, out = _mypy(
        tmp_path,
        """
        import asyncio
        import butler
        import butler.aio

        async def main() -> None:
            b = butler.Butler.demo()
            root = b.bootstrap_admin("root", "a long admin password")
            root.add_user("ana", ["requester"], "ana's long password")
            ana = await butler.aio.AsyncButler(b).login("ana", "ana's long password")
            r = await ana.create_request(butler.VmSpec.demo("web01"))
            n: int = await ana.submit(r)

        asyncio.run(main())
        """,
    )
    assert code == 1 and 'has type "Request"' in out, out
