"""Every committed notebook, read without running it, is a real run that renders.

``course.notebooks.static_problems`` does the reading; the tests below it feed it notebooks with
one defect each, so a check that stopped working would show here.
"""

from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from course.notebooks import static_problems

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_committed_notebook_ran_in_order_with_a_real_profile_and_renders(path):
    assert static_problems(nbformat.read(path, as_version=4)) == []


def _notebook(profile="cpu", counts=(1, 2), markdown="The loss $L$."):
    report = new_output("stream", name="stdout", text=f"profile : {profile}\nkeras   : 3\n")
    cells = [new_markdown_cell(markdown)]
    for number, count in enumerate(counts):
        cells.append(new_code_cell(f"x = {number}", execution_count=count))
    cells[1].outputs = [report]
    return new_notebook(cells=cells)


def test_a_clean_notebook_has_no_problems():
    markdown = r"$$B = \frac{1}{z}\begin{pmatrix}\cos\theta & 0\\ 0 & 1\end{pmatrix}$$, $\nabla L$"
    assert static_problems(_notebook(markdown=markdown)) == []


@pytest.mark.parametrize("counts", [(1, 3), (2, 1), (None, None), (1, 2, 2)])
def test_cells_not_run_once_in_order_are_reported(counts):
    assert "execution counts" in " ".join(static_problems(_notebook(counts=counts)))


def test_error_outputs_are_reported():
    notebook = _notebook()
    notebook.cells[2].outputs = [new_output("error", ename="KeyError", evalue="'x'", traceback=[])]
    assert static_problems(notebook) == ["error output KeyError: 'x'"]


@pytest.mark.parametrize("profile", ["smoke", "SMOKE", ""])
def test_a_first_output_without_the_cpu_or_gpu_profile_is_reported(profile):
    assert "profile" in " ".join(static_problems(_notebook(profile=profile)))


def test_gpu_is_a_real_profile():
    assert static_problems(_notebook(profile="gpu")) == []


# Markdown cell 25 of notebooks/03_cnn_digits.ipynb as it was committed: written through a
# Python string that was not raw, so \f, \b and \t became control characters and \\ became \.
BROKEN_AFFINE_MAP = (
    "$$c + B\\,(q - c) + d, \\qquad\n  B = \nrac{1}{z}\x08egin{pmatrix}\\cos\theta & "
    "-\\sin\theta\\ \\sin\theta & \\cos\theta\\end{pmatrix}$$\n\nwith $\theta$ a random angle"
)


def test_latex_that_python_ate_is_reported():
    problems = " ".join(static_problems(_notebook(markdown=BROKEN_AFFINE_MAP)))
    assert "control characters U+0008, U+0009" in problems
    assert "'rac{'" in problems and "'egin{'" in problems and "'heta'" in problems


def test_a_lost_backslash_before_n_is_caught_by_its_stump():
    # "\nabla" in a plain Python string is a newline and "abla": no control character left.
    problems = static_problems(_notebook(markdown="The gradient $\nabla L$."))
    assert problems == ["markdown cell 0: LaTeX without its backslash: ['abla']"]


def test_unbalanced_display_math_is_reported():
    problems = static_problems(_notebook(markdown="$$x = 1$$ and then $$y = 2"))
    assert problems == ["markdown cell 0 has an unbalanced $$"]


def _rendered(name: str) -> str:
    """The committed notebook as nbconvert's HTML (what nbviewer shows; GitHub is close to it)."""
    from nbconvert import HTMLExporter

    path = next(path for path in NOTEBOOKS if path.stem == name)
    return HTMLExporter().from_filename(str(path))[0]


def test_the_rendered_music_notebook_shows_sheet_music_and_an_audio_player():
    html = _rendered("02_rnn_music")
    assert html.count('data-mime-type="image/svg+xml"') >= 1  # engraved by abcm2ps
    assert '<source src="data:audio/ogg;base64,' in html


def test_the_rendered_dqn_notebook_shows_both_animations_as_images():
    # A GIF's bytes start with "GIF8", base64 "R0lGO"; as an <img> it plays in any browser.
    html = _rendered("05_dqn_cartpole")
    assert html.count('src="data:image/png;base64,R0lGOD') == 2  # untrained and trained
    assert "IPython.core.display" not in html
