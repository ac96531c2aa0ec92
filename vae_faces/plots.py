"""The chapter's figures; each function returns a matplotlib Figure."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import PercentFormatter

from vae_faces.config import RACES
from vae_faces.skin_tone import TONE_GROUPS

TONE_NAMES = {"LF": "lighter female", "LM": "lighter male", "DF": "darker female",
              "DM": "darker male"}
# The benchmark's arms (benchmarks/vae_faces.py), as the notebook and the README name them.
ARM_LABELS = {"cnn": "CNN", "dbvae": "DB-VAE", "dbvae_uniform": "DB-VAE, uniform draws",
              "dbvae_group": "DB-VAE, group oracle", "cnn_balanced": "CNN, balanced set",
              "cnn_fixed_frame": "CNN, fixed frame", "cnn_augmented": "CNN, augmented"}


def show_images(images, titles=None, ncols: int = 8, size: float = 1.3, suptitle=None):
    """A grid of RGB images (uint8 or floats in [0, 1]) with optional titles."""
    nrows = max(1, int(np.ceil(len(images) / ncols)))
    # Titles need room above every row, not only the first: a line of 7-point text each.
    lines = 0 if titles is None else max((str(t).count("\n") + 1 for t in titles if str(t)),
                                         default=0)
    title_room = 0.15 * lines
    height = (size + title_room) * nrows + 0.4
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, height), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    titles = titles if titles is not None else [""] * len(images)
    for ax, image, title in zip(axes.flat, images, titles, strict=False):
        ax.imshow(image)
        ax.set_title(title, fontsize=7)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def _label(group: str) -> str:
    return TONE_NAMES.get(group, group.replace("_", "/"))


def plot_group_examples(images, tone, angles, is_face, per_group: int = 6):
    """The first ``per_group`` faces of each tone group, titled with their ITA, and a row of
    non-faces."""
    chosen, titles = [], []
    for group in TONE_GROUPS:
        members = np.flatnonzero(tone == group)[:per_group]
        chosen += list(members)
        titles += [f"{group}  {angles[i]:.0f}°" for i in members]
    non_faces = np.flatnonzero(~is_face)[:per_group]
    chosen += list(non_faces)
    titles += ["non-face"] * len(non_faces)
    return show_images(images[chosen], titles, ncols=per_group, size=1.4)


def plot_tone_extremes(images, races, angles):
    """For each race label, the face with the lowest ITA (top row) and the highest (bottom)."""
    darkest, lightest = [], []
    for race in RACES:
        members = np.flatnonzero((races == race) & ~np.isnan(angles))
        darkest.append(members[np.argmin(angles[members])])
        lightest.append(members[np.argmax(angles[members])])
    chosen = darkest + lightest
    titles = [f"{_label(races[i])}\n{angles[i]:.0f}°" for i in chosen]
    return show_images(images[chosen], titles, ncols=len(RACES), size=1.5)


def plot_composition(train_counts: dict, eval_counts: dict, groups=TONE_GROUPS,
                     title: str = "Faces per skin-tone group"):
    """Faces per group: the skewed training set beside the balanced evaluation set."""
    fig, ax = plt.subplots(figsize=(9, 3.6))
    positions = np.arange(len(groups))
    train = [train_counts.get(group, 0) for group in groups]
    held_out = [eval_counts.get(group, 0) for group in groups]
    ax.bar(positions - 0.2, train, 0.4, label="training (skewed)", color="C0")
    ax.bar(positions + 0.2, held_out, 0.4, label="evaluation", color="C1")
    total = sum(train)
    for x, count in zip(positions, train, strict=True):
        ax.text(x - 0.2, count, f"{count / total:.1%}", ha="center", va="bottom", fontsize=8)
    ax.set_xticks(positions, [_label(group) for group in groups], rotation=15)
    ax.set(ylabel="faces", title=title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    return fig


def plot_ita_by_race(angles, races, threshold: float):
    """The individual typology angle of the faces of each race label (box: quartiles; whiskers:
    5th-95th percentiles), with the lighter/darker threshold."""
    angles, races = np.asarray(angles), np.asarray(races)
    measured = ~np.isnan(angles)
    fig, ax = plt.subplots(figsize=(9, 3.8))
    data = [angles[measured & (races == race)] for race in RACES]
    ax.boxplot(data, whis=(5, 95), showfliers=False)
    ax.axhline(threshold, color="C3", ls="--", lw=1)
    ax.text(len(RACES) + 0.55, threshold + 3, f"threshold {threshold:g}°\nlighter above",
            color="C3", va="bottom", fontsize=8)
    ax.text(len(RACES) + 0.55, threshold - 3, "darker below", color="C3", va="top", fontsize=8)
    ax.set_xticks(np.arange(1, len(RACES) + 1), [_label(race) for race in RACES], rotation=15)
    ax.set_xlim(0.5, len(RACES) + 1.6)
    ax.set(ylabel="ITA (degrees)", title="Skin tone measured from pixels, per race label")
    fig.tight_layout()
    return fig


def plot_recall_by_group(readings: dict, groups=TONE_GROUPS, title: str = "Face recall"):
    """Recall per group for each model, one panel per reading.

    ``readings``: {reading name: {model: {"recall": {group: [recall per seed]},
    "intervals": {group: (lo, hi)} or None}}}. Bars are seed means, dots single seeds, error
    bars bootstrap 95% intervals. The y axis starts at 0.5, or lower when a recall is
    (its start is in the axis label), so that gaps of a few points stay visible.
    """
    fig, axes = plt.subplots(1, len(readings), figsize=(5.2 * len(readings) + 1.6, 3.8),
                             sharey=True, squeeze=False)
    positions = np.arange(len(groups))
    lowest = min(min(result["recall"][group]) for models in readings.values()
                 for result in models.values() for group in groups)
    bottom = max(0.0, min(0.5, np.floor((lowest - 0.05) * 10) / 10))
    for ax, (reading, models) in zip(axes[0], readings.items(), strict=True):
        width = 0.8 / len(models)
        for index, (name, result) in enumerate(models.items()):
            offset = (index - (len(models) - 1) / 2) * width
            means = np.array([np.mean(result["recall"][group]) for group in groups])
            error = None
            if result.get("intervals"):
                low = np.array([result["intervals"][group][0] for group in groups])
                high = np.array([result["intervals"][group][1] for group in groups])
                error = np.clip([means - low, high - means], 0, None)
            ax.bar(positions + offset, means, width, yerr=error, capsize=2, label=name,
                   color=f"C{index}", alpha=0.85)
            for x, group in zip(positions, groups, strict=True):
                seeds = result["recall"][group]
                ax.plot(np.full(len(seeds), x + offset), seeds, "k.", ms=3)
        ax.set_xticks(positions, [_label(group) for group in groups], rotation=15, fontsize=8)
        ax.set_title(reading, fontsize=10)
        ax.set_ylim(bottom, 1.0)
        ax.grid(axis="y", alpha=0.3)
    axes[0, 0].set_ylabel(f"recall (y axis from {bottom:g})")
    axes[0, -1].legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def reading_titles(false_positive_rate: float) -> dict:
    """The panel title of each reading, keyed as the metrics name them."""
    return {"threshold_0.5": "threshold 0.5",
            "matched_fpr": f"matched {false_positive_rate:.0%} false-positive rate"}


def benchmark_readings(result: dict, view: str, arms: dict) -> dict:
    """The benchmark JSON's per-seed recall, in the form ``plot_recall_by_group`` takes:
    ``view`` "tone" (the ``skin_tone`` block) or "race" (the top-level arm keys, the same
    runs); ``arms`` maps arm keys to legend labels."""
    tone = result["skin_tone"]
    titles = reading_titles(tone["false_positive_rate"])
    readings = {title: {} for title in titles.values()}
    for arm, label in arms.items():
        block = tone[arm] if view == "tone" else result[arm]
        at_half = block["threshold_0.5"] if view == "tone" else block
        for key, source in (("threshold_0.5", at_half), ("matched_fpr", block["matched_fpr"])):
            readings[titles[key]][label] = {"recall": source["recall_by_group"],
                                            "intervals": None}
    return readings


def plot_resampling_extremes(faces, probabilities, labels, count: int = 8):
    """The training faces the resampler weights most (top row) and least (bottom row), each
    titled with its group label and its weight relative to uniform draws."""
    order = np.argsort(probabilities)
    chosen = np.concatenate([order[::-1][:count], order[:count]])
    uniform = 1.0 / len(probabilities)
    titles = [f"{labels[i]}\n{probabilities[i] / uniform:.2g}x" for i in chosen]
    return show_images(
        faces[chosen], titles, ncols=count, size=1.4,
        suptitle="most (top) and least (bottom) likely to be drawn; weight vs uniform",
    )


def plot_group_shares(history: dict, natural: dict, groups=TONE_GROUPS):
    """Each group's share of the DB-VAE's face draws per epoch, against its share of the data."""
    fig, ax = plt.subplots(figsize=(8, 3.6))
    for index, group in enumerate(groups):
        shares = history.get(f"share_{group}", [])
        epochs = np.arange(1, len(shares) + 1)
        ax.plot(epochs, shares, "-o", ms=3, color=f"C{index}", label=_label(group))
        ax.axhline(natural[group], color=f"C{index}", ls=":", lw=0.8)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set(xlabel="epoch", ylabel="share of face draws", ylim=(0, None),
           title="Resampled share per group (dotted: share of the training faces)")
    ax.legend(fontsize=7, bbox_to_anchor=(1.01, 1), loc="upper left")
    fig.tight_layout()
    return fig


def plot_reconstructions(images, reconstructions, count: int = 8):
    """Faces (top) and the DB-VAE's reconstructions from their latent means (bottom)."""
    panels = list(images[:count]) + list(reconstructions[:count])
    return show_images(panels, ncols=count, size=1.3, suptitle="input (top), reconstruction")


def plot_tone_walk(walk: dict):
    """``latent.tone_walk``'s decoded faces, one row per starting face, each titled with the
    value the dimension was set to and the decoded image's ITA."""
    images, titles = [], []
    for decoded, angles in walk["walks"].values():
        images += list(decoded)
        titles += [f"{value:+.2f}: " + ("grey" if np.isnan(angle) else f"{angle:.0f}°")
                   for value, angle in zip(walk["values"], angles, strict=True)]
    return show_images(images, titles, ncols=len(walk["values"]), size=1.5,
                       suptitle=f"dimension {walk['dimension']} set to (value): ITA of the "
                                f"decoded image; rows start from a face of group "
                                f"{', '.join(walk['walks'])} (top to bottom)")


def plot_interpolation(frames):
    """``train.interpolate``'s frames: the two input faces at the ends and, between them,
    decoded points on the straight line between their latent means."""
    steps = np.linspace(0.0, 1.0, len(frames) - 2)
    titles = ["input"] + [f"t = {t:.2f}" for t in steps] + ["input"]
    return show_images(frames, titles, ncols=len(frames), size=1.2,
                       suptitle="from one face's code to another's: (1 - t) mu(left) + t mu(right)")


def plot_test_faces(images, groups, probabilities: dict):
    """The MIT test faces with each model's p(face) under them."""
    titles = [
        f"{group}\n" + " ".join(f"{name} {p[i]:.2f}" for name, p in probabilities.items())
        for i, group in enumerate(groups)
    ]
    return show_images(images, titles, ncols=10, size=1.6)


def plot_histories(histories: dict):
    """Classification loss per epoch (train dashed, evaluation set solid) for each model."""
    fig, ax = plt.subplots(figsize=(7, 3.6))
    for index, (name, history) in enumerate(histories.items()):
        key = "classification_loss" if "classification_loss" in history else "loss"
        epochs = np.arange(1, len(history[key]) + 1)
        ax.plot(epochs, history[key], "--", color=f"C{index}", label=f"{name} train")
        ax.plot(epochs, history[f"val_{key}"], "-o", ms=3, color=f"C{index}",
                label=f"{name} evaluation")
    ax.set(xlabel="epoch", ylabel="face/non-face cross-entropy", yscale="log")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
