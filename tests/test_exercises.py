"""Exercises: every published solution passes its check, and wrong or unfinished answers do not.

A chapter takes part once its package has an ``exercises`` module; its notebook's solution blocks
(``course.exercises.solutions``) are run here exactly as a learner would paste them.
"""

import ast
import importlib
import importlib.util
from pathlib import Path

import nbformat
import numpy as np
import pytest
from nbformat.v4 import new_markdown_cell, new_notebook

from course.exercises import FAIL, PASS, TODO, check_close, check_function, solutions

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


def _chapters():
    for path in NOTEBOOKS:
        package = path.stem.split("_", 1)[1]
        if importlib.util.find_spec(f"{package}.exercises") is not None:
            yield pytest.param(path, package, id=package)


CHAPTERS = list(_chapters())


def _solved(path):
    """{function name: function} for every function the notebook's solution blocks define."""
    functions = {}
    for code in solutions(nbformat.read(path, as_version=4)):
        namespace = {}
        exec(compile(code, f"{path.name} solution", "exec"), namespace)  # noqa: S102
        for node in ast.parse(code).body:
            if isinstance(node, ast.FunctionDef):
                assert node.name not in functions, f"two solutions define {node.name}"
                functions[node.name] = namespace[node.name]
    return functions


@pytest.mark.parametrize(("path", "package"), CHAPTERS)
def test_every_check_has_a_solution_that_passes_it(path, package, capsys):
    checks = importlib.import_module(f"{package}.exercises").CHECKS
    solved = _solved(path)
    assert set(solved) >= set(checks), f"no solution block for {set(checks) - set(solved)}"
    for name, check in checks.items():
        assert check(solved[name]) == PASS, f"{name}: {capsys.readouterr().out}"


def _raises(*args, **kwargs):
    raise ValueError("a bug in the learner's code")


@pytest.mark.parametrize(("path", "package"), CHAPTERS)
def test_unfinished_and_wrong_answers_are_told_apart(path, package, capsys):
    for name, check in importlib.import_module(f"{package}.exercises").CHECKS.items():
        assert check(lambda *args, **kwargs: None) == TODO, name
        assert check(_raises) == FAIL, name
        assert check(lambda *args, **kwargs: 12345.0) == FAIL, name
    out = capsys.readouterr().out
    assert "[TODO] not done yet" in out and "raised ValueError: a bug" in out


def test_check_close_verdicts(capsys):
    assert check_close([1.0, 2.0], np.array([1.0, 2.0]), "hint") == PASS
    assert check_close(None, [1.0], "hint") == TODO
    assert check_close([1.0, 2.5], [1.0, 2.0], "look again") == FAIL
    assert check_close([1.0], [1.0, 2.0], "hint") == FAIL
    assert check_close("abc", [1.0], "hint") == FAIL
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "[PASS]" and out[1].startswith("[TODO]")
    assert out[2] == "[FAIL] look again (largest difference from the expected answer: 0.5)"
    assert "shape (1,), expected (2,)" in out[3] and "not an array of numbers" in out[4]


def test_a_verdict_is_its_word_and_jupyter_does_not_echo_it(capsys):
    from IPython.core.interactiveshell import InteractiveShell

    answer = check_close([1.0], [1.0], "hint")
    assert answer == PASS and capsys.readouterr().out == "[PASS]\n"
    # A kernel sends an execute_result only when the formatter returns data for the value.
    formatter = InteractiveShell.instance().display_formatter
    assert formatter.format(answer) == ({}, {})
    assert formatter.format(str(answer))[0]["text/plain"] == "'PASS'"
    InteractiveShell.clear_instance()


def test_check_function_turns_an_exception_into_a_verdict(capsys):
    assert check_function(lambda x: x + 1, (1,), 2, "hint") == PASS
    assert check_function(_raises, (1,), 2, "hint") == FAIL
    assert "your function raised ValueError" in capsys.readouterr().out


def test_solutions_are_read_from_collapsed_blocks_only():
    text = (
        "Try it.\n\n<details><summary>Solution</summary>\n\n```python\ndef f(x):\n"
        "    return 2 * x\n```\n</details>\n\n```python\nnot_a_solution = 1\n```\n"
        "<details><summary>Hint</summary>\n\n```python\nhint = 1\n```\n</details>"
    )
    notebook = new_notebook(cells=[new_markdown_cell(text), new_markdown_cell("no code")])
    assert solutions(notebook) == ["def f(x):\n    return 2 * x\n"]
