"""Tests for course.checkpoint: atomic files, per-epoch checkpoints and resumable training.

The model is two small Dense layers on 8 features and 48 samples (3 batches of 16), so an epoch
takes milliseconds; most of the cost is Keras tracing the training step once per fit.
"""

import csv
import io
import json
import os
import re

import course  # noqa: F401  (sets TensorFlow's log level before it is imported)

# isort: split
import keras
import numpy as np
import pytest
import tensorflow as tf

from course.checkpoint import (
    HISTORY_CSV,
    STATE,
    WEIGHTS,
    EpochCheckpoint,
    atomic_save_weights,
    atomic_write_text,
    fit_and_save,
    fit_resumable,
    history_to_csv,
    read_state,
    restore,
)

FEATURES = 8
SAMPLES = 48
BATCH = 16
BATCHES_PER_EPOCH = SAMPLES // BATCH
# A tuple on purpose: it comes back from state.json as a list and must still match.
CONFIG = {"learning_rate": 0.05, "hidden": (4,), "note": None, "seed": 0}


class Interrupted(Exception):
    """Stands in for Ctrl-C or a killed kernel."""


class StopAtEpoch(keras.callbacks.Callback):
    """Raise Interrupted when epoch ``epoch`` (0-based) is about to start."""

    def __init__(self, epoch: int):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise Interrupted(f"interrupted before epoch {epoch}")


class Counter(keras.callbacks.Callback):
    """Record which epochs start and how many batches are trained."""

    def __init__(self):
        super().__init__()
        self.epochs = []
        self.batches = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs.append(epoch)

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1


def make_dataset() -> tf.data.Dataset:
    rng = np.random.default_rng(42)
    x = rng.normal(size=(SAMPLES, FEATURES)).astype("float32")
    true_weights = rng.normal(size=(FEATURES, 1)).astype("float32")
    y = x @ true_weights + 0.1 * rng.normal(size=(SAMPLES, 1)).astype("float32")
    # No shuffling: the order of batches must be the same in every run.
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(BATCH)


def make_model(seed: int = 0, ema_momentum: float | None = None) -> keras.Model:
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((FEATURES,)),
            keras.layers.Dense(CONFIG["hidden"][0], activation="tanh"),
            keras.layers.Dense(1),
        ]
    )
    # Adam has per-weight state (two moments and a step count) that must survive a restart.
    # Eager mode: for a model this small, tracing a graph per fit would cost more than training.
    model.compile(
        optimizer=keras.optimizers.Adam(
            CONFIG["learning_rate"], use_ema=ema_momentum is not None,
            ema_momentum=ema_momentum or 0.99,
        ),
        loss="mse", metrics=["mae"], run_eagerly=True,
    )
    return model


def weights_of(model: keras.Model) -> list[np.ndarray]:
    return model.get_weights()


def optimizer_state(model: keras.Model) -> list[np.ndarray]:
    """The optimizer's variables (step count, learning rate, moments) in their fixed order."""
    return [keras.ops.convert_to_numpy(v) for v in model.optimizer.variables]


def assert_same_arrays(actual, expected):
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected, strict=True):
        np.testing.assert_allclose(a, e, rtol=1e-6, atol=1e-7)


def assert_same_history(actual: dict, expected: dict):
    assert set(actual) == set(expected)
    for name in expected:
        np.testing.assert_allclose(actual[name], expected[name], rtol=1e-6, atol=1e-7)


def files_in(folder) -> set[str]:
    return {p.name for p in folder.iterdir()}


@pytest.fixture(scope="module")
def data() -> tf.data.Dataset:
    return make_dataset()


@pytest.fixture(scope="module")
def uninterrupted(data, tmp_path_factory):
    """Three epochs in one go: the reference the resumed run must reproduce."""
    folder = tmp_path_factory.mktemp("uninterrupted")
    model = make_model(seed=0)
    history = fit_resumable(
        model, data, num_epochs=3, folder=folder, config=CONFIG, validation_data=data
    )
    return {"folder": folder, "history": history, "weights": weights_of(model)}


# Resuming --------------------------------------------------------------------------------------


def test_interrupted_run_resumes_and_matches_uninterrupted(data, uninterrupted, tmp_path, capsys):
    folder = tmp_path / "run"
    with pytest.raises(Interrupted):
        fit_resumable(
            make_model(seed=0), data, num_epochs=3, folder=folder, config=CONFIG,
            validation_data=data, callbacks=[StopAtEpoch(2)],
        )
    assert read_state(folder)["epochs_done"] == 2
    capsys.readouterr()

    # A fresh model with other initial weights: everything must come from the checkpoint.
    counter = Counter()
    resumed = make_model(seed=1)
    history = fit_resumable(
        resumed, data, num_epochs=3, folder=folder, config=CONFIG, validation_data=data,
        callbacks=[counter],
    )

    printed = capsys.readouterr().out
    assert "Resuming" in printed
    assert "2 of 3" in printed
    assert str(folder) in printed
    assert counter.epochs == [2]
    assert counter.batches == BATCHES_PER_EPOCH

    assert set(history) == {"loss", "mae", "val_loss", "val_mae"}
    assert all(len(values) == 3 for values in history.values())
    assert_same_history(history, uninterrupted["history"])
    assert_same_arrays(weights_of(resumed), uninterrupted["weights"])
    assert read_state(folder)["epochs_done"] == 3


def test_resume_restores_optimizer_state(data, tmp_path):
    folder = tmp_path / "run"
    trained = make_model(seed=0)
    fit_resumable(trained, data, num_epochs=2, folder=folder, config=CONFIG)

    fresh = make_model(seed=1)
    epochs_done, history = restore(fresh, folder, CONFIG)

    assert epochs_done == 2
    assert all(len(values) == 2 for values in history.values())
    assert_same_arrays(weights_of(fresh), weights_of(trained))
    # Adam's two moments per weight, plus its step count and learning rate.
    assert len(optimizer_state(trained)) == 2 + 2 * len(trained.trainable_variables)
    assert_same_arrays(optimizer_state(fresh), optimizer_state(trained))
    assert int(np.array(fresh.optimizer.iterations)) == 2 * BATCHES_PER_EPOCH


def test_averaged_weights_survive_an_interruption_and_a_reload(data, tmp_path):
    """With an optimizer that averages weights, fit() ends with the average in the model; a
    resumed run and a reloaded finished run must end with the same average."""
    straight = make_model(seed=0, ema_momentum=0.5)
    fit_resumable(straight, data, num_epochs=3, folder=tmp_path / "straight", config=CONFIG)

    folder = tmp_path / "interrupted"
    with pytest.raises(Interrupted):
        fit_resumable(
            make_model(seed=0, ema_momentum=0.5), data, num_epochs=3, folder=folder,
            config=CONFIG, callbacks=[StopAtEpoch(2)],
        )
    resumed = make_model(seed=1, ema_momentum=0.5)
    fit_resumable(resumed, data, num_epochs=3, folder=folder, config=CONFIG)
    reloaded = make_model(seed=2, ema_momentum=0.5)
    fit_resumable(reloaded, data, num_epochs=3, folder=folder, config=CONFIG)

    assert_same_arrays(weights_of(resumed), weights_of(straight))
    assert_same_arrays(weights_of(reloaded), weights_of(straight))
    # The checkpoint holds the last raw weights; the model ends with their average, not them.
    raw = make_model(seed=3, ema_momentum=0.5)
    restore(raw, folder, CONFIG)
    pairs = zip(weights_of(raw), weights_of(straight), strict=True)
    assert max(np.abs(a - b).max() for a, b in pairs) > 1e-3


def test_restore_without_checkpoint_changes_nothing(tmp_path):
    model = make_model(seed=3)
    before = weights_of(model)
    assert restore(model, tmp_path / "empty", CONFIG) == (0, {})
    assert_same_arrays(weights_of(model), before)
    assert not (tmp_path / "empty").exists()


def test_finished_run_is_loaded_not_retrained(data, uninterrupted, capsys):
    counter = Counter()
    model = make_model(seed=1)
    history = fit_resumable(
        model, data, num_epochs=3, folder=uninterrupted["folder"], config=CONFIG,
        validation_data=data, callbacks=[counter],
    )
    assert counter.batches == 0
    assert counter.epochs == []
    assert "Loaded the finished run" in capsys.readouterr().out
    assert_same_history(history, uninterrupted["history"])
    assert_same_arrays(weights_of(model), uninterrupted["weights"])


def test_asking_for_fewer_epochs_than_done_also_loads(data, uninterrupted):
    counter = Counter()
    history = fit_resumable(
        make_model(seed=1), data, num_epochs=1, folder=uninterrupted["folder"], config=CONFIG,
        callbacks=[counter],
    )
    assert counter.batches == 0
    # The full saved history comes back, not a truncated one.
    assert all(len(values) == 3 for values in history.values())


def test_different_config_is_refused(data, uninterrupted):
    other = {**CONFIG, "learning_rate": 0.01}
    counter = Counter()
    with pytest.raises(ValueError, match=re.escape(str(uninterrupted["folder"]))):
        fit_resumable(
            make_model(), data, num_epochs=3, folder=uninterrupted["folder"], config=other,
            callbacks=[counter],
        )
    assert counter.batches == 0
    # The refused checkpoint is left as it was.
    assert read_state(uninterrupted["folder"])["config"] == json.loads(json.dumps(CONFIG))


def test_restore_refuses_missing_config_key(uninterrupted):
    smaller = {k: v for k, v in CONFIG.items() if k != "note"}
    with pytest.raises(ValueError, match="different configuration"):
        restore(make_model(), uninterrupted["folder"], smaller)


# Files written --------------------------------------------------------------------------------


def test_checkpoint_files_after_training(uninterrupted):
    folder = uninterrupted["folder"]
    assert {STATE, WEIGHTS, HISTORY_CSV} <= files_in(folder)
    # Nothing temporary is left behind.
    assert files_in(folder) == {STATE, WEIGHTS, HISTORY_CSV}

    state = json.loads((folder / STATE).read_text())
    assert state["epochs_done"] == 3
    assert state["config"] == json.loads(json.dumps(CONFIG))
    assert_same_history(state["history"], uninterrupted["history"])

    with open(folder / HISTORY_CSV, newline="") as handle:
        rows = list(csv.reader(handle))
    header, body = rows[0], rows[1:]
    assert header[0] == "epoch"
    assert set(header[1:]) == {"loss", "mae", "val_loss", "val_mae"}
    assert len(body) == 3
    assert [int(row[0]) for row in body] == [1, 2, 3]
    for column, name in enumerate(header[1:], start=1):
        values = [float(row[column]) for row in body]
        np.testing.assert_allclose(values, uninterrupted["history"][name], rtol=1e-6)


def test_epoch_checkpoint_history_matches_keras(data, tmp_path):
    model = make_model()
    checkpoint = EpochCheckpoint(tmp_path, CONFIG)
    keras_history = model.fit(data, epochs=2, callbacks=[checkpoint], verbose=0, shuffle=False)
    assert_same_history(checkpoint.history, keras_history.history)
    assert read_state(tmp_path)["epochs_done"] == 2

    reloaded = make_model(seed=5)
    reloaded.optimizer.build(reloaded.trainable_variables)
    reloaded.load_weights(tmp_path / WEIGHTS)
    assert_same_arrays(weights_of(reloaded), weights_of(model))


def test_epoch_checkpoint_extends_given_history(data, tmp_path):
    earlier = {"loss": [9.0, 8.0], "mae": [3.0, 2.5]}
    checkpoint = EpochCheckpoint(tmp_path, CONFIG, earlier)
    make_model().fit(
        data, initial_epoch=2, epochs=3, callbacks=[checkpoint], verbose=0, shuffle=False
    )
    state = read_state(tmp_path)
    assert state["epochs_done"] == 3
    assert state["history"]["loss"][:2] == [9.0, 8.0]
    assert len(state["history"]["loss"]) == 3
    # The caller's dict is copied, not appended to.
    assert earlier == {"loss": [9.0, 8.0], "mae": [3.0, 2.5]}


def test_read_state_without_checkpoint(tmp_path):
    assert read_state(tmp_path) is None


def test_history_to_csv():
    history = {"loss": [0.5, 0.25], "accuracy": [0.75, 0.875]}
    rows = list(csv.reader(io.StringIO(history_to_csv(history))))
    assert rows == [["epoch", "loss", "accuracy"], ["1", "0.5", "0.75"], ["2", "0.25", "0.875"]]


def test_history_to_csv_empty_history_is_header_only():
    rows = list(csv.reader(io.StringIO(history_to_csv({}))))
    assert rows == [["epoch"]]


def test_history_to_csv_refuses_ragged_history():
    with pytest.raises(ValueError):
        history_to_csv({"loss": [1.0, 2.0], "val_loss": [1.0]})


# Atomic writes --------------------------------------------------------------------------------


def test_atomic_write_text_writes_and_leaves_no_temp(tmp_path):
    target = tmp_path / "sub" / "notes.txt"
    returned = atomic_write_text(target, "first\n")
    assert returned == target
    assert target.read_text() == "first\n"
    atomic_write_text(target, "second")
    assert target.read_text() == "second"
    assert files_in(target.parent) == {"notes.txt"}


def test_atomic_write_text_failed_rename_keeps_old_content(tmp_path, monkeypatch):
    target = tmp_path / "state.json"
    atomic_write_text(target, "old")

    def failing_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_text(target, "new")
    monkeypatch.undo()

    assert target.read_text() == "old"
    assert files_in(tmp_path) == {"state.json"}


def test_atomic_write_text_failed_write_keeps_old_content(tmp_path):
    target = tmp_path / "history.csv"
    atomic_write_text(target, "old")
    # A lone surrogate cannot be encoded: the write fails after part of the text went out.
    with pytest.raises(UnicodeEncodeError):
        atomic_write_text(target, "x" * 10_000 + "\ud800")
    assert target.read_text() == "old"
    assert files_in(tmp_path) == {"history.csv"}


def test_atomic_save_weights_round_trip(tmp_path):
    model = make_model(seed=2)
    path = atomic_save_weights(model, tmp_path / WEIGHTS)
    assert path == tmp_path / WEIGHTS
    assert files_in(tmp_path) == {WEIGHTS}
    other = make_model(seed=7)
    other.load_weights(path)
    assert_same_arrays(weights_of(other), weights_of(model))


def test_atomic_save_weights_failed_rename_keeps_old_file(tmp_path, monkeypatch):
    old_model = make_model(seed=2)
    atomic_save_weights(old_model, tmp_path / WEIGHTS)

    def failing_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        atomic_save_weights(make_model(seed=3), tmp_path / WEIGHTS)
    monkeypatch.undo()

    assert files_in(tmp_path) == {WEIGHTS}
    reloaded = make_model(seed=4)
    reloaded.load_weights(tmp_path / WEIGHTS)
    assert_same_arrays(weights_of(reloaded), weights_of(old_model))


def test_save_final_model_writes_once_and_leaves_no_temporary_file(tmp_path):
    import keras

    from course.checkpoint import save_final_model

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    path = save_final_model(model, tmp_path)
    assert path.name == "model.keras" and path.exists()
    first = path.stat().st_mtime_ns
    save_final_model(model, tmp_path)  # a finished run keeps the model it wrote
    assert path.stat().st_mtime_ns == first
    assert [p.name for p in tmp_path.iterdir()] == ["model.keras"]
    assert keras.models.load_model(path).output_shape == (None, 2)


# fit_and_save ----------------------------------------------------------------------------------


def test_fit_and_save_keys_the_checkpoint_by_model_and_length(data, tmp_path):
    folder = tmp_path / "run"
    model = make_model(seed=0)
    fit_and_save(model, data, num_epochs=1, folder=folder, config=CONFIG)
    assert (folder / "model.keras").exists()
    # Another run length in the same folder is refused, not resumed or mixed in.
    with pytest.raises(ValueError, match="different configuration"):
        fit_and_save(make_model(seed=0), data, num_epochs=2, folder=folder, config=CONFIG)
