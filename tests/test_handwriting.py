"""Checks that photos of handwritten digits come out the way MNIST digits look."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from cnn_digits.data import MNIST
from cnn_digits.handwriting import (
    DigitImageError,
    find_digit_images,
    label_from_name,
    load_digits,
    prepare_digit,
)
from course.fetch import fetch

SAMPLES = Path(__file__).resolve().parent.parent / "notebooks" / "my_digits"
# Centre of mass as (row, column) pixel indices: MNIST's digits average (14.0, 14.0), not the
# geometric 13.5, and prepare_digit follows MNIST.
CENTRE = 14.0


@pytest.fixture(scope="module")
def mnist_digits() -> np.ndarray:
    # The committed sample holds the real file's first 500 test digits, unchanged.
    with np.load(fetch(MNIST, profile="smoke")) as data:
        # One test digit of each class, so every shape of stroke is tried.
        images, labels = data["x_test"][:100], data["y_test"][:100]
    return np.stack([images[np.flatnonzero(labels == d)[0]] for d in range(10)]) / 255


def photograph(digit: np.ndarray, ink: float, paper: float, seed: int) -> np.ndarray:
    """A 28x28 digit as a photo: 10x larger, off-centre on a page, lit from one side, noisy."""
    rng = np.random.default_rng(seed)
    big = Image.fromarray(digit.astype(np.float32)).resize((280, 280), Image.Resampling.BICUBIC)
    coverage = np.zeros((520, 700), np.float32)
    coverage[30:310, 390:670] = np.clip(np.asarray(big), 0, 1)
    lighting = np.linspace(0.6, 1.0, coverage.shape[1])[None, :]
    page = (paper + (ink - paper) * coverage) * lighting + rng.normal(0, 0.02, coverage.shape)
    return (np.clip(page, 0, 1) * 255).astype(np.uint8)


def shift_tolerant_r(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson r, best over one-pixel shifts: MNIST centres by whole pixels, so a centre of mass
    near a half pixel may round either way."""
    shifts = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    return max(np.corrcoef(np.roll(a, s, axis=(0, 1)).ravel(), b.ravel())[0, 1] for s in shifts)


def test_mnist_digits_survive_being_photographed(mnist_digits):
    for seed, digit in enumerate(mnist_digits):
        prepared = prepare_digit(photograph(digit, ink=0.15, paper=0.9, seed=seed))
        assert shift_tolerant_r(prepared, digit) > 0.85, f"digit {seed}"


def test_dark_ink_on_paper_and_chalk_on_a_board_give_the_same_digit(mnist_digits):
    for seed, digit in enumerate(mnist_digits):
        on_paper = prepare_digit(photograph(digit, ink=0.1, paper=0.85, seed=seed))
        on_board = prepare_digit(photograph(digit, ink=0.9, paper=0.2, seed=seed + 100))
        assert shift_tolerant_r(on_paper, on_board) > 0.95, f"digit {seed}"


def sample_paths() -> list[Path]:
    return sorted(p for p in SAMPLES.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))


def test_the_shipped_samples_are_named_after_their_digit():
    names = [path.name for path in sample_paths()]
    assert len(names) >= 8
    assert all(label_from_name(name) is not None for name in names), names
    assert [p.name for p in find_digit_images(SAMPLES)] == names


@pytest.mark.parametrize("path", sample_paths(), ids=lambda path: path.name)
def test_samples_come_out_shaped_like_mnist(path):
    digit = prepare_digit(path)
    assert digit.shape == (28, 28)
    assert digit.dtype == np.float32
    assert digit.max() == pytest.approx(1.0)
    assert digit.min() >= 0
    row, col = ndimage.center_of_mass(digit)
    # Whole-pixel centring leaves the centre of mass at most half a pixel off.
    assert abs(row - CENTRE) <= 0.6 and abs(col - CENTRE) <= 0.6, (row, col)
    ink = digit > 0.05
    height = np.ptp(np.flatnonzero(ink.any(axis=1))) + 1
    width = np.ptp(np.flatnonzero(ink.any(axis=0))) + 1
    # The longer side fills MNIST's 20 px box; anti-aliasing may smear a pixel either way.
    assert 19 <= max(height, width) <= 21, (height, width)


def test_a_table_around_the_paper_is_not_taken_for_ink():
    photo = np.asarray(Image.open(SAMPLES / "3_pen_photo.jpg").convert("L"))
    on_a_table = np.pad(photo, 60, constant_values=50)
    assert shift_tolerant_r(prepare_digit(on_a_table), prepare_digit(photo)) > 0.95


def test_load_digits_keeps_the_order_and_the_originals():
    paths = find_digit_images(SAMPLES)[:3]
    batch, originals = load_digits(paths)
    assert batch.shape == (3, 28, 28) and batch.dtype == np.float32
    assert [img.size for img in originals] == [Image.open(p).size for p in paths]
    np.testing.assert_array_equal(batch[1], prepare_digit(paths[1]))


@pytest.mark.parametrize(
    ("name", "label"), [("3_desk.jpg", 3), ("7.png", 7), ("IMG_2041.jpg", None), ("2041.jpg", None)]
)
def test_label_from_name(name, label):
    assert label_from_name(name) == label


@pytest.mark.parametrize("content", [b"not a picture", b""], ids=["text", "zero-bytes"])
def test_files_pillow_cannot_read_are_refused_by_name(tmp_path, content):
    path = tmp_path / "notes.png"
    path.write_bytes(content)
    with pytest.raises(DigitImageError, match=r"notes\.png is not an image file"):
        prepare_digit(path)


def test_a_blank_page_is_refused(tmp_path):
    path = tmp_path / "blank.png"
    rng = np.random.default_rng(0)
    Image.fromarray(np.full((300, 400), 235, np.uint8)).save(path)
    with pytest.raises(DigitImageError, match=r"blank\.png looks like a blank page"):
        prepare_digit(path)
    noisy_paper = np.clip(235 + rng.normal(0, 4, (300, 400)), 0, 255).astype(np.uint8)
    with pytest.raises(DigitImageError, match="blank page"):
        prepare_digit(noisy_paper)


@pytest.mark.parametrize(
    "array",
    [np.zeros((0, 28)), np.zeros((28, 28, 2)), np.zeros((1, 28, 28, 3)), np.array([["a"]])],
    ids=["zero-size", "two-channels", "four-dims", "strings"],
)
def test_arrays_that_are_not_images_are_refused(array):
    with pytest.raises(DigitImageError, match="the array"):
        prepare_digit(array)


def test_find_digit_images_needs_a_folder_with_images(tmp_path):
    (tmp_path / "notes.txt").write_text("no pictures here")
    with pytest.raises(DigitImageError, match="has no images"):
        find_digit_images(tmp_path)
    with pytest.raises(DigitImageError, match="does not exist"):
        find_digit_images(tmp_path / "missing")
