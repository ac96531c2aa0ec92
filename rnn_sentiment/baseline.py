"""A strong non-recurrent baseline: NB-weighted logistic regression on binary n-grams.

Each review becomes a 0/1 vector saying which words, word pairs and word triples it contains.
Every feature j is scaled by its naive-Bayes log-count ratio

    r_j = log( (alpha + p_j) / ||alpha + p||_1 ) - log( (alpha + q_j) / ||alpha + q||_1 ),

where p_j and q_j count the positive and negative training reviews that contain it (Wang and
Manning 2012, "NBSVM"); a logistic regression then learns on the scaled features. Word order
beyond three words is lost, which is what a recurrent network could add.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import optimize, sparse

from course.atomic import atomic_path
from rnn_sentiment.data import tokenize


def _ngram_codes(ids: np.ndarray, order: int, base: int) -> np.ndarray:
    """Integer codes of the n-grams of one review: id_1 * base^(n-1) + ... + id_n."""
    if len(ids) < order:
        return np.zeros(0, "int64")
    codes = np.zeros(len(ids) - order + 1, "int64")
    for offset in range(order):
        codes = codes * base + ids[offset : len(ids) - order + 1 + offset]
    return codes


@dataclass
class NgramFeatures:
    """Maps token lists to binary n-gram matrices, with a vocabulary learned on training text."""

    ngram_max: int = 3
    min_count: int = 2

    def fit(self, token_lists: list[list[str]]) -> NgramFeatures:
        """Learn the word ids and keep the n-grams found in at least ``min_count`` reviews."""
        words = sorted({word for tokens in token_lists for word in tokens})
        self.word_ids = {word: index + 1 for index, word in enumerate(words)}  # 0: unknown
        self.base = len(words) + 1
        if self.base ** self.ngram_max >= 2**62:
            raise ValueError("vocabulary too large to code n-grams in 64-bit integers")
        self.vocabularies = []
        for order, (rows, codes) in enumerate(self._codes_by_order(token_lists), start=1):
            unique_codes, columns = np.unique(codes, return_inverse=True)
            pairs = np.unique(rows * len(unique_codes) + columns)  # one count per review
            document_frequency = np.bincount(pairs % len(unique_codes), minlength=len(unique_codes))
            kept = unique_codes[document_frequency >= self.min_count]
            if order > 1:  # n-grams through an unknown word (id 0) never repeat in new text
                kept = kept[kept >= self.base ** (order - 1)]
            self.vocabularies.append(kept)
        return self

    @property
    def num_features(self) -> int:
        return sum(len(vocabulary) for vocabulary in self.vocabularies)

    def _codes_by_order(self, token_lists):
        ids = [np.array([self.word_ids.get(w, 0) for w in t], "int64") for t in token_lists]
        for order in range(1, self.ngram_max + 1):
            per_review = [_ngram_codes(review, order, self.base) for review in ids]
            rows = np.repeat(np.arange(len(ids)), [len(codes) for codes in per_review])
            yield rows, np.concatenate(per_review) if per_review else np.zeros(0, "int64")

    def transform(self, token_lists: list[list[str]]) -> sparse.csr_matrix:
        """(reviews, features) CSR matrix: 1 where the review contains the n-gram."""
        all_rows, all_columns, offset = [], [], 0
        for (rows, codes), vocabulary in zip(
            self._codes_by_order(token_lists), self.vocabularies, strict=True
        ):
            position = np.searchsorted(vocabulary, codes)
            position = np.minimum(position, max(len(vocabulary) - 1, 0))
            known = (vocabulary[position] == codes) if len(vocabulary) else codes < 0
            all_rows.append(rows[known])
            all_columns.append(position[known] + offset)
            offset += len(vocabulary)
        rows, columns = np.concatenate(all_rows), np.concatenate(all_columns)
        matrix = sparse.csr_matrix(
            (np.ones(len(rows), "float32"), (rows, columns)), shape=(len(token_lists), offset)
        )
        matrix.data[:] = 1.0  # duplicates were summed: a review either contains it or not
        return matrix


def nb_log_count_ratio(features: sparse.csr_matrix, labels: np.ndarray, alpha: float = 1.0):
    """r = log(p / ||p||_1) - log(q / ||q||_1) with p, q = alpha + counts in pos/neg reviews."""
    labels = np.asarray(labels)
    p = alpha + np.asarray(features[labels == 1].sum(axis=0)).ravel()
    q = alpha + np.asarray(features[labels == 0].sum(axis=0)).ravel()
    return (np.log(p / p.sum()) - np.log(q / q.sum())).astype("float32")


def fit_logistic_regression(features, labels, l2: float, max_iterations: int = 300):
    """Weights w and bias b minimising mean log-loss + (l2 / 2) ||w||^2 (L-BFGS).

    Returns (w, b). The loss of one review is log(1 + e^{-s z}) with s = +-1 and z = x.w + b.
    """
    signs = np.where(np.asarray(labels) == 1, 1.0, -1.0)
    count, num_features = features.shape

    def loss_and_gradient(parameters):
        w, b = parameters[:-1], parameters[-1]
        margins = signs * (features @ w + b)
        loss = np.logaddexp(0.0, -margins).mean() + 0.5 * l2 * w @ w
        # d loss / d z = -s * sigma(-s z), averaged over reviews
        slope = -signs * np.exp(-np.logaddexp(0.0, margins)) / count
        gradient = np.append(features.T @ slope + l2 * w, slope.sum())
        return loss, gradient

    result = optimize.minimize(
        loss_and_gradient, np.zeros(num_features + 1), jac=True, method="L-BFGS-B",
        options={"maxiter": max_iterations},
    )
    return result.x[:-1], float(result.x[-1])


@dataclass
class NBLogisticRegression:
    """The whole baseline: tokenize, binary n-grams, NB scaling, logistic regression."""

    ngram_max: int = 3
    min_count: int = 2
    l2: float = 1e-4

    def fit(self, texts, labels) -> NBLogisticRegression:
        tokens = [tokenize(text) for text in texts]
        if len(set(np.asarray(labels).tolist())) != 2:
            raise ValueError("the baseline needs both positive (1) and negative (0) examples")
        self.features = NgramFeatures(self.ngram_max, self.min_count).fit(tokens)
        matrix = self.features.transform(tokens)
        self.ratio = nb_log_count_ratio(matrix, labels)
        self.weights, self.bias = fit_logistic_regression(
            matrix.multiply(self.ratio).tocsr(), labels, self.l2
        )
        return self

    def predict_proba(self, texts) -> np.ndarray:
        """P(positive) for each text."""
        matrix = self.features.transform([tokenize(text) for text in texts])
        logits = matrix.multiply(self.ratio).tocsr() @ self.weights + self.bias
        return 1.0 / (1.0 + np.exp(-logits))

    def save(self, path: str | os.PathLike) -> Path:
        """Write the fitted model to ``path`` (.npz of plain arrays, no pickle), atomically."""
        features = self.features
        words = sorted(features.word_ids, key=features.word_ids.get)
        arrays = {
            # Words never hold whitespace (``tokenize`` splits on it): one word a line.
            "words": np.frombuffer("\n".join(words).encode(), "uint8"),
            **{f"ngrams_{order}": codes for order, codes in
               enumerate(features.vocabularies, start=1)},
            "ratio": self.ratio, "weights": self.weights, "bias": np.float64(self.bias),
            "ngram_max": features.ngram_max, "min_count": features.min_count, "l2": self.l2,
        }
        with atomic_path(path) as tmp, open(tmp, "wb") as handle:
            np.savez_compressed(handle, **arrays)
        return Path(path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> NBLogisticRegression:
        """The model ``save`` wrote to ``path``."""
        with np.load(path, allow_pickle=False) as saved:
            ngram_max = int(saved["ngram_max"])
            model = cls(ngram_max, int(saved["min_count"]), float(saved["l2"]))
            words = bytes(saved["words"]).decode().split("\n") if saved["words"].size else []
            features = NgramFeatures(ngram_max, model.min_count)
            features.word_ids = {word: index + 1 for index, word in enumerate(words)}
            features.base = len(words) + 1
            features.vocabularies = [saved[f"ngrams_{n}"] for n in range(1, ngram_max + 1)]
            model.features, model.ratio = features, saved["ratio"]
            model.weights, model.bias = saved["weights"], float(saved["bias"])
        return model


def ngram_text(features: NgramFeatures, feature: int) -> str:
    """The words of feature number ``feature`` (inverts the integer n-gram code)."""
    words = {index: word for word, index in features.word_ids.items()}
    for order, codes in enumerate(features.vocabularies, start=1):
        if feature < len(codes):
            code, parts = int(codes[feature]), []
            for _ in range(order):
                code, word_id = divmod(code, features.base)
                parts.append(words.get(word_id, "[UNK]"))
            return " ".join(reversed(parts))
        feature -= len(codes)
    raise IndexError(f"there are only {features.num_features} features")


def strongest_ngrams(model: NBLogisticRegression, count: int = 12) -> dict[str, list[str]]:
    """The n-grams with the most negative and most positive effect r_j * w_j on the logit."""
    order = np.argsort(model.ratio * model.weights)
    return {
        "negative": [ngram_text(model.features, j) for j in order[:count]],
        "positive": [ngram_text(model.features, j) for j in order[::-1][:count]],
    }
