"""Saving figures next to the run that produced them, and the training-curve plot of `fit`."""

from __future__ import annotations

import os
from pathlib import Path

from course.atomic import atomic_path


def save_figure(fig, path: str | os.PathLike, dpi: int = 110) -> Path:
    """Write ``fig`` as a PNG at ``path`` atomically (a reader never sees half a file)."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight")
    return Path(path)


def plot_fit_histories(histories: dict[str, dict[str, list[float]]], loss_name: str = "loss",
                       log_loss: bool = False, min_accuracy: float | None = None):
    """Training and validation loss and accuracy per epoch of Keras ``fit``, a colour per model.

    ``histories`` maps a model's name to its ``History.history`` (loss, val_loss, accuracy,
    val_accuracy); training curves are dashed, validation curves solid with dots.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(11, 4))
    for index, (name, history) in enumerate(histories.items()):
        epochs = np.arange(1, len(history["loss"]) + 1)
        colour = f"C{index}"
        loss_ax.plot(epochs, history["loss"], "--", color=colour, label=f"{name} train")
        loss_ax.plot(epochs, history["val_loss"], "-o", ms=3, color=colour, label=f"{name} val")
        acc_ax.plot(epochs, history["accuracy"], "--", color=colour, label=f"{name} train")
        acc_ax.plot(epochs, history["val_accuracy"], "-o", ms=3, color=colour, label=f"{name} val")
    loss_ax.set(xlabel="epoch", ylabel=loss_name, title="loss")
    if log_loss:
        loss_ax.set_yscale("log")
    acc_ax.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    if min_accuracy is not None:
        acc_ax.set_ylim(max(min_accuracy, acc_ax.get_ylim()[0]), 1.0)
    acc_ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
