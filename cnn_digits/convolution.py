"""Convolution, cross-correlation and pooling written from their formulas in NumPy.

Indices in the notes start at 1; here they start at 0, so ``x[t - k + 1]`` becomes ``x[t - k]``.
The loops are for reading, not speed: Keras's layers do the same arithmetic fast.
"""

from __future__ import annotations

import numpy as np


def conv1d_full(signal: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """y_t = sum_k w_k x_{t-k}, over every t where kernel and signal overlap (length M + K - 1)."""
    x, w = np.asarray(signal, float), np.asarray(kernel, float)
    out = np.zeros(len(x) + len(w) - 1)
    for t in range(len(out)):
        for k in range(len(w)):
            if 0 <= t - k < len(x):
                out[t] += w[k] * x[t - k]
    return out


def conv1d_valid(signal: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """The finite convolution of the notes: only t >= K, where the kernel lies on the signal."""
    kernel_size = len(kernel)
    return conv1d_full(signal, kernel)[kernel_size - 1 : len(signal)]


def conv2d(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Valid 2-D convolution: y_st = sum_ij w_ij x_{s+U-1-i, t+V-1-j} (kernel flipped)."""
    x, w = np.asarray(image, float), np.asarray(kernel, float)
    height, width = w.shape
    out = np.zeros((x.shape[0] - height + 1, x.shape[1] - width + 1))
    for s in range(out.shape[0]):
        for t in range(out.shape[1]):
            for i in range(height):
                for j in range(width):
                    out[s, t] += w[i, j] * x[s + height - 1 - i, t + width - 1 - j]
    return out


def cross_correlate2d(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Valid 2-D cross-correlation: y_st = sum_ij w_ij x_{s+i, t+j} (kernel not flipped).

    This is what deep-learning libraries call "convolution".
    """
    x, w = np.asarray(image, float), np.asarray(kernel, float)
    # windows[s, t] is the patch x[s:s+U, t:t+V]; the einsum is the double sum over i and j.
    windows = np.lib.stride_tricks.sliding_window_view(x, w.shape)
    return np.einsum("stij,ij->st", windows, w)


def rotate180(kernel: np.ndarray) -> np.ndarray:
    """rot(w), the kernel turned half a turn: conv2d(x, w) == cross_correlate2d(x, rot(w))."""
    return np.asarray(kernel)[::-1, ::-1]


def output_size(input_size: int, kernel_size: int, stride: int = 1, padding: int = 0) -> int:
    """floor((M - K + 2P) / S) + 1: the length of a convolution's output along one axis."""
    if kernel_size > input_size + 2 * padding:
        raise ValueError(
            f"kernel of size {kernel_size} does not fit an input of size {input_size} "
            f"with padding {padding}"
        )
    return (input_size - kernel_size + 2 * padding) // stride + 1


def correlate2d_strided(
    image: np.ndarray, kernel: np.ndarray, stride: int = 1, padding: int = 0
) -> np.ndarray:
    """Cross-correlation after P zeros on every side, with the kernel moved S pixels at a time."""
    padded = np.pad(np.asarray(image, float), padding)
    full = cross_correlate2d(padded, kernel)
    return full[::stride, ::stride]


def pool2d(image: np.ndarray, size: int = 2, mode: str = "max") -> np.ndarray:
    """Non-overlapping pooling: the max (2.6) or the mean (2.7) of each size-by-size region."""
    x = np.asarray(image, float)
    rows, cols = x.shape[0] // size, x.shape[1] // size
    regions = x[: rows * size, : cols * size].reshape(rows, size, cols, size)
    if mode == "max":
        return regions.max(axis=(1, 3))
    if mode == "mean":
        return regions.mean(axis=(1, 3))
    raise ValueError(f"mode must be 'max' or 'mean', not {mode!r}")
