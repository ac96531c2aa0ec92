"""Benchmark: our bidirectional LSTM (3 seeds), our best small model, and the keras.io recipe.

    python -m benchmarks.rnn_sentiment [--seeds 0 1 2] [--profile cpu]

(Run it as a module: as a script, this file would shadow the rnn_sentiment package.)

All in one process on one machine. "train_seconds" is the wall time of training only (fit, or
the n-gram model's feature extraction and fit), without loading, tokenizing or evaluation; the
process CPU seconds are recorded beside it. Writes benchmarks/results/rnn_sentiment.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import keras
import numpy as np
from keras import layers

import course  # noqa: F401  (quiets TensorFlow's C++ logs before it is imported)
from course.env import describe_device, set_seed
from rnn_sentiment.baseline import NBLogisticRegression
from rnn_sentiment.blend import blend, blend_weight
from rnn_sentiment.config import get_config
from rnn_sentiment.data import load_imdb, make_dataset
from rnn_sentiment.model import build_bilstm
from rnn_sentiment.train import accuracy, compile_model, predict_probabilities, tokenize_splits

RESULTS = Path(__file__).resolve().parent / "results" / "rnn_sentiment.json"


class Stopwatch:
    """Wall and CPU seconds of a block: ``with Stopwatch() as clock: ...; clock.seconds``."""

    def __enter__(self):
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self._wall
        self.cpu_seconds = time.process_time() - self._cpu


def run_ours(config, splits, tokens, seed):
    """Train the chapter's BiLSTM with ``seed``; return val/test probabilities and seconds."""
    set_seed(seed)
    model = build_bilstm(config)
    steps = int(np.ceil(len(tokens.train) / config.batch_size)) * config.num_epochs
    compile_model(model, config, total_steps=steps)
    data = make_dataset(tokens.train, splits.y_train, config.batch_size, True, seed)
    with Stopwatch() as clock:
        model.fit(data, epochs=config.num_epochs, shuffle=False, verbose=0)
    val = predict_probabilities(model, tokens.val)
    test = predict_probabilities(model, tokens.test)
    print(
        f"  bilstm seed {seed}: val {accuracy(val, splits.y_val):.4f} test "
        f"{accuracy(test, splits.y_test):.4f}, {clock.seconds:.0f} s "
        f"({clock.cpu_seconds:.0f} CPU s)",
        flush=True,
    )
    return val, test, clock


def run_baseline(config, splits):
    """The NB-weighted logistic regression on binary n-grams."""
    with Stopwatch() as clock:
        model = NBLogisticRegression(config.ngram_max, config.ngram_min_count, config.baseline_l2)
        model.fit(splits.x_train, splits.y_train)
    val, test = model.predict_proba(splits.x_val), model.predict_proba(splits.x_test)
    print(f"  n-gram model: val {accuracy(val, splits.y_val):.4f} test "
          f"{accuracy(test, splits.y_test):.4f}, {clock.seconds:.0f} s", flush=True)
    return val, test, clock


def build_keras_io_bilstm(vocabulary_size=20_000) -> keras.Model:
    """The keras.io "bidirectional LSTM on IMDB" recipe, rebuilt from its description."""
    return keras.Sequential(
        [
            keras.Input((None,), dtype="int32"),
            layers.Embedding(vocabulary_size, 128),
            layers.Bidirectional(layers.LSTM(64, return_sequences=True)),
            layers.Bidirectional(layers.LSTM(64)),
            layers.Dense(1, activation="sigmoid"),
        ],
        name="keras_io_bidirectional_lstm",
    )


def last_tokens(sequences, length: int) -> np.ndarray:
    """Keep each review's last ``length`` words and pad in front (Keras pad_sequences' defaults)."""
    out = np.zeros((len(sequences), length), "int32")
    for row, ids in enumerate(sequences):
        kept = ids[-length:]
        if len(kept):
            out[row, length - len(kept) :] = kept
    return out


def run_reference(splits, reference_tokens, seed, num_epochs=2, max_length=200, batch_size=32):
    """20k vocabulary, 200 tokens, Embedding 128, two BiLSTM-64, Adam, batch 32."""
    import tensorflow as tf

    set_seed(seed)
    model = build_keras_io_bilstm()
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    x_train = last_tokens(reference_tokens.train, max_length)
    data = tf.data.Dataset.from_tensor_slices((x_train, splits.y_train.astype("float32")))
    data = data.shuffle(len(x_train), seed=seed).batch(batch_size).prefetch(tf.data.AUTOTUNE)
    with Stopwatch() as clock:
        model.fit(data, epochs=num_epochs, shuffle=False, verbose=0)
    x_test = last_tokens(reference_tokens.test, max_length)
    test = np.asarray(model.predict(x_test, batch_size=512, verbose=0)).ravel()
    print(f"  reference: test {accuracy(test, splits.y_test):.4f}, {clock.seconds:.0f} s",
          flush=True)
    return test, clock


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--epochs", type=int, help="override the profile's num_epochs")
    parser.add_argument("--reference-epochs", type=int, default=2)
    parser.add_argument("--skip-reference", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    overrides = {"num_epochs": args.epochs} if args.epochs else {}
    config = get_config(args.profile, **overrides)
    print(f"ours: {config}", flush=True)
    splits = load_imdb(
        config.num_validation, config.num_train, config.num_test, profile=config.profile
    )
    tokens = tokenize_splits(splits, config)
    ours = [run_ours(config, splits, tokens, seed) for seed in args.seeds]
    baseline_val, baseline_test, baseline_clock = run_baseline(config, splits)

    # Best small model, chosen on validation: the n-gram model alone, or its log-odds mixed
    # with the first seed's BiLSTM's (then its training time is the sum of both).
    first_val, first_test, first_clock = ours[0]
    weight = blend_weight(baseline_val, first_val, splits.y_val)
    candidates = {
        f"NB-weighted logistic regression on binary 1-{config.ngram_max}-grams "
        "(rnn_sentiment.baseline)": (
            baseline_val, baseline_test, baseline_clock.seconds, baseline_clock.cpu_seconds,
        ),
        f"log-odds blend: {1 - weight:.1f} x NB-weighted n-gram logistic regression + "
        f"{weight:.1f} x BiLSTM (seed {args.seeds[0]}), weight chosen on validation": (
            blend(baseline_val, first_val, weight), blend(baseline_test, first_test, weight),
            first_clock.seconds + baseline_clock.seconds,
            first_clock.cpu_seconds + baseline_clock.cpu_seconds,
        ),
    }
    validation = {name: accuracy(c[0], splits.y_val) for name, c in candidates.items()}
    best = max(validation, key=validation.get)
    result = {
        "machine": f"{describe_device()}, {platform.platform()}",
        "profile": config.profile,
        "backend": keras.backend.backend(),
        "ours": {
            "model": f"{config.rnn_units}-unit bidirectional LSTM over word + word-pair "
            f"embeddings ({config.pair_buckets:,} pair rows), max+mean pooling over time, "
            f"{config.num_epochs} epochs (rnn_sentiment.model.build_bilstm)",
            "seeds": args.seeds,
            "test_accuracy": [accuracy(run[1], splits.y_test) for run in ours],
            "train_seconds": [round(run[2].seconds, 1) for run in ours],
            "train_cpu_seconds": [round(run[2].cpu_seconds, 1) for run in ours],
            "validation_accuracy": [accuracy(run[0], splits.y_val) for run in ours],
        },
        "best_small": {
            "model": best,
            "test_accuracy": accuracy(candidates[best][1], splits.y_test),
            "train_seconds": round(candidates[best][2], 1),
            "train_cpu_seconds": round(candidates[best][3], 1),
            "validation_accuracy": {name: round(v, 4) for name, v in validation.items()},
            "test_accuracy_of_each": {
                name: accuracy(c[1], splits.y_test) for name, c in candidates.items()
            },
        },
    }
    if not args.skip_reference:
        # The recipe's own vocabulary: 20,000 words, whatever our profile uses.
        reference_tokens = tokenize_splits(
            splits, get_config(args.profile, vocabulary_size=20_000, max_tokens=10**6)
        )
        test, clock = run_reference(splits, reference_tokens, args.seeds[0], args.reference_epochs)
        result["reference"] = {
            "name": "keras.io bidirectional LSTM on IMDB (20k words, last 200 tokens, "
            f"Embedding 128, 2 x BiLSTM-64, Adam, batch 32, {args.reference_epochs} epochs)",
            "test_accuracy": accuracy(test, splits.y_test),
            "train_seconds": round(clock.seconds, 1),
            "train_cpu_seconds": round(clock.cpu_seconds, 1),
        }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
