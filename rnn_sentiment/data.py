"""IMDB reviews: fetch (through ``course.fetch``), split, vectorize, and feed as ``tf.data``.

The shared copy is one CSV (``imdb/imdb_reviews.csv.gz``, columns text,label,split,id,rating).
On a machine without it, the loader downloads Stanford's original tarball once, checks its
published sha256, and converts it into the same CSV under ``data/``.
"""

from __future__ import annotations

import csv
import gzip
import io
import itertools
import os
import re
import tarfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from course.atomic import atomic_path
from course.fetch import DataFileError, RemoteFile, default_cache_dir, fetch, uses_samples

CSV_COLUMNS = ["text", "label", "split", "id", "rating"]
# Stanford's file name is <id>_<rating>.txt, in aclImdb/<split>/<pos|neg>/.
_MEMBER = re.compile(r"^aclImdb/(train|test)/(pos|neg)/(\d+)_(\d+)\.txt$")


def check_tarball(path: Path) -> None:
    """Accept a gzip tarball holding aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt files."""
    try:
        with tarfile.open(path, "r:gz") as archive:
            folders = {m.group(1, 2) for m in map(_MEMBER.match, archive.getnames()) if m}
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise DataFileError(f"{Path(path).name} is not a readable .tar.gz ({exc}).") from exc
    wanted = {(split, label) for split in ("train", "test") for label in ("pos", "neg")}
    if folders != wanted:
        raise DataFileError(
            f"{Path(path).name} lacks the review folders {sorted(wanted - folders)} of aclImdb."
        )


def check_imdb_csv(path: Path) -> None:
    """Accept a CSV with IMDB's five columns, labels 0/1 and both splits."""
    import pandas as pd

    try:
        table = pd.read_csv(path, usecols=["label", "split"])
        header = list(pd.read_csv(path, nrows=0).columns)
    except Exception as exc:  # pandas/gzip raise many types for a damaged file; all mean "bad"
        raise DataFileError(f"{Path(path).name} is not a readable CSV ({exc}).") from exc
    if header != CSV_COLUMNS:
        raise DataFileError(f"{Path(path).name} has columns {header}, expected {CSV_COLUMNS}.")
    if not set(table["label"]) <= {0, 1} or set(table["split"]) != {"train", "test"}:
        raise DataFileError(f"{Path(path).name} needs labels 0/1 and splits train and test.")


# Stanford's original release; its sha256 is the one tensorflow-datasets pins for this URL
# (tensorflow_datasets/datasets/imdb_reviews/checksums.tsv, 84,125,825 bytes).
ACLIMDB_TARBALL = RemoteFile(
    relpath="imdb/aclImdb_v1.tar.gz",
    url="http://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",
    sha256="c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe",
    check=check_tarball,
    size=84_125_825,
)
# The converted CSV; the sha256 is that of the shared copy (see data/README.md).
IMDB_CSV = RemoteFile(
    relpath="imdb/imdb_reviews.csv.gz",
    url=ACLIMDB_TARBALL.url,
    sha256="94b74a155e5c989ca060b8c9b20f603c0126f52c5b0b624c8583b1713967ec66",
    check=check_imdb_csv,
)


def convert_tarball(tarball: Path, destination: Path) -> Path:
    """Write the labelled reviews of an aclImdb tarball as one gzip CSV (atomically).

    Rows are ordered by split (train first), label (neg first) and numeric id; the unlabelled
    ``train/unsup`` reviews are left out. Returns ``destination``.
    """
    rows = []
    with tarfile.open(tarball, "r:gz") as archive:
        for member in archive:
            match = _MEMBER.match(member.name)
            if match is None or not member.isfile():
                continue
            split, polarity, review_id, rating = match.groups()
            text = archive.extractfile(member).read().decode("utf-8")
            label = int(polarity == "pos")
            rows.append((split != "train", label, int(review_id), text, split, int(rating)))
    rows.sort(key=lambda row: row[:3])
    destination = Path(destination)
    with atomic_path(destination) as tmp, open(tmp, "wb") as raw, gzip.GzipFile(
        fileobj=raw, mode="wb", compresslevel=9, mtime=0
    ) as zipped, io.TextIOWrapper(zipped, encoding="utf-8", newline="") as text_out:
        writer = csv.writer(text_out, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for _, label, review_id, text, split, rating in rows:
            writer.writerow([text, label, split, review_id, rating])
    return destination


def imdb_csv_path(cache_dir: Path | None = None, profile: str | None = None) -> Path:
    """The reviews CSV: ``$DL_DATA_DIR``, else ``data/``, else downloaded and converted once.

    The ``smoke`` profile reads the committed sample of template reviews instead.
    """
    if uses_samples(profile):
        return fetch(IMDB_CSV, profile=profile)
    shared_dir = os.environ.get("DL_DATA_DIR")
    shared = Path(shared_dir) / IMDB_CSV.relpath if shared_dir else None
    cached = Path(cache_dir or default_cache_dir()) / IMDB_CSV.relpath
    if not (shared and shared.exists()) and not cached.exists():
        tarball = fetch(ACLIMDB_TARBALL, cache_dir=cache_dir)
        print(f"Converting {tarball.name} into {cached} (once) ...", flush=True)
        convert_tarball(tarball, cached)
    return fetch(IMDB_CSV, cache_dir=cache_dir)


@dataclass(frozen=True)
class ReviewSplits:
    """Review texts (object arrays of str) and labels (int64, 1 = positive) for each split."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


SPLIT_SEED = 1234  # fixed, so every model and every seed sees the same validation reviews


def load_imdb(
    num_validation: int = 2_500,
    num_train: int | None = None,
    num_test: int | None = None,
    cache_dir: Path | None = None,
    profile: str | None = None,
) -> ReviewSplits:
    """IMDB with ``num_validation`` training reviews of films not in training held out.

    aclImdb numbers each film's reviews consecutively, so a random validation split shares its
    films with training: the cast, title and plot words of those films then help on validation
    but not on the test half, whose films are all new. Measured with a words-only BiLSTM:
    random validation 90.0% against test 88.6%. Validation therefore takes the highest ids of
    each label (half of ``num_validation`` each): blocks of whole films (a film's reviews of
    the other label can still be in training, since each label has its own ids). The rest is
    shuffled with a fixed seed before ``num_train`` / ``num_test`` reviews are taken. The test
    split is only for the final numbers; choices are made on the validation split.
    """
    import pandas as pd

    table = pd.read_csv(imdb_csv_path(cache_dir, profile), keep_default_na=False)
    train, test = table[table["split"] == "train"], table[table["split"] == "test"]
    if not 0 < num_validation < len(train):
        raise ValueError(f"num_validation must be between 1 and {len(train) - 1}")
    held_out = np.zeros(len(train), dtype=bool)
    for label, count in ((0, num_validation // 2), (1, num_validation - num_validation // 2)):
        ids = np.where(train["label"].to_numpy() == label, train["id"].to_numpy(), -1)
        if count:
            held_out[np.argsort(ids, kind="stable")[-count:]] = True
    rng = np.random.default_rng(SPLIT_SEED)
    kept, val = train[~held_out], train[held_out]
    kept = kept.iloc[rng.permutation(len(kept))]
    val = val.iloc[rng.permutation(len(val))]
    test = test.iloc[rng.permutation(len(test))]
    return ReviewSplits(
        kept["text"].to_numpy(object)[:num_train],
        kept["label"].to_numpy("int64")[:num_train],
        val["text"].to_numpy(object),
        val["label"].to_numpy("int64"),
        test["text"].to_numpy(object)[:num_test],
        test["label"].to_numpy("int64")[:num_test],
    )


# ---- Text to tokens -------------------------------------------------------------------------
# Rules shared by the NumPy baseline (Python `re`) and TextVectorization (TensorFlow's RE2).
BREAK_TAG = r"<br\s*/?>"  # IMDB marks line breaks with "<br />"
EMPHASIS = r"([!?])"  # "!" and "?" carry sentiment: keep them as words of their own
NOT_A_WORD = r"[^a-z0-9'!?]+"


def tokenize(text: str) -> list[str]:
    """Lower-case words of ``text`` (``<br />`` tags removed; ``!``/``?`` kept as words)."""
    text = re.sub(BREAK_TAG, " ", text.lower())
    text = re.sub(EMPHASIS, r" \1 ", text)
    return re.sub(NOT_A_WORD, " ", text).split()


def standardize(texts):
    """The same rules as ``tokenize``, on a string tensor (``TextVectorization`` standardize)."""
    import tensorflow as tf

    texts = tf.strings.lower(texts)
    texts = tf.strings.regex_replace(texts, BREAK_TAG, " ")
    texts = tf.strings.regex_replace(texts, EMPHASIS, r" \1 ")
    return tf.strings.regex_replace(texts, NOT_A_WORD, " ")


def build_vocabulary(texts, vocabulary_size: int) -> list[str]:
    """The ``vocabulary_size - 2`` most frequent words of ``texts`` (ties alphabetical).

    Two places are left for TextVectorization's padding ("", index 0) and unknown-word
    ("[UNK]", index 1) tokens. Counting in Python is much faster here than ``adapt``.
    """
    counts = Counter(word for text in texts for word in tokenize(text))
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [word for word, _ in ranked[: max(0, vocabulary_size - 2)]]


def make_vectorizer(texts=None, vocabulary_size: int = 20_000, vocabulary=None):
    """A ``TextVectorization`` layer: index 0 pads, 1 is unknown words, then by frequency.

    Give the training ``texts`` (the vocabulary is learned from them) or a saved ``vocabulary``
    (words from index 2 on, or the full list ``get_vocabulary()`` returns).
    """
    import keras

    if vocabulary is None:
        if texts is None:
            raise ValueError("make_vectorizer needs the training texts or a vocabulary")
        vocabulary = build_vocabulary(texts, vocabulary_size)
    vocabulary = [str(word) for word in vocabulary]
    if vocabulary[:2] == ["", "[UNK]"]:
        vocabulary = vocabulary[2:]
    return keras.layers.TextVectorization(
        vocabulary=vocabulary, standardize=standardize, name="vectorizer"
    )


def head_and_tail(token_ids: np.ndarray, max_tokens: int, head_tokens: int) -> np.ndarray:
    """The review unchanged if it fits, else its first ``head_tokens`` and its last ones."""
    if len(token_ids) <= max_tokens:
        return token_ids
    tail_tokens = max_tokens - head_tokens
    return np.concatenate([token_ids[:head_tokens], token_ids[len(token_ids) - tail_tokens :]])


def vectorize(vectorizer, texts, max_tokens: int, head_tokens: int) -> list[np.ndarray]:
    """Each text as an int32 array of word indices, cut to at most ``max_tokens``."""
    import keras

    texts = np.asarray(texts, dtype=str)
    sequences = []
    for start in range(0, len(texts), 2048):
        # Padded with index 0 to the chunk's longest text; 0 is never a word, so drop it.
        padded = keras.ops.convert_to_numpy(vectorizer(texts[start : start + 2048]))
        for row in padded.astype("int32"):
            sequences.append(head_and_tail(row[row != 0], max_tokens, head_tokens))
    return sequences


def pad(sequences: list[np.ndarray], length: int | None = None) -> np.ndarray:
    """Stack sequences into one (n, length) int32 array, zeros after each one (post-padding)."""
    length = length or max(1, max((len(s) for s in sequences), default=1))
    out = np.zeros((len(sequences), length), "int32")
    for row, ids in enumerate(sequences):
        out[row, : min(len(ids), length)] = ids[:length]
    return out


def padded_width(longest: int) -> int:
    """How wide a batch whose longest review has ``longest`` words is padded.

    To that review's length on TensorFlow and PyTorch. JAX compiles the model anew for every
    input shape, so there the width goes up to the next of a few fixed widths (16, 24, 36, ...,
    each 1.5 times the last): about ten shapes instead of hundreds. The padding is masked, so
    the results do not depend on it.
    """
    import keras

    if keras.backend.backend() != "jax":
        return max(1, longest)
    width = 16
    while width < longest:
        width = int(width * 1.5)
    return width


def length_batches(sequences, labels, batch_size: int):
    """A function ``batches(rng=None)`` that yields one pass over the reviews as (words, labels)
    batches of similar-length reviews, each padded only to its own longest review.

    Sorting cuts the padding a recurrent layer must step through: IMDB reviews range from 10
    to 2,500 words, and a batch padded to its longest review wastes most of its steps.
    Without ``rng`` the batches go by length. With it, the reviews are shuffled, sorted by
    length within windows of 20 batches, and the batches shuffled: each pass sees new batch
    compositions in a random order.
    """
    lengths = np.array([len(s) for s in sequences])
    padded = pad(sequences, padded_width(max(lengths, default=1)))
    labels = np.asarray(labels, "float32")

    def cut(order):
        return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]

    def batches(rng=None):
        if rng is None:
            chosen = cut(np.argsort(lengths, kind="stable"))
        else:
            order, window, chosen = rng.permutation(len(lengths)), 20 * batch_size, []
            for start in range(0, len(order), window):
                chunk = order[start : start + window]
                chosen += cut(chunk[np.argsort(lengths[chunk], kind="stable")])
            chosen = [chosen[i] for i in rng.permutation(len(chosen))]
        for indices in chosen:
            width = padded_width(int(lengths[indices].max()))
            yield padded[indices, :width], labels[indices]

    return batches


def num_batches(count: int, batch_size: int) -> int:
    """Batches per pass of ``length_batches`` (every window but the last is whole batches)."""
    return -(-count // batch_size)


def batch_signature():
    """What ``length_batches`` yields, for ``tf.data``: (int32 words, float32 labels)."""
    import tensorflow as tf

    return tf.TensorSpec((None, None), tf.int32), tf.TensorSpec((None,), tf.float32)


def make_dataset(sequences, labels, batch_size: int, shuffle: bool, seed: int = 0):
    """``length_batches`` as a ``tf.data.Dataset``.

    Shuffled, pass k over it draws its order from (seed, k): in a plain ``fit``, epoch k gets
    the batches that ``train.training_batches`` gives epoch k.
    """
    import tensorflow as tf

    batches = length_batches(sequences, labels, batch_size)
    passes = itertools.count()

    def generate():
        return batches(np.random.default_rng([seed, next(passes)]) if shuffle else None)

    dataset = tf.data.Dataset.from_generator(generate, output_signature=batch_signature())
    count = num_batches(len(sequences), batch_size)
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(count))
    return dataset.prefetch(tf.data.AUTOTUNE)
