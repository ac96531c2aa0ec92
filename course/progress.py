"""A Keras callback that shows training progress with tqdm, one bar per epoch."""

from __future__ import annotations

import sys

import keras
from tqdm import tqdm


def format_logs(logs: dict | None) -> str:
    """``loss=0.123 accuracy=0.9876 ...`` with four significant digits."""
    return " ".join(f"{name}={value:.4g}" for name, value in (logs or {}).items())


class TqdmProgress(keras.callbacks.Callback):
    """Shows a bar over the batches of each epoch; when the epoch ends, its metrics.

    Use with ``fit(..., verbose=0)``: Keras's own bar would print every line twice.
    """

    def __init__(self, description: str = "", file=None):
        super().__init__()
        self.description = description
        self.file = file
        self._bar = None

    def on_epoch_begin(self, epoch, logs=None):
        num_epochs = self.params.get("epochs")
        label = f"{self.description} epoch {epoch + 1}/{num_epochs}".strip()
        self._bar = tqdm(
            total=self.params.get("steps"),
            desc=label,
            unit="batch",
            file=self.file or sys.stdout,
            mininterval=2.0,
            # A fixed-width bar and no line-width limit: the metrics at the end are never cut.
            bar_format="{l_bar}{bar:25}{r_bar}",
            leave=True,
        )

    def on_train_batch_end(self, batch, logs=None):
        self._bar.update(1)

    def on_epoch_end(self, epoch, logs=None):
        bar = self._bar
        postfix = format_logs(logs)
        if bar.total and bar.n < bar.total:
            # Training stopped inside the epoch (a step or time budget reached): end the bar at
            # what ran and say so, so that a half-drawn bar does not read as a crash.
            postfix = f"stopped after {bar.n} of {bar.total} batches; {postfix}".rstrip("; ")
            bar.total = bar.n
        bar.set_postfix_str(postfix, refresh=False)
        bar.close()
        self._bar = None

    def on_train_end(self, logs=None):
        if self._bar is not None:  # stopped before its epoch ended: close the bar all the same
            self._bar.close()
            self._bar = None
