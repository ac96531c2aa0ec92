"""Execute the course notebooks in a fresh kernel, check them, and keep their diffs small.

    python -m course.notebooks run notebooks/*.ipynb [--profile cpu] [--output-dir DIR]
    python -m course.notebooks normalize notebooks/*.ipynb
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

import nbformat
from jupyter_client import AsyncKernelManager
from jupyter_client.kernelspec import KernelSpec

from course.atomic import atomic_path
from course.plan import describe
from course.profiles import ENV_VAR, add_profile_argument, get_profile

# Metadata that changes on every run without changing what the reader sees.
VOLATILE_CELL_METADATA = ("execution", "ExecuteTime", "collapsed", "scrolled", "jupyter")
# "course": the profile and seconds of the run that wrote the outputs, and whether it loaded
# training done before (read by course.plan).
KEPT_NOTEBOOK_METADATA = ("kernelspec", "language_info", "course")
SMOKE_REFUSAL = (
    "The smoke profile is for tests: its outputs mean nothing, so it never replaces a committed "
    "notebook. Write the executed copies elsewhere (--output-dir DIR; with make: make reproduce "
    "OUTPUT_DIR=DIR), or use the cpu or gpu profile."
)


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


class ThisInterpreterKernelManager(AsyncKernelManager):
    """Runs every kernel on ``sys.executable``, whatever kernelspecs are installed.

    Jupyter resolves the name ``python3`` through every kernelspec folder it knows (the user's
    ~/.local/share/jupyter first), so a stray spec there could run the notebook on another
    interpreter, without the course's packages or with other versions of them.
    """

    @property
    def kernel_spec(self) -> KernelSpec:
        return KernelSpec(
            argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            display_name="Python 3 (ipykernel)",
            language="python",
        )


def finished_runs_exist(path: Path, profile: str) -> bool:
    """Whether the notebook's chapter already has runs of ``profile`` in the checkpoint folder
    (``01_rnn_sentiment.ipynb`` -> ``runs_root()/rnn_sentiment/<profile>``), which the notebook
    will load instead of training: its time then says little about a run from scratch."""
    from course.checkpoint import runs_root

    folder = runs_root() / path.stem.split("_", 1)[-1] / profile
    return folder.is_dir() and any(folder.iterdir())


def execute(
    path: str | os.PathLike,
    *,
    profile: str | None = None,
    output_path: str | os.PathLike | None = None,
    timeout: int = 3600,
) -> nbformat.NotebookNode:
    """Run ``path`` top to bottom in a fresh kernel started in its folder; write the result.

    The kernel runs on this interpreter with ``DL_PROFILE`` set to ``profile`` (default: the one
    ``get_profile`` chooses). The result goes to ``output_path`` (default: ``path`` itself),
    written only when every cell ran, so a failed run never replaces a good notebook; a smoke
    run is refused if it would replace ``path``. Raises on the first failing cell.
    """
    from nbclient import NotebookClient

    path = Path(path)
    target = Path(output_path or path)
    profile = get_profile(profile)
    if profile == "smoke" and target.resolve() == path.resolve():
        raise ValueError(f"{path}: {SMOKE_REFUSAL}")
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        kernel_manager_class=ThisInterpreterKernelManager,
        resources={"metadata": {"path": str(path.parent)}},
        coalesce_streams=True,  # folds progress-bar redraws ("\r") into their final line
    )
    reused = finished_runs_exist(path, profile)
    started = time.perf_counter()
    client.execute(env={**os.environ, ENV_VAR: profile})
    notebook.metadata["course"] = {
        "profile": profile, "seconds": round(time.perf_counter() - started),
        "reused_training": reused,
    }
    normalize(notebook)
    with atomic_path(target) as tmp:
        nbformat.write(notebook, tmp)
    return notebook


# Characters Python makes of LaTeX in a string that is not raw: \f (\frac), \b (\begin),
# \t (\theta), \a (\alpha), \v (\varepsilon), \r (\rho); \n (\nabla) is a newline, so the
# stumps such a newline leaves in math are looked for too.
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")  # all but the newline
_MATH = re.compile(r"\$\$(.+?)\$\$|\$([^$]+)\$", re.DOTALL)
_LATEX_STUMP = re.compile(r"(?<![\\A-Za-z])(rac\{|egin\{|abla\b|heta\b|imes\b|ext\{)")


def static_problems(notebook: nbformat.NotebookNode) -> list[str]:
    """What is wrong with a committed notebook, read without running it (empty: nothing).

    It must have run top to bottom once (execution counts 1, 2, 3, ... over the code cells),
    without error outputs, with the cpu or gpu profile named in its first output, and its
    markdown must render: no control characters, balanced ``$$``, no LaTeX that lost its ``\\``.
    """
    problems = []
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    counts = [cell.get("execution_count") for cell in code]
    if counts != list(range(1, len(code) + 1)):
        problems.append(f"code cells were not run once each in order: execution counts {counts}")
    problems += [f"error output {error}" for error in error_outputs(notebook)]
    first = code[0].get("outputs", []) if code else []
    text = "".join(output.get("text", "") for output in first[:1])
    profile = re.search(r"^profile[ \t]*:[ \t]*(\S+)", text, re.MULTILINE)
    if not profile or profile.group(1) not in ("cpu", "gpu"):
        shown = profile.group(1) if profile else "no 'profile : ...' line"
        problems.append(f"first output must name the cpu or gpu profile, it shows {shown}")
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "markdown":
            continue
        source = cell.source
        control = sorted({f"U+{ord(char):04X}" for char in _CONTROL.findall(source)})
        if control:
            problems.append(f"markdown cell {index} holds control characters {', '.join(control)}")
        if source.count("$$") % 2:
            problems.append(f"markdown cell {index} has an unbalanced $$")
        for match in _MATH.finditer(source):
            stumps = _LATEX_STUMP.findall(match.group(1) or match.group(2))
            if stumps:
                problems.append(f"markdown cell {index}: LaTeX without its backslash: {stumps}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("command", choices=("run", "normalize"))
    parser.add_argument("notebooks", nargs="+", type=Path)
    add_profile_argument(parser)
    parser.add_argument("--output-dir", type=Path,
                        help="write executed copies here instead of replacing the notebooks")
    args = parser.parse_args(argv)
    if args.command == "normalize":
        for path in args.notebooks:
            nbformat.write(normalize(nbformat.read(path, as_version=4)), path)
        return 0

    profile = get_profile(args.profile)
    if profile == "smoke" and args.output_dir is None:
        parser.error(SMOKE_REFUSAL)
    print(describe(args.notebooks, profile), flush=True)
    for path in args.notebooks:
        target = args.output_dir / path.name if args.output_dir else path
        started = time.perf_counter()
        print(f"running {path} ({profile}) -> {target} ...", flush=True)
        execute(path, profile=profile, output_path=target)
        print(f"  done in {time.perf_counter() - started:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
