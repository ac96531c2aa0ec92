"""Benchmark: each chapter's training step on TensorFlow, JAX and PyTorch.

    python -m benchmarks.backends [--backends tensorflow jax torch] [--steps 30]

Keras fixes its backend when it is first imported, so this parent starts one worker process per
backend, each in that backend's environment (`.venv`, `.venv-jax`, `.venv-torch`; `make
test-backends` builds the last two). For each chapter a worker

1. builds the chapter's main model at its ``cpu`` profile, compiled as the chapter compiles it,
   and times Keras's training step (``train_on_batch``; chapter 5: the agent's own
   ``gradient_step``) on random batches of the profile's shape: the first step, which traces
   and compiles, and the mean of the next ``--steps`` steps;
2. builds the same model with its random parts switched off (dropout rates 0, no augmentation,
   the DB-VAE's z = mu), starts it from the initial weights the first worker saved, and records
   the loss of each of ``AGREEMENT_STEPS`` steps on fixed batches. Two backends agree when every
   loss is within ``RELATIVE_TOLERANCE`` of the first backend's.

The data are random (the step's cost depends on shapes, not values), so no data set is needed.
Writes benchmarks/results/backends.json; ``python -m benchmarks.report`` puts it in the README.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

import course  # noqa: F401  (quiets TensorFlow's C++ logs before it is imported)

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results" / "backends.json"
BACKENDS = ("tensorflow", "jax", "torch")
STEPS = 30
AGREEMENT_STEPS = 5
# float32 on three different kernel libraries, five Adam steps: losses drift apart by rounding.
RELATIVE_TOLERANCE = 1e-3
SENTIMENT_TOKENS = 256  # tokens per review in a timed batch (reviews are padded per batch)
MUSIC_VOCABULARY = 83  # distinct characters in the 804-tune corpus


def interpreter(backend: str) -> Path:
    """The Python of ``backend``'s environment (TensorFlow: the course's own .venv)."""
    return ROOT / (".venv" if backend == "tensorflow" else f".venv-{backend}") / "bin" / "python"


# One function per chapter: (the model, batches(rng, count) -> [(x, y)], a description), the
# model as the chapter trains it (random=True) or with its random parts off (random=False).


def token_batches(x_shape, x_range, y_shape, num_classes):
    """batches(rng, count) of integer ids in ``x_range`` and integer targets below
    ``num_classes`` (the sentiment model reads 0/1 targets as floats)."""
    def batches(rng, count):
        return [(rng.integers(*x_range, x_shape).astype("int32"),
                 rng.integers(0, num_classes, y_shape).astype(
                     "float32" if num_classes == 2 else "int32"))
                for _ in range(count)]

    return batches


def rnn_sentiment_case(random: bool):
    from rnn_sentiment.config import get_config
    from rnn_sentiment.model import build_bilstm
    from rnn_sentiment.train import compile_model

    config = get_config("cpu")
    if not random:
        config = replace(config, dropout=0.0)
    model = compile_model(build_bilstm(config), config, total_steps=1_000)

    shape = (config.batch_size, SENTIMENT_TOKENS)
    batches = token_batches(shape, (1, config.vocabulary_size), (config.batch_size, 1), 2)
    return model, batches, f"BiLSTM (words + pairs), batch {shape[0]} x {shape[1]} tokens"


def rnn_music_case(random: bool):
    from rnn_music.config import get_config
    from rnn_music.model import build_model
    from rnn_music.train import compile_model

    config = get_config("cpu")
    dropout = (config.input_dropout, config.output_dropout) if random else (0.0, 0.0)
    model = build_model(MUSIC_VOCABULARY, config.embedding_dim, config.rnn_units, *dropout)
    compile_model(model, config.learning_rate)

    shape = (config.batch_size, config.sequence_length)
    batches = token_batches(shape, (0, MUSIC_VOCABULARY), shape, MUSIC_VOCABULARY)
    description = f"character LSTM {config.rnn_units}, batch {shape[0]} x {shape[1]} characters"
    return model, batches, description


def cnn_digits_case(random: bool):
    from cnn_digits.config import get_config
    from cnn_digits.model import build_cnn
    from cnn_digits.train import compile_model

    config = get_config("cpu")
    model = build_cnn(config, augment=random)
    if not random:
        model.get_layer("dropout").rate = 0.0
    compile_model(model, config, total_steps=1_000)

    def batches(rng, count):
        return [(rng.random((config.batch_size, 28, 28, 1), dtype=np.float32),
                 rng.integers(0, 10, config.batch_size).astype("int32"))
                for _ in range(count)]

    name = "augmented CNN" if random else "CNN"
    return model, batches, f"{name}, batch {config.batch_size}"


def vae_faces_case(random: bool):
    from vae_faces.config import get_config
    from vae_faces.model import build_dbvae
    from vae_faces.train import compile_model

    # Without its random parts: no shifts or zooms of the input, and z = mu.
    config = get_config("cpu", **({} if random else {"shift_fraction": 0.0, "zoom_fraction": 0.0}))
    model = build_dbvae(config)
    if not random:
        model.sampler.call = lambda mean, log_variance: mean  # z = mu: no draw of eps
    compile_model(model, config, total_steps=1_000)
    size = config.image_size

    def batches(rng, count):
        return [(rng.random((config.batch_size, size, size, 3), dtype=np.float32),
                 rng.integers(0, 2, config.batch_size).astype("float32"))
                for _ in range(count)]

    return model, batches, f"DB-VAE, batch {config.batch_size} x {size}x{size} images"


class AgentStep:
    """Chapter 5's agent behind the two calls the worker makes of a Keras model."""

    def __init__(self, config):
        from dqn_cartpole.dqn import DQNAgent

        self.agent = DQNAgent(config)

    def train_on_batch(self, x, y=None):
        from dqn_cartpole.dqn import gradient_step

        return gradient_step(self.agent, x)

    def save_weights(self, path):
        self.agent.save_weights(path)

    def load_weights(self, path):
        self.agent.load_weights(path)


def dqn_cartpole_case(random: bool):
    from dqn_cartpole.constant import get_config
    from dqn_cartpole.dqn import Batch

    config = get_config("cpu")
    n = config.batch_size

    def batches(rng, count):
        return [(Batch(
            states=rng.normal(size=(n, 4)).astype("float32"),
            actions=rng.integers(0, 2, n).astype("int32"),
            rewards=np.ones(n, "float32"),
            next_states=rng.normal(size=(n, 4)).astype("float32"),
            terminated=rng.random(n) < 0.05,
            truncated=np.zeros(n, bool),
            horizons=np.full(n, config.n_step, "int32"),
        ).pack(), None) for _ in range(count)]

    return AgentStep(config), batches, f"DQN gradient step, batch {n} transitions"


CASES = {"rnn_sentiment": rnn_sentiment_case, "rnn_music": rnn_music_case,
         "cnn_digits": cnn_digits_case, "vae_faces": vae_faces_case,
         "dqn_cartpole": dqn_cartpole_case}


def loss_of(output) -> float:
    """The loss from what a training step returned (a loss, or a list led by it)."""
    import keras

    if isinstance(output, (list, tuple)):
        output = output[0]
    return float(keras.ops.convert_to_numpy(output))


def run_chapter(chapter: str, steps: int, weights: Path, save_weights: bool) -> dict:
    """One chapter on this process's backend: step times, then the losses from shared weights."""
    from course.env import set_seed

    set_seed(0)
    model, batches, description = CASES[chapter](random=True)
    data = batches(np.random.default_rng(0), steps + 1)
    started = time.perf_counter()
    loss_of(model.train_on_batch(*data[0]))
    first_step = time.perf_counter() - started
    started = time.perf_counter()
    for x, y in data[1:]:
        loss_of(model.train_on_batch(x, y))  # reading the loss waits for the step to finish
    per_step = (time.perf_counter() - started) / steps

    set_seed(0)
    model, batches, _ = CASES[chapter](random=False)
    if save_weights:
        model.save_weights(weights)
    else:
        model.load_weights(weights)
    losses = [loss_of(model.train_on_batch(x, y))
              for x, y in batches(np.random.default_rng(1), AGREEMENT_STEPS)]
    return {"model": description, "first_step_seconds": round(first_step, 3),
            "seconds_per_step": round(per_step, 5), "losses": losses}


def worker(arguments) -> None:
    import keras

    from course.env import describe_device

    results = {"backend": keras.backend.backend(), "keras": keras.__version__,
               "device": describe_device(), "chapters": {}}
    for chapter in arguments.chapters:
        results["chapters"][chapter] = run_chapter(
            chapter, arguments.steps, Path(arguments.weights) / f"{chapter}.weights.h5",
            arguments.save_weights,
        )
        print(f"{results['backend']:10s} {chapter:13s} "
              f"{1000 * results['chapters'][chapter]['seconds_per_step']:8.1f} ms/step",
              flush=True)
    Path(arguments.output).write_text(json.dumps(results))


def relative_difference(losses, reference) -> float:
    losses, reference = np.asarray(losses), np.asarray(reference)
    return float(np.max(np.abs(losses - reference) / np.abs(reference)))


def combine(per_backend: dict, steps: int) -> dict:
    """The JSON: per chapter and backend, the times, the losses and the agreement."""
    first = next(iter(per_backend))
    chapters = {}
    for chapter in per_backend[first]["chapters"]:
        reference = per_backend[first]["chapters"][chapter]["losses"]
        row = {"model": per_backend[first]["chapters"][chapter]["model"]}
        for backend, result in per_backend.items():
            measured = dict(result["chapters"][chapter])
            measured.pop("model")
            measured["max_relative_difference"] = relative_difference(measured["losses"],
                                                                      reference)
            row[backend] = measured
        row["losses_agree"] = all(row[b]["max_relative_difference"] <= RELATIVE_TOLERANCE
                                  for b in per_backend)
        chapters[chapter] = row
    return {
        "machine": f"{per_backend[first]['device']}, {platform.platform()}",
        "steps": steps, "agreement_steps": AGREEMENT_STEPS,
        "relative_tolerance": RELATIVE_TOLERANCE, "reference_backend": first,
        "backends": {b: {"keras": r["keras"]} for b, r in per_backend.items()},
        "chapters": chapters,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", nargs="+", choices=BACKENDS, default=list(BACKENDS))
    parser.add_argument("--chapters", nargs="+", choices=list(CASES), default=list(CASES))
    parser.add_argument("--steps", type=int, default=STEPS)
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--weights", help=argparse.SUPPRESS)
    parser.add_argument("--save-weights", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)
    if arguments.worker:
        worker(arguments)
        return
    missing = [b for b in arguments.backends if not interpreter(b).exists()]
    if missing:
        sys.exit(f"no environment for {', '.join(missing)}: run `make "
                 + " ".join(f"{interpreter(b).parent.parent.name}/.installed" for b in missing)
                 + "` first")
    per_backend = {}
    with tempfile.TemporaryDirectory() as scratch:
        for index, backend in enumerate(arguments.backends):
            output = Path(scratch) / f"{backend}.json"
            command = [str(interpreter(backend)), "-m", "benchmarks.backends", "--worker",
                       "--steps", str(arguments.steps), "--chapters", *arguments.chapters,
                       "--weights", scratch, "--output", str(output)]
            if index == 0:
                command.append("--save-weights")
            # DL_PROFILE would not change the models (each case asks for cpu), but keep it out.
            env = {k: v for k, v in os.environ.items() if k != "DL_PROFILE"}
            subprocess.run(command, cwd=ROOT, env={**env, "KERAS_BACKEND": backend}, check=True)
            per_backend[backend] = json.loads(output.read_text())
    result = combine(per_backend, arguments.steps)
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(json.dumps(result, indent=1) + "\n")
    for chapter, row in result["chapters"].items():
        print(f"{chapter:13s} losses agree: {row['losses_agree']}")
    print(f"wrote {arguments.output}")


if __name__ == "__main__":
    main()
