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

    Kernels whose weights sum to 1 (blur, sharpen) keep the brightness scale and are clipped to
    [0, 1]; kernels that sum to 0 (edges) are shown around mid-grey, scaled to their 99th
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


def plot_matrix_values(matrices: dict[str, np.ndarray]):
    """Small integer/float matrices drawn as annotated heat maps (for pooling and padding)."""
    fig, axes = plt.subplots(1, len(matrices), figsize=(3.2 * len(matrices), 3.2))
    for ax, (title, matrix) in zip(np.atleast_1d(axes), matrices.items(), strict=True):
        ax.imshow(matrix, cmap="Blues")
        for (row, col), value in np.ndenumerate(matrix):
            ax.text(col, row, f"{value:g}", ha="center", va="center", fontsize=9)
        ax.set_title(title)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
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
    """One digit and the first feature maps a convolution layer makes from it."""
    count = min(max_maps, maps.shape[-1])
    panels = [image] + [maps[..., k] for k in range(count)]
    titles = ["input"] + [f"map {k}" for k in range(count)]
    return show_images(panels, titles, ncols=9, size=1.3, cmap="viridis")


def plot_own_digits(originals, prepared, probabilities, true_labels=None):
    """Each photo, its prepared 28x28 version, and the model's probabilities over 0-9."""
    count = len(prepared)
    fig, axes = plt.subplots(count, 3, figsize=(8, 1.7 * count), squeeze=False,
                             gridspec_kw={"width_ratios": [1, 1, 2.2]})
    for row in range(count):
        photo_ax, input_ax, bar_ax = axes[row]
        photo_ax.imshow(originals[row], cmap="gray")
        input_ax.imshow(prepared[row], cmap="gray")
        guess = int(np.argmax(probabilities[row]))
        colours = ["C2" if digit == guess else "0.7" for digit in range(10)]
        bar_ax.bar(range(10), probabilities[row], color=colours)
        known = true_labels is not None and true_labels[row] is not None
        truth = f" (true {true_labels[row]})" if known else ""
        bar_ax.set_title(f"predicted {guess}: {probabilities[row, guess]:.1%}{truth}", fontsize=9)
        bar_ax.set(ylim=(0, 1), xticks=range(10))
        for ax in (photo_ax, input_ax):
            ax.axis("off")
    axes[0, 0].set_title("your image", fontsize=9)
    axes[0, 1].set_title("prepared 28x28", fontsize=9)
    fig.tight_layout()
    return fig
