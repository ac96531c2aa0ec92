"""Chapter 1 training gives the same numbers when it is run again with the same seed."""

import course  # noqa: F401  (quiets TensorFlow before it is imported)

# isort: split
import keras
import numpy as np
import pytest
from keras import layers

from course.env import set_seed
from rnn_sentiment.config import get_config
from rnn_sentiment.data import ReviewSplits, make_dataset
from rnn_sentiment.train import TokenizedSplits, train, training_batches

CONFIG = get_config("smoke", batch_size=8, num_epochs=3)


def toy_splits(seed: int = 0):
    """Random word-index reviews of 1 to 30 words, labelled by whether word 2 occurs."""
    rng = np.random.default_rng(seed)
    reviews = [rng.integers(2, 50, size=n).astype("int32") for n in rng.integers(1, 31, 60)]
    labels = np.array([int(2 in review) for review in reviews])
    tokens = TokenizedSplits(None, reviews[:48], reviews[48:], reviews[48:])
    splits = ReviewSplits(None, labels[:48], None, labels[48:], None, labels[48:])
    return tokens, splits


def tiny_model() -> keras.Model:
    """Embedding, mean over time, dropout: quick to build, and random while it trains."""
    words = keras.Input((None,), dtype="int32")
    vectors = layers.Embedding(50, 4, mask_zero=True)(words)
    hidden = layers.Dropout(0.5)(layers.GlobalAveragePooling1D()(vectors))
    return keras.Model(words, layers.Dense(1, activation="sigmoid")(hidden), name="tiny")


class StopBeforeEpoch(keras.callbacks.Callback):
    """Interrupts training as Ctrl-C would, once ``epoch`` epochs are done and saved."""

    def __init__(self, epoch: int):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt


def batches_as_lists(batches):
    return [(np.asarray(words).tolist(), np.asarray(labels).tolist()) for words, labels in batches]


def test_each_epoch_has_its_own_batches_drawn_from_seed_and_epoch():
    tokens, splits = toy_splits()
    epochs = training_batches(tokens.train, splits.y_train, 8, seed=3)
    first, second = (batches_as_lists(epochs.make_batches(e)) for e in (0, 1))
    assert first != second
    again = training_batches(tokens.train, splits.y_train, 8, seed=3)  # a fresh run
    assert batches_as_lists(again.make_batches(1)) == second
    assert len(first) == epochs.num_batches
    # A plain fit over make_dataset (the benchmark) trains on the same batches, epoch by epoch.
    dataset = make_dataset(tokens.train, splits.y_train, 8, shuffle=True, seed=3)
    assert [batches_as_lists(dataset) for _ in range(2)] == [first, second]


@pytest.mark.slow
def test_reruns_and_resumed_runs_end_with_the_same_weights(tmp_path):
    tokens, splits = toy_splits()

    def run(folder, callbacks=()):
        set_seed(CONFIG.seed)
        model = tiny_model()
        train(model, tokens, splits, CONFIG, CONFIG.num_epochs, tmp_path / folder, callbacks)
        return model.get_weights()

    unbroken = run("unbroken")
    for a, b in zip(unbroken, run("again"), strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(KeyboardInterrupt):
        run("resumed", [StopBeforeEpoch(1)])
    for a, b in zip(unbroken, run("resumed"), strict=True):
        np.testing.assert_array_equal(a, b)
