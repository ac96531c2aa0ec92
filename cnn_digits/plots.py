"""The chapter's figures; each function returns a matplotlib Figure."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from course.figures import plot_fit_histories


def plot_signal_filters(dates, signal, smoothed, second_difference, window: int):
    """A noisy series, its moving average, and its second difference, stacked."""
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 5.5), sharex=True)
    top.plot(dates, signal, color="0.6", lw=0.8, label="daily close")
    top.plot(
        dates[window - 1 :], smoothed, color="C0", lw=1.6, label=f"{window}-day moving average"
    )
    top.set_ylabel("price (USD)")
    top.legend(loc="upper left")
    # Each valid convolution shortens the series: by window - 1, then by 2 more.
    bottom.plot(dates[window + 1 :], second_difference, color="C3", lw=0.7)
    bottom.axhline(0, color="k", lw=0.5)
    bottom.set_ylabel("second difference of\nthe moving average")
    fig.tight_layout()
    return fig


def show_images(images, titles, ncols: int, size: float = 2.0, cmap="gray", suptitle=None):
    """A grid of images with a title under each; colour images are shown as they are."""
    nrows = int(np.ceil(len(images) / ncols))
    figsize = (size * ncols, size * nrows + 0.3)
    fig, axes = plt.subplots(nrows, ncols, figsize=figsize, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, title in zip(axes.flat, images, titles, strict=False):
        ax.imshow(image, cmap=None if np.ndim(image) == 3 else cmap)
        ax.set_title(title, fontsize=9)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def plot_kernel_gallery(image: np.ndarray, kernels: dict, filtered: dict[str, np.ndarray]):
    """The grey picture, then the result of each named kernel.

    Kernels whose weights sum to 1 (blur, sharpen, emboss) keep the brightness scale and are
    clipped to [0, 1]; kernels that sum to 0 (edges) are shown around mid-grey, scaled to their 99th
    percentile so a few strong edges do not wash out the rest.
    """
    panels = [image]
    for name, result in filtered.items():
        if np.isclose(np.sum(kernels[name]), 1.0):
            panels.append(np.clip(result, 0, 1))
        else:
            scale = np.percentile(np.abs(result), 99) or 1.0
            panels.append(np.clip(0.5 + 0.5 * result / scale, 0, 1))
    fig = show_images(panels, ["original", *filtered], ncols=4, size=2.6)
    for ax in fig.axes:
        for shown in ax.get_images():
            shown.set_clim(0, 1)
    return fig


def text_colour(background) -> str:
    """Black or white, whichever reads better on a cell of this RGB(A) colour."""
    red, green, blue = background[:3]
    return "k" if 0.299 * red + 0.587 * green + 0.114 * blue > 0.5 else "w"


def plot_matrix_values(matrices: dict[str, np.ndarray], outlines: dict | None = None,
                       shared_scale: bool = False):
    """Small matrices drawn as annotated heat maps (for stride, padding and pooling).

    ``outlines`` maps a panel's title to rectangles ``(row, col, height, width, colour)`` to
    frame on it: a kernel's window, a pooling region. With ``shared_scale`` every panel uses one
    colour scale and one colour bar, so equal values look alike across panels; otherwise each
    panel has its own scale and its own bar. Each number is written in black or white,
    whichever reads on its cell.
    """
    fig, axes = plt.subplots(1, len(matrices), figsize=(3.6 * len(matrices), 3.2),
                             squeeze=False, layout="constrained")
    axes = axes[0]
    everything = np.concatenate([np.ravel(matrix) for matrix in matrices.values()])
    limits = (everything.min(), everything.max()) if shared_scale else (None, None)
    for ax, (title, matrix) in zip(axes, matrices.items(), strict=True):
        shown = ax.imshow(matrix, cmap="Blues", vmin=limits[0], vmax=limits[1])
        for (row, col), value in np.ndenumerate(matrix):
            colour = text_colour(shown.cmap(shown.norm(value)))
            ax.text(col, row, f"{value:g}", ha="center", va="center", fontsize=9, color=colour)
        # Inset a little so the frames of neighbouring regions do not draw over each other.
        for row, col, height, width, colour in (outlines or {}).get(title, []):
            ax.add_patch(plt.Rectangle((col - 0.45, row - 0.45), width - 0.1, height - 0.1,
                                       fill=False, edgecolor=colour, linewidth=2.5))
        ax.set_title(title)
        ax.set_xticks([])
        ax.set_yticks([])
        if not shared_scale:
            fig.colorbar(shown, ax=ax, shrink=0.8)
    if shared_scale:
        fig.colorbar(shown, ax=list(axes), shrink=0.8, label="one scale for all panels")
    return fig


def plot_histories(histories: dict[str, dict[str, list[float]]]):
    """Training and validation loss and accuracy per epoch, one colour per model."""
    return plot_fit_histories(histories, loss_name="cross-entropy", log_loss=True,
                              min_accuracy=0.9)


def plot_confusion_matrix(labels: np.ndarray, predictions: np.ndarray, title: str = ""):
    """Counts of (true digit, predicted digit); the diagonal is dimmed to show the mistakes."""
    counts = np.zeros((10, 10), dtype=int)
    np.add.at(counts, (labels, predictions), 1)
    off_diagonal = counts * (1 - np.eye(10, dtype=int))
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.imshow(off_diagonal, cmap="Reds")
    for (row, col), value in np.ndenumerate(counts):
        if value:
            colour = "0.5" if row == col else "k"
            ax.text(col, row, str(value), ha="center", va="center", fontsize=7, color=colour)
    ax.set(xlabel="predicted", ylabel="true", xticks=range(10), yticks=range(10), title=title)
    fig.tight_layout()
    return fig


def plot_misclassified(images, labels, probabilities, max_images: int = 24):
    """The test digits the model got wrong, most confident mistakes first."""
    predictions = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(predictions != labels)
    wrong = wrong[np.argsort(-probabilities[wrong, predictions[wrong]])][:max_images]
    titles = [
        f"true {labels[i]}, said {predictions[i]}\n({probabilities[i, predictions[i]]:.0%})"
        for i in wrong
    ]
    return show_images([images[i] for i in wrong], titles, ncols=8, size=1.5)


def plot_feature_maps(image: np.ndarray, maps: np.ndarray, max_maps: int = 16):
    """One digit and the first feature maps a convolution layer makes from it.

    All maps share one colour scale (the bar at the right), so a dark map is one that responds
    weakly to this digit, not one stretched to fill its own range.
    """
    count = min(max_maps, maps.shape[-1])
    ncols = 9
    nrows = int(np.ceil((count + 1) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.3 * ncols + 0.8, 1.35 * nrows + 0.2),
                             squeeze=False, layout="constrained")
    for ax in axes.flat:
        ax.axis("off")
    axes.flat[0].imshow(image, cmap="gray")
    axes.flat[0].set_title("input", fontsize=9)
    shown_maps = maps[..., :count]
    low, high = min(0.0, float(shown_maps.min())), float(shown_maps.max())
    for k, ax in enumerate(axes.flat[1 : count + 1]):
        shown = ax.imshow(maps[..., k], cmap="viridis", vmin=low, vmax=high or 1.0)
        ax.set_title(f"map {k}", fontsize=9)
    fig.colorbar(shown, ax=axes, shrink=0.9, label="activation")
    return fig


def plot_own_digits(originals, prepared, probabilities, true_labels=None, ncols: int = 9):
    """Each photo, its prepared 28x28 version, and the model's probabilities over 0-9.

    One narrow column per image, ``ncols`` images to a row of columns. The title is the
    prediction and its probability: green when it matches the true label, red (naming the true
    label) when it does not, blue when the label is unknown.
    """
    count = len(prepared)
    ncols = max(1, min(ncols, count))
    blocks = int(np.ceil(count / ncols))
    fig, axes = plt.subplots(3 * blocks, ncols, figsize=(1.25 * ncols + 0.6, 3.3 * blocks),
                             squeeze=False, layout="constrained",
                             gridspec_kw={"height_ratios": [1, 1, 0.75] * blocks})
    for ax in axes.flat:
        ax.set_axis_off()
    for index in range(count):
        block, col = divmod(index, ncols)
        photo_ax, input_ax, bar_ax = axes[3 * block : 3 * block + 3, col]
        photo_ax.imshow(originals[index], cmap="gray")
        input_ax.imshow(prepared[index], cmap="gray")
        guess = int(np.argmax(probabilities[index]))
        truth = None if true_labels is None else true_labels[index]
        title, colour = f"{guess} ({probabilities[index, guess]:.0%})", "C0"
        if truth is not None:
            colour = "C2" if truth == guess else "C3"
            title += "" if truth == guess else f", true {truth}"
        photo_ax.set_title(title, fontsize=9, color=colour)
        bar_ax.set_axis_on()
        bar_ax.bar(range(10), probabilities[index],
                   color=[colour if digit == guess else "0.7" for digit in range(10)])
        bar_ax.set_ylim(0, 1)
        bar_ax.set_xticks(range(10), [str(digit) for digit in range(10)], fontsize=6)
        bar_ax.set_yticks([0, 1] if col == 0 else [], ["0", "1"] if col == 0 else [],
                          fontsize=6)
        bar_ax.tick_params(length=2, pad=1)
    for block in range(blocks):
        axes[3 * block, 0].text(-0.15, 0.5, "your image", rotation=90, fontsize=8,
                                ha="right", va="center", transform=axes[3 * block, 0].transAxes)
        axes[3 * block + 1, 0].text(-0.15, 0.5, "prepared\n28x28", rotation=90, fontsize=8,
                                    ha="right", va="center",
                                    transform=axes[3 * block + 1, 0].transAxes)
        axes[3 * block + 2, 0].set_ylabel("probability", fontsize=8)
    return fig
