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


def embed(config: SentimentConfig, name: str) -> tuple[keras.KerasTensor, keras.KerasTensor]:
    """Input of word indices, and their learned vectors; index 0 is masked out as padding."""
    words = keras.Input((None,), dtype="int32", name="words")
    vectors = layers.Embedding(
        config.vocabulary_size, config.embedding_dim, mask_zero=True, name=f"{name}_embedding"
    )(words)
    return words, vectors


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
    long review reaches the classifier without having to survive hundreds of steps.
    """
    recurrent = {"lstm": layers.LSTM, "gru": layers.GRU}[cell]
    words, vectors = embed(config, f"bi{cell}")
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
