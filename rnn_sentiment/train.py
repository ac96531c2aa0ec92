"""Training, evaluation and prediction for the sentiment models, resumable from checkpoints."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import keras
import numpy as np

from course.atomic import atomic_write_text
from course.checkpoint import EpochBatches, fit_and_save, runs_root
from rnn_sentiment.config import SentimentConfig
from rnn_sentiment.data import (
    ReviewSplits,
    batch_signature,
    length_batches,
    make_dataset,
    make_vectorizer,
    num_batches,
    pad,
    padded_width,
    tokenize,
    vectorize,
)


def run_dir(config: SentimentConfig) -> Path:
    """Where this profile's models, histories and figures go (one folder per profile)."""
    return runs_root() / "rnn_sentiment" / config.profile


@dataclass
class TokenizedSplits:
    """Word-index sequences (lists of int32 arrays) of each split, with the vectorizer."""

    vectorizer: keras.layers.TextVectorization
    train: list[np.ndarray]
    val: list[np.ndarray]
    test: list[np.ndarray]


def tokenize_splits(splits: ReviewSplits, config: SentimentConfig) -> TokenizedSplits:
    """Learn the vocabulary on the training reviews only, then turn every split into indices."""
    vectorizer = make_vectorizer(splits.x_train, config.vocabulary_size)

    def to_ids(texts):
        return vectorize(vectorizer, texts, config.max_tokens, config.head_tokens)

    return TokenizedSplits(
        vectorizer, to_ids(splits.x_train), to_ids(splits.x_val), to_ids(splits.x_test)
    )


def compile_model(model: keras.Model, config: SentimentConfig, total_steps: int) -> keras.Model:
    """Adam with a cosine decay of the learning rate to zero, gradients clipped to norm 1.

    Clipping guards against the exploding gradients a recurrence can produce (section 4).
    """
    schedule = keras.optimizers.schedules.CosineDecay(config.learning_rate, max(1, total_steps))
    model.compile(
        optimizer=keras.optimizers.Adam(schedule, clipnorm=1.0),
        loss="binary_crossentropy",
        metrics=["accuracy"],
    )
    return model


def training_batches(sequences, labels, batch_size: int, seed: int) -> EpochBatches:
    """The shuffled ``length_batches`` of the training reviews, epoch e's drawn from (seed, e).

    So a run resumed at epoch e trains on the batches an unbroken run would (a random generator
    shared by the epochs would start again from epoch 0's draws).
    """
    batches = length_batches(sequences, labels, batch_size)
    return EpochBatches(
        lambda epoch: batches(np.random.default_rng([seed, epoch])),
        num_batches(len(sequences), batch_size),
        batch_signature(),
    )


def train(
    model: keras.Model,
    tokens: TokenizedSplits,
    splits: ReviewSplits,
    config: SentimentConfig,
    num_epochs: int,
    folder: Path | None = None,
    callbacks: list | tuple = (),
) -> dict[str, list[float]]:
    """Fit ``model`` on the training reviews, validating on the held-out ones.

    Checkpoints every epoch in ``folder`` (default: ``run_dir(config) / model.name``), resumes
    an interrupted run, loads a finished one, and saves the final model as ``model.keras``.
    """
    folder = Path(folder or run_dir(config) / model.name)
    train_data = training_batches(tokens.train, splits.y_train, config.batch_size, config.seed)
    compile_model(model, config, total_steps=train_data.num_batches * num_epochs)
    val_data = make_dataset(tokens.val, splits.y_val, 512, shuffle=False)
    return fit_and_save(
        model, train_data, num_epochs=num_epochs, folder=folder, config=config.as_dict(),
        validation_data=val_data, callbacks=callbacks,
    )


def save_vocabulary(vectorizer, path: Path) -> Path:
    """The vectorizer's vocabulary, one word a line (index = line number), for reloading."""
    return atomic_write_text(path, "\n".join(vectorizer.get_vocabulary()) + "\n")


def predict_probabilities(model: keras.Model, sequences: list[np.ndarray]) -> np.ndarray:
    """P(positive) for each sequence, in the order given (batched by length for speed)."""
    lengths = np.array([len(s) for s in sequences])
    order = np.argsort(lengths, kind="stable")  # the order make_dataset(shuffle=False) uses
    dataset = make_dataset(sequences, np.zeros(len(sequences)), 512, shuffle=False)
    sorted_probabilities = np.asarray(model.predict(dataset, verbose=0)).ravel()
    probabilities = np.empty_like(sorted_probabilities)
    probabilities[order] = sorted_probabilities
    return probabilities


def accuracy(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of reviews on the right side of P = 0.5."""
    return float(np.mean((np.asarray(probabilities) > 0.5) == np.asarray(labels)))


def check_review(text) -> None:
    """A TypeError for a review that is not a str, a ValueError for one without words."""
    if not isinstance(text, str):
        raise TypeError(f"expected the review as a str, got {type(text).__name__}")
    if not tokenize(text):
        raise ValueError(
            "the review has no words (it is empty, blank or only punctuation); "
            "type a sentence such as 'A wonderful, moving film.'"
        )


def _text_to_ids(text, vectorizer, config: SentimentConfig) -> np.ndarray:
    check_review(text)
    (ids,) = vectorize(vectorizer, [text], config.max_tokens, config.head_tokens)
    return ids


def predict_sentiment(text: str, model, vectorizer, config: SentimentConfig) -> float:
    """P(positive) for one review typed by the reader; a clear error for an empty text."""
    ids = _text_to_ids(text, vectorizer, config)
    words = pad([ids], padded_width(len(ids)))
    return float(np.asarray(model.predict(words, verbose=0)).ravel()[0])


def running_probabilities(text: str, model, vectorizer, config: SentimentConfig):
    """The words of ``text`` and P(positive) after reading the first 1, 2, ... of them.

    Each prefix is one sequence of a batch (padding is masked), so this works for any model,
    bidirectional ones included: the answer is what the model says if the review stopped there.
    """
    ids = _text_to_ids(text, vectorizer, config)
    vocabulary = vectorizer.get_vocabulary()
    width = padded_width(len(ids))
    # Rows beyond the last prefix are all padding: they only keep the shape in few sizes.
    prefixes = np.zeros((width, width), "int32")
    for length in range(1, len(ids) + 1):
        prefixes[length - 1, :length] = ids[:length]
    probabilities = np.asarray(model.predict(prefixes, batch_size=256, verbose=0)).ravel()
    return [vocabulary[i] for i in ids], probabilities[: len(ids)]


def turns_at(words: list[str], probabilities, pivot: str = "but", window: int = 5,
             min_before: int = 3):
    """Index of the first ``pivot`` (with ``min_before`` words or more before it) if the verdict
    turns there, else None.

    It turns if P(positive) just before the pivot and at the end lie on opposite sides of 0.5,
    and the end's side is reached within ``window`` words from the pivot on.
    """
    probabilities = np.asarray(probabilities)
    for position, word in enumerate(words):
        if word == pivot and position >= min_before:
            end = probabilities[-1] > 0.5
            soon = probabilities[position : position + window] > 0.5
            before = probabilities[position - 1] > 0.5
            turned = before != end and bool(np.any(soon == end))
            return position if turned else None
    return None


class TurningReview(NamedTuple):
    """A review the model reads as turning at a pivot word (``find_turning_review``)."""

    index: int  # in the texts searched
    words: list[str]
    probabilities: np.ndarray  # P(positive) after each word
    position: int  # of the pivot in ``words``
    tried: int  # short reviews of this label with the pivot read so far, this one included


def find_turning_review(texts, labels, label: int, model, vectorizer, config: SentimentConfig,
                        pivot: str = "but", max_words: int = 60, max_tries: int = 100):
    """The first short review of ``label`` (at most ``max_words`` words) that ``model`` reads
    as turning at ``pivot`` (``turns_at``) and gets right in the end, as a ``TurningReview``;
    None when none of the first ``max_tries`` candidates does."""
    tried = 0
    for index, (text, truth) in enumerate(zip(texts, labels, strict=True)):
        if tried >= max_tries:
            break
        if truth != label or len(text.split()) > max_words or pivot not in tokenize(text):
            continue
        tried += 1
        words, probabilities = running_probabilities(text, model, vectorizer, config)
        position = turns_at(words, probabilities, pivot)
        if position is not None and (probabilities[-1] > 0.5) == bool(label):
            return TurningReview(index, words, probabilities, position, tried)
    return None
