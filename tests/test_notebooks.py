"""Every notebook runs top to bottom in a fresh kernel with the smoke profile, without errors."""

from pathlib import Path

import nbformat
import pytest

from course.notebooks import error_outputs, execute

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found in notebooks/"


@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_in_smoke_profile(path, tmp_path, monkeypatch):
    monkeypatch.setenv("DL_PROFILE", "smoke")
    # Train from scratch into a scratch folder: never load, or overwrite, a real run's models.
    monkeypatch.setenv("DL_CHECKPOINT_DIR", str(tmp_path / "runs"))
    # The executed copy goes to tmp_path: the committed notebook keeps its cpu-profile outputs.
    result = execute(path, output_path=tmp_path / path.name, timeout=900)
    assert error_outputs(result) == []
    first_code = next(cell for cell in result.cells if cell.cell_type == "code")
    first_output = "".join(output.get("text", "") for output in first_code.get("outputs", []))
    assert "profile : smoke" in first_output, "the first code cell must print the environment"
    saved = nbformat.read(tmp_path / path.name, as_version=4)
    assert all(c.get("execution_count") for c in saved.cells if c.cell_type == "code")
