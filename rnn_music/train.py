"""Training (Keras ``fit`` on random windows), checkpoints every N steps, held-out loss.

Training has no epochs in the usual sense: every batch is a fresh draw of random windows. So one
Keras "epoch" here is ``steps_per_checkpoint`` steps, after which the course's checkpoint
callback saves weights and optimizer state atomically and ``fit`` measures the held-out loss.
An interrupted run resumes from its last checkpoint; a finished one is loaded, not retrained.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import keras
import numpy as np

from course.atomic import atomic_write_text
from course.autodiff import make_gradient_step
from course.checkpoint import fit_resumable, read_state, restore, runs_root, save_final_model
from course.progress import TqdmProgress
from rnn_music.config import MusicConfig
from rnn_music.data import MusicSplits, Vocabulary, consecutive_windows, epoch_window_batches
from rnn_music.model import build_model

VOCABULARY_FILE = "vocabulary.json"


def run_dir(config: MusicConfig) -> Path:
    """Where this profile's model, samples and figures go (one folder per profile)."""
    return runs_root() / "rnn_music" / config.profile


def sparse_cross_entropy():
    """L = -(1/N) sum_t ln softmax(z_t)[c_{t+1}]: natural log, so the loss is in nats/char."""
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def compile_model(model: keras.Model, learning_rate: float, jit_compile="auto") -> keras.Model:
    """Adam on the sparse cross-entropy, gradients clipped to norm 1 (LSTM gradients can spike).

    ``"auto"`` compiles the step with XLA only where Keras expects it to pay: on JAX (which
    needs it to compile at all), not on a CPU-only TensorFlow, where XLA was not faster here.
    """
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate, clipnorm=1.0),
        loss=sparse_cross_entropy(),
        jit_compile=jit_compile,
    )
    return model


def gradient_step(model: keras.Model, optimizer, loss_fn, x, y) -> float:
    """One step of gradient descent on a batch, written out (``fit`` runs the same, compiled).

    The loss L(theta) is computed from a forward pass in training mode; the backend finds
    dL/dtheta for every weight (``course.autodiff`` shows how each backend does it); the
    optimizer (Adam) moves the weights. Returns the batch's loss before the step.
    """
    step = make_gradient_step(
        lambda x, y: loss_fn(y, model(x, training=True)), model, optimizer, compiled=False
    )
    return float(keras.ops.convert_to_numpy(step(x, y)))


class BudgetSchedule(keras.callbacks.Callback):
    """Learning rate and stopping by the run's progress, on a step or a time budget.

    progress p = max(steps done / num_steps, training seconds / train_seconds). The rate rises
    linearly from lr/10 to lr over the first 3% of p, then follows a cosine,
    lr(p) = lr (1 + cos(pi p')) / 2, down to zero at p = 1, where training stops. On a fixed
    time budget the schedule thus adapts to the machine: a slower CPU takes fewer, equally
    well-annealed steps. Training seconds count only the batches (not evaluation, saving,
    or the first batch of a fit, which also traces the graph).
    """

    def __init__(self, learning_rate, num_steps, train_seconds=None, seconds_done=0.0,
                 warmup=0.03):
        super().__init__()
        self.peak, self.num_steps, self.train_seconds = learning_rate, num_steps, train_seconds
        self.seconds, self.warmup = float(seconds_done), warmup

    def progress(self) -> float:
        by_steps = int(self.model.optimizer.iterations) / self.num_steps
        by_time = self.seconds / self.train_seconds if self.train_seconds else 0.0
        return min(1.0, max(by_steps, by_time))

    def rate(self, progress: float) -> float:
        if progress < self.warmup:
            return self.peak * (0.1 + 0.9 * progress / self.warmup)
        cosine_progress = (progress - self.warmup) / (1 - self.warmup)
        return self.peak * 0.5 * (1 + np.cos(np.pi * cosine_progress))

    def on_train_begin(self, logs=None):
        self._traced = False

    def on_train_batch_begin(self, batch, logs=None):
        self.model.optimizer.learning_rate.assign(self.rate(self.progress()))
        self._start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        # The first batch of a fit also traces and compiles the step: not training time.
        if self._traced:
            self.seconds += time.perf_counter() - self._start
        self._traced = True
        if self.progress() >= 1.0:
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:  # saved with the checkpoint's history, so a resume continues it
            logs["seconds"] = self.seconds
            logs["steps"] = float(int(self.model.optimizer.iterations))


def heldout_dataset(splits: MusicSplits, sequence_length: int, batch_size: int = 64):
    """The held-out text as back-to-back windows (the LSTM starts from zeros in each)."""
    import tensorflow as tf

    encoded = splits.vocabulary.encode(splits.heldout_text)
    inputs, targets = consecutive_windows(encoded, sequence_length)
    return tf.data.Dataset.from_tensor_slices((inputs, targets)).batch(batch_size)


def save_vocabulary(vocabulary: Vocabulary, folder: Path) -> None:
    atomic_write_text(folder / VOCABULARY_FILE, json.dumps(list(vocabulary.characters)))


def load_vocabulary(folder: Path) -> Vocabulary:
    return Vocabulary(tuple(json.loads((Path(folder) / VOCABULARY_FILE).read_text())))


def train(
    splits: MusicSplits,
    config: MusicConfig,
    folder: Path | None = None,
    callbacks: list | tuple = (),
) -> tuple[keras.Model, dict[str, list[float]]]:
    """Build and fit the model of ``config`` on the training tunes; return (model, history).

    History keys, one value per checkpoint: ``loss``, ``val_loss`` (held-out, nats/char),
    ``steps`` and ``seconds`` (training steps and seconds so far). Checkpoints go in ``folder``
    (default ``run_dir(config) / "model"``) with the vocabulary and, at the end, ``model.keras``.
    """
    folder = Path(folder or run_dir(config) / "model")
    model = build_model(
        splits.vocabulary.size, config.embedding_dim, config.rnn_units,
        config.input_dropout, config.output_dropout,
    )
    compile_model(model, config.learning_rate)
    fingerprint = {
        **config.training_fingerprint(), "vocabulary": "".join(splits.vocabulary.characters)
    }
    final = folder / "model.keras"
    if final.exists():  # written only when a run has finished (its budget may end mid-epoch)
        _, history = restore(model, folder, fingerprint)
        print(f"Loaded the finished run from {folder} ({int(history['steps'][-1])} steps).")
        return model, history
    state = read_state(folder) or {}
    encoded = splits.vocabulary.encode(splits.train_text)
    train_data = epoch_window_batches(
        encoded, config.sequence_length, config.batch_size, config.steps_per_checkpoint,
        seed=config.seed,
    )
    save_vocabulary(splits.vocabulary, folder)
    seconds_done = (state.get("history", {}).get("seconds") or [0.0])[-1]
    schedule = BudgetSchedule(
        config.learning_rate, config.num_steps, config.train_seconds, seconds_done
    )
    history = fit_resumable(
        model,
        train_data,
        num_epochs=-(-config.num_steps // config.steps_per_checkpoint),
        folder=folder,
        config=fingerprint,
        validation_data=heldout_dataset(splits, config.sequence_length),
        callbacks=[TqdmProgress("steps"), schedule, *callbacks],
    )
    save_final_model(model, folder)
    return model, history
