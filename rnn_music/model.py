"""The character model (Embedding -> LSTM -> Dense) and fast, stateful sampling from it.

Keras 3 has no ``reset_states()`` on a Sequential model, so the recurrent state is explicit:
the same three layers are wired twice, once as the training model (a window of characters in,
next-character logits out, the LSTM starting from zeros) and once as a *stepper* that also
takes the LSTM's state (h, c) in and gives the new state out. Both share one set of weights.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers

from rnn_music.data import Vocabulary


def build_model(vocab_size: int, embedding_dim: int, rnn_units: int, input_dropout: float = 0.0,
                output_dropout: float = 0.0, name="char_lstm"):
    """Characters (batch, time) -> logits (batch, time, vocab_size) of the next character.

    x_t = E[c_t] (embedding);  h_t, c_t = LSTM(x_t, h_{t-1}, c_{t-1});  z_t = W h_t + b.
    The model outputs the logits z_t; softmax(z_t) is the predicted distribution of c_{t+1}.
    In training only, dropout zeroes a random fraction of the entries of x_t
    (``input_dropout``) and of h_t before the output layer (``output_dropout``), and scales
    the rest up to keep their sum, so that the LSTM cannot simply memorise its ~700 tunes.
    The recurrent path h_{t-1} -> h_t is left alone, as Zaremba et al. (2014) recommend.
    """
    tokens = keras.Input((None,), dtype="int32", name="characters")
    embedded = layers.Embedding(vocab_size, embedding_dim, name="embedding")(tokens)
    # return_state: the stepper below reuses this very layer and needs its final (h, c).
    sequence, _, _ = layers.LSTM(
        rnn_units, return_sequences=True, return_state=True, dropout=input_dropout, name="lstm"
    )(embedded)
    if output_dropout:
        sequence = layers.Dropout(output_dropout, name="output_dropout")(sequence)
    logits = layers.Dense(vocab_size, name="logits")(sequence)
    return keras.Model(tokens, logits, name=name)


def build_stepper(model: keras.Model) -> keras.Model:
    """[characters (batch, time), h, c] -> [logits, h, c], sharing ``model``'s layers."""
    embedding, lstm, dense = (model.get_layer(n) for n in ("embedding", "lstm", "logits"))
    tokens = keras.Input((None,), dtype="int32", name="characters")
    state_h = keras.Input((lstm.units,), name="h")
    state_c = keras.Input((lstm.units,), name="c")
    sequence, new_h, new_c = lstm(embedding(tokens), initial_state=[state_h, state_c])
    return keras.Model([tokens, state_h, state_c], [dense(sequence), new_h, new_c])


def softmax_with_temperature(logits: np.ndarray, temperature: float) -> np.ndarray:
    """p_i = exp(z_i / T) / sum_j exp(z_j / T) along the last axis (T > 0)."""
    scaled = np.asarray(logits, dtype=np.float64) / temperature
    scaled -= scaled.max(axis=-1, keepdims=True)  # same result, no overflow
    weights = np.exp(scaled)
    return weights / weights.sum(axis=-1, keepdims=True)


def draw_characters(probabilities: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One index per row, drawn from that row's distribution (inverse CDF)."""
    cumulative = probabilities.cumsum(axis=1)
    uniform = rng.random((len(probabilities), 1)) * cumulative[:, -1:]
    return (cumulative < uniform).sum(axis=1).clip(0, probabilities.shape[1] - 1)


class Generator:
    """Samples text from a trained model one character at a time, carrying the LSTM state.

    Each step runs the stepper once through Keras's compiled prediction call (a graph on
    TensorFlow, ``jax.jit`` on JAX), so the loop itself can stay in plain Python and numpy
    and read like the algorithm: draw a character, feed it back, repeat.
    """

    def __init__(self, model: keras.Model, vocabulary: Vocabulary):
        self.vocabulary = vocabulary
        self.units = model.get_layer("lstm").units
        self.stepper = build_stepper(model)

    def zero_state(self, batch: int):
        zeros = np.zeros((batch, self.units), dtype="float32")
        return zeros, zeros.copy()

    def run(self, tokens: np.ndarray, state):
        """Feed ``tokens`` (batch, time) from ``state``; return (logits (batch, time, V), state)."""
        logits, h, c = self.stepper.predict_on_batch([np.asarray(tokens, dtype="int32"), *state])
        return logits, (h, c)

    def generate(
        self,
        start_string: str,
        num_characters: int,
        temperature: float = 1.0,
        num_streams: int = 1,
        seed: int = 0,
    ) -> list[str]:
        """``num_streams`` independent samples, each ``start_string`` + ``num_characters``.

        T = 1 samples the model's own distribution, T < 1 sharpens it towards the likeliest
        characters, T > 1 flattens it; T = 0 always takes the likeliest (greedy).
        """
        if not start_string:
            raise ValueError(
                "start_string is empty: the model needs at least one character to condition "
                "on; a tune starts with 'X:', so start_string='X:' is a good choice."
            )
        if temperature < 0:
            raise ValueError("temperature must be >= 0 (0 means: always the likeliest).")
        if num_characters < 0:
            raise ValueError(
                f"num_characters is {num_characters}: it counts the characters to write after "
                "start_string, so it must be >= 0."
            )
        prefix = self.vocabulary.encode(start_string)  # unknown characters: ValueError
        rng = np.random.default_rng(seed)
        tokens = np.repeat(prefix[None, :], num_streams, axis=0)
        logits, state = self.run(tokens, self.zero_state(num_streams))
        generated = np.zeros((num_streams, num_characters), dtype=np.int32)
        for t in range(num_characters):
            if temperature > 0:  # c ~ softmax(z / T), one draw per stream
                draws = draw_characters(softmax_with_temperature(logits[:, -1], temperature), rng)
            else:  # T -> 0: always the likeliest character
                draws = logits[:, -1].argmax(axis=-1)
            generated[:, t] = draws
            if t + 1 < num_characters:  # feed the drawn character back in
                logits, state = self.run(generated[:, t : t + 1], state)
        return [start_string + self.vocabulary.decode(row) for row in generated]


def nats_per_character(
    generator: Generator, encoded: np.ndarray, num_streams: int = 16, chunk_length: int = 250
) -> float:
    """Mean -ln p(next character) over ``encoded``, the LSTM state carried all the way.

    The text is cut into ``num_streams`` contiguous pieces read side by side in chunks, each
    chunk starting from the state the previous one ended with, so every prediction sees all
    the text before it in its piece (not only a training window's worth).
    """
    encoded = np.asarray(encoded)
    num_streams = max(1, min(num_streams, (len(encoded) - 1) // 2))
    length = (len(encoded) - 1) // num_streams
    rows = np.arange(num_streams)[:, None] * length + np.arange(length)[None, :]
    inputs, targets = encoded[rows], encoded[rows + 1]
    state = generator.zero_state(num_streams)
    total = 0.0
    for start in range(0, length, chunk_length):
        logits, state = generator.run(inputs[:, start : start + chunk_length], state)
        logits = logits.astype(np.float64)
        # -ln softmax(z)[y] = logsumexp(z) - z_y
        peak = logits.max(axis=-1)
        log_norm = peak + np.log(np.exp(logits - peak[..., None]).sum(axis=-1))
        chosen = np.take_along_axis(logits, targets[:, start : start + chunk_length, None], -1)
        total += float((log_norm - chosen[..., 0]).sum())
    return total / targets.size


def sample_tunes(
    generator: Generator,
    num_tunes: int,
    temperature: float,
    num_streams: int,
    stream_length: int,
    seed: int = 0,
    max_rounds: int = 10,
) -> list[str]:
    """The first ``num_tunes`` complete tunes from streams that each start at ``X:``.

    Streams are generated side by side, ``num_streams`` at a time, until enough complete
    tunes (see ``complete_tunes``) have been found or ``max_rounds`` rounds have run.
    """
    from rnn_music.abc_tools import complete_tunes

    tunes: list[str] = []
    for round_number in range(max_rounds):
        texts = generator.generate(
            "X:", stream_length, temperature, num_streams, seed=seed + round_number
        )
        for text in texts:
            tunes += complete_tunes(text)
        if len(tunes) >= num_tunes:
            break
    return tunes[:num_tunes]
