"""The chapter's figures; each function returns a matplotlib Figure."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from vae_faces.config import RACES


def show_images(images, titles=None, ncols: int = 8, size: float = 1.3, suptitle=None):
    """A grid of RGB images (uint8 or floats in [0, 1]) with optional titles."""
    nrows = max(1, int(np.ceil(len(images) / ncols)))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + 0.4),
                             squeeze=False)
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


def plot_composition(train_counts: dict, eval_counts: dict):
    """Faces per race group: the skewed training set beside the balanced evaluation set."""
    fig, ax = plt.subplots(figsize=(9, 3.6))
    positions = np.arange(len(RACES))
    train = [train_counts.get(race, 0) for race in RACES]
    held_out = [eval_counts.get(race, 0) for race in RACES]
    ax.bar(positions - 0.2, train, 0.4, label="training (skewed)", color="C0")
    ax.bar(positions + 0.2, held_out, 0.4, label="evaluation (balanced)", color="C1")
    total = sum(train)
    for x, count in zip(positions, train, strict=True):
        ax.text(x - 0.2, count, f"{count / total:.1%}", ha="center", va="bottom", fontsize=8)
    ax.set_xticks(positions, [race.replace("_", "/") for race in RACES], rotation=20)
    ax.set(ylabel="faces", title="Faces per race group")
    ax.legend()
    fig.tight_layout()
    return fig


def plot_recall_by_group(results: dict, intervals: dict | None = None):
    """Recall per group for each model. ``results``: {model: {group: [recall per seed]}}.

    Bars are seed means, dots the single seeds; ``intervals`` ({model: {group: (lo, hi)}})
    adds bootstrap 95% intervals as error bars.
    """
    fig, ax = plt.subplots(figsize=(10, 4))
    width = 0.8 / len(results)
    positions = np.arange(len(RACES))
    for index, (name, by_group) in enumerate(results.items()):
        offset = (index - (len(results) - 1) / 2) * width
        means = np.array([np.mean(by_group[race]) for race in RACES])
        error = None
        if intervals and name in intervals:
            low = np.array([intervals[name][race][0] for race in RACES])
            high = np.array([intervals[name][race][1] for race in RACES])
            error = np.clip([means - low, high - means], 0, None)
        ax.bar(positions + offset, means, width, yerr=error, capsize=3, label=name,
               color=f"C{index}", alpha=0.8)
        for x, race in zip(positions, RACES, strict=True):
            seeds = by_group[race]
            ax.plot(np.full(len(seeds), x + offset), seeds, "k.", ms=3)
    ax.set_xticks(positions, [race.replace("_", "/") for race in RACES], rotation=20)
    low = min(min(min(v) for v in by_group.values()) for by_group in results.values())
    ax.set_ylim(max(0.0, low - 0.1), 1.0)
    ax.set(ylabel="recall (faces found)", title="Face recall per race group")
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def plot_resampling_extremes(faces, probabilities, races, count: int = 8):
    """The training faces the resampler weights most (top row) and least (bottom row)."""
    order = np.argsort(probabilities)
    chosen = np.concatenate([order[::-1][:count], order[:count]])
    uniform = 1.0 / len(probabilities)
    titles = [f"{races[i].replace('_', '/')}\n{probabilities[i] / uniform:.2g}x" for i in chosen]
    return show_images(
        faces[chosen], titles, ncols=count, size=1.4,
        suptitle="most (top) and least (bottom) likely to be drawn; weight vs uniform",
    )


def plot_group_shares(history: dict, natural: dict):
    """Each group's share of the DB-VAE's face draws per epoch, against its share of the data."""
    fig, ax = plt.subplots(figsize=(8, 3.6))
    for index, race in enumerate(RACES):
        shares = history.get(f"share_{race}", [])
        epochs = np.arange(1, len(shares) + 1)
        ax.plot(epochs, shares, "-o", ms=3, color=f"C{index}", label=race.replace("_", "/"))
        ax.axhline(natural[race], color=f"C{index}", ls=":", lw=0.8)
    ax.set(xlabel="epoch", ylabel="share of face draws", yscale="log",
           title="Resampled share per group (dotted: share of the training faces)")
    ax.legend(fontsize=7, bbox_to_anchor=(1.01, 1), loc="upper left")
    fig.tight_layout()
    return fig


def plot_reconstructions(images, reconstructions, count: int = 8):
    """Faces (top) and the DB-VAE's reconstructions from their latent means (bottom)."""
    panels = list(images[:count]) + list(reconstructions[:count])
    return show_images(panels, ncols=count, size=1.3, suptitle="input (top), reconstruction")


def plot_interpolation(frames):
    """Decoded points on the line between two faces' latent means (the two ends: inputs)."""
    return show_images(frames, ncols=len(frames), size=1.2)


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
