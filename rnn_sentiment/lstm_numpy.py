"""One step of a simple recurrent network and of an LSTM, written from the equations in NumPy.

The notes write the LSTM gates in the order (c~, f, i, o); Keras stores its weights as one
kernel W (input -> 4 units), one recurrent kernel U (state -> 4 units) and one bias, with the
four blocks in the order **i, f, c~, o**. ``split_keras_weights`` names the blocks so the
per-gate and the stacked form can both be checked against ``keras.layers.LSTM``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

KERAS_GATE_ORDER = ("input", "forget", "candidate", "output")


def sigmoid(z: np.ndarray) -> np.ndarray:
    """sigma(z) = 1 / (1 + e^{-z}), computed without overflow for large |z|."""
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def srn_step(x_t, h_prev, W, U, b, activation=np.tanh):
    """Simple recurrent network (1.1): h_t = f(U h_{t-1} + W x_t + b).

    Row-vector convention, as in Keras: ``x_t`` (batch, M), ``h_prev`` (batch, D),
    ``W`` (M, D), ``U`` (D, D), ``b`` (D,).
    """
    z_t = x_t @ W + h_prev @ U + b
    return activation(z_t)


@dataclass(frozen=True)
class GateWeights:
    """The input weights W_g (M, D), recurrent weights U_g (D, D) and bias b_g (D,) of a gate."""

    W: np.ndarray
    U: np.ndarray
    b: np.ndarray

    def pre_activation(self, x_t, h_prev):
        return x_t @ self.W + h_prev @ self.U + self.b


def split_keras_weights(kernel, recurrent_kernel, bias) -> dict[str, GateWeights]:
    """Cut Keras's stacked LSTM weights into the four named gates (Keras order i, f, c~, o)."""
    units = recurrent_kernel.shape[0]
    gates = {}
    for index, name in enumerate(KERAS_GATE_ORDER):
        block = slice(index * units, (index + 1) * units)
        gates[name] = GateWeights(kernel[:, block], recurrent_kernel[:, block], bias[block])
    return gates


def lstm_step_gates(x_t, h_prev, c_prev, gates: dict[str, GateWeights]):
    """One LSTM step, one equation per gate (1.3, left); returns (h_t, c_t)."""
    candidate = np.tanh(gates["candidate"].pre_activation(x_t, h_prev))  # c~_t
    forget = sigmoid(gates["forget"].pre_activation(x_t, h_prev))  # f_t
    input_gate = sigmoid(gates["input"].pre_activation(x_t, h_prev))  # i_t
    output = sigmoid(gates["output"].pre_activation(x_t, h_prev))  # o_t
    c_t = forget * c_prev + input_gate * candidate  # c_t = f_t * c_{t-1} + i_t * c~_t
    h_t = output * np.tanh(c_t)  # h_t = o_t * tanh(c_t)
    return h_t, c_t


def lstm_step_stacked(x_t, h_prev, c_prev, kernel, recurrent_kernel, bias):
    """One LSTM step with one matrix product for all gates (1.3, right); returns (h_t, c_t).

    [x_t, h_{t-1}] @ [[W], [U]] + b gives the four pre-activations side by side; in Keras's
    order they are i, f, c~, o.
    """
    stacked = np.concatenate([kernel, recurrent_kernel], axis=0)  # ((M + D), 4D)
    z = np.concatenate([x_t, h_prev], axis=-1) @ stacked + bias
    z_i, z_f, z_c, z_o = np.split(z, 4, axis=-1)
    c_t = sigmoid(z_f) * c_prev + sigmoid(z_i) * np.tanh(z_c)
    h_t = sigmoid(z_o) * np.tanh(c_t)
    return h_t, c_t


def lstm_sequence(x, kernel, recurrent_kernel, bias, h0=None, c0=None):
    """Run the stacked step over a batch of sequences ``x`` (batch, T, M); return all h_t."""
    batch, units = x.shape[0], recurrent_kernel.shape[0]
    h = np.zeros((batch, units)) if h0 is None else h0
    c = np.zeros((batch, units)) if c0 is None else c0
    outputs = []
    for t in range(x.shape[1]):
        h, c = lstm_step_stacked(x[:, t], h, c, kernel, recurrent_kernel, bias)
        outputs.append(h)
    return np.stack(outputs, axis=1)
