"""Benchmark: our CNN recipe (3 seeds) against the keras.io "simple MNIST convnet", one process.

    python -m benchmarks.cnn_digits [--seeds 0 1 2] [--profile cpu]

(Run it as a module: as a script, this file would shadow the cnn_digits package.)

For each run: final test accuracy, training wall seconds, and wall seconds until test accuracy
first reached 99.0%. Test accuracy is measured every quarter epoch with the clock stopped, so
evaluation is not counted as training time; our recipe is measured with its averaged weights,
the ones it would end with if stopped there. Writes benchmarks/results/cnn_digits.json.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time
from pathlib import Path

import keras
import numpy as np
from keras import layers

import course  # noqa: F401  (quiets TensorFlow's C++ logs before it is imported)
from cnn_digits.config import get_config
from cnn_digits.data import load_mnist, make_dataset, scale_images
from cnn_digits.model import build_cnn
from cnn_digits.train import compile_model, training_batches
from course.env import describe_device, set_seed

RESULTS = Path(__file__).resolve().parent / "results" / "cnn_digits.json"
TARGET = 0.99


class TestAccuracyClock(keras.callbacks.Callback):
    """Times training with the clock stopped while test accuracy is measured."""

    def __init__(self, x_test, y_test, evaluations_per_epoch: int = 4):
        super().__init__()
        self.x_test, self.y_test = scale_images(x_test), y_test
        self.evaluations_per_epoch = evaluations_per_epoch
        self.curve: list[tuple[float, float]] = []  # (training seconds, test accuracy)
        self.seconds_to_target: float | None = None

    def on_train_begin(self, logs=None):
        steps = self.params["steps"]
        self.eval_every = max(1, math.ceil(steps / self.evaluations_per_epoch))
        self.train_seconds, self.step = 0.0, 0
        self._started = time.perf_counter()

    def _evaluate(self):
        self.train_seconds += time.perf_counter() - self._started
        # Measure the weights the model would end with if training stopped now: an optimizer
        # that averages weights puts its average in (as fit() does at the end), then the raw
        # weights go back so that training continues unchanged.
        weights = self.model.trainable_weights
        raw_values = [keras.ops.convert_to_numpy(weight) for weight in weights]
        self.model.optimizer.finalize_variable_values(weights)
        probabilities = self.model.predict(self.x_test, batch_size=2000, verbose=0)
        for weight, value in zip(weights, raw_values, strict=True):
            weight.assign(value)
        test_accuracy = float(np.mean(np.argmax(probabilities, axis=1) == self.y_test))
        self.curve.append((round(self.train_seconds, 2), test_accuracy))
        if self.seconds_to_target is None and test_accuracy >= TARGET:
            self.seconds_to_target = self.train_seconds
        self._started = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        if self.step % self.eval_every == 0 or batch + 1 == self.params["steps"]:
            self._evaluate()


def build_keras_io_convnet() -> keras.Model:
    """The keras.io "simple MNIST convnet", rebuilt from its description."""
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Conv2D(32, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(64, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dropout(0.5),
            layers.Dense(10, activation="softmax"),
        ],
        name="keras_io_simple_convnet",
    )


def timed_fit(model, data, x_test, y_test, num_epochs, seed, callbacks=()):
    """Fit on ``data``; return (final test accuracy, train seconds, seconds to 99%)."""
    clock = TestAccuracyClock(x_test, y_test)
    model.fit(data, epochs=num_epochs, callbacks=[*callbacks, clock], shuffle=False, verbose=0)
    final_accuracy = clock.curve[-1][1]
    print(
        f"  {model.name} seed {seed}: test accuracy {final_accuracy:.4f}, "
        f"{clock.train_seconds:.0f} s, to 99%: {clock.seconds_to_target}",
        flush=True,
    )
    return final_accuracy, clock.train_seconds, clock.seconds_to_target, clock.curve


def run_ours(config, seed):
    set_seed(seed)
    splits = load_mnist(
        config.num_validation, config.num_train, config.num_test, profile=config.profile
    )
    model = build_cnn(config, augment=True)
    steps = len(splits.x_train) // config.batch_size * config.augmented_epochs
    compile_model(model, config, total_steps=steps)
    batches = training_batches(splits, config.batch_size, seed)  # the chapter's own pipeline
    return timed_fit(
        model, batches.dataset(), splits.x_test, splits.y_test, config.augmented_epochs, seed,
        callbacks=[batches],
    )


def run_reference(seed, num_epochs=15):
    set_seed(seed)
    splits = load_mnist(num_validation=6_000)  # keras.io holds out 10% with validation_split
    model = build_keras_io_convnet()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    data = make_dataset(splits.x_train, splits.y_train, 128, shuffle=True, seed=seed)
    return timed_fit(model, data, splits.x_test, splits.y_test, num_epochs, seed)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--epochs", type=int, help="override the profile's augmented_epochs")
    parser.add_argument("--reference-epochs", type=int, default=15)
    parser.add_argument("--skip-reference", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    overrides = {"augmented_epochs": args.epochs} if args.epochs else {}
    config = get_config(args.profile, **overrides)
    print(f"ours: {config}", flush=True)
    ours = [run_ours(config, seed) for seed in args.seeds]
    result = {
        "machine": f"{describe_device()}, {platform.platform()}",
        "profile": config.profile,
        "backend": keras.backend.backend(),
        "ours": {
            "model": "cnn_augmented (cnn_digits.model.build_cnn, augment=True)",
            "seeds": args.seeds,
            "test_accuracy": [run[0] for run in ours],
            "train_seconds": [round(run[1], 1) for run in ours],
            "seconds_to_99": [None if run[2] is None else round(run[2], 1) for run in ours],
            "curves": [run[3] for run in ours],
        },
    }
    if not args.skip_reference:
        accuracy, seconds, to_99, curve = run_reference(args.seeds[0], args.reference_epochs)
        result["reference"] = {
            "name": "keras.io simple MNIST convnet (Conv32-Pool-Conv64-Pool-Dropout-Dense, "
            f"batch 128, {args.reference_epochs} epochs, Adam)",
            "test_accuracy": accuracy,
            "train_seconds": round(seconds, 1),
            "seconds_to_99": None if to_99 is None else round(to_99, 1),
            "curve": curve,
        }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
