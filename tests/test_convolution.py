"""Tests for cnn_digits.convolution against NumPy, SciPy and Keras's own layers."""

import course  # noqa: F401  (sets TensorFlow's log level before it is imported)

# isort: split
import keras
import numpy as np
import pytest
from scipy import signal

from cnn_digits.convolution import (
    conv1d_full,
    conv1d_valid,
    conv2d,
    correlate2d_strided,
    cross_correlate2d,
    output_size,
    pool2d,
    rotate180,
)

# Keras computes in float32, the module in float64.
KERAS_TOLERANCE = {"rtol": 1e-5, "atol": 1e-5}


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def keras_correlate(image: np.ndarray, kernel: np.ndarray, stride: int = 1, padding: int = 0):
    """Keras's Conv2D (one channel, no bias) after ZeroPadding2D: a cross-correlation."""
    batch = image[np.newaxis, :, :, np.newaxis].astype("float32")
    if padding:
        batch = keras.layers.ZeroPadding2D(padding)(batch)
    layer = keras.layers.Conv2D(1, kernel.shape, strides=stride, padding="valid", use_bias=False)
    layer.build(batch.shape)
    layer.set_weights([kernel.reshape(*kernel.shape, 1, 1).astype("float32")])
    return keras.ops.convert_to_numpy(layer(batch))[0, :, :, 0]


# One dimension ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("signal_len", "kernel_len"), [(1, 1), (5, 3), (10, 4), (7, 7), (3, 5)])
def test_conv1d_full_matches_numpy(rng, signal_len, kernel_len):
    x, w = rng.normal(size=signal_len), rng.normal(size=kernel_len)
    result = conv1d_full(x, w)
    assert result.shape == (signal_len + kernel_len - 1,)
    np.testing.assert_allclose(result, np.convolve(x, w, mode="full"), atol=1e-12)


@pytest.mark.parametrize(("signal_len", "kernel_len"), [(1, 1), (5, 3), (10, 4), (7, 7), (12, 1)])
def test_conv1d_valid_matches_numpy(rng, signal_len, kernel_len):
    x, w = rng.normal(size=signal_len), rng.normal(size=kernel_len)
    result = conv1d_valid(x, w)
    assert result.shape == (signal_len - kernel_len + 1,)
    np.testing.assert_allclose(result, np.convolve(x, w, mode="valid"), atol=1e-12)


def test_conv1d_accepts_lists():
    np.testing.assert_allclose(conv1d_full([1, 2, 3], [0, 1]), [0, 1, 2, 3])


@pytest.mark.parametrize("k", [1, 3, 5])
def test_moving_average_of_constant_is_constant(k):
    result = conv1d_valid(np.full(20, 3.5), np.full(k, 1 / k))
    assert result.shape == (20 - k + 1,)
    np.testing.assert_allclose(result, 3.5)


def test_second_difference_of_square_is_two():
    t = np.arange(-5.0, 12.0)
    result = conv1d_valid(t**2, np.array([1.0, -2.0, 1.0]))
    assert result.shape == (len(t) - 2,)
    np.testing.assert_allclose(result, 2.0)


def test_first_difference_flips_the_kernel():
    # Convolution: y_t = 1 * x_t - 1 * x_{t-1}, so an increasing ramp gives +1 (a
    # cross-correlation would give -1).
    result = conv1d_valid(np.arange(10.0), np.array([1.0, -1.0]))
    np.testing.assert_allclose(result, np.ones(9))


# Two dimensions --------------------------------------------------------------------------------


@pytest.mark.parametrize(("image_shape", "kernel_shape"), [((6, 6), (3, 3)), ((7, 9), (2, 3))])
def test_cross_correlate2d_matches_keras_conv2d(rng, image_shape, kernel_shape):
    image, kernel = rng.normal(size=image_shape), rng.normal(size=kernel_shape)
    result = cross_correlate2d(image, kernel)
    expected = keras_correlate(image, kernel)
    assert result.shape == expected.shape
    np.testing.assert_allclose(result, expected, **KERAS_TOLERANCE)


def test_rotate180_turns_half_a_turn(rng):
    kernel = rng.normal(size=(2, 3))
    np.testing.assert_array_equal(rotate180(kernel), np.rot90(kernel, 2))
    np.testing.assert_array_equal(rotate180(rotate180(kernel)), kernel)


@pytest.mark.parametrize(("image_shape", "kernel_shape"), [((5, 5), (3, 3)), ((6, 8), (3, 2))])
def test_conv2d_is_correlation_with_rotated_kernel(rng, image_shape, kernel_shape):
    image, kernel = rng.normal(size=image_shape), rng.normal(size=kernel_shape)
    np.testing.assert_allclose(
        conv2d(image, kernel), cross_correlate2d(image, rotate180(kernel)), atol=1e-12
    )


@pytest.mark.parametrize(
    ("image_shape", "kernel_shape"), [((5, 5), (3, 3)), ((6, 8), (3, 2)), ((4, 4), (4, 4))]
)
def test_conv2d_matches_scipy(rng, image_shape, kernel_shape):
    image, kernel = rng.normal(size=image_shape), rng.normal(size=kernel_shape)
    np.testing.assert_allclose(
        conv2d(image, kernel), signal.convolve2d(image, kernel, mode="valid"), atol=1e-12
    )


def test_conv2d_differs_from_correlation_for_asymmetric_kernel(rng):
    image = rng.normal(size=(5, 5))
    kernel = np.array([[1.0, 0.0], [0.0, 0.0]])
    # With this kernel, correlation picks the top-left pixel of each window and convolution
    # the bottom-right one.
    np.testing.assert_allclose(cross_correlate2d(image, kernel), image[:-1, :-1])
    np.testing.assert_allclose(conv2d(image, kernel), image[1:, 1:])


# Output size, stride and padding ---------------------------------------------------------------

# (M, K, S, P)
SIZE_CASES = [
    (7, 3, 1, 0),  # narrow
    (7, 3, 1, 2),  # wide: P = K - 1
    (7, 3, 1, 1),  # same: P = (K - 1) / 2
    (8, 5, 1, 2),  # same
    (5, 5, 1, 0),  # kernel as large as the input
    (7, 3, 2, 0),
    (8, 3, 2, 1),
    (9, 4, 3, 2),
    (6, 2, 4, 1),
    (10, 3, 3, 0),
]


@pytest.mark.parametrize(("m", "k", "s", "p"), SIZE_CASES)
def test_output_size_matches_keras(m, k, s, p):
    batch = np.zeros((1, m, m, 1), "float32")
    padded = keras.layers.ZeroPadding2D(p)(batch)
    output = keras.layers.Conv2D(1, k, strides=s, padding="valid")(padded)
    size = output_size(m, k, s, p)
    assert tuple(output.shape) == (1, size, size, 1)


@pytest.mark.parametrize(("m", "k"), [(7, 3), (8, 5), (6, 1)])
def test_output_size_narrow_wide_same(m, k):
    assert output_size(m, k) == m - k + 1
    assert output_size(m, k, padding=k - 1) == m + k - 1
    if k % 2 == 1:
        assert output_size(m, k, padding=(k - 1) // 2) == m


@pytest.mark.parametrize(("m", "k", "s", "p"), SIZE_CASES)
def test_correlate2d_strided_shape_is_output_size(rng, m, k, s, p):
    result = correlate2d_strided(rng.normal(size=(m, m + 1)), rng.normal(size=(k, k)), s, p)
    assert result.shape == (output_size(m, k, s, p), output_size(m + 1, k, s, p))


@pytest.mark.parametrize(
    ("m", "k", "s", "p"), [(7, 3, 2, 1), (8, 2, 3, 2), (9, 3, 1, 1), (6, 3, 2, 0)]
)
def test_correlate2d_strided_matches_keras(rng, m, k, s, p):
    image, kernel = rng.normal(size=(m, m)), rng.normal(size=(k, k))
    result = correlate2d_strided(image, kernel, stride=s, padding=p)
    expected = keras_correlate(image, kernel, stride=s, padding=p)
    assert result.shape == expected.shape
    np.testing.assert_allclose(result, expected, **KERAS_TOLERANCE)


@pytest.mark.parametrize(("m", "k", "p"), [(3, 5, 0), (2, 7, 2), (1, 2, 0)])
def test_output_size_refuses_kernel_that_does_not_fit(m, k, p):
    with pytest.raises(ValueError, match="does not fit"):
        output_size(m, k, 1, p)


def test_output_size_padding_can_make_kernel_fit():
    assert output_size(3, 5, 1, 1) == 1


# Pooling ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("side", [6, 7])
@pytest.mark.parametrize(
    ("mode", "layer_class"),
    [("max", keras.layers.MaxPooling2D), ("mean", keras.layers.AveragePooling2D)],
)
def test_pool2d_matches_keras(rng, side, mode, layer_class):
    image = rng.normal(size=(side, side))
    result = pool2d(image, 2, mode)
    expected = layer_class(pool_size=2)(image[np.newaxis, :, :, np.newaxis].astype("float32"))
    expected = keras.ops.convert_to_numpy(expected)[0, :, :, 0]
    assert result.shape == expected.shape == (side // 2, side // 2)
    np.testing.assert_allclose(result, expected, **KERAS_TOLERANCE)


def test_pool2d_size_three(rng):
    image = rng.normal(size=(6, 6))
    result = pool2d(image, size=3, mode="max")
    expected = [[image[r : r + 3, c : c + 3].max() for c in (0, 3)] for r in (0, 3)]
    np.testing.assert_allclose(result, expected)


def test_pool2d_bad_mode(rng):
    with pytest.raises(ValueError, match="median"):
        pool2d(rng.normal(size=(4, 4)), mode="median")
