"""Write the README's results table from benchmarks/results/*.json.

    python -m benchmarks.report          # rewrite the table in README.md
    python -m benchmarks.report --check  # exit 1 if README.md is out of date
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
README = ROOT / "README.md"
START, END = "<!-- results:start -->", "<!-- results:end -->"

CHAPTERS = [
    ("01_rnn_sentiment", "rnn_sentiment", "SRN and LSTM equations; sequence to class on IMDB"),
    ("02_rnn_music", "rnn_music", "character-level LSTM on Irish folk tunes; sampling; listening"),
    ("03_cnn_digits", "cnn_digits", "1-D/2-D convolution, cross-correlation, stride, padding, "
     "pooling; MLP vs CNN on MNIST; augmentation; your own handwritten digits"),
    ("04_vae_faces", "vae_faces", "VAE and debiasing VAE; face detection; bias per group"),
    ("05_dqn_cartpole", "dqn_cartpole", "Q-learning, DQN, target network; CartPole"),
]


def _percent(value: float) -> str:
    return f"{100 * value:.2f}%"


def cnn_digits_headline(result: dict) -> str:
    ours, reference = result["ours"], result["reference"]
    to_99 = [s for s in ours["seconds_to_99"] if s is not None]
    reached = f"99% after {statistics.median(to_99):.0f} s (median)" if to_99 else "99% not reached"
    return (
        f"test accuracy {_percent(statistics.mean(ours['test_accuracy']))} (mean of "
        f"{len(ours['seeds'])} seeds, {statistics.mean(ours['train_seconds']):.0f} s of training; "
        f"{reached}); keras.io convnet: {_percent(reference['test_accuracy'])} in "
        f"{reference['train_seconds']:.0f} s, 99% after "
        f"{reference['seconds_to_99'] or float('nan'):.0f} s"
    )


HEADLINES = {"cnn_digits": cnn_digits_headline}


def results_table() -> str:
    """The chapter table, each row's result read from its benchmark JSON (if it exists)."""
    rows = ["| notebook | what it teaches | headline result (from `benchmarks/results/`) |",
            "| --- | --- | --- |"]
    for notebook, package, teaches in CHAPTERS:
        path = RESULTS / f"{package}.json"
        exists = (ROOT / "notebooks" / f"{notebook}.ipynb").exists()
        link = f"[{notebook}](notebooks/{notebook}.ipynb)" if exists else f"{notebook} (planned)"
        if path.exists() and package in HEADLINES:
            result = json.loads(path.read_text())
            headline = HEADLINES[package](result) + f" ({result['machine'].split(',')[0]})"
        else:
            headline = "not benchmarked yet"
        rows.append(f"| {link} | {teaches} | {headline} |")
    return "\n".join(rows)


def updated_readme(text: str) -> str:
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    return f"{head}{START}\n{results_table()}\n{END}{tail}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    text = README.read_text()
    new = updated_readme(text)
    if args.check:
        return 0 if new == text else 1
    README.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
