"""Checks for the exercises at the end of notebook 01: each calls a learner's function on fixed
inputs, compares the answer with the package's NumPy steps or with Keras itself, and prints
[PASS], [FAIL] with what is wrong, or [TODO] while the function still returns None."""

from __future__ import annotations

import numpy as np

from course.exercises import attempt, check_close, check_function
from rnn_sentiment import lstm_numpy

# (input size M, units D) pairs the parameter count is checked on; M != D, so swapping the two
# in the formula is caught.
LAYER_SIZES = ((3, 5), (64, 64), (10, 1))


def _step_inputs(seed: int, batch: int = 2, inputs: int = 3, units: int = 4):
    """A batch of inputs x_t, a previous state and a random generator for the weights."""
    rng = np.random.default_rng(seed)
    return rng, rng.normal(size=(batch, inputs)), rng.normal(size=(batch, units))


def check_srn_step(my_srn_step) -> str:
    """``my_srn_step(x_t, h_prev, W, U, b)``: one step of (1.1) with tanh, rows as in Keras."""
    rng, x_t, h_prev = _step_inputs(1)
    W, U, b = rng.normal(size=(3, 4)), rng.normal(size=(4, 4)), rng.normal(size=4)
    return check_function(
        my_srn_step, (x_t, h_prev, W, U, b), lstm_numpy.srn_step(x_t, h_prev, W, U, b),
        "h_t = tanh(x_t @ W + h_prev @ U + b): rows times matrices, as Keras stores them.")


def check_lstm_step(my_lstm_step) -> str:
    """``my_lstm_step(x_t, h_prev, c_prev, kernel, recurrent_kernel, bias)``: (h_t, c_t)."""
    rng, x_t, h_prev = _step_inputs(2)
    c_prev = rng.normal(size=h_prev.shape)
    weights = rng.normal(size=(3, 16)), rng.normal(size=(4, 16)), rng.normal(size=16)
    expected = np.stack(lstm_numpy.lstm_step_stacked(x_t, h_prev, c_prev, *weights))
    return check_function(
        my_lstm_step, (x_t, h_prev, c_prev, *weights), expected,
        "return the pair (h_t, c_t); Keras's four blocks are in the order i, f, c~, o, and "
        "c_t = f * c_prev + i * c~, h_t = o * tanh(c_t).")


def keras_lstm_parameters(input_dim: int, units: int) -> int:
    """What Keras counts for ``LSTM(units)`` on inputs of size ``input_dim``."""
    import keras

    layer = keras.layers.LSTM(units)
    layer.build((None, None, input_dim))
    return layer.count_params()


def check_lstm_parameter_count(lstm_parameter_count) -> str:
    """``lstm_parameter_count(input_dim, units)``: the weights of one Keras LSTM layer."""
    answers, failed = attempt(lambda: [lstm_parameter_count(m, d) for m, d in LAYER_SIZES])
    if failed:
        return failed
    expected = [keras_lstm_parameters(m, d) for m, d in LAYER_SIZES]
    (m, d), count = LAYER_SIZES[0], expected[0]
    return check_close(
        answers, expected,
        f"for M={m}, D={d} Keras counts {count}; count W, U and b of each of the four gates.",
        rtol=0, atol=0.5)


def keras_gru_step(x_t, h_prev, kernel, recurrent_kernel, bias) -> np.ndarray:
    """One step of ``keras.layers.GRU`` (default ``reset_after=True``) with the given weights."""
    import keras

    units = recurrent_kernel.shape[0]
    layer = keras.layers.GRU(units)
    layer.build((None, 1, x_t.shape[-1]))
    layer.set_weights([kernel, recurrent_kernel, bias])
    inputs = x_t[:, None, :].astype("float32")
    return keras.ops.convert_to_numpy(layer(inputs, initial_state=h_prev.astype("float32")))


def check_gru_step(my_gru_step) -> str:
    """``my_gru_step(x_t, h_prev, kernel, recurrent_kernel, bias)``: h_t of Keras's GRU."""
    rng, x_t, h_prev = _step_inputs(3)
    weights = rng.normal(size=(3, 12)), rng.normal(size=(4, 12)), rng.normal(size=(2, 12))
    answer, failed = attempt(lambda: my_gru_step(x_t, h_prev, *weights))
    if failed:
        return failed
    return check_close(
        answer, keras_gru_step(x_t, h_prev, *weights),
        "blocks in the order z, r, h~; bias[0] goes with the input, bias[1] with the state, "
        "the reset gate multiplies (h_prev @ U_h + bias[1] block h~), and "
        "h_t = z * h_prev + (1 - z) * h~.", atol=1e-5)


CHECKS = {
    "my_srn_step": check_srn_step,
    "my_lstm_step": check_lstm_step,
    "lstm_parameter_count": check_lstm_parameter_count,
    "my_gru_step": check_gru_step,
}
