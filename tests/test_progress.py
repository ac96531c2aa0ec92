"""course.progress: one bar per epoch, and an epoch that training leaves early ends cleanly."""

import io

import course  # noqa: F401  (quiets TensorFlow before it is imported)

# isort: split
import keras
import numpy as np

from course.progress import TqdmProgress


class StopAtStep(keras.callbacks.Callback):
    """Stops training after a number of steps, mid-epoch (as a step or time budget does)."""

    def __init__(self, steps):
        super().__init__()
        self.steps = steps

    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.optimizer.iterations) >= self.steps:
            self.model.stop_training = True


def _fit(callbacks, epochs=3):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    printed = io.StringIO()
    model.fit(np.zeros((80, 2)), np.zeros((80, 1)), batch_size=8, epochs=epochs, verbose=0,
              callbacks=[TqdmProgress("steps", file=printed), *callbacks])
    # What a notebook keeps of the stream: the last drawing of each line.
    return [line.split("\r")[-1] for line in printed.getvalue().rstrip("\n").split("\n")]


def test_each_epoch_ends_on_a_full_bar_with_its_metrics():
    lines = _fit([], epochs=2)
    assert len(lines) == 2
    for number, line in enumerate(lines, start=1):
        assert line.startswith(f"steps epoch {number}/2: 100%") and "10/10" in line
        assert "loss=" in line and "stopped" not in line


def test_an_epoch_stopped_early_ends_at_100_percent_and_says_why():
    lines = _fit([StopAtStep(13)])
    assert len(lines) == 2 and "10/10" in lines[0]
    last = lines[-1]
    assert last.startswith("steps epoch 2/3: 100%") and "3/3" in last
    assert "stopped after 3 of 10 batches; loss=" in last
