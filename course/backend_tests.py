"""Which chapters pass their tests on which Keras backend, from pytest's JUnit XML reports.

    python -m course.backend_tests build/backends/*.xml

``make test`` writes ``build/backends/tensorflow.xml`` and ``make test-backends`` one file per
other backend; this reads them (the file name is the backend), counts each chapter's tests,
prints the table and writes it to ``docs/backend_tests.json``, from which
``python -m benchmarks.report`` writes the README's table.
"""

from __future__ import annotations

import argparse
import json
import re
import xml.etree.ElementTree as ElementTree
from pathlib import Path

from course.atomic import atomic_write_text
from course.fetch import PROJECT_ROOT

RESULTS = PROJECT_ROOT / "docs" / "backend_tests.json"
BACKENDS = ("tensorflow", "jax", "torch")
# A test belongs to the chapter whose package its module (or its notebook) is named after.
CHAPTERS = {
    "rnn_sentiment": "1 RNN sentiment",
    "rnn_music": "2 RNN music",
    "cnn_digits": "3 CNN digits",
    "convolution": "3 CNN digits",
    "vae_faces": "4 VAE faces",
    "first_run": "4 VAE faces",
    "dqn": "5 DQN CartPole",
}
SHARED = "course (checkpoints, steps, exercises)"


def chapter_of(classname: str, name: str) -> str:
    """The chapter of a test, from its module (``tests.test_rnn_music``) and name."""
    notebook = re.search(r"\[(\d\d)_(\w+)\]", name)
    text = notebook.group(2) if notebook else classname.rsplit(".", 1)[-1]
    for key, chapter in CHAPTERS.items():
        if key in text:
            return chapter
    return SHARED


def summarize(paths: list[Path]) -> dict:
    """{backend: {chapter: {"passed", "failed", "skipped"}}} from JUnit files named by backend."""
    summary = {}
    for path in sorted(paths, key=lambda p: BACKENDS.index(p.stem) if p.stem in BACKENDS else 9):
        counts: dict[str, dict[str, int]] = {}
        for case in ElementTree.parse(path).getroot().iter("testcase"):
            chapter = chapter_of(case.get("classname", ""), case.get("name", ""))
            row = counts.setdefault(chapter, {"passed": 0, "failed": 0, "skipped": 0})
            if case.find("skipped") is not None:
                row["skipped"] += 1
            elif case.find("failure") is not None or case.find("error") is not None:
                row["failed"] += 1
            else:
                row["passed"] += 1
        summary[path.stem] = dict(sorted(counts.items()))
    return summary


def table(summary: dict) -> str:
    """A Markdown table: one row per chapter, one column per backend, "passed of run"."""
    backends = list(summary)
    chapters = sorted({chapter for counts in summary.values() for chapter in counts})
    lines = ["| chapter | " + " | ".join(f"`{b}`" for b in backends) + " |",
             "| --- |" + " --- |" * len(backends)]
    for chapter in chapters:
        cells = []
        for backend in backends:
            row = summary[backend].get(chapter)
            if row is None:
                cells.append("not run")
                continue
            run = row["passed"] + row["failed"]
            cell = f"{row['passed']} of {run} pass"
            cells.append(cell if not row["failed"] else f"**{cell}**")
        lines.append(f"| {chapter} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("reports", nargs="+", type=Path, help="JUnit XML files, one per backend")
    args = parser.parse_args(argv)
    summary = summarize(args.reports)
    atomic_write_text(RESULTS, json.dumps(summary, indent=1) + "\n")
    print(table(summary))
    return 1 if any(row["failed"] for counts in summary.values() for row in counts.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
