"""The Irish folk-tune corpus: fetch, split into tunes, hold some out, vectorize, batch.

The corpus is MIT 6.S191's ``irish.abc``: 804 tunes in ABC notation, each starting with an
``X:`` (reference number) line. Tunes are usually separated by one blank line, but two tunes
contain a blank line of their own, so splitting at blank lines gives 806 pieces, two of them
headless halves. The MIT lab's overlapping regex ``(^|\\n\\n)(.*?)\\n\\n`` counts 817 "songs"
(overlapping matches also start inside tunes), and the same regex without overlaps finds 403
(each match consumes the blank line the next one needs). A tune is what runs from one line
starting with ``X:`` to the next: that gives 804.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from course.fetch import DataFileError, RemoteFile, fetch

MIT_COMMIT = "e44754eac7a61d489fb07a68245bfbb290823228"


def check_abc(path) -> None:
    """Accept a local copy that reads as ASCII text and holds at least one tune."""
    try:
        text = path.read_text(encoding="ascii")
    except UnicodeDecodeError as error:
        raise DataFileError(f"{path} is not ASCII text; is it really irish.abc?") from error
    if not re.search(r"^X:", text, flags=re.MULTILINE):
        raise DataFileError(f"{path} holds no ABC tune (no line starting with 'X:').")


IRISH_ABC = RemoteFile(
    relpath="irish_abc/irish.abc",
    url=(
        "https://raw.githubusercontent.com/MITDeepLearning/introtodeeplearning/"
        f"{MIT_COMMIT}/mitdeeplearning/data/irish.abc"
    ),
    sha256="df3782d5f7b5a2f4c66aa7c13f13008d5f48757b3f5f51620cd6c1ceb2c53023",
    check=check_abc,
    size=197_618,
)

TUNE_START = re.compile(r"^X:", flags=re.MULTILINE)


def split_tunes(text: str) -> list[str]:
    """The tunes of an ABC text: each from a line starting with ``X:`` up to the next one.

    Surrounding blank lines are stripped; text before the first ``X:`` (a file header) is
    dropped. Raises ValueError when the text holds no tune at all.
    """
    starts = [match.start() for match in TUNE_START.finditer(text)]
    if not starts:
        raise ValueError(
            "This text holds no ABC tune: a tune starts with a line 'X:<number>'. "
            "Pass the text of an .abc file (or a generated sample) that contains one."
        )
    ends = [*starts[1:], len(text)]
    return [text[start:end].strip() for start, end in zip(starts, ends, strict=True)]


def join_tunes(tunes: list[str]) -> str:
    """One text with a blank line after each tune, as in the corpus file."""
    return "".join(tune + "\n\n" for tune in tunes)


def load_tunes(num_tunes: int | None = None, profile: str | None = None) -> list[str]:
    """The corpus's tunes, in file order (the first ``num_tunes`` if given)."""
    return split_tunes(fetch(IRISH_ABC, profile=profile).read_text(encoding="ascii"))[:num_tunes]


@dataclass(frozen=True)
class Vocabulary:
    """A bijection between the corpus's characters and the integers 0..size-1."""

    characters: tuple[str, ...]

    @classmethod
    def from_text(cls, text: str) -> Vocabulary:
        return cls(tuple(sorted(set(text))))

    @property
    def size(self) -> int:
        return len(self.characters)

    def encode(self, text: str) -> np.ndarray:
        """Indices of the characters of ``text``; an unknown character is a ValueError."""
        index = {char: i for i, char in enumerate(self.characters)}
        unknown = sorted(set(text) - set(index))
        if unknown:
            raise ValueError(
                f"Characters {unknown!r} are not in the model's vocabulary of {self.size} "
                "characters (those of the training corpus); remove or replace them."
            )
        return np.fromiter((index[char] for char in text), dtype=np.int32, count=len(text))

    def decode(self, indices) -> str:
        return "".join(self.characters[int(i)] for i in np.asarray(indices).ravel())


@dataclass(frozen=True)
class MusicSplits:
    """Training and held-out tunes, their joined texts, and the vocabulary of the corpus."""

    train_tunes: list[str]
    heldout_tunes: list[str]
    vocabulary: Vocabulary

    @property
    def train_text(self) -> str:
        return join_tunes(self.train_tunes)

    @property
    def heldout_text(self) -> str:
        return join_tunes(self.heldout_tunes)


def split_heldout(tunes: list[str], heldout_fraction: float, seed: int = 0) -> MusicSplits:
    """Hold out a random ``heldout_fraction`` of the tunes (at least one each side).

    The vocabulary is built from every tune, so the held-out text has no unknown character;
    which tunes are held out depends only on ``seed``.
    """
    if not 0 < heldout_fraction < 1 or len(tunes) < 2:
        raise ValueError("Need at least two tunes and 0 < heldout_fraction < 1.")
    num_heldout = min(len(tunes) - 1, max(1, round(heldout_fraction * len(tunes))))
    order = np.random.default_rng(seed).permutation(len(tunes))
    heldout = set(order[:num_heldout].tolist())
    train = [tune for i, tune in enumerate(tunes) if i not in heldout]
    held = [tune for i, tune in enumerate(tunes) if i in heldout]
    return MusicSplits(train, held, Vocabulary.from_text(join_tunes(tunes)))


def load_splits(config) -> MusicSplits:
    """The corpus split as ``config`` says (its num_tunes, heldout_fraction and seed)."""
    tunes = load_tunes(config.num_tunes, config.profile)
    return split_heldout(tunes, config.heldout_fraction, config.seed)


def window_starts(text_length: int, sequence_length: int, count: int, rng) -> np.ndarray:
    """``count`` window starts s, uniform over every s with s + sequence_length < text_length.

    The input window is [s, s+L) and its target [s+1, s+L+1), so s runs over the length of
    the *text*, 0 <= s <= n - L - 1 (the notes drew it over the vocabulary size by mistake,
    which would only ever show the model the first ~80 characters of the corpus).
    """
    if text_length < sequence_length + 1:
        raise ValueError(
            f"The text ({text_length} characters) is shorter than one window plus its target "
            f"({sequence_length + 1}); use more tunes or a shorter sequence_length."
        )
    return rng.integers(0, text_length - sequence_length, size=count)


def windows(encoded: np.ndarray, starts: np.ndarray, sequence_length: int):
    """Inputs ``encoded[s:s+L]`` and targets ``encoded[s+1:s+L+1]`` for each start s."""
    offsets = np.asarray(starts)[:, None] + np.arange(sequence_length)[None, :]
    return encoded[offsets], encoded[offsets + 1]


def random_batches(
    encoded: np.ndarray, sequence_length: int, batch_size: int, num_batches: int, seed: int = 0
):
    """A ``tf.data.Dataset`` of ``num_batches`` (inputs, targets) batches of random windows.

    Iterating it again (Keras does, once per epoch) continues the same random stream, so
    every epoch sees new windows.
    """
    import tensorflow as tf

    encoded = np.asarray(encoded, dtype=np.int32)
    rng = np.random.default_rng(seed)  # outside generate(): shared by every pass

    def generate():
        for _ in range(num_batches):
            starts = window_starts(len(encoded), sequence_length, batch_size, rng)
            yield windows(encoded, starts, sequence_length)

    spec = tf.TensorSpec((batch_size, sequence_length), tf.int32)
    dataset = tf.data.Dataset.from_generator(generate, output_signature=(spec, spec))
    # Declaring the length lets Keras (and its progress bar) know the number of steps.
    return dataset.apply(tf.data.experimental.assert_cardinality(num_batches)).prefetch(4)


def epoch_window_batches(
    encoded: np.ndarray, sequence_length: int, batch_size: int, num_batches: int, seed: int = 0
):
    """``num_batches`` batches of random windows per epoch, drawn from (seed, epoch), for
    ``course.checkpoint.fit_resumable``: a resumed run sees the windows an unbroken one would."""
    import tensorflow as tf

    from course.checkpoint import EpochBatches

    encoded = np.asarray(encoded, dtype=np.int32)

    def make_batches(epoch: int):
        rng = np.random.default_rng([seed, epoch])
        for _ in range(num_batches):
            yield windows(encoded, window_starts(len(encoded), sequence_length, batch_size, rng),
                          sequence_length)

    spec = tf.TensorSpec((batch_size, sequence_length), tf.int32)
    return EpochBatches(make_batches, num_batches, (spec, spec))


def consecutive_windows(encoded: np.ndarray, sequence_length: int) -> tuple[np.ndarray, ...]:
    """The text cut into back-to-back windows (inputs, targets); the remainder is dropped."""
    count = (len(encoded) - 1) // sequence_length
    starts = np.arange(count) * sequence_length
    return windows(np.asarray(encoded), starts, sequence_length)
