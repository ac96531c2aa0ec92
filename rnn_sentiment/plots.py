"""The chapter's figures; each function returns a matplotlib Figure."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from matplotlib.ticker import MaxNLocator

from course.figures import plot_fit_histories


def _node(ax, x, y, text, colour, width=0.7, height=0.5):
    box = FancyBboxPatch(
        (x - width / 2, y - height / 2), width, height, boxstyle="round,pad=0.04",
        facecolor=colour, edgecolor="0.2", lw=1.0,
    )
    ax.add_patch(box)
    ax.text(x, y, text, ha="center", va="center", fontsize=10)


def _arrow(ax, start, end, colour="0.25", curve=0.0):
    ax.add_patch(FancyArrowPatch(
        start, end, arrowstyle="-|>", mutation_scale=11, color=colour, lw=1.1,
        connectionstyle=f"arc3,rad={curve}", shrinkA=13, shrinkB=13,
    ))


INPUT, STATE, OUTPUT = "#dbe9f6", "#fde3c8", "#d5efd5"


def _chain(ax, xs, y, labels, colour):
    for x, label in zip(xs, labels, strict=True):
        _node(ax, x, y, label, colour)
    for left, right in zip(xs[:-1], xs[1:], strict=False):
        _arrow(ax, (left, y), (right, y))


def plot_unrolled_srn(num_steps: int = 4):
    """The simple recurrent network folded (a loop on h) and unrolled over time."""
    fig, (folded, unrolled) = plt.subplots(
        1, 2, figsize=(11, 3.4), gridspec_kw={"width_ratios": [1, 3.4]}
    )
    _node(folded, 0, 0, "$x_t$", INPUT)
    _node(folded, 0, 1.2, "$h_t$", STATE)
    _node(folded, 0, 2.4, "$y_t$", OUTPUT)
    _arrow(folded, (0, 0), (0, 1.2))
    _arrow(folded, (0, 1.2), (0, 2.4))
    folded.add_patch(FancyArrowPatch(  # the self-loop: h_{t-1} feeds h_t through U
        (0.37, 1.1), (0.37, 1.3), arrowstyle="-|>", mutation_scale=11, color="C3", lw=1.1,
        connectionstyle="arc,angleA=0,angleB=0,armA=28,armB=28,rad=8",
    ))
    folded.text(0.95, 1.12, "$U$", color="C3")
    folded.text(0.08, 0.55, "$W$")
    folded.text(0.08, 1.75, "$V$")
    folded.set(xlim=(-1, 1.6), ylim=(-0.6, 3.0), title="folded")
    xs = np.arange(num_steps) * 1.6
    names = [f"{t}" for t in range(1, num_steps)] + ["T"]
    _chain(unrolled, xs, 1.2, [f"$h_{n}$" for n in names], STATE)
    _node(unrolled, -1.6, 1.2, "$h_0=0$", "0.92", width=0.9)
    _arrow(unrolled, (-1.6, 1.2), (0, 1.2))
    for x, n in zip(xs, names, strict=True):
        _node(unrolled, x, 0, f"$x_{n}$", INPUT)
        _node(unrolled, x, 2.4, f"$y_{n}$", OUTPUT)
        _arrow(unrolled, (x, 0), (x, 1.2))
        _arrow(unrolled, (x, 1.2), (x, 2.4))
        if x < xs[-1]:
            unrolled.text(x + 0.8, 1.32, "$U$", color="C3", ha="center")
    unrolled.set(xlim=(-2.3, xs[-1] + 0.8), ylim=(-0.6, 3.0),
                 title="unrolled: the same U, W, V at every step")
    for ax in (folded, unrolled):
        ax.set_aspect("equal")
        ax.axis("off")
    fig.tight_layout()
    return fig


def plot_application_shapes():
    """Sequence to class, synchronous sequence to sequence, and encoder-decoder, side by side."""
    fig, axes = plt.subplots(1, 3, figsize=(15, 3.6))
    xs = np.arange(4) * 1.2
    # Sequence to class: read every word, answer once at the end.
    ax = axes[0]
    _chain(ax, xs, 1.2, ["$h_1$", "$h_2$", "$h_3$", "$h_4$"], STATE)
    for x, n in zip(xs, range(1, 5), strict=True):
        _node(ax, x, 0, f"$x_{n}$", INPUT)
        _arrow(ax, (x, 0), (x, 1.2))
    _node(ax, xs[-1], 2.4, "$\\hat y$", OUTPUT)
    _arrow(ax, (xs[-1], 1.2), (xs[-1], 2.4))
    ax.set_title("sequence → class\n(sentiment of a review)")
    # Synchronous sequence to sequence: one output per input.
    ax = axes[1]
    _chain(ax, xs, 1.2, ["$h_1$", "$h_2$", "$h_3$", "$h_4$"], STATE)
    for x, n in zip(xs, range(1, 5), strict=True):
        _node(ax, x, 0, f"$x_{n}$", INPUT)
        _node(ax, x, 2.4, f"$\\hat y_{n}$", OUTPUT)
        _arrow(ax, (x, 0), (x, 1.2))
        _arrow(ax, (x, 1.2), (x, 2.4))
    ax.set_title("synchronous sequence → sequence\n(a part-of-speech tag per word)")
    # Encoder-decoder: read the whole input, then write an output of another length.
    ax = axes[2]
    encoder, decoder = xs[:3], xs[2] + 1.5 + xs[:3]
    _chain(ax, np.concatenate([encoder, decoder]), 1.2,
           ["$h_1$", "$h_2$", "$h_3$", "$h_4$", "$h_5$", "$h_6$"], STATE)
    for x, n in zip(encoder, range(1, 4), strict=True):
        _node(ax, x, 0, f"$x_{n}$", INPUT, width=0.6)
        _arrow(ax, (x, 0), (x, 1.2))
    for k, x in enumerate(decoder, start=1):
        _node(ax, x, 2.4, f"$\\hat y_{k}$", OUTPUT, width=0.6)
        _arrow(ax, (x, 1.2), (x, 2.4))
        if k < len(decoder):  # each output is fed back as the next step's input
            _arrow(ax, (x, 2.4), (decoder[k], 1.2), colour="C2", curve=-0.3)
    ax.axvline((encoder[-1] + decoder[0]) / 2, color="0.6", ls=":", lw=1)
    ax.text(encoder[1], -0.75, "encoder", ha="center")
    ax.text(decoder[1], -0.75, "decoder", ha="center")
    ax.set_title("encoder–decoder sequence → sequence\n(translation)")
    for ax, right in zip(axes, (xs[-1], xs[-1], decoder[-1]), strict=True):
        ax.set_aspect("equal")
        ax.set_xlim(-0.6, right + 0.6)  # patches do not take part in autoscaling
        ax.set_ylim(-1.0, 3.0)
        ax.axis("off")
    fig.tight_layout()
    return fig


def plot_gradient_norms(results: dict[str, dict[float, tuple[np.ndarray, np.ndarray]]]):
    """||h_t|| and ||dh_t/dh_0|| against t, one column per activation, one line per ||U||."""
    fig, axes = plt.subplots(2, len(results), figsize=(5.5 * len(results), 6.5), squeeze=False)
    for column, (activation, by_scale) in enumerate(results.items()):
        for index, (scale, (states, gradients)) in enumerate(sorted(by_scale.items())):
            colour = f"C{index}"
            axes[0, column].plot(states, color=colour, label=f"$\\|U\\|_2 = {scale:g}$")
            axes[1, column].plot(gradients, color=colour)
        axes[0, column].set(yscale="log", ylabel="$\\|h_t\\|$", title=f"f = {activation}")
        axes[1, column].set(yscale="log", xlabel="time step t",
                            ylabel="$\\|\\partial h_t / \\partial h_0\\|_2$")
        axes[0, column].legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_review_lengths(lengths: np.ndarray, max_tokens: int):
    """Histogram of review lengths in words, with the model's cut-off marked."""
    fig, ax = plt.subplots(figsize=(8, 3.2))
    ax.hist(lengths, bins=np.arange(0, np.percentile(lengths, 99.5) + 20, 20), color="C0")
    kept = np.mean(np.asarray(lengths) <= max_tokens)
    ax.axvline(max_tokens, color="C3", ls="--",
               label=f"max_tokens = {max_tokens} ({kept:.0%} of reviews fit whole)")
    ax.axvline(np.median(lengths), color="k", lw=1, label=f"median {np.median(lengths):.0f}")
    ax.set(xlabel="words per review", ylabel="reviews")
    ax.legend()
    fig.tight_layout()
    return fig


def plot_histories(histories: dict[str, dict[str, list[float]]]):
    """Training and validation loss and accuracy per epoch, one colour per model."""
    fig = plot_fit_histories(histories, loss_name="binary cross-entropy")
    num_epochs = max(len(history["loss"]) for history in histories.values())
    for ax in fig.axes:
        # Whole epochs only (matplotlib's default draws 1.25, 1.5, ... for a short run).
        if num_epochs <= 12:
            ax.set_xticks(range(1, num_epochs + 1))
        else:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlim(0.8, num_epochs + 0.2)
        ax.legend(fontsize=8)  # both panels: the loss curves need their names too
    return fig


def plot_running_probability(words: list[str], probabilities, title: str = "",
                             mark: int | None = None, words_per_row: int = 30):
    """P(positive) after each word of a review, the words written along the axis.

    Long reviews wrap onto several rows of ``words_per_row`` words, all on one scale, so the
    words stay legible at the notebook's width. ``mark``: the index of a word to highlight
    (a "but", say), drawn in bold with a dotted line.
    """
    probabilities = np.asarray(probabilities, dtype=float)
    num_rows = max(1, -(-len(words) // words_per_row))
    fig, axes = plt.subplots(num_rows, 1, figsize=(11, 2.9 * num_rows), squeeze=False)
    for row, ax in enumerate(axes[:, 0]):
        first = row * words_per_row
        steps = np.arange(first + 1, min(len(words), first + words_per_row) + 1)
        values = probabilities[steps - 1]
        ax.axhline(0.5, color="0.6", lw=0.8)
        ax.fill_between(steps, 0.5, values, where=values >= 0.5, color="C2", alpha=0.3,
                        interpolate=True)
        ax.fill_between(steps, 0.5, values, where=values < 0.5, color="C3", alpha=0.3,
                        interpolate=True)
        ax.plot(steps, values, color="k", lw=1.2, marker="o", ms=2.5)
        ax.set_xticks(steps)
        labels = ax.set_xticklabels([words[step - 1] for step in steps], rotation=90,
                                    fontsize=10)
        if mark is not None and first <= mark < first + words_per_row:
            labels[mark - first].set_fontweight("bold")
            labels[mark - first].set_color("C0")
            ax.axvline(mark + 1, color="C0", ls=":", lw=1.2)
        ax.set(ylim=(0, 1), xlim=(first + 0.5, first + words_per_row + 0.5),
               ylabel="P(positive)")
        ax.tick_params(axis="y", labelsize=10)
    axes[0, 0].set_title(title, fontsize=12)
    fig.tight_layout()
    return fig
