import pathlib
import runpy


def test_python_quickstart_runs(capsys):
    root = pathlib.Path(__file__).resolve().parents[2]
    runpy.run_path(str(root / "examples" / "python_quickstart.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "refused: [name_invalid]" in out
    assert "'completed': 1" in out
    assert "can migrate = True" in out
    assert "0 failed, 0 skipped" in out
