"""Chapter 3's exercise checks name the usual slips, and pass the package's own answers.

``tests/test_exercises.py`` runs the notebook's solutions through these checks; here each check
meets the plausible wrong answers its messages are written for.
"""

import course  # noqa: F401  (quiets TensorFlow before it is imported)

# isort: split
import numpy as np
import pytest

from cnn_digits import convolution
from cnn_digits import exercises as ex
from course.exercises import FAIL, PASS


def test_output_length_passes_the_package_formula_and_names_each_slip(capsys):
    assert ex.check_output_length(convolution.output_size) == PASS
    slips = {
        "round the division down (//": lambda n, k, s, p: (n - k + 2 * p) / s + 1,
        "BOTH ends": lambda n, k, s, p: (n - k + p) // s + 1,
        "first position too": lambda n, k, s, p: (n - k + 2 * p) // s,
        "down, not up": lambda n, k, s, p: -(-(n - k + 2 * p) // s) + 1,
    }
    for message, wrong in slips.items():
        assert ex.check_output_length(wrong) == FAIL
        assert message in capsys.readouterr().out


def test_cross_correlation_tells_convolution_apart(capsys):
    assert ex.check_cross_correlation(convolution.cross_correlate2d) == PASS
    assert ex.check_cross_correlation(convolution.conv2d) == FAIL
    assert "half a turn" in capsys.readouterr().out
    padded = ex.check_cross_correlation(lambda x, w: convolution.cross_correlate2d(np.pad(x, 1), w))
    assert padded == FAIL and "valid output" in capsys.readouterr().out


def test_parameter_count_matches_keras_and_names_each_slip(capsys):
    assert ex.keras_parameter_count(3, 3, 1, 32, True) == 3 * 3 * 32 + 32
    assert ex.check_conv_parameter_count(
        lambda u, v, d, p, bias: u * v * d * p + (p if bias else 0)) == PASS
    slips = {
        "ALL input channels": lambda u, v, d, p, bias: u * v * p + (p if bias else 0),
        "one bias too": lambda u, v, d, p, bias: u * v * d * p,
        "no bias at all": lambda u, v, d, p, bias: u * v * d * p + p,
    }
    for message, wrong in slips.items():
        assert ex.check_conv_parameter_count(wrong) == FAIL
        assert message in capsys.readouterr().out


def _erase(images, size, rng, *, fixed=False, value=0.0, in_place=False):
    erased = images if in_place else np.array(images, copy=True)
    for image in erased:
        top = 0 if fixed else rng.integers(0, erased.shape[1] - size + 1)
        left = 0 if fixed else rng.integers(0, erased.shape[2] - size + 1)
        image[top : top + size, left : left + size] = value
    return erased


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, None),
        ({"in_place": True}, "erase on a copy"),
        ({"fixed": True}, "same square"),
        ({"value": 0.5}, "must be 0"),
    ],
)
def test_random_erase_check(options, message, capsys):
    verdict = ex.check_random_erase(lambda images, size, rng: _erase(images, size, rng, **options))
    assert verdict == (PASS if message is None else FAIL)
    if message:
        assert message in capsys.readouterr().out


def test_random_erase_check_wants_one_whole_square_inside_the_image(capsys):
    def off_the_edge(images, size, rng):
        erased = np.array(images, copy=True)
        erased[:, -2:, -2:] = 0  # a 2x2 corner: the rest of the square fell off the image
        erased[1:, :size, :size] = 0
        return erased

    assert ex.check_random_erase(off_the_edge) == FAIL
    assert "one 4x4 square" in capsys.readouterr().out
    assert ex.check_random_erase(lambda images, size, rng: images[:, :-1]) == FAIL
    assert "shape" in capsys.readouterr().out
