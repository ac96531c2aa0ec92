"""The README's results table is generated from benchmarks/results/*.json and stays in sync."""

import json

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


@pytest.mark.parametrize("path", sorted(report.RESULTS.glob("*.json")), ids=lambda p: p.stem)
def test_result_files_have_the_required_keys(path):
    result = json.loads(path.read_text())
    assert {"machine", "ours", "reference"} <= result.keys()
