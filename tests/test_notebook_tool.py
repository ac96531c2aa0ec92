"""The notebook tool: the normaliser keeps what readers see, the runner picks the right kernel."""

import json
import sys

import nbformat
import pytest

from course import notebooks
from course.notebooks import error_outputs, execute, normalize


def make_notebook():
    cell = nbformat.v4.new_code_cell("print(1)")
    cell.metadata["execution"] = {"iopub.execute_input": "2026-01-01T00:00:00Z"}
    cell.metadata["tags"] = ["keep-me"]
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="1\n")]
    notebook = nbformat.v4.new_notebook(cells=[cell])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    notebook.metadata["language_info"] = {"name": "python", "version": "3.11.7"}
    notebook.metadata["widgets"] = {"state": {}}
    return notebook


def test_normalize_strips_volatile_metadata_and_keeps_outputs():
    notebook = normalize(make_notebook())
    cell = notebook.cells[0]
    assert "execution" not in cell.metadata
    assert cell.metadata["tags"] == ["keep-me"]
    assert cell.outputs[0]["text"] == "1\n"
    assert notebook.metadata["language_info"] == {"name": "python"}
    assert "widgets" not in notebook.metadata
    assert notebook.metadata["kernelspec"]["name"] == "python3"


def test_normalize_is_idempotent():
    once = normalize(make_notebook())
    twice = normalize(nbformat.from_dict(once))
    assert nbformat.writes(once) == nbformat.writes(twice)


def test_error_outputs_are_reported():
    notebook = make_notebook()
    notebook.cells[0].outputs.append(
        nbformat.v4.new_output("error", ename="ValueError", evalue="bad", traceback=[])
    )
    assert error_outputs(notebook) == ["ValueError: bad"]


# The runner: which interpreter and profile a kernel gets, and what it refuses to overwrite. ----


def _write_tiny_notebook(path):
    code = "import os, sys\nprint(sys.executable)\nprint(os.environ['DL_PROFILE'])"
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nbformat.write(notebook, path)
    return path


def test_the_kernel_runs_on_this_interpreter_with_the_chosen_profile(tmp_path, monkeypatch):
    # A stray "python3" kernelspec first on Jupyter's path, as another install might leave one.
    stray = tmp_path / "jupyter" / "kernels" / "python3"
    stray.mkdir(parents=True)
    spec = {"argv": ["/bin/false", "{connection_file}"], "display_name": "stray"}
    (stray / "kernel.json").write_text(json.dumps(spec))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("DL_PROFILE", "smoke")  # execute's profile must win over the environment
    source = _write_tiny_notebook(tmp_path / "tiny.ipynb")
    committed = source.read_text()
    target = tmp_path / "copies" / "tiny.ipynb"
    result = execute(source, profile="cpu", output_path=target, timeout=120)
    assert result.cells[0].outputs[0]["text"].split() == [sys.executable, "cpu"]
    assert source.read_text() == committed
    recorded = nbformat.read(target, as_version=4).metadata["course"]
    assert recorded["profile"] == "cpu" and recorded["seconds"] >= 0
    assert recorded["reused_training"] is False  # nothing under DL_CHECKPOINT_DIR for "tiny"


def test_the_record_says_when_the_chapter_had_runs_to_load(tmp_path, monkeypatch):
    from course.checkpoint import runs_root

    monkeypatch.setenv("DL_CHECKPOINT_DIR", str(tmp_path / "runs"))
    source = _write_tiny_notebook(tmp_path / "01_tiny.ipynb")
    target = tmp_path / "copies" / "01_tiny.ipynb"
    execute(source, profile="cpu", output_path=target, timeout=120)
    assert nbformat.read(target, as_version=4).metadata["course"]["reused_training"] is False
    finished = runs_root() / "tiny" / "cpu" / "model"
    finished.mkdir(parents=True)
    execute(source, profile="cpu", output_path=target, timeout=120)
    assert nbformat.read(target, as_version=4).metadata["course"]["reused_training"] is True


def test_a_smoke_run_never_replaces_the_notebook(tmp_path):
    source = _write_tiny_notebook(tmp_path / "tiny.ipynb")
    committed = source.read_text()
    with pytest.raises(ValueError, match="smoke profile is for tests"):
        execute(source, profile="smoke")
    assert source.read_text() == committed


def _record_runs(monkeypatch):
    runs = []
    monkeypatch.setattr(notebooks, "execute", lambda path, **kwargs: runs.append((path, kwargs)))
    return runs


def test_the_command_refuses_smoke_in_place_before_running_anything(
    tmp_path, monkeypatch, capsys
):
    runs = _record_runs(monkeypatch)
    monkeypatch.setenv("DL_PROFILE", "smoke")
    with pytest.raises(SystemExit) as exit_info:
        notebooks.main(["run", str(_write_tiny_notebook(tmp_path / "tiny.ipynb"))])
    assert exit_info.value.code == 2
    assert "OUTPUT_DIR" in capsys.readouterr().err
    assert runs == []


def test_the_command_prints_its_plan_then_runs_smoke_into_the_output_dir(
    tmp_path, monkeypatch, capsys
):
    runs = _record_runs(monkeypatch)
    source = _write_tiny_notebook(tmp_path / "tiny.ipynb")
    copies = tmp_path / "copies"
    notebooks.main(["run", str(source), "--profile", "smoke", "--output-dir", str(copies)])
    assert runs == [(source, {"profile": "smoke", "output_path": copies / "tiny.ipynb"})]
    printed = capsys.readouterr().out
    assert printed.startswith("Plan: 1 notebook(s), profile smoke.")
    assert "nothing is downloaded" in printed


def test_an_unknown_profile_is_refused_by_the_command_line(tmp_path, monkeypatch, capsys):
    runs = _record_runs(monkeypatch)
    with pytest.raises(SystemExit) as exit_info:
        notebooks.main(["run", str(tmp_path / "x.ipynb"), "--profile", "laptop"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'laptop'" in capsys.readouterr().err
    assert runs == []
