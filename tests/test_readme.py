"""The README: its results table follows benchmarks/results/*.json, its Python runs as written."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import report


def test_readme_table_matches_benchmark_results():
    text = report.README.read_text()
    assert report.START in text and report.END in text
    assert report.updated_readme(text) == text, "run `python -m benchmarks.report`"


def test_readme_starts_with_the_two_commands():
    lines = [line for line in report.README.read_text().splitlines() if line.strip()]
    assert lines[2].startswith("make reproduce") and lines[3].startswith("make test")


def test_cnn_digits_headline_reads_the_numbers():
    result = {
        "ours": {"seeds": [0, 1], "test_accuracy": [0.99, 0.992], "train_seconds": [100, 120],
                 "seconds_to_99": [30.0, None]},
        "reference": {"test_accuracy": 0.9912, "train_seconds": 300.0, "seconds_to_99": 150.0},
    }
    headline = report.cnn_digits_headline(result)
    assert "99.10% (mean of 2 seeds, 110 s" in headline
    assert "99% after 30 s (median)" in headline
    assert "99.12% in 300 s, 99% after 150 s" in headline


# The top-level keys each chapter's issue asks its benchmark JSON to have.
REQUIRED_KEYS = {
    "rnn_sentiment": {"machine", "ours", "best_small", "reference"},
    "rnn_music": {"machine", "corpus_valid_fraction", "ours", "reference"},
    "cnn_digits": {"machine", "profile", "ours", "reference"},
    "vae_faces": {"machine", "seeds", "per_group_n", "cnn", "dbvae", "skin_tone"},
    "dqn_cartpole": {"machine", "budget_steps", "ours", "reference"},
    "backends": {"machine", "steps", "relative_tolerance", "backends", "chapters"},
}


@pytest.mark.parametrize("path", sorted(report.RESULTS.glob("*.json")), ids=lambda p: p.stem)
def test_result_files_have_the_required_keys(path):
    assert path.stem in REQUIRED_KEYS, f"{path.name}: no benchmark of that name"
    result = json.loads(path.read_text())
    assert REQUIRED_KEYS[path.stem] <= result.keys()


def test_every_picture_the_readme_shows_is_in_the_repository():
    text = report.README.read_text()
    pictures = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    missing = [path for path in pictures if not (report.ROOT / path).is_file()]
    assert not missing, f"README shows missing files {missing}: run `python -m benchmarks.report`"


def test_dqn_headline_counts_solved_seeds_and_final_passes():
    runs = {"seeds": [0, 1, 2], "steps_to_solve": [10_000, None, 20_000],
            "seconds_to_solve": [8.0, None, 12.0], "final_return": [500.0, 120.0, 476.0]}
    headline = report.dqn_cartpole_headline({"ours": runs, "reference": runs})
    assert "solved in 2 of 3 seeds, median 15,000 steps / 10 s" in headline
    assert "final policy passes in 2 of 3" in headline
    assert "notebook" not in headline  # no notebook runs in these results

    notebook = {"num_steps": 30_000, "final_mean_return": [500.0, 474.9, 477.3]}
    headline = report.dqn_cartpole_headline({"ours": runs, "reference": runs,
                                             "notebook_runs": notebook})
    assert ("notebook's own run (30,000 steps) on 3 untuned seeds: final policy passes in 2 of 3 "
            "(mean returns 474.9 to 500.0)") in headline


def test_vae_faces_headline_reads_the_skin_tone_groups_at_the_matched_rate():
    def arm(worst, gap, precision):
        return {"precision": precision,
                "matched_fpr": {"worst_group_recall": worst, "gap": gap}}

    tone = {"false_positive_rate": 0.01,
            "cnn": arm([0.84, 0.86], [0.08, 0.06], [0.98, 0.99]),
            "dbvae": arm([0.86, 0.88], [0.05, 0.05], [0.99, 0.99]),
            "cnn_balanced": arm([0.9, 0.92], [0.02, 0.02], [0.99, 0.99]),
            "targets": {"dbvae_recovery_of_ceiling_gain": {"value": 1 / 3}}}
    headline = report.vae_faces_headline({"seeds": [0, 1], "skin_tone": tone})
    assert "matched 1% false-positive rate: CNN 85.00% (gap 7.0 pts), DB-VAE 87.00%" in headline
    assert "CNN on a balanced set of as many faces 91.00% (gap 2.0 pts)" in headline
    assert "uniform" not in headline  # arms missing from the results are left out
    assert "recovers 33% of what the balanced set gains for the worst group;" in headline
    assert "precision at p >= 0.5: CNN 98.50%, DB-VAE 99.00% (mean of 2 seeds)" in headline
    assert "MIT" not in headline  # results written before the MIT faces were counted

    # Faces found per group and seed: the seeds' totals are averaged (CNN 3 and 5 -> 4.0).
    tone["mit_faces_per_group"] = {"LF": 5, "DF": 5}
    tone["cnn"]["mit_faces_found"] = {"matched_fpr": {"LF": [1, 2], "DF": [2, 3]}}
    tone["dbvae"]["mit_faces_found"] = {"matched_fpr": {"LF": [4, 4], "DF": [5, 4]}}
    headline = report.vae_faces_headline({"seeds": [0, 1], "skin_tone": tone})
    assert ("MIT lab test faces found (of 10, matched rate): CNN 4.0, DB-VAE 8.5 "
            "(mean of 2 seeds)") in headline

    # The group oracle's recovery follows the DB-VAE's, when the results have it.
    tone["recovery_of_ceiling_gain"] = {"dbvae": 1 / 3, "dbvae_group": 0.625}
    headline = report.vae_faces_headline({"seeds": [0, 1], "skin_tone": tone})
    assert "gains for the worst group (the oracle 62%);" in headline


# Python blocks of the README, run as a reader would paste them, on the smoke profile. ------------

CHAPTERS = ("rnn_sentiment", "rnn_music", "cnn_digits", "vae_faces", "dqn_cartpole")


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, re.MULTILINE | re.DOTALL)


def trained_chapters(block: str) -> list[str]:
    """Chapters whose saved model the block loads: their smoke run must exist first."""
    if "load_model" not in block:
        return []
    return [chapter for chapter in CHAPTERS if re.search(rf"\b{chapter}\b", block)]


BLOCKS = python_blocks(report.README.read_text())


def test_python_blocks_are_found():
    assert BLOCKS, "the README's ```python blocks are no longer found"
    assert python_blocks("text\n```python\nprint(1)\n```\n```bash\nls\n```\n") == ["print(1)\n"]


@pytest.mark.slow
@pytest.mark.xdist_group("cnn_digits_smoke_run")  # one worker trains the shared run once
@pytest.mark.parametrize("block", BLOCKS, ids=[b.splitlines()[0][:40] for b in BLOCKS])
def test_readme_python_block_runs_as_written(block, tmp_path, request):
    runs = tmp_path / "runs"
    for chapter in trained_chapters(block):
        if chapter == "cnn_digits":  # trained once for the whole session (tests/conftest.py)
            runs = request.getfixturevalue("cnn_digits_smoke_run")[0]
        else:
            run_python(["-m", chapter, "--profile", "smoke"], runs)
    run_python(["-c", block], runs)


def run_python(arguments: list[str], runs: Path) -> None:
    """``python <arguments>`` in the project root, on the smoke profile, writing under ``runs``."""
    env = {**os.environ, "DL_PROFILE": "smoke", "DL_CHECKPOINT_DIR": str(runs)}
    result = subprocess.run([sys.executable, *arguments], cwd=report.ROOT, env=env,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"python {' '.join(arguments)}:\n{result.stderr[-3000:]}"
