"""Screenshots of committed notebooks as nbconvert renders them (close to what GitHub shows).

    python docs/screenshots/render.py     # needs Chromium (apt install chromium)

Each picture is one section of a notebook, exported to HTML with its stored outputs (nothing is
executed) and photographed by headless Chromium (a still catches one frame of an animated GIF).
"""

import subprocess
import tempfile
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter

ROOT = Path(__file__).resolve().parents[2]
# picture name: (notebook, the heading its section starts with, page height in pixels)
SECTIONS = {
    "02_sheet_music.png": ("02_rnn_music", "## 9. Seeing and hearing the tunes", 2200),
    "05_animation.png": ("05_dqn_cartpole", "## 7. Watch it play", 1100),
}


def section(notebook: nbformat.NotebookNode, heading: str) -> nbformat.NotebookNode:
    """The cells from the markdown cell starting with ``heading`` up to the next ``## ``."""
    starts = [i for i, cell in enumerate(notebook.cells)
              if cell.cell_type == "markdown" and cell.source.startswith(heading)]
    if not starts:
        raise ValueError(f"no markdown cell starts with {heading!r}")
    cells = [notebook.cells[starts[0]]]
    for cell in notebook.cells[starts[0] + 1:]:
        if cell.cell_type == "markdown" and cell.source.startswith("## "):
            break
        cells.append(cell)
    return nbformat.v4.new_notebook(cells=cells, metadata=notebook.metadata)


def main() -> None:
    exporter = HTMLExporter()
    for picture, (name, heading, height) in SECTIONS.items():
        notebook = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
        html, _ = exporter.from_notebook_node(section(notebook, heading))
        with tempfile.TemporaryDirectory() as folder:
            page = Path(folder) / f"{name}.html"
            page.write_text(html)
            subprocess.run(["chromium", "--headless", "--no-sandbox", "--hide-scrollbars",
                            f"--screenshot={Path(__file__).parent / picture}",
                            f"--window-size=1000,{height}", page.as_uri()],
                           check=True, capture_output=True)
        print(f"wrote docs/screenshots/{picture}")


if __name__ == "__main__":
    main()
