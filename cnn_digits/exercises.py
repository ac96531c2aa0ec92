"""Checks for the exercises of notebook 03 (see ``course.exercises`` for the convention).

Each check calls the learner's function on fixed inputs, compares the answer with the package's
own code (``cnn_digits.convolution``, a Keras layer), prints [PASS], [FAIL] with what is wrong,
or [TODO], and returns that word. Where a wrong answer matches a common slip, the message
names the slip.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from cnn_digits import convolution
from course.exercises import FAIL, PASS, attempt, check_close, verdict

# (input length n, kernel length k, stride, padding); several give a fraction before the floor.
OUTPUT_LENGTH_CASES = [
    (28, 3, 1, 0), (28, 5, 2, 0), (28, 3, 2, 1), (5, 3, 3, 1), (13, 3, 2, 0), (10, 4, 3, 2),
]
# (kernel height, kernel width, input channels, filters, use_bias): conv1 and conv2 of
# build_cnn, then shapes that tell the factors apart.
CONV_LAYER_CASES = [(3, 3, 1, 32, True), (3, 3, 32, 64, False), (5, 3, 3, 8, True),
                    (1, 1, 64, 16, True)]


def _slip(answer, slips: list[tuple[object, str]], default: str) -> str:
    """The hint of the first known wrong answer that ``answer`` equals, else ``default``."""
    try:
        answer = np.asarray(answer, dtype="float64")
    except (TypeError, ValueError):
        return default
    for wrong, hint in slips:
        wrong = np.asarray(wrong, dtype="float64")
        if answer.shape == wrong.shape and np.allclose(answer, wrong):
            return hint
    return default


def _check(call: Callable, expected, slips: list[tuple[object, str]], default: str) -> str:
    """Run the learner's code, compare with ``expected``, and name the slip a wrong answer
    matches (``check_function``, with the hint chosen once the answer is known)."""
    answer, failed = attempt(call)
    return failed or check_close(answer, expected, _slip(answer, slips, default))


def check_output_length(function: Callable) -> str:
    """``function(n, k, stride, padding)``: the output length, against ``output_size``."""
    cases = OUTPUT_LENGTH_CASES
    expected = [convolution.output_size(*case) for case in cases]
    slips = [
        ([(n - k + 2 * p) / s + 1 for n, k, s, p in cases],
         "a length is a whole number: round the division down (// in Python)."),
        ([(n - k + p) // s + 1 for n, k, s, p in cases],
         "padding adds P zeros at BOTH ends of the axis: 2P in all."),
        ([(n - k + 2 * p) // s for n, k, s, p in cases],
         "count the kernel's first position too: + 1."),
        ([-(-(n - k + 2 * p) // s) + 1 for n, k, s, p in cases],
         "round the division down, not up: a step that would run off the edge is not taken."),
    ]
    default = f"cases (n, k, stride, padding) {cases} should give {expected}."
    return _check(lambda: [function(*case) for case in cases], expected, slips, default)


def check_cross_correlation(function: Callable) -> str:
    """``function(image, kernel)``: valid 2-D cross-correlation, against the package's."""
    rng = np.random.default_rng(3)
    image, kernel = rng.normal(size=(6, 7)), rng.normal(size=(3, 2))
    expected = convolution.cross_correlate2d(image, kernel)
    slips = [
        (convolution.conv2d(image, kernel),
         "you turned the kernel half a turn: that is convolution. Cross-correlation slides w "
         "as it is: y[s, t] = sum over i, j of w[i, j] * x[s + i, t + j]."),
    ]
    default = ("the valid output has (M - U + 1) x (N - V + 1) entries, "
               "y[s, t] = sum over i, j of w[i, j] * x[s + i, t + j].")
    return _check(lambda: function(image.copy(), kernel.copy()), expected, slips, default)


def keras_parameter_count(kernel_height: int, kernel_width: int, in_channels: int,
                          filters: int, use_bias: bool) -> int:
    """What Keras counts for a ``Conv2D`` of this shape (built on a small input)."""
    import keras

    layer = keras.layers.Conv2D(filters, (kernel_height, kernel_width), use_bias=use_bias)
    layer.build((None, 16, 16, in_channels))
    return int(layer.count_params())


def check_conv_parameter_count(function: Callable) -> str:
    """``function(kernel_height, kernel_width, in_channels, filters, use_bias)`` against Keras."""
    cases = CONV_LAYER_CASES
    expected = [keras_parameter_count(*case) for case in cases]
    slips = [
        ([u * v * p + (p if bias else 0) for u, v, _, p, bias in cases],
         "each kernel spans ALL input channels: U x V x D weights per filter."),
        ([u * v * d * p for u, v, d, p, _ in cases],
         "with use_bias=True each filter has one bias too."),
        ([u * v * d * p + p for u, v, d, p, _ in cases],
         "with use_bias=False the layer has no bias at all."),
    ]
    default = f"cases {cases} should give {expected}."
    return _check(lambda: [function(*case) for case in cases], expected, slips, default)


def check_random_erase(function: Callable) -> str:
    """``function(images, size, rng)``: one size-by-size square of zeros per image, at a
    random place that lies wholly inside it, on a copy of the images."""
    images = np.random.default_rng(0).uniform(0.1, 1.0, size=(6, 12, 10, 1)).astype("float32")
    original, size = images.copy(), 4
    answer, failed = attempt(lambda: function(images, size, np.random.default_rng(1)))
    if failed:
        return failed
    if not np.array_equal(images, original):
        return verdict(FAIL, "the input images changed: erase on a copy (images.copy()), since "
                             "the same training images are augmented again every epoch.")
    answer = np.asarray(answer)
    if answer.shape != images.shape:
        return verdict(FAIL, f"the answer has shape {answer.shape}, expected {images.shape}.")
    corners = set()
    for index, (erased_image, image) in enumerate(zip(answer, original, strict=True)):
        changed = erased_image[..., 0] != image[..., 0]
        if np.any(erased_image[..., 0][changed] != 0):
            return verdict(FAIL, f"image {index}: erased pixels must be 0 (the black "
                                 "background of MNIST).")
        rows, cols = np.flatnonzero(changed.any(axis=1)), np.flatnonzero(changed.any(axis=0))
        is_square = (changed.sum() == size * size and len(rows) == size and len(cols) == size
                     and changed[np.ix_(rows, cols)].all())
        if not is_square:
            return verdict(FAIL, f"image {index}: expected one {size}x{size} square of zeros "
                                 f"inside the image, found {changed.sum()} changed pixels.")
        corners.add((rows[0], cols[0]))
    if len(corners) == 1:
        return verdict(FAIL, "every image lost the same square: draw a new place for each "
                             "image.")
    return verdict(PASS)


CHECKS = {
    "my_output_length": check_output_length,
    "my_cross_correlation": check_cross_correlation,
    "conv_parameter_count": check_conv_parameter_count,
    "random_erase": check_random_erase,
}
