"""The chapter's models as the command line saves them, loaded back to score new reviews.

``python -m rnn_sentiment`` writes into its run folder, besides each network's ``model.keras``:

- ``vocabulary.txt``: the networks' word list (``train.save_vocabulary``);
- ``ngram_model.npz``: the n-gram model's words, n-grams and weights as plain arrays;
- ``best_model.json``, written last: the blend weight, each model's validation accuracy, the
  name of the best, and the configuration (the networks' input length).

``load_best_model()`` reads them back into a ``SentimentScorer``.
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

import rnn_sentiment.model  # noqa: F401  (registers the custom layers that model.keras names)
from course.atomic import atomic_write_text
from course.profiles import get_profile
from rnn_sentiment.baseline import NBLogisticRegression
from rnn_sentiment.blend import blend
from rnn_sentiment.config import SentimentConfig, get_config
from rnn_sentiment.data import make_vectorizer, vectorize
from rnn_sentiment.train import check_review, predict_probabilities, run_dir

MANIFEST = "best_model.json"
NGRAM_MODEL = "ngram_model.npz"
VOCABULARY = "vocabulary.txt"
FORMAT = 1  # of best_model.json
# The models the command line reports, in the order that breaks ties (simplest first), with
# their parts: whether they use the n-gram model, and which network.
PARTS = {
    "nb_logistic_regression": (True, None),
    "srn": (False, "srn"),
    "bilstm": (False, "bilstm"),
    "bilstm_plus_nb": (True, "bilstm"),
}
MODELS = tuple(PARTS)


class ModelNotSavedError(FileNotFoundError):
    """No complete saved model in a run folder; the message says which command writes one."""

    def __init__(self, folder: Path, profile: str, reason: str):
        super().__init__(
            f"No complete sentiment model in {folder} ({reason}). Run "
            f"`python -m rnn_sentiment --profile {profile}` first: it trains the models and "
            "saves them there."
        )


def best_model(validation_accuracy: dict[str, float]) -> str:
    """The model with the highest validation accuracy (the simplest one on a tie)."""
    return max(MODELS, key=lambda name: (validation_accuracy[name], -MODELS.index(name)))


def save_best_model(
    folder: Path,
    config: SentimentConfig,
    ngram_model: NBLogisticRegression,
    blend_weight: float,
    validation_accuracy: dict[str, float],
) -> Path:
    """Write the n-gram model, then the manifest that makes the folder loadable.

    The networks and the vocabulary must already be in ``folder``; the manifest goes last, so
    a run killed before it leaves no manifest that names missing or half-written files.
    """
    ngram_model.save(folder / NGRAM_MODEL)
    manifest = {
        "format": FORMAT,
        "best": best_model(validation_accuracy),
        "blend_weight": blend_weight,
        "validation_accuracy": validation_accuracy,
        "config": config.as_dict(),
    }
    return atomic_write_text(folder / MANIFEST, json.dumps(manifest, indent=1))


@dataclass
class SentimentScorer:
    """One of the chapter's trained models, ready to score reviews.

    The n-gram model alone, a network alone, or both blended by log-odds:
    logit(P) = (1 - blend_weight) * logit(P_ngram) + blend_weight * logit(P_network).
    """

    name: str
    config: SentimentConfig
    ngram_model: NBLogisticRegression | None = None
    network: keras.Model | None = None
    vectorizer: keras.layers.TextVectorization | None = None
    blend_weight: float | None = None

    def predict_proba(self, reviews: list[str]) -> np.ndarray:
        """P(positive) for each review; a clear error for a non-text or an empty review."""
        if isinstance(reviews, str):
            raise TypeError("pass a list of reviews, e.g. [review], not one string")
        reviews = list(reviews)
        for index, review in enumerate(reviews):
            try:
                check_review(review)
            except (TypeError, ValueError) as error:
                raise type(error)(f"review {index}: {error}") from None
        if not reviews:
            return np.zeros(0)
        if self.network is None:
            return self.ngram_model.predict_proba(reviews)
        ids = vectorize(self.vectorizer, reviews, self.config.max_tokens, self.config.head_tokens)
        network = predict_probabilities(self.network, ids)
        if self.ngram_model is None:
            return network
        return blend(self.ngram_model.predict_proba(reviews), network, self.blend_weight)


def load_best_model(
    folder: str | os.PathLike | None = None, profile: str | None = None, name: str | None = None
) -> SentimentScorer:
    """The best model by validation accuracy that ``python -m rnn_sentiment`` saved.

    ``folder``: the run folder (default: the one of ``profile``, itself by default
    ``$DL_PROFILE`` or the machine's). ``name``: another of the models the command line reports
    (``MODELS``) instead of the best. Raises ModelNotSavedError when the folder lacks any part.
    """
    profile = get_profile(profile)
    folder = Path(folder) if folder is not None else run_dir(get_config(profile))

    def missing(reason: str) -> ModelNotSavedError:
        return ModelNotSavedError(folder, profile, reason)

    if not (folder / MANIFEST).is_file():
        raise missing(f"no {MANIFEST}")
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
        saved_format = manifest["format"]
        config = SentimentConfig(**manifest["config"])
        name = name or manifest["best"]
        weight = float(manifest["blend_weight"])
    except (ValueError, TypeError, KeyError) as error:
        raise missing(f"{MANIFEST} is unreadable: {error!r}") from None
    profile = config.profile  # the run to repeat, whatever folder was given
    if saved_format != FORMAT:
        raise missing(f"{MANIFEST} is of format {saved_format!r}, not {FORMAT}")
    if name not in MODELS:
        raise ValueError(f"name must be one of {MODELS}, got {name!r}")

    uses_ngrams, network = PARTS[name]
    needed = [NGRAM_MODEL] if uses_ngrams else []
    if network:
        needed += [f"{network}/model.keras", VOCABULARY]
    absent = [part for part in needed if not (folder / part).is_file()]
    if absent:
        raise missing(f"{' and '.join(absent)} missing")
    scorer = SentimentScorer(name, config, blend_weight=weight)
    try:
        if uses_ngrams:
            scorer.ngram_model = NBLogisticRegression.load(folder / NGRAM_MODEL)
        if network:
            path = folder / network / "model.keras"
            scorer.network = keras.models.load_model(path, compile=False)
            vocabulary = (folder / VOCABULARY).read_text(encoding="utf-8").splitlines()
            scorer.vectorizer = make_vectorizer(vocabulary=vocabulary)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
        raise missing(f"a file could not be read: {error}") from None
    return scorer
