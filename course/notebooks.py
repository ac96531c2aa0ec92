"""Execute the course notebooks in a fresh kernel, and keep their diffs small.

    python -m course.notebooks run notebooks/*.ipynb [--profile cpu]
    python -m course.notebooks normalize notebooks/*.ipynb
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat

# Metadata that changes on every run without changing what the reader sees.
VOLATILE_CELL_METADATA = ("execution", "ExecuteTime", "collapsed", "scrolled", "jupyter")
KEPT_NOTEBOOK_METADATA = ("kernelspec", "language_info")


def normalize(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Strip run timestamps, widget state and interpreter versions; keep sources and outputs."""
    metadata = notebook.metadata
    for key in list(metadata):
        if key not in KEPT_NOTEBOOK_METADATA:
            del metadata[key]
    if "language_info" in metadata:
        metadata["language_info"] = {"name": metadata["language_info"].get("name", "python")}
    for cell in notebook.cells:
        for key in VOLATILE_CELL_METADATA:
            cell.metadata.pop(key, None)
        for output in cell.get("outputs", []):
            output.get("metadata", {}).pop("transient", None)
    return notebook


def error_outputs(notebook: nbformat.NotebookNode) -> list[str]:
    """``ename: evalue`` of every error output in the notebook."""
    return [
        f"{output.get('ename')}: {output.get('evalue')}"
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]


def execute(
    path: str | os.PathLike,
    *,
    profile: str | None = None,
    output_path: str | os.PathLike | None = None,
    timeout: int = 3600,
) -> nbformat.NotebookNode:
    """Run ``path`` top to bottom in a fresh kernel started in its folder; write the result.

    The result goes to ``output_path`` (default: ``path`` itself), written only when every cell
    ran, so a failed run never replaces a good notebook. Raises on the first failing cell.
    """
    from nbclient import NotebookClient

    path = Path(path)
    notebook = nbformat.read(path, as_version=4)
    if profile:
        os.environ["DL_PROFILE"] = profile
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        coalesce_streams=True,  # folds progress-bar redraws ("\r") into their final line
    )
    client.execute()
    normalize(notebook)
    target = Path(output_path or path)
    tmp = target.with_name(f".{target.name}.tmp")
    nbformat.write(notebook, tmp)
    os.replace(tmp, target)
    return notebook


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("command", choices=("run", "normalize"))
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--profile", help="smoke, cpu or gpu (default: $DL_PROFILE, else auto)")
    args = parser.parse_args(argv)
    for path in args.notebooks:
        if args.command == "normalize":
            notebook = normalize(nbformat.read(path, as_version=4))
            nbformat.write(notebook, path)
            continue
        started = time.perf_counter()
        print(f"running {path} ...", flush=True)
        execute(path, profile=args.profile)
        print(f"  done in {time.perf_counter() - started:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
