"""Write the README's results table from benchmarks/results/*.json.

    python -m benchmarks.report          # rewrite the table in README.md, copy or draw its pictures
    python -m benchmarks.report --check  # exit 1 if README.md is out of date
"""

from __future__ import annotations

import argparse
import json
import shutil
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
    ("04_vae_faces", "vae_faces",
     "VAE and debiasing VAE; face detection; bias per skin-tone group"),
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


def rnn_sentiment_headline(result: dict) -> str:
    ours, best, reference = result["ours"], result["best_small"], result["reference"]
    return (f"BiLSTM test accuracy {_percent(statistics.mean(ours['test_accuracy']))} (mean of "
            f"{len(ours['seeds'])} seeds, {statistics.mean(ours['train_seconds']):.0f} s); best "
            f"small model ({best['model'].split(' (')[0]}) {_percent(best['test_accuracy'])} in "
            f"{best['train_seconds']:.0f} s; "
            f"keras.io BiLSTM: {_percent(reference['test_accuracy'])} in "
            f"{reference['train_seconds']:.0f} s")


def rnn_music_headline(result: dict) -> str:
    def part(runs: dict) -> str:
        plain = (f", plain sampler {_percent(runs['valid_fraction_plain'])}"
                 if "valid_fraction_plain" in runs else "")
        return (f"{runs['heldout_nats_per_char']:.3f} nats/char held out, "
                f"{_percent(runs['valid_fraction'])} of {runs['tunes_sampled']} bar-checked tunes "
                f"valid{plain} ({runs['train_seconds']:.0f} s)")

    return (f"ours: {part(result['ours'])}; MIT lab-1 recipe: {part(result['reference'])}; "
            f"human corpus {_percent(result['corpus_valid_fraction'])} valid")


def vae_faces_headline(result: dict) -> str:
    tone = result["skin_tone"]
    labels = {"cnn": "CNN", "dbvae": "DB-VAE", "dbvae_uniform": "DB-VAE with uniform draws",
              "dbvae_group": "DB-VAE drawing the tone groups equally (oracle)",
              "cnn_balanced": "CNN on a balanced set of as many faces",
              "cnn_fixed_frame": "CNN without shifts and zooms",
              "cnn_augmented": "CNN with lighting and occlusion augmented too"}

    def mean(arm: str, key: str) -> float:
        return statistics.mean(tone[arm]["matched_fpr"][key])

    worst = ", ".join(f"{label} {_percent(mean(arm, 'worst_group_recall'))} "
                      f"(gap {100 * mean(arm, 'gap'):.1f} pts)"
                      for arm, label in labels.items() if arm in tone)
    headline = (f"darker faces rare in training; worst skin-tone group recall at a matched "
                f"{tone['false_positive_rate']:.0%} false-positive rate: {worst}")
    recovery = tone.get("targets", {}).get("dbvae_recovery_of_ceiling_gain", {}).get("value")
    if recovery is not None:
        headline += (f"; the DB-VAE recovers {recovery:.0%} of what the balanced set gains for "
                     "the worst group")
        oracle = tone.get("recovery_of_ceiling_gain", {}).get("dbvae_group")
        if oracle is not None:
            headline += f" (the oracle {oracle:.0%})"
    precision = ", ".join(f"{labels[arm]} {_percent(statistics.mean(tone[arm]['precision']))}"
                          for arm in ("cnn", "dbvae") if arm in tone)
    headline += f"; precision at p >= 0.5: {precision}"
    mit_total = sum(tone.get("mit_faces_per_group", {}).values())
    if mit_total:
        def mit_found(arm: str) -> float:  # seed mean of the faces found over all groups
            counts = tone[arm]["mit_faces_found"]["matched_fpr"].values()
            return statistics.mean(map(sum, zip(*counts, strict=True)))

        found = ", ".join(f"{labels[arm]} {mit_found(arm):.1f}" for arm in labels
                          if arm in tone and "mit_faces_found" in tone[arm])
        headline += f"; MIT lab test faces found (of {mit_total}, matched rate): {found}"
    return f"{headline} (mean of {len(result['seeds'])} seeds)"


def dqn_cartpole_headline(result: dict) -> str:
    def part(runs: dict) -> str:
        solved = [s for s in runs["steps_to_solve"] if s is not None]
        seconds = [s for s in runs["seconds_to_solve"] if s is not None]
        final_pass = sum(r >= 475 for r in runs["final_return"])
        median = (f", median {statistics.median(solved):,.0f} steps / "
                  f"{statistics.median(seconds):.0f} s" if solved else "")
        return (f"solved in {len(solved)} of {len(runs['seeds'])} seeds{median}; final policy "
                f"passes in {final_pass} of {len(runs['seeds'])}")

    headline = f"ours: {part(result['ours'])}. SB3 zoo DQN: {part(result['reference'])}"
    notebook = result.get("notebook_runs")
    if notebook:
        returns = notebook["final_mean_return"]
        headline += (f". The notebook's own run ({notebook['num_steps']:,} steps) on "
                     f"{len(returns)} untuned seeds: final policy passes in "
                     f"{sum(r >= 475 for r in returns)} of {len(returns)} (mean returns "
                     f"{min(returns):.1f} to {max(returns):.1f})")
    return headline


HEADLINES = {
    "rnn_sentiment": rnn_sentiment_headline,
    "rnn_music": rnn_music_headline,
    "cnn_digits": cnn_digits_headline,
    "vae_faces": vae_faces_headline,
    "dqn_cartpole": dqn_cartpole_headline,
}


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


# Pictures the README shows, copied from what the cpu-profile runs and notebooks wrote.
FIGURES = {
    "training_checkpoints/rnn_music/cpu/piano_rolls.png": "docs/images/rnn_music_piano_rolls.png",
    "training_checkpoints/rnn_music/cpu/tune_1.svg": "docs/images/rnn_music_tune_1.svg",
    "training_checkpoints/dqn_cartpole/cpu/dqn-seed0/cartpole_trained.gif":
        "docs/images/dqn_cartpole.gif",
    "training_checkpoints/dqn_cartpole/cpu/dqn-seed0/training_curve.png":
        "docs/images/dqn_training_curve.png",
}


def copy_figures() -> None:
    """Refresh docs/images/ from the run folders (figures not produced yet are left alone)."""
    for source, target in FIGURES.items():
        source, target = ROOT / source, ROOT / target
        if source.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            print(f"copied {source.relative_to(ROOT)} -> {target.relative_to(ROOT)}")


FACES_FIGURE = ROOT / "docs" / "images" / "vae_faces_recall.png"
FACES_FIGURE_ARMS = ("cnn", "dbvae", "dbvae_uniform", "dbvae_group", "cnn_balanced")


def draw_faces_figure() -> None:
    """Chapter 4's README figure, drawn from every seed of the faces benchmark's JSON."""
    path = RESULTS / "vae_faces.json"
    result = json.loads(path.read_text()) if path.exists() else {}
    if "skin_tone" not in result:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from course.figures import save_figure
    from vae_faces import plots

    arms = {arm: plots.ARM_LABELS[arm] for arm in FACES_FIGURE_ARMS if arm in result["skin_tone"]}
    figure = plots.plot_recall_by_group(
        plots.benchmark_readings(result, "tone", arms),
        title=f"Face recall per skin-tone group: {len(result['seeds'])} seeds each "
              "(dots), their mean (bars)")
    save_figure(figure, FACES_FIGURE)
    plt.close(figure)
    print(f"drew {FACES_FIGURE.relative_to(ROOT)} from {path.relative_to(ROOT)}")


TUNE_START, TUNE_END = "<!-- tune:start -->", "<!-- tune:end -->"
# The first generated tune the cpu run wrote (a valid one, when abc2midi could check them).
TUNE_FILE = ROOT / "training_checkpoints" / "rnn_music" / "cpu" / "tune_1.abc"


BACKENDS_START, BACKENDS_END = "<!-- backends:start -->", "<!-- backends:end -->"


def backends_table() -> str | None:
    """Which chapters' tests pass on which backend, as the last test runs left it."""
    from course.backend_tests import RESULTS, table

    return table(json.loads(RESULTS.read_text())) if RESULTS.exists() else None


SPEED_START, SPEED_END = "<!-- backend-speed:start -->", "<!-- backend-speed:end -->"


def backend_speed_table(result: dict) -> str:
    """Milliseconds per training step per chapter and backend, and whether the losses agree."""
    from course.backend_tests import chapter_of

    backends = list(result["backends"])
    lines = [
        "| chapter: model and batch | " + " | ".join(f"`{b}` ms/step (first step s)"
                                                    for b in backends)
        + f" | losses agree (rel. {result['relative_tolerance']:g}) |",
        "| --- |" + " --- |" * (len(backends) + 1),
    ]
    for chapter, row in result["chapters"].items():
        cells = [f"{1000 * row[b]['seconds_per_step']:.1f} ({row[b]['first_step_seconds']:.1f})"
                 for b in backends]
        worst = max(row[b]["max_relative_difference"] for b in backends)
        agree = f"{'yes' if row['losses_agree'] else 'NO'} (max {worst:.1e})"
        lines.append(f"| {chapter_of(chapter, '')}: {row['model']} | " + " | ".join(cells)
                     + f" | {agree} |")
    lines.append("")
    lines.append(f"Mean of {result['steps']} steps after the first, losses of "
                 f"{result['agreement_steps']} steps from the same weights compared with "
                 f"`{result['reference_backend']}`'s ({result['machine']}).")
    return "\n".join(lines)


def _replace_between(text: str, start: str, end: str, body: str) -> str:
    head, found, rest = text.partition(start)
    if not found:
        return text
    _, _, tail = rest.partition(end)
    return f"{head}{start}\n{body}\n{end}{tail}"


def updated_readme(text: str) -> str:
    """``text`` with a fresh results table and, when the music run exists, its first tune."""
    text = _replace_between(text, START, END, results_table())
    backends = backends_table()
    if backends is not None:
        text = _replace_between(text, BACKENDS_START, BACKENDS_END, backends)
    speed = RESULTS / "backends.json"
    if speed.exists():
        text = _replace_between(text, SPEED_START, SPEED_END,
                                backend_speed_table(json.loads(speed.read_text())))
    if TUNE_FILE.exists():
        text = _replace_between(text, TUNE_START, TUNE_END,
                                f"```\n{TUNE_FILE.read_text().strip()}\n```")
    return text


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    text = README.read_text()
    new = updated_readme(text)
    if args.check:
        return 0 if new == text else 1
    README.write_text(new)
    copy_figures()
    draw_faces_figure()
    return 0


if __name__ == "__main__":
    sys.exit(main())
