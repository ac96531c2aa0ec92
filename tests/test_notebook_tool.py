"""The notebook normaliser strips volatile metadata and keeps what the reader sees."""

import nbformat

from course.notebooks import error_outputs, normalize


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
