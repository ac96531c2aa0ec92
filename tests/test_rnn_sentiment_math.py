"""Chapter 1 equations: the NumPy SRN and LSTM steps against Keras, and the gradient demo."""

import course  # noqa: F401  (quiets TensorFlow before it is imported)

# isort: split
import keras
import numpy as np
import pytest

from rnn_sentiment import lstm_numpy as ln
from rnn_sentiment.gradients import recurrent_matrix, state_and_gradient_norms

BATCH, STEPS, INPUTS, UNITS = 3, 5, 4, 6


def _random_sequence(seed=0):
    return np.random.default_rng(seed).normal(size=(BATCH, STEPS, INPUTS)).astype("float32")


def _keras_lstm(x, seed=0):
    """A Keras LSTM with random weights (bias included); returns (outputs, weights)."""
    layer = keras.layers.LSTM(UNITS, return_sequences=True)
    layer.build((None, STEPS, INPUTS))
    rng = np.random.default_rng(seed)
    weights = [rng.normal(scale=0.5, size=w.shape).astype("float32") for w in layer.get_weights()]
    layer.set_weights(weights)
    return keras.ops.convert_to_numpy(layer(x)), weights


def test_stacked_numpy_lstm_matches_keras_over_a_sequence():
    x = _random_sequence()
    expected, (kernel, recurrent_kernel, bias) = _keras_lstm(x)
    assert kernel.shape == (INPUTS, 4 * UNITS) and recurrent_kernel.shape == (UNITS, 4 * UNITS)
    ours = ln.lstm_sequence(x.astype(float), kernel, recurrent_kernel, bias)
    np.testing.assert_allclose(ours, expected, atol=1e-5)


def test_per_gate_lstm_step_matches_keras_with_keras_gate_order():
    x = _random_sequence(1)
    expected, (kernel, recurrent_kernel, bias) = _keras_lstm(x, seed=1)
    gates = ln.split_keras_weights(kernel, recurrent_kernel, bias)
    h = c = np.zeros((BATCH, UNITS))
    for t in range(STEPS):
        h, c = ln.lstm_step_gates(x[:, t], h, c, gates)
        np.testing.assert_allclose(h, expected[:, t], atol=1e-5)
    # The order matters: reading the blocks as the notes list them (c~, f, i, o) is wrong.
    wrong = dict(zip(("candidate", "forget", "input", "output"), gates.values(), strict=True))
    h_wrong, _ = ln.lstm_step_gates(x[:, 0], np.zeros((BATCH, UNITS)), np.zeros_like(h), wrong)
    assert not np.allclose(h_wrong, expected[:, 0], atol=1e-3)


def test_forget_gate_open_and_input_gate_shut_copy_the_cell_state():
    # f_t = 1, i_t = 0: c_t = c_{t-1} exactly (the notes' "copy" case), whatever the input.
    units = 3
    kernel = np.zeros((2, 4 * units))
    recurrent_kernel = np.zeros((units, 4 * units))
    bias = np.zeros(4 * units)
    bias[:units] = -50.0  # input gate (Keras block 0) shut
    bias[units : 2 * units] = 50.0  # forget gate (block 1) open
    c_prev = np.array([[0.3, -1.2, 2.0]])
    x = np.array([[5.0, -5.0]])
    _, c = ln.lstm_step_stacked(x, np.zeros((1, units)), c_prev, kernel, recurrent_kernel, bias)
    np.testing.assert_allclose(c, c_prev, atol=1e-12)


def test_srn_step_matches_keras_simple_rnn():
    x = _random_sequence(2)
    layer = keras.layers.SimpleRNN(UNITS, return_sequences=True)
    layer.build((None, STEPS, INPUTS))
    rng = np.random.default_rng(2)
    W, U, b = (rng.normal(scale=0.5, size=w.shape) for w in layer.get_weights())
    layer.set_weights([W, U, b])
    expected = keras.ops.convert_to_numpy(layer(x))
    h = np.zeros((BATCH, UNITS))
    for t in range(STEPS):
        h = ln.srn_step(x[:, t], h, W, U, b)
        np.testing.assert_allclose(h, expected[:, t], atol=1e-5)


def test_sigmoid_is_stable_and_correct():
    z = np.array([-800.0, -2.0, 0.0, 3.0, 800.0])
    with np.errstate(over="raise"):
        values = ln.sigmoid(z)
    np.testing.assert_allclose(values[1:4], 1 / (1 + np.exp(-z[1:4])))
    np.testing.assert_allclose(values[[0, 4]], [0.0, 1.0])


@pytest.mark.parametrize("scale", [0.8, 1.0, 1.25])
def test_linear_recurrence_gradient_norm_is_a_power_of_the_matrix_norm(scale):
    U = recurrent_matrix(scale, 16, seed=3)
    np.testing.assert_allclose(np.linalg.svd(U, compute_uv=False), scale)
    states, gradients = state_and_gradient_norms(scale, num_steps=30, units=16, seed=3)
    np.testing.assert_allclose(gradients, scale ** np.arange(31), rtol=1e-8)
    np.testing.assert_allclose(states, scale ** np.arange(31), rtol=1e-8)


def test_tanh_never_makes_the_gradient_larger_than_the_linear_one():
    _, linear = state_and_gradient_norms(1.25, num_steps=40, activation="linear")
    states, saturating = state_and_gradient_norms(1.25, num_steps=40, activation="tanh")
    assert np.all(saturating <= linear * (1 + 1e-9))
    assert states.max() <= np.sqrt(32)  # |tanh| < 1 in each of the 32 units
    with pytest.raises(ValueError, match="activation"):
        state_and_gradient_norms(1.0, activation="relu")
