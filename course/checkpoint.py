"""Checkpoints that a kill at any moment leaves whole, loaded only into the network that wrote them.

A checkpoint folder holds

- ``state.json``: what a run needs to go on (epochs done, history, configuration, the states of
  the model's random generators), the key of the network's architecture, and the name and sha256
  of each file below;
- ``model-000007.weights.h5`` (layer weights and optimizer state) and the chapter's extra files
  (the DQN's ``replay-000007.npz``), written under a new generation number for every checkpoint;
- ``history.csv``, the history for people and spreadsheets, written just before each commit.

Writing a checkpoint puts the new generation's files beside the old ones, then replaces
``state.json`` (one atomic rename: the commit), then deletes the old generation. A kill before the
rename leaves the old checkpoint in force, a kill after it the new one. What a kill leaves behind
(temporary files, a generation never committed) is removed by the next run that writes there.
"""

from __future__ import annotations

import base64
import binascii
import csv
import hashlib
import io
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path

import keras
import numpy as np

from course.atomic import atomic_path, atomic_write_text, remove_stale_temporaries
from course.fetch import PROJECT_ROOT, DataFileError
from course.progress import TqdmProgress

WEIGHTS = "model.weights.h5"
STATE = "state.json"
HISTORY_CSV = "history.csv"
FORMAT = 2  # of state.json; 1 had fixed file names and no checksums


class DamagedCheckpointError(DataFileError):
    """A checkpoint that cannot be read; the message names the folder and says what to do."""

    def __init__(self, folder: str | os.PathLike, reason: str):
        super().__init__(
            f"The checkpoint in {folder} is damaged or unreadable: {reason}. "
            "Delete that folder to train from scratch."
        )


class CheckpointMismatchError(ValueError):
    """A checkpoint written with another configuration or by another network: never loaded."""


def runs_root() -> Path:
    """Where runs write: ``$DL_CHECKPOINT_DIR`` if set (tests use a temporary folder), else
    ``training_checkpoints/`` in the project; on JAX or PyTorch, a ``jax/`` or ``torch/``
    folder inside it. Each backend draws other initial weights and random numbers from the
    same seed, so a run never resumes, or shows as finished, what another backend trained."""
    root = Path(os.environ.get("DL_CHECKPOINT_DIR") or PROJECT_ROOT / "training_checkpoints")
    backend = keras.backend.backend()
    return root if backend == "tensorflow" else root / backend


# ---------------------------------------------------------------------------------------------
# Which network a checkpoint belongs to


def describe_architecture(model: keras.Model) -> list:
    """The network as built: each layer's class and configuration (activations, dropout rates,
    sizes, wiring) and each weight's shape and dtype, with layer names replaced by positions.

    Keras names the layers it was given no name for from a counter that runs for the whole
    process (``dense``, then ``dense_1``...), so two builds of one network differ in their names
    alone; names therefore do not count, everything else does.
    """
    # Keras's own walk over every layer, nested ones included (a Bidirectional's LSTMs, the
    # networks inside a subclassed model); private, but the one that sees them all.
    layers = list(model._flatten_layers(include_self=True, recursive=True))
    positions: dict[str, str] = {}
    for layer in layers:
        # A functional graph's operations (keras.ops calls, e.g. a mask's not_equal) are named
        # from the same kind of counter.
        for operation in [layer, *getattr(layer, "operations", ())]:
            positions.setdefault(operation.name, f"<name {len(positions)}>")
    description = [_serialize(layer) for layer in layers]
    description.append([[list(weight.shape), str(weight.dtype)] for weight in model.weights])
    return _replace_names(description, positions)


def architecture_key(model: keras.Model) -> str:
    """sha256 of ``describe_architecture``: equal for two builds of the same network, different
    when a layer, an activation, a rate or a size changes."""
    text = json.dumps(describe_architecture(model), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


# Not the network: the optimizer's settings (its learning rate changes as it trains), and the
# input shape a layer without weights first saw (known only once data has gone through it).
_NOT_ARCHITECTURE = ("compile_config", "build_config")


def _serialize(layer) -> dict:
    try:
        return keras.saving.serialize_keras_object(layer)
    except NotImplementedError:  # a subclassed model without get_config: its layers describe it
        return {"class_name": f"{type(layer).__module__}.{type(layer).__qualname__}"}


def _replace_names(value, positions: dict[str, str], key: str | None = None):
    """``value`` with every layer name, and every reference to one, replaced by its position,
    and without the entries that are no part of the architecture."""
    if isinstance(value, dict):
        return {
            k: _replace_names(v, positions, k)
            for k, v in value.items()
            if k not in _NOT_ARCHITECTURE
        }
    if isinstance(value, list | tuple):
        items = [_replace_names(item, positions) for item in value]
        # [layer name, node index, tensor index]: how a functional graph names a layer's output.
        if (len(value) == 3 and isinstance(value[0], str) and value[0] in positions
                and all(isinstance(index, int) for index in value[1:])):
            items[0] = positions[value[0]]
        return items
    if key == "name" and isinstance(value, str):
        return positions.get(value, value)
    return value


# ---------------------------------------------------------------------------------------------
# Writing and reading a checkpoint


def _generation_name(name: str, generation: int) -> str:
    """``model.weights.h5`` -> ``model-000007.weights.h5`` (Keras needs the ending kept)."""
    stem, _, ending = name.partition(".")
    return f"{stem}-{generation:06d}.{ending}"


def _is_generation_of(filename: str, name: str) -> bool:
    stem, _, ending = name.partition(".")
    return re.fullmatch(rf"{re.escape(stem)}-\d{{6}}\.{re.escape(ending)}", filename) is not None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _random_states(model: keras.Model) -> list:
    """The states of the model's random generators (dropout masks, sampling noise). Keras keeps
    them out of ``save_weights``; a resumed run needs them to draw what an unbroken run would."""
    weights = {id(weight) for weight in model.weights}
    return [variable for variable in model.variables if id(variable) not in weights]


def _backend_random_state() -> str | None:
    """PyTorch's global generator as text, or None on other backends. On PyTorch, Keras draws
    the masks of dropout layers made without a seed from that generator, not from a variable."""
    if keras.backend.backend() != "torch":
        return None
    import torch

    return base64.b64encode(torch.get_rng_state().numpy().tobytes()).decode("ascii")


def _restore_backend_random_state(text: str | None) -> None:
    if text is not None and keras.backend.backend() == "torch":
        import torch

        raw = np.frombuffer(base64.b64decode(text), dtype=np.uint8).copy()
        torch.set_rng_state(torch.from_numpy(raw))


def _as_json(config: dict) -> dict:
    """``config`` as state.json gives it back (a tuple becomes a list), for comparisons."""
    return json.loads(json.dumps(config))


def read_state(folder: str | os.PathLike) -> dict | None:
    """The committed state of ``folder``, or None when it holds no checkpoint.

    Raises DamagedCheckpointError for a state.json that is not one of this format.
    """
    folder = Path(folder)
    path = folder / STATE
    if not path.exists():
        return None
    try:
        state = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DamagedCheckpointError(folder, f"{STATE} is not valid JSON ({error})") from None
    if (not isinstance(state, dict) or state.get("format") != FORMAT
            or not isinstance(state.get("generation"), int)):
        raise DamagedCheckpointError(
            folder, f"{STATE} is not a checkpoint of format {FORMAT} (an older version's, or "
            "another file)"
        )
    files = state.get("files")
    if not isinstance(files, dict) or not all(
        isinstance(entry, dict) and isinstance(entry.get("name"), str)
        and Path(entry["name"]).name == entry["name"] and isinstance(entry.get("sha256"), str)
        for entry in files.values()
    ):
        raise DamagedCheckpointError(folder, f"the list of files in {STATE} is garbled")
    return state


def checkpoint_files(folder: str | os.PathLike, state: dict | None = None) -> dict[str, Path]:
    """The files of ``folder``'s checkpoint by their plain name (``model.weights.h5``), each
    checked against the sha256 that state.json gives for it."""
    folder = Path(folder)
    state = state or read_state(folder)
    if state is None:
        return {}
    paths = {}
    for name, entry in state["files"].items():
        path = folder / entry["name"]
        if not path.is_file():
            raise DamagedCheckpointError(folder, f"{entry['name']}, named in {STATE}, is missing")
        if _sha256(path) != entry["sha256"]:
            raise DamagedCheckpointError(
                folder, f"{entry['name']} is not the file {STATE} names (truncated or altered)"
            )
        paths[name] = path
    return paths


def write_checkpoint(
    folder: str | os.PathLike,
    model: keras.Model,
    config: dict,
    state: dict,
    extra_files: Mapping[str, Callable[[Path], object]] | None = None,
) -> dict:
    """Commit a checkpoint of ``model`` (weights and optimizer state) and ``state`` to ``folder``.

    ``config`` is what a resumed run must match; ``extra_files`` maps a file name (``replay.npz``)
    to a function that writes that file to the path it is given. Returns the state written.
    """
    folder = Path(folder)
    previous = read_state(folder)
    generation = previous["generation"] + 1 if previous else 1
    writers = {WEIGHTS: model.save_weights, **(extra_files or {})}
    files = {}
    for name, write in writers.items():
        with atomic_path(folder / _generation_name(name, generation)) as tmp:
            write(tmp)
            files[name] = {"name": _generation_name(name, generation), "sha256": _sha256(tmp)}
    state = {
        **state,
        "format": FORMAT,
        "generation": generation,
        "config": _as_json(config),
        "architecture": architecture_key(model),
        "random_states": [keras.ops.convert_to_numpy(v).tolist() for v in _random_states(model)],
        "backend_random_state": _backend_random_state(),
        "files": files,
    }
    atomic_write_text(folder / STATE, json.dumps(state, indent=1))  # the commit
    remove_leftovers(folder, writers)
    return state


def remove_leftovers(folder: str | os.PathLike, names: Iterable[str] = (WEIGHTS,)) -> None:
    """Delete what interrupted writes left in ``folder``: temporary files of dead processes, and
    generations of ``names`` (and of the files state.json lists) that state.json does not name.

    Call it only from the run that writes to ``folder``: another one's uncommitted generation
    would look like a leftover.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return
    remove_stale_temporaries(folder)
    state = read_state(folder)
    listed = state["files"] if state else {}
    kept = {entry["name"] for entry in listed.values()}
    names = {*names, *listed}
    for path in folder.iterdir():
        if path.name not in kept and any(_is_generation_of(path.name, n) for n in names):
            path.unlink(missing_ok=True)


def load_checkpoint(
    model: keras.Model, folder: str | os.PathLike, config: dict
) -> tuple[dict, dict[str, Path]] | None:
    """Load the checkpoint in ``folder`` into the compiled ``model``; return (its state, its
    checked files by name), or None when there is none (``model`` is then left as it was).

    Raises CheckpointMismatchError, loading nothing, when the checkpoint comes from another
    configuration or another network, and DamagedCheckpointError when it cannot be read.
    """
    folder = Path(folder)
    state = read_state(folder)
    if state is None:
        return None
    saved, current = state.get("config"), _as_json(config)
    if saved != current:
        raise CheckpointMismatchError(
            f"The checkpoint in {folder} was trained with a different configuration "
            f"({_differences(saved, current)}). Delete that folder to train from scratch, or "
            f"run with the configuration in {folder / STATE}."
        )
    if state.get("architecture") != architecture_key(model):
        raise CheckpointMismatchError(
            f"The checkpoint in {folder} was written by a different network (another layer, "
            "activation, rate or size), so its weights do not belong to this one. Delete that "
            "folder to train this network from scratch."
        )
    files = checkpoint_files(folder, state)
    if WEIGHTS not in files:
        raise DamagedCheckpointError(folder, f"{STATE} names no {WEIGHTS}")
    variables, values = _random_states(model), state.get("random_states")
    if not isinstance(values, list) or len(values) != len(variables):
        raise DamagedCheckpointError(folder, f"{STATE} lacks the random generators' states")
    # The optimizer's slots must exist before its saved values can be loaded into them.
    model.optimizer.build(model.trainable_variables)
    try:
        model.load_weights(files[WEIGHTS])
        for variable, value in zip(variables, values, strict=True):
            variable.assign(np.asarray(value, dtype=variable.dtype))
        _restore_backend_random_state(state.get("backend_random_state"))
    except (OSError, ValueError, RuntimeError, binascii.Error) as error:
        reason = f"Keras could not load the weights ({error})"
        raise DamagedCheckpointError(folder, reason) from error
    return state, files


def _differences(saved, current: dict) -> str:
    if not isinstance(saved, dict):
        return f"{STATE} holds no configuration"

    def shown(config: dict, name: str) -> str:
        return repr(config[name]) if name in config else "(not set)"

    return ", ".join(
        f"{name}={shown(saved, name)} there, {shown(current, name)} here"
        for name in sorted(set(saved) | set(current))
        if name not in saved or name not in current or saved[name] != current[name]
    )


def history_to_csv(history: dict[str, list[float]]) -> str:
    """One row per epoch, one column per metric."""
    out = io.StringIO()
    writer = csv.writer(out)
    names = list(history)
    writer.writerow(["epoch", *names])
    for epoch, row in enumerate(zip(*(history[n] for n in names), strict=True), start=1):
        writer.writerow([epoch, *row])
    return out.getvalue()


def save_final_model(model: keras.Model, folder: str | os.PathLike) -> Path:
    """Write ``folder/model.keras`` once, atomically, when a training run has finished."""
    path = Path(folder) / "model.keras"
    if not path.exists():
        with atomic_path(path) as tmp:  # keeps the ".keras" ending Keras asks for
            model.save(tmp)
    return path


# ---------------------------------------------------------------------------------------------
# Training with fit


class EpochCheckpoint(keras.callbacks.Callback):
    """After each epoch, commit weights, optimizer state and the history so far to ``folder``."""

    def __init__(self, folder: str | os.PathLike, config: dict, history: dict | None = None):
        super().__init__()
        self.folder = Path(folder)
        self.config = config
        self.history = {k: list(v) for k, v in (history or {}).items()}

    def on_train_begin(self, logs=None):
        # Again, here: on PyTorch, fit() draws from the global generator before this point
        # (each pass over a DataLoader takes a seed), which the unbroken run did before epoch 0.
        state = read_state(self.folder)
        if state is not None:
            _restore_backend_random_state(state.get("backend_random_state"))

    def on_epoch_end(self, epoch, logs=None):
        for name, value in (logs or {}).items():
            self.history.setdefault(name, []).append(float(value))
        # The view first, the commit last: a kill in between leaves history.csv one epoch ahead,
        # and the resumed run writes that epoch again.
        atomic_write_text(self.folder / HISTORY_CSV, history_to_csv(self.history))
        state = {"epochs_done": epoch + 1, "history": self.history}
        write_checkpoint(self.folder, self.model, self.config, state)


def restore(model: keras.Model, folder: str | os.PathLike, config: dict) -> tuple[int, dict]:
    """Load the checkpoint in ``folder`` into ``model``; return (epochs done, history so far).

    ``model`` must be compiled. With no checkpoint, returns ``(0, {})`` and changes nothing.
    A checkpoint of another configuration or network is refused (CheckpointMismatchError).
    """
    loaded = load_checkpoint(model, folder, config)
    if loaded is None:
        return 0, {}
    state, _ = loaded
    epochs_done, history = state.get("epochs_done"), state.get("history")
    if not isinstance(epochs_done, int) or not isinstance(history, dict):
        raise DamagedCheckpointError(folder, f"{STATE} lacks the epochs done or the history")
    return epochs_done, history


class EpochBatches(keras.callbacks.Callback):
    """A training set whose batches for epoch ``e`` are ``make_batches(e)``, and nothing else.

    Keras iterates its training data afresh every epoch, and a ``tf.data`` shuffle (or a random
    generator shared by the passes) draws each epoch from the passes made so far: a run resumed
    at epoch 5 would replay epoch 0's batches and drift away from an uninterrupted run. Seeded
    with (seed, epoch), ``make_batches`` gives epoch 5 the same batches in both. As a callback
    this object tells its dataset which epoch begins; ``fit_resumable`` wires both ends.
    """

    def __init__(self, make_batches: Callable[[int], Iterator[tuple]], num_batches: int,
                 signature: tuple):
        super().__init__()
        self.make_batches, self.num_batches, self.signature = make_batches, num_batches, signature
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def dataset(self):
        """The ``tf.data.Dataset`` to train on: each pass yields the batches of ``self.epoch``."""
        import tensorflow as tf

        # Each pass reads the epoch when it starts. Keras also opens (and drops unread) one pass
        # at the end of every epoch, before the next on_epoch_begin: its batches are never used.
        dataset = tf.data.Dataset.from_generator(
            lambda: self.make_batches(self.epoch), output_signature=self.signature
        )
        dataset = dataset.apply(tf.data.experimental.assert_cardinality(self.num_batches))
        return dataset.prefetch(2)


def shuffled_batches(arrays: tuple[np.ndarray, ...], batch_size: int, seed: int,
                     transform: Callable[..., tuple] | None = None) -> EpochBatches:
    """Minibatches of ``arrays`` (alike along their first axis) in an order drawn from
    (seed, epoch); the last, smaller batch is dropped, so every batch has one shape (one traced
    step). ``transform`` maps a batch's arrays to what the model takes (uint8 pixels to floats)."""
    import tensorflow as tf

    count = len(arrays[0])
    num_batches = count // batch_size

    def transformed(rows) -> tuple:
        batch = tuple(array[rows] for array in arrays)
        return tuple(transform(*batch)) if transform else batch

    def make_batches(epoch: int):
        order = np.random.default_rng([seed, epoch]).permutation(count)
        for start in range(0, num_batches * batch_size, batch_size):
            yield transformed(order[start : start + batch_size])

    first = transformed(np.arange(batch_size))
    signature = tuple(tf.TensorSpec(part.shape, tf.as_dtype(part.dtype)) for part in first)
    return EpochBatches(make_batches, num_batches, signature)


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
    """``model.fit`` that commits a checkpoint every epoch and resumes from ``folder``.

    A finished run is loaded, not retrained; an interrupted one trains the epochs that remain.
    With ``train_data`` an ``EpochBatches``, the resumed epochs see the batches an uninterrupted
    run would. Returns the full history (all epochs, resumed ones included).
    """
    epochs_done, history = restore(model, folder, config)
    remove_leftovers(folder)
    if epochs_done >= num_epochs:
        # As fit() does when it ends: an optimizer that averages weights puts the average in.
        model.optimizer.finalize_variable_values(model.trainable_weights)
        print(f"Loaded the finished run from {folder} ({epochs_done} epochs).")
        return history
    if epochs_done:
        print(f"Resuming from {folder}: {epochs_done} of {num_epochs} epochs already done.")
    if isinstance(train_data, EpochBatches):
        callbacks = [train_data, *callbacks]
        train_data = train_data.dataset()
    checkpoint = EpochCheckpoint(folder, config, history)
    model.fit(
        train_data,
        validation_data=validation_data,
        epochs=num_epochs,
        initial_epoch=epochs_done,
        callbacks=[*callbacks, checkpoint],
        shuffle=False,  # the data shuffles itself; Keras would only warn about it
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
