"""The chapter's Keras models: a simple recurrent network and a bidirectional LSTM.

Both read word indices (0 = padding), embed them, run a recurrence over time and end in one
sigmoid unit: P(positive | review).
"""

from __future__ import annotations

import keras
from keras import layers, ops

from rnn_sentiment.config import SentimentConfig


@keras.saving.register_keras_serializable(package="rnn_sentiment")
class MaskedGlobalMaxPooling1D(layers.Layer):
    """The largest value of each feature over the real (unpadded) time steps."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is not None:
            # Padded steps get a very low value so they can never be the maximum.
            inputs = ops.where(ops.expand_dims(mask, -1), inputs, ops.full_like(inputs, -1e9))
        return ops.max(inputs, axis=1)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])


def embed(
    config: SentimentConfig, name: str, with_pairs: bool = False
) -> tuple[keras.KerasTensor, keras.KerasTensor]:
    """Input of word indices, and their learned vectors; index 0 is masked out as padding.

    ``with_pairs`` (and ``config.pair_buckets`` > 0) adds each word's pair vector
    (``WordAndPairEmbedding``).
    """
    words = keras.Input((None,), dtype="int32", name="words")
    if with_pairs and config.pair_buckets:
        embedding = WordAndPairEmbedding(
            config.vocabulary_size, config.pair_buckets, config.embedding_dim,
            name=f"{name}_embedding",
        )
    else:
        embedding = layers.Embedding(
            config.vocabulary_size, config.embedding_dim, mask_zero=True,
            name=f"{name}_embedding",
        )
    return words, embedding(words)


@keras.saving.register_keras_serializable(package="rnn_sentiment")
class WordPairIds(layers.Layer):
    """The id of each (previous word, word) pair, hashed into 1 .. buckets - 1; 0 at padding.

        pair_t = (w_{t-1} * vocabulary_size + w_t) mod (buckets - 1) + 1

    Hashing (as fastText does, Joulin et al. 2017) gives every pair a row of a fixed-size table
    without a pair vocabulary; the rare pairs that share a row only add a little noise.
    """

    def __init__(self, vocabulary_size: int, buckets: int, **kwargs):
        super().__init__(**kwargs)
        if vocabulary_size**2 >= 2**31:  # the pair code must fit in int32 on every backend
            raise ValueError(f"vocabulary_size {vocabulary_size} is too large to hash word "
                             "pairs in 32-bit integers; keep it below 46,341.")
        if buckets < 2:
            raise ValueError(f"buckets must be at least 2, got {buckets}.")
        self.vocabulary_size, self.buckets = vocabulary_size, buckets

    def call(self, words):
        words = ops.cast(words, "int32")
        previous = ops.pad(words[:, :-1], [[0, 0], [1, 0]])  # w_{t-1}, padding before w_1
        codes = (previous * self.vocabulary_size + words) % (self.buckets - 1) + 1
        return ops.where(ops.logical_and(previous > 0, words > 0), codes, 0)

    def get_config(self):
        return {**super().get_config(), "vocabulary_size": self.vocabulary_size,
                "buckets": self.buckets}


@keras.saving.register_keras_serializable(package="rnn_sentiment")
class WordAndPairEmbedding(layers.Layer):
    """x_t = E[w_t] + F[pair_t]: a learned vector for each word plus one for its pair with the
    previous word. Index 0 is padding and is masked out, as in ``embed``."""

    def __init__(self, vocabulary_size: int, pair_buckets: int, output_dim: int, **kwargs):
        super().__init__(**kwargs)
        self.vocabulary_size, self.pair_buckets, self.output_dim = (
            vocabulary_size, pair_buckets, output_dim)
        self.pair_ids = WordPairIds(vocabulary_size, pair_buckets, name="pair_ids")
        self.word_vectors = layers.Embedding(vocabulary_size, output_dim, name="word_vectors")
        self.pair_vectors = layers.Embedding(pair_buckets, output_dim, name="pair_vectors")
        self.supports_masking = True

    def build(self, input_shape):
        self.word_vectors.build(input_shape)
        self.pair_vectors.build(input_shape)

    def call(self, words):
        return self.word_vectors(words) + self.pair_vectors(self.pair_ids(words))

    def compute_mask(self, words, mask=None):
        return ops.not_equal(words, 0)

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.output_dim)

    def get_config(self):
        return {**super().get_config(), "vocabulary_size": self.vocabulary_size,
                "pair_buckets": self.pair_buckets, "output_dim": self.output_dim}


def build_srn(config: SentimentConfig) -> keras.Model:
    """Simple recurrent network: h_t = tanh(U h_{t-1} + W x_t + b), then P = sigmoid(v . h_T)."""
    words, vectors = embed(config, "srn")
    last_state = layers.SimpleRNN(config.rnn_units, name="srn")(vectors)  # h_T
    hidden = layers.Dropout(config.dropout, name="dropout")(last_state)
    probability = layers.Dense(1, activation="sigmoid", name="classifier")(hidden)
    return keras.Model(words, probability, name="srn")


def build_bilstm(config: SentimentConfig, cell: str = "lstm") -> keras.Model:
    """Bidirectional LSTM (or GRU) whose outputs are pooled over time (max and mean).

    Pooling reads every step's state, not only the last one, so a strong word early in a
    long review reaches the classifier without having to survive hundreds of steps. With
    ``config.pair_buckets`` each step's input also holds a vector for the pair (previous word,
    word), so "not good" arrives as one unit instead of being assembled by the gates: the idea
    of feeding an LSTM region embeddings (Johnson and Zhang, ICML 2016).
    """
    recurrent = {"lstm": layers.LSTM, "gru": layers.GRU}[cell]
    words, vectors = embed(config, f"bi{cell}", with_pairs=True)
    vectors = layers.SpatialDropout1D(config.dropout / 2, name="word_dropout")(vectors)
    states = layers.Bidirectional(
        recurrent(config.rnn_units, return_sequences=True), name=f"bi{cell}"
    )(vectors)
    pooled = layers.Concatenate(name="max_and_mean")(
        [
            MaskedGlobalMaxPooling1D(name="max_over_time")(states),
            layers.GlobalAveragePooling1D(name="mean_over_time")(states),
        ]
    )
    hidden = layers.Dropout(config.dropout, name="dropout")(pooled)
    probability = layers.Dense(1, activation="sigmoid", name="classifier")(hidden)
    return keras.Model(words, probability, name=f"bi{cell}")
