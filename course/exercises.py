"""Exercise checks shared by the chapters: a verdict a learner can act on, never an exception.

Each chapter package has an ``exercises`` module. Its ``check_*`` functions call the learner's
function on fixed inputs, compare the answer with the package's own implementation through
:func:`check_function`, print ``[PASS]``, ``[FAIL] what is wrong`` or ``[TODO] not done yet``,
and return that word. They never raise, so a notebook runs top to bottom with every exercise
left undone. The module's ``CHECKS`` maps each exercise's function name to its check.

The solutions live once, in the notebook, as a fenced ``python`` block inside a collapsed
``<details>`` block whose summary starts with "Solution". :func:`solutions` reads them back, so a
test runs every published solution through its check.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np

PASS, FAIL, TODO = "PASS", "FAIL", "TODO"

_DETAILS = re.compile(r"<details>\s*<summary>\s*Solution.*?</summary>(.*?)</details>", re.S | re.I)
_PYTHON_FENCE = re.compile(r"```python\n(.*?)```", re.S)


class Verdict(str):
    """The word a check returns ("PASS", "FAIL", "TODO"). It was printed already, with its
    reason, so Jupyter does not echo it again when a check is a cell's last line."""

    def _ipython_display_(self) -> None:
        pass


def verdict(status: str, message: str = "") -> Verdict:
    """Print ``[status] message`` and return ``status``."""
    if status == TODO and not message:
        message = "not done yet: the function returns None."
    print(f"[{status}] {message}".rstrip())
    return Verdict(status)


def check_close(answer: Any, expected: Any, hint: str, *, rtol: float = 1e-4,
                atol: float = 1e-6) -> str:
    """Compare a numeric answer (number, sequence or array) with the expected one."""
    if answer is None:
        return verdict(TODO)
    try:
        answer = np.asarray(answer, dtype="float64")
    except (TypeError, ValueError) as error:
        return verdict(FAIL, f"the answer is not an array of numbers: {error}")
    expected = np.asarray(expected, dtype="float64")
    if answer.shape != expected.shape:
        return verdict(FAIL, f"the answer has shape {answer.shape}, expected {expected.shape}. "
                             f"{hint}")
    if not np.allclose(answer, expected, rtol=rtol, atol=atol, equal_nan=True):
        worst = np.nanmax(np.abs(answer - expected)) if answer.size else 0.0
        return verdict(FAIL, f"{hint} (largest difference from the expected answer: {worst:.3g})")
    return verdict(PASS)


def attempt(call: Callable[[], Any]) -> tuple[Any, Verdict | None]:
    """Run the learner's code, ``call()``: (its answer, None), or (None, the verdict already
    printed) when it raised ([FAIL]) or is not done ([TODO]: None, or a list or tuple of
    answers with a None in it)."""
    try:
        answer = call()
    except Exception as error:  # noqa: BLE001 - a learner's bug becomes a verdict, not a crash
        return None, verdict(FAIL, f"your function raised {type(error).__name__}: {error}")
    if answer is None or (isinstance(answer, list | tuple) and any(a is None for a in answer)):
        return None, verdict(TODO)
    return answer, None


def check_function(function: Callable, args: tuple, expected: Any, hint: str,
                   **tolerance: float) -> str:
    """Call ``function(*args)`` and compare its answer with ``expected`` (see check_close)."""
    answer, failed = attempt(lambda: function(*args))
    return failed or check_close(answer, expected, hint, **tolerance)


def solutions(notebook) -> list[str]:
    """The code of every solution block in a notebook's markdown cells, in order."""
    codes = []
    for cell in notebook.cells:
        if cell.cell_type != "markdown":
            continue
        for block in _DETAILS.findall(cell.source):
            codes.extend(code.strip() + "\n" for code in _PYTHON_FENCE.findall(block))
    return codes
