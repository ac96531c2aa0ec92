"""Vanishing and exploding gradients in a simple recurrent network, computed in NumPy.

With h_t = f(z_t), z_t = U h_{t-1} + W x_t + b, the chain rule gives

    dh_t / dh_0 = diag(f'(z_t)) U  diag(f'(z_{t-1})) U  ...  diag(f'(z_1)) U,

a product of t matrices. Its size behaves like ||U||^t when f is linear: it shrinks to zero
for ||U|| < 1 and blows up for ||U|| > 1. With tanh, f' <= 1 only ever shrinks it further.
"""

from __future__ import annotations

import numpy as np


def recurrent_matrix(scale: float, units: int, seed: int = 0) -> np.ndarray:
    """U = scale * Q with Q a random orthogonal matrix: every singular value of U is ``scale``."""
    rng = np.random.default_rng(seed)
    q, r = np.linalg.qr(rng.normal(size=(units, units)))
    return scale * q * np.sign(np.diag(r))  # the sign fix makes Q uniformly distributed


def state_and_gradient_norms(
    scale: float, num_steps: int = 60, units: int = 32, activation: str = "linear", seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """||h_t|| and the spectral norm of dh_t/dh_0 for t = 0..num_steps (no input after h_0).

    h_0 is a random unit vector; the inputs are zero so that only U moves the state.
    """
    if activation not in ("linear", "tanh"):
        raise ValueError(f"activation must be 'linear' or 'tanh', not {activation!r}")
    U = recurrent_matrix(scale, units, seed)
    rng = np.random.default_rng(seed + 1)
    h = rng.normal(size=units)
    h /= np.linalg.norm(h)
    jacobian = np.eye(units)
    state_norms, gradient_norms = [1.0], [1.0]
    for _ in range(num_steps):
        z = U @ h
        if activation == "tanh":
            h = np.tanh(z)
            derivative = 1.0 - h**2  # tanh'(z) = 1 - tanh(z)^2
        else:
            h, derivative = z, np.ones(units)
        jacobian = (derivative[:, None] * U) @ jacobian  # diag(f'(z_t)) U (dh_{t-1}/dh_0)
        state_norms.append(np.linalg.norm(h))
        gradient_norms.append(np.linalg.norm(jacobian, 2))
    return np.array(state_norms), np.array(gradient_norms)
