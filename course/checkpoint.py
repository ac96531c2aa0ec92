"""Checkpoints written atomically after every epoch, so an interrupted run resumes.

A checkpoint folder holds ``model.weights.h5`` (layer weights and optimizer state),
``state.json`` (epochs done, history, the configuration that produced them) and ``history.csv``.
Each file is written to a temporary name and renamed over the old one, so a crash leaves the
previous complete checkpoint, never half of a new one.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from pathlib import Path

import keras

from course.fetch import PROJECT_ROOT
from course.progress import TqdmProgress

WEIGHTS = "model.weights.h5"
STATE = "state.json"
HISTORY_CSV = "history.csv"


def runs_root() -> Path:
    """Where runs write: ``$DL_CHECKPOINT_DIR`` if set (tests use a temporary folder), else
    ``training_checkpoints/`` in the project."""
    return Path(os.environ.get("DL_CHECKPOINT_DIR") or PROJECT_ROOT / "training_checkpoints")


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file and an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    try:
        with os.fdopen(handle, "w") as tmp:
            tmp.write(text)
        os.chmod(tmp_name, 0o644)  # mkstemp makes files private; these are ordinary outputs
        os.replace(tmp_name, path)
    finally:
        if os.path.exists(tmp_name):
            os.remove(tmp_name)
    return path


def atomic_save_weights(model: keras.Model, path: str | os.PathLike) -> Path:
    """``model.save_weights`` through a temporary file and an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Keras insists that the name ends in ".weights.h5".
    tmp_path = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    try:
        model.save_weights(tmp_path)
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)
    return path


def save_final_model(model: keras.Model, folder: str | os.PathLike) -> Path:
    """Write ``folder/model.keras`` once, atomically, when a training run has finished."""
    path = Path(folder) / "model.keras"
    if not path.exists():
        tmp_path = path.with_name(f".tmp-{os.getpid()}-{path.name}")  # must end in .keras
        try:
            model.save(tmp_path)
            os.replace(tmp_path, path)
        finally:
            tmp_path.unlink(missing_ok=True)
    return path


def history_to_csv(history: dict[str, list[float]]) -> str:
    """One row per epoch, one column per metric."""
    out = io.StringIO()
    writer = csv.writer(out)
    names = list(history)
    writer.writerow(["epoch", *names])
    for epoch, row in enumerate(zip(*(history[n] for n in names), strict=True), start=1):
        writer.writerow([epoch, *row])
    return out.getvalue()


def describe_architecture(model: keras.Model) -> list[list]:
    """Layer types and parameter counts: enough to tell that a checkpoint fits a network."""
    return [[layer.__class__.__name__, int(layer.count_params())] for layer in model.layers]


def read_state(folder: str | os.PathLike) -> dict | None:
    """The saved state of ``folder`` (epochs done, history, config), or None if there is none."""
    state_path = Path(folder) / STATE
    if not state_path.exists():
        return None
    return json.loads(state_path.read_text())


class EpochCheckpoint(keras.callbacks.Callback):
    """After each epoch, save weights, optimizer state and the history so far to ``folder``."""

    def __init__(self, folder: str | os.PathLike, config: dict, history: dict | None = None):
        super().__init__()
        self.folder = Path(folder)
        self.config = config
        self.history = {k: list(v) for k, v in (history or {}).items()}

    def on_epoch_end(self, epoch, logs=None):
        for name, value in (logs or {}).items():
            self.history.setdefault(name, []).append(float(value))
        atomic_save_weights(self.model, self.folder / WEIGHTS)
        # state.json is written last: it is the marker that the weights beside it are complete.
        state = {
            "epochs_done": epoch + 1,
            "history": self.history,
            "config": self.config,
            "architecture": describe_architecture(self.model),
        }
        atomic_write_text(self.folder / HISTORY_CSV, history_to_csv(self.history))
        atomic_write_text(self.folder / STATE, json.dumps(state, indent=1))


def restore(model: keras.Model, folder: str | os.PathLike, config: dict) -> tuple[int, dict]:
    """Load the checkpoint in ``folder`` into ``model``; return (epochs done, history so far).

    ``model`` must be compiled. With no checkpoint, returns ``(0, {})`` and changes nothing.
    A checkpoint written with another configuration is refused rather than silently mixed in.
    """
    state = read_state(folder)
    if state is None:
        return 0, {}
    # Compare as JSON sees them: a tuple in ``config`` comes back from state.json as a list.
    if state.get("config") != json.loads(json.dumps(config)):
        raise ValueError(
            f"The checkpoint in {folder} was trained with a different configuration; "
            "delete that folder to train from scratch, or restore the configuration it lists "
            f"in {Path(folder) / STATE}."
        )
    if state.get("architecture") != describe_architecture(model):
        raise ValueError(
            f"The checkpoint in {folder} was written by a different network (other layers or "
            "sizes); delete that folder to train this network from scratch."
        )
    # The optimizer's slots must exist before its saved values can be loaded into them.
    model.optimizer.build(model.trainable_variables)
    model.load_weights(Path(folder) / WEIGHTS)
    return int(state["epochs_done"]), state["history"]


def fit_resumable(
    model: keras.Model,
    train_data,
    *,
    num_epochs: int,
    folder: str | os.PathLike,
    config: dict,
    validation_data=None,
    callbacks: list | tuple = (),
) -> dict[str, list[float]]:
    """``model.fit`` that checkpoints every epoch and resumes from ``folder``.

    A finished run is loaded, not retrained; an interrupted one continues from its last saved
    epoch. Returns the full history (all epochs, resumed ones included).
    """
    epochs_done, history = restore(model, folder, config)
    if epochs_done >= num_epochs:
        # As fit() does when it ends: an optimizer that averages weights puts the average in.
        model.optimizer.finalize_variable_values(model.trainable_weights)
        print(f"Loaded the finished run from {folder} ({epochs_done} epochs).")
        return history
    if epochs_done:
        print(f"Resuming from {folder}: {epochs_done} of {num_epochs} epochs already done.")
    checkpoint = EpochCheckpoint(folder, config, history)
    model.fit(
        train_data,
        validation_data=validation_data,
        epochs=num_epochs,
        initial_epoch=epochs_done,
        callbacks=[*callbacks, checkpoint],
        shuffle=False,  # the tf.data pipeline shuffles; Keras would only warn about it
        verbose=0,
    )
    return checkpoint.history


def fit_and_save(
    model: keras.Model,
    train_data,
    *,
    num_epochs: int,
    folder: str | os.PathLike,
    config: dict,
    validation_data=None,
    callbacks: list | tuple = (),
) -> dict[str, list[float]]:
    """``fit_resumable`` with a progress bar named after the model, then ``save_final_model``.

    The checkpoint is keyed by ``config`` plus the model's name and ``num_epochs``, so another
    model or run length in the same folder is refused rather than mixed in.
    """
    fingerprint = {**config, "model": model.name, "num_epochs": num_epochs}
    history = fit_resumable(
        model,
        train_data,
        num_epochs=num_epochs,
        folder=folder,
        config=fingerprint,
        validation_data=validation_data,
        callbacks=[TqdmProgress(model.name), *callbacks],
    )
    save_final_model(model, folder)
    return history
