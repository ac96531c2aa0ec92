"""Tests for course.checkpoint: architecture keys, atomic commits, resumable training.

The model is two small Dense layers with dropout between, on 8 features and 48 samples (3 batches
of 16), so an epoch takes milliseconds. The kill tests start real training processes, each
costing a Python start-up and a TensorFlow import; they run side by side.
"""

import csv
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import course  # noqa: F401  (sets TensorFlow's log level before it is imported)

# isort: split
import keras
import numpy as np
import pytest
import tensorflow as tf

from course.atomic import atomic_write_text, remove_stale_temporaries
from course.checkpoint import (
    FORMAT,
    HISTORY_CSV,
    STATE,
    WEIGHTS,
    CheckpointMismatchError,
    DamagedCheckpointError,
    EpochCheckpoint,
    architecture_key,
    checkpoint_files,
    fit_and_save,
    fit_resumable,
    history_to_csv,
    read_state,
    restore,
    shuffled_batches,
)
from course.fetch import DataFileError

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


def make_arrays() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(42)
    x = rng.normal(size=(SAMPLES, FEATURES)).astype("float32")
    true_weights = rng.normal(size=(FEATURES, 1)).astype("float32")
    y = x @ true_weights + 0.1 * rng.normal(size=(SAMPLES, 1)).astype("float32")
    return x, y


def make_dataset() -> tf.data.Dataset:
    """The samples in one fixed order (for validation and for plain ``model.fit``)."""
    return tf.data.Dataset.from_tensor_slices(make_arrays()).batch(BATCH)


def make_batches():
    """Training batches reshuffled every epoch, from (seed, epoch)."""
    return shuffled_batches(make_arrays(), BATCH, seed=7)


def make_model(seed: int = 0, ema_momentum: float | None = None) -> keras.Model:
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((FEATURES,)),
            keras.layers.Dense(CONFIG["hidden"][0], activation="tanh"),
            # Its masks come from a generator whose state the checkpoint must carry over.
            keras.layers.Dropout(0.25),
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
        model, make_batches(), num_epochs=3, folder=folder, config=CONFIG, validation_data=data
    )
    return {"folder": folder, "history": history, "weights": weights_of(model)}


# Resuming --------------------------------------------------------------------------------------


def test_interrupted_run_resumes_and_matches_uninterrupted(data, uninterrupted, tmp_path, capsys):
    folder = tmp_path / "run"
    with pytest.raises(Interrupted):
        fit_resumable(
            make_model(seed=0), make_batches(), num_epochs=3, folder=folder, config=CONFIG,
            validation_data=data, callbacks=[StopAtEpoch(2)],
        )
    assert read_state(folder)["epochs_done"] == 2
    capsys.readouterr()

    # A fresh model with other initial weights: everything must come from the checkpoint.
    counter = Counter()
    resumed = make_model(seed=1)
    history = fit_resumable(
        resumed, make_batches(), num_epochs=3, folder=folder, config=CONFIG,
        validation_data=data, callbacks=[counter],
    )

    printed = capsys.readouterr().out
    assert "Resuming" in printed
    assert "2 of 3" in printed
    assert str(folder) in printed
    assert counter.epochs == [2]
    assert counter.batches == BATCHES_PER_EPOCH

    assert set(history) == {"loss", "mae", "val_loss", "val_mae"}
    assert all(len(values) == 3 for values in history.values())
    # Epoch 2 saw epoch 2's order, not epoch 0's again: the same weights as in one go.
    assert_same_history(history, uninterrupted["history"])
    assert_same_arrays(weights_of(resumed), uninterrupted["weights"])
    assert read_state(folder)["epochs_done"] == 3


def test_resume_restores_optimizer_state(tmp_path):
    folder = tmp_path / "run"
    trained = make_model(seed=0)
    fit_resumable(trained, make_batches(), num_epochs=2, folder=folder, config=CONFIG)

    fresh = make_model(seed=1)
    epochs_done, history = restore(fresh, folder, CONFIG)

    assert epochs_done == 2
    assert all(len(values) == 2 for values in history.values())
    assert_same_arrays(weights_of(fresh), weights_of(trained))
    # Adam's two moments per weight, plus its step count and learning rate.
    assert len(optimizer_state(trained)) == 2 + 2 * len(trained.trainable_variables)
    assert_same_arrays(optimizer_state(fresh), optimizer_state(trained))
    assert int(np.array(fresh.optimizer.iterations)) == 2 * BATCHES_PER_EPOCH


def test_averaged_weights_survive_an_interruption_and_a_reload(tmp_path):
    """With an optimizer that averages weights, fit() ends with the average in the model; a
    resumed run and a reloaded finished run must end with the same average."""
    straight = make_model(seed=0, ema_momentum=0.5)
    fit_resumable(
        straight, make_batches(), num_epochs=3, folder=tmp_path / "straight", config=CONFIG
    )

    folder = tmp_path / "interrupted"
    with pytest.raises(Interrupted):
        fit_resumable(
            make_model(seed=0, ema_momentum=0.5), make_batches(), num_epochs=3, folder=folder,
            config=CONFIG, callbacks=[StopAtEpoch(2)],
        )
    resumed = make_model(seed=1, ema_momentum=0.5)
    fit_resumable(resumed, make_batches(), num_epochs=3, folder=folder, config=CONFIG)
    reloaded = make_model(seed=2, ema_momentum=0.5)
    fit_resumable(reloaded, make_batches(), num_epochs=3, folder=folder, config=CONFIG)

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
        model, make_batches(), num_epochs=3, folder=uninterrupted["folder"], config=CONFIG,
        validation_data=data, callbacks=[counter],
    )
    assert counter.batches == 0
    assert counter.epochs == []
    assert "Loaded the finished run" in capsys.readouterr().out
    assert_same_history(history, uninterrupted["history"])
    assert_same_arrays(weights_of(model), uninterrupted["weights"])


def test_asking_for_fewer_epochs_than_done_also_loads(uninterrupted):
    counter = Counter()
    history = fit_resumable(
        make_model(seed=1), make_batches(), num_epochs=1, folder=uninterrupted["folder"],
        config=CONFIG, callbacks=[counter],
    )
    assert counter.batches == 0
    # The full saved history comes back, not a truncated one.
    assert all(len(values) == 3 for values in history.values())


def test_different_config_is_refused(uninterrupted):
    other = {**CONFIG, "learning_rate": 0.01}
    counter = Counter()
    with pytest.raises(CheckpointMismatchError, match=re.escape(str(uninterrupted["folder"]))):
        fit_resumable(
            make_model(), make_batches(), num_epochs=3, folder=uninterrupted["folder"],
            config=other, callbacks=[counter],
        )
    assert counter.batches == 0
    # The refused checkpoint is left as it was.
    assert read_state(uninterrupted["folder"])["config"] == json.loads(json.dumps(CONFIG))


def test_refusal_names_the_differences_and_is_a_value_error(uninterrupted):
    smaller = {k: v for k, v in CONFIG.items() if k != "note"}
    other = {**smaller, "learning_rate": 0.01}
    with pytest.raises(ValueError, match="different configuration") as refused:
        restore(make_model(), uninterrupted["folder"], other)
    assert "learning_rate=0.05 there, 0.01 here" in str(refused.value)
    assert "note=None there" in str(refused.value)


# Which network a checkpoint belongs to ---------------------------------------------------------


def build_net(activation: str = "relu", rate: float = 0.2, units: int = 4) -> keras.Model:
    """A functional net with a keras.ops call in its graph: layers and operations both get
    names from process-wide counters."""
    inputs = keras.Input((FEATURES,))
    hidden = keras.layers.Dense(units, activation=activation)(inputs)
    hidden = keras.layers.Dropout(rate)(hidden)
    gate = keras.ops.cast(keras.ops.greater(inputs[:, :1], -10.0), "float32")
    return keras.Model(inputs, keras.layers.Dense(1)(hidden) * gate)


def layer_names(model: keras.Model) -> list[str]:
    return [layer.name for layer in model.layers]


def test_two_builds_of_one_network_have_one_key():
    first, second = build_net(), build_net()
    assert layer_names(first) != layer_names(second)  # Keras numbered them apart
    assert architecture_key(first) == architecture_key(second)


def test_training_does_not_change_the_key():
    net = build_net()
    before = architecture_key(net)
    net.compile(optimizer="adam", loss="mse")
    net.fit(make_dataset(), epochs=1, verbose=0, shuffle=False)
    assert architecture_key(net) == before


@pytest.mark.parametrize(
    "changed", [{"activation": "tanh"}, {"rate": 0.3}, {"units": 5}], ids=str
)
def test_a_changed_activation_rate_or_size_changes_the_key(changed):
    assert architecture_key(build_net(**changed)) != architecture_key(build_net())


def test_a_changed_activation_is_refused_not_loaded(tmp_path):
    """The bug this guards against: a tanh network silently resumed from relu weights."""
    folder = tmp_path / "run"
    relu = build_net("relu")
    relu.compile(optimizer="adam", loss="mse")
    fit_resumable(relu, make_batches(), num_epochs=1, folder=folder, config=CONFIG)

    tanh = build_net("tanh")
    tanh.compile(optimizer="adam", loss="mse")
    before = weights_of(tanh)
    counter = Counter()
    with pytest.raises(CheckpointMismatchError, match="different network") as refused:
        fit_resumable(tanh, make_batches(), num_epochs=2, folder=folder, config=CONFIG,
                      callbacks=[counter])
    assert str(folder) in str(refused.value) and "Delete that folder" in str(refused.value)
    assert counter.batches == 0
    assert_same_arrays(weights_of(tanh), before)
    assert read_state(folder)["epochs_done"] == 1


# Shuffling per epoch ---------------------------------------------------------------------------


def epoch_of(batches, epoch: int) -> list[np.ndarray]:
    batches.on_epoch_begin(epoch)
    return [x.numpy() for x, _ in batches.dataset()]


def test_shuffled_batches_depend_on_seed_and_epoch_only():
    x, _ = make_arrays()
    batches = make_batches()
    first, second = epoch_of(batches, 0), epoch_of(batches, 1)
    assert len(first) == BATCHES_PER_EPOCH and first[0].shape == (BATCH, FEATURES)
    # Every sample once per epoch, in another order each epoch.
    assert sorted(map(tuple, np.concatenate(first))) == sorted(map(tuple, x))
    assert not np.array_equal(np.concatenate(first), np.concatenate(second))
    # What a resumed run relies on: epoch 1 of a fresh object is epoch 1 of the first one.
    assert_same_arrays(epoch_of(make_batches(), 1), second)
    other_seed = shuffled_batches(make_arrays(), BATCH, seed=8)
    assert not np.array_equal(np.concatenate(epoch_of(other_seed, 1)), np.concatenate(second))


def test_shuffled_batches_drop_the_partial_batch_and_transform():
    x, y = np.arange(10.0)[:, None], np.arange(10)
    batches = shuffled_batches((x, y), 4, seed=0, transform=lambda a, b: (a * 2, b))
    pairs = [(a.numpy(), b.numpy()) for a, b in batches.dataset()]
    assert [len(b) for _, b in pairs] == [4, 4]
    for a, b in pairs:
        np.testing.assert_array_equal(a[:, 0], 2.0 * b)


# Killed at any moment --------------------------------------------------------------------------

# Trains the module's model for 3 epochs and SIGKILLs itself around the n-th os.replace onto a
# file of a given name: before it (the temporary file is complete but not renamed) or after it.
KILL_SCRIPT = textwrap.dedent("""
    import os, signal, sys
    tests, folder, when, name, nth = sys.argv[1:]
    sys.path.insert(0, tests)
    import test_checkpoint as t
    real_replace, seen = os.replace, []

    def replace(src, dst):
        ours = os.path.basename(dst) == name
        if ours:
            seen.append(dst)
        hit = ours and len(seen) == int(nth)
        if hit and when == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        real_replace(src, dst)
        if hit and when == "after":
            os.kill(os.getpid(), signal.SIGKILL)

    os.replace = replace
    t.fit_resumable(t.make_model(seed=0), t.make_batches(), num_epochs=3, folder=folder,
                    config=t.CONFIG, validation_data=t.make_dataset())
""")


def generation(number: int) -> str:
    return f"model-{number:06d}.weights.h5"


# (when, file name, n-th replace onto it) -> (epochs the surviving checkpoint holds, a file that
# shows what the kill left behind).
KILL_POINTS = {
    # The new weights are written but not renamed: a temporary file is left.
    ("before", generation(2), 1): (1, r"\.tmp-\d+-model-000002\.weights\.h5"),
    # The new generation is complete, but state.json still names the old one.
    ("before", STATE, 2): (1, r"model-000002\.weights\.h5"),
    # Committed, but the old generation is not deleted yet.
    ("after", STATE, 2): (2, r"model-000001\.weights\.h5"),
    # The last epoch committed, nothing tidied: the rerun only loads, and tidies.
    ("after", STATE, 3): (3, r"model-000002\.weights\.h5"),
}


@pytest.fixture(scope="session")
def killed_runs(tmp_path_factory):
    """A training process killed at each of KILL_POINTS, all started at once (each spends
    seconds importing TensorFlow); maps each point to (its folder, the finished process).
    Session-scoped, and its tests in one xdist group, so one worker starts them, once."""
    tests = str(Path(__file__).parent)
    started = {}
    for point in KILL_POINTS:
        folder = tmp_path_factory.mktemp("killed") / "run"
        command = [sys.executable, "-c", KILL_SCRIPT, tests, str(folder), *map(str, point)]
        started[point] = folder, subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
    finished = {}
    for point, (folder, process) in started.items():
        _, stderr = process.communicate(timeout=300)  # also reaps it: its pid is free again
        finished[point] = folder, process.returncode, stderr
    return finished


@pytest.mark.slow
@pytest.mark.xdist_group("killed_runs")
@pytest.mark.parametrize("point", list(KILL_POINTS), ids=lambda point: "-".join(map(str, point)))
def test_a_killed_run_leaves_one_whole_checkpoint_and_resumes_exactly(
    data, uninterrupted, killed_runs, point
):
    committed, left_behind = KILL_POINTS[point]
    folder, returncode, stderr = killed_runs[point]
    assert returncode == -signal.SIGKILL, stderr[-2000:]
    assert any(re.fullmatch(left_behind, path.name) for path in folder.iterdir())

    # Either the old or the new checkpoint, complete: its files match their checksums.
    assert read_state(folder)["epochs_done"] == committed
    assert set(checkpoint_files(folder)) == {WEIGHTS}

    counter = Counter()
    resumed = make_model(seed=1)
    history = fit_resumable(
        resumed, make_batches(), num_epochs=3, folder=folder, config=CONFIG,
        validation_data=data, callbacks=[counter],
    )
    assert counter.epochs == list(range(committed, 3))  # exactly the epochs that remained
    assert files_in(folder) == {STATE, HISTORY_CSV, generation(3)}
    assert len((folder / HISTORY_CSV).read_text().splitlines()) == 1 + 3
    assert_same_history(history, uninterrupted["history"])
    assert_same_arrays(weights_of(resumed), uninterrupted["weights"])


# Damaged checkpoints ---------------------------------------------------------------------------


def truncate_weights(folder):
    path = checkpoint_files(folder)[WEIGHTS]
    path.write_bytes(path.read_bytes()[:500])


def garble_state(folder):
    (folder / STATE).write_bytes(b"\x00{garbage")


def remove_weights(folder):
    checkpoint_files(folder)[WEIGHTS].unlink()


def older_format(folder):
    state = json.loads((folder / STATE).read_text())
    (folder / STATE).write_text(json.dumps({**state, "format": FORMAT - 1}))


def misname_file(folder):
    state = json.loads((folder / STATE).read_text())
    state["files"][WEIGHTS]["name"] = "../elsewhere.weights.h5"
    (folder / STATE).write_text(json.dumps(state))


def drop_random_states(folder):
    state = json.loads((folder / STATE).read_text())
    (folder / STATE).write_text(json.dumps({**state, "random_states": []}))


@pytest.mark.parametrize(
    "damage",
    [truncate_weights, garble_state, remove_weights, older_format, misname_file,
     drop_random_states],
    ids=lambda damage: damage.__name__,
)
def test_a_damaged_checkpoint_gets_one_clear_error(uninterrupted, tmp_path, damage):
    folder = tmp_path / "damaged"
    shutil.copytree(uninterrupted["folder"], folder)
    damage(folder)
    model = make_model(seed=4)
    before = weights_of(model)
    counter = Counter()
    with pytest.raises(DamagedCheckpointError) as error:
        fit_resumable(model, make_batches(), num_epochs=3, folder=folder, config=CONFIG,
                      callbacks=[counter])
    message = str(error.value)
    assert str(folder) in message and "Delete that folder" in message
    assert isinstance(error.value, DataFileError)
    assert counter.batches == 0
    assert_same_arrays(weights_of(model), before)


# Files written --------------------------------------------------------------------------------


def test_checkpoint_files_after_training(uninterrupted):
    folder = uninterrupted["folder"]
    # One generation of weights, named by state.json; nothing temporary, nothing older.
    assert files_in(folder) == {STATE, generation(3), HISTORY_CSV}

    state = json.loads((folder / STATE).read_text())
    assert state["epochs_done"] == 3 and state["generation"] == 3
    assert state["config"] == json.loads(json.dumps(CONFIG))
    assert state["architecture"] == architecture_key(make_model())
    assert state["files"][WEIGHTS]["name"] == generation(3)
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
    reloaded.load_weights(checkpoint_files(tmp_path)[WEIGHTS])
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
    assert checkpoint_files(tmp_path) == {}


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


def test_stale_temporaries_of_dead_writers_are_removed(tmp_path):
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True)
    dead = int(finished.stdout)
    (tmp_path / f".tmp-{dead}-model.weights.h5").write_bytes(b"half")
    (tmp_path / f".tmp-{os.getpid()}-state.json").write_text("being written")  # a live writer
    (tmp_path / "notes.txt").write_text("not ours")
    removed = remove_stale_temporaries(tmp_path)
    assert [path.name for path in removed] == [f".tmp-{dead}-model.weights.h5"]
    assert files_in(tmp_path) == {f".tmp-{os.getpid()}-state.json", "notes.txt"}


def test_save_final_model_writes_once_and_leaves_no_temporary_file(tmp_path):
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


def test_fit_and_save_keys_the_checkpoint_by_model_and_length(tmp_path):
    folder = tmp_path / "run"
    model = make_model(seed=0)
    fit_and_save(model, make_batches(), num_epochs=1, folder=folder, config=CONFIG)
    assert (folder / "model.keras").exists()
    # Another run length in the same folder is refused, not resumed or mixed in.
    with pytest.raises(ValueError, match="different configuration"):
        fit_and_save(make_model(seed=0), make_batches(), num_epochs=2, folder=folder,
                     config=CONFIG)
