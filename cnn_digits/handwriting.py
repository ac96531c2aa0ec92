"""Turn photos of your own handwritten digits into MNIST-style 28x28 inputs.

MNIST digits are white ink on black, scaled so the ink fits a 20x20 box (aspect ratio kept)
and placed in a 28x28 frame with the ink's centre of mass at the frame centre. A phone photo
differs in every way a model notices: size, ink polarity, uneven lighting, specks of dirt and
stroke width. `prepare_digit` undoes those differences one step at a time.

Only NumPy, Pillow and SciPy are used, so this module imports quickly and needs no model.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps
from scipy import ndimage

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
FRAME = 28  # output side, as in MNIST
BOX = 20  # the ink's longer side, as in MNIST
# Where the ink's centre of mass lands, in pixel indices (row, column). MNIST's images average
# (14.0, 14.0) rather than the geometric centre 13.5, so we follow the data, not the geometry.
CENTRE = 14.0
WORK_SIDE = 1024  # bigger photos are shrunk first: the digit ends up 20 px tall anyway
MIN_CONTRAST = 0.12  # ink must differ from the paper by this much (grey levels in [0, 1])
INK_LEVEL = 0.35  # pixels above this fraction of the strongest ink count as ink
MIN_PART = 0.08  # ink blobs with less than this fraction of the biggest blob's ink are specks
MAX_EDGE_SHARE = 0.3  # a blob along more than this share of the picture edge is not ink
MIN_STROKE = 2.0  # px in the 28x28 frame: MNIST's thinnest strokes; thinner lines get widened


class DigitImageError(ValueError):
    """An image that cannot be read as one digit: says which file, what is wrong, what to do."""


def prepare_digit(image) -> np.ndarray:
    """Turn one photo or scan of a single handwritten digit into an MNIST-style input.

    `image` is a file path (str or Path), a PIL image, or a 2-D (grey) or 3-D (1, 3 or 4
    channels) numeric array with values in 0-1 or 0-255. Dark ink on light paper and light ink
    on a dark board both work, as long as the paper (or board) fills most of the picture.
    Returns a (28, 28) float32 array in [0, 1], white ink on black, with the ink fitted in a
    20x20 box and its centre of mass at (row, column) = (14, 14).
    Raises DigitImageError when the image cannot be read, is empty or shows no ink.
    """
    if isinstance(image, str | os.PathLike):
        return _prepare(_pil_to_grey(_open(image)), Path(image).name)
    if isinstance(image, Image.Image):
        name = Path(image.filename).name if getattr(image, "filename", "") else "the image"
        return _prepare(_pil_to_grey(image), name)
    return _prepare(_array_to_grey(image, "the array"), "the array")


def load_digits(paths) -> tuple[np.ndarray, list[Image.Image]]:
    """Prepare several image files: a list of paths, or one folder (all the images in it).

    Returns the (n, 28, 28) float32 batch, in the order of `paths`, and the original images
    turned upright, for display next to the model's answers.
    """
    if isinstance(paths, str | os.PathLike):
        paths = find_digit_images(paths) if Path(paths).is_dir() else [paths]
    originals = [_open(path) for path in paths]
    digits = [
        _prepare(_pil_to_grey(img), Path(path).name)
        for path, img in zip(paths, originals, strict=True)
    ]
    batch = np.stack(digits) if digits else np.zeros((0, FRAME, FRAME), np.float32)
    return batch, originals


def find_digit_images(folder) -> list[Path]:
    """The image files (.png, .jpg, .jpeg, .bmp, .gif, .webp) in `folder`, sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DigitImageError(
            f"Folder {folder} does not exist: create it and put photos of single digits in it."
        )
    # Names starting with a dot are system clutter (.DS_Store, macOS "._" copies), not photos.
    found = sorted(
        path
        for path in folder.iterdir()
        if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES and path.name[0] != "."
    )
    if not found:
        raise DigitImageError(
            f"Folder {folder} has no images: add photos of single digits, saved as "
            f"{', '.join(IMAGE_SUFFIXES)}."
        )
    return found


def label_from_name(path) -> int | None:
    """The true digit when a file name starts with it (``3_kitchen.jpg`` gives 3), else None."""
    # A single leading digit only: a camera name like IMG_2041.jpg or 2041.jpg is no label.
    match = re.match(r"(\d)(?!\d)", Path(path).name)
    return int(match.group(1)) if match else None


# --- Reading ------------------------------------------------------------------------------


def _open(path) -> Image.Image:
    """The image in a file, turned upright the way the camera meant it."""
    path = Path(path)
    if not path.is_file():
        raise DigitImageError(f"{path} does not exist: check the file name and folder.")
    try:
        with Image.open(path) as img:
            img.load()
            # Phones store photos sideways plus an EXIF note saying how to turn them.
            return ImageOps.exif_transpose(img)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise DigitImageError(
            f"{path.name} is not an image file that Pillow can read ({exc}). "
            "Save it again as PNG or JPEG."
        ) from exc


def _pil_to_grey(img: Image.Image) -> np.ndarray:
    """Grey levels in [0, 1] with any transparency flattened onto white paper."""
    if img.mode in ("I", "I;16", "F"):  # 16-bit or float scans: let the array path scale them
        return _array_to_grey(np.asarray(img), "the image")
    if "A" in img.getbands() or "transparency" in img.info:
        img = Image.alpha_composite(Image.new("RGBA", img.size, "white"), img.convert("RGBA"))
    return np.asarray(img.convert("L"), dtype=np.float32) / 255


def _array_to_grey(array, name: str) -> np.ndarray:
    """Grey levels in [0, 1] from a numeric array, after checking it looks like an image."""
    array = np.asarray(array)
    if array.dtype == bool:
        array = array.astype(np.float32)
    if not np.issubdtype(array.dtype, np.integer) and not np.issubdtype(array.dtype, np.floating):
        raise DigitImageError(f"{name} holds {array.dtype} values: pass uint8 or float numbers.")
    channels_ok = array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (1, 3, 4))
    if not channels_ok:
        raise DigitImageError(
            f"{name} has shape {array.shape}: pass (height, width) or (height, width, channels) "
            "with 1, 3 or 4 channels."
        )
    if array.size == 0:
        raise DigitImageError(f"{name} is empty (shape {array.shape}): pass a picture of a digit.")
    values = array.astype(np.float32)
    if not np.isfinite(values).all():
        raise DigitImageError(f"{name} contains NaN or infinite values: pass grey levels.")
    top = values.max()
    values = np.clip(values / (1.0 if top <= 1 else 255.0 if top <= 255 else 65535.0), 0, 1)
    if values.ndim == 2:
        return values
    if values.shape[2] == 1:
        return values[:, :, 0]
    grey = values[:, :, :3] @ np.array([0.299, 0.587, 0.114], np.float32)  # ITU-R 601 luma
    if values.shape[2] == 4:
        alpha = values[:, :, 3]
        grey = alpha * grey + (1 - alpha)  # transparent parts become white paper
    return grey


# --- Preparing ----------------------------------------------------------------------------


def _resize(values: np.ndarray, width: int, height: int, resample) -> np.ndarray:
    """Resize a float array with Pillow, whose filters anti-alias properly when shrinking."""
    img = Image.fromarray(np.ascontiguousarray(values, dtype=np.float32))
    return np.asarray(img.resize((width, height), resample), dtype=np.float32)


def _rescale(values: np.ndarray, scale: float, resample) -> np.ndarray:
    """Resize a float array by a factor, keeping at least one pixel each way."""
    height, width = values.shape
    return _resize(values, max(1, round(width * scale)), max(1, round(height * scale)), resample)


def _paper_level(grey: np.ndarray, percentile: float) -> np.ndarray:
    """The paper's brightness at every pixel, as a given percentile over a wide window."""
    height, width = grey.shape
    # Lighting changes slowly, so a 32 px thumbnail is detailed enough and keeps this fast.
    small = _rescale(grey, min(1.0, 32 / max(height, width)), Image.Resampling.BOX)
    # A window half the image wide is much wider than a stroke, so the paper outnumbers the ink.
    window = max(3, max(small.shape) // 2)
    level = ndimage.percentile_filter(small, percentile, size=window, mode="nearest")
    return _resize(level, width, height, Image.Resampling.BILINEAR)


def _ink_image(grey: np.ndarray, name: str) -> np.ndarray:
    """Ink as bright values on a zero background, whatever the polarity and lighting."""
    # Polarity: paper covers most of the picture, so the median grey level is paper, and the ink
    # is whichever side, darker or lighter, strays furthest from it. Uneven lighting shifts the
    # paper far less than ink differs from it; a table around the paper sits on the ink's side.
    paper = np.median(grey)
    smooth = ndimage.gaussian_filter(grey, 1.0)  # single noisy pixels must not decide
    dark_ink = paper - smooth.min() > smooth.max() - paper
    # Paper level from the paper side of the distribution: pen strokes cannot pull that
    # percentile, and paper grain mostly falls below it and is clipped away.
    if dark_ink:
        ink = _paper_level(grey, 90) - grey
    else:
        ink = grey - _paper_level(grey, 10)
    ink = np.clip(ink, 0, None)
    if ndimage.gaussian_filter(ink, 1.0).max() < MIN_CONTRAST:
        raise DigitImageError(
            f"{name} looks like a blank page: no ink stands out from the background. "
            "Write the digit with a darker pen, or photograph it in better light."
        )
    return ink


def _digit_mask(ink: np.ndarray) -> np.ndarray:
    """Pixels that belong to the digit's strokes, with specks of dirt and noise left out."""
    smooth = ndimage.gaussian_filter(ink, 1.0)
    mask = smooth > INK_LEVEL * smooth.max()
    labels, count = ndimage.label(mask, structure=np.ones((3, 3)))
    index = np.arange(1, count + 1)
    amounts = ndimage.sum_labels(ink, labels, index)
    # A photo may show the table around the paper: a blob lining much of the picture's edge is
    # that surrounding, not a pen stroke (which meets the edge, if at all, only briefly).
    edge = np.ones_like(mask)
    edge[1:-1, 1:-1] = False
    edge_share = ndimage.sum_labels(edge, labels, index) / np.count_nonzero(edge)
    if (edge_share < MAX_EDGE_SHARE).any():
        amounts[edge_share >= MAX_EDGE_SHARE] = 0
    # Keep every blob with a fair share of the ink: a 4 or a 5 is often drawn in two strokes.
    keep = index[amounts >= MIN_PART * amounts.max()]
    return np.isin(labels, keep)


def _bounding_box(mask: np.ndarray) -> tuple[slice, slice]:
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def _thicken(ink: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Widen thin pen lines that would be under MIN_STROKE px wide once the digit is 20 px."""
    outline = np.count_nonzero(mask & ~ndimage.binary_erosion(mask))
    width = 2 * np.count_nonzero(mask) / outline  # a stroke w wide, L long: area wL, outline 2L
    rows, cols = _bounding_box(mask)
    wanted = MIN_STROKE * max(rows.stop - rows.start, cols.stop - cols.start) / BOX
    if width >= wanted:
        return ink, mask
    size = 1 + round(wanted - width)  # a max filter of size k widens a line by k - 1
    return ndimage.grey_dilation(ink, size=size), ndimage.maximum_filter(mask, size=size)


def _prepare(grey: np.ndarray, name: str) -> np.ndarray:
    """The MNIST preparation applied to grey levels in [0, 1]."""
    height, width = grey.shape
    if height == 0 or width == 0:
        raise DigitImageError(f"{name} is empty ({width}x{height} pixels).")
    if max(height, width) > WORK_SIDE:
        grey = _rescale(grey, WORK_SIDE / max(height, width), Image.Resampling.BOX)

    ink = _ink_image(grey, name)
    mask = _digit_mask(ink)
    # Keep the soft edges of the strokes, which fall just below the threshold, but nothing else.
    ink = np.where(ndimage.binary_dilation(mask, iterations=2), ink, 0)
    # MNIST strokes are saturated in the middle; scaling to a high percentile of the ink and
    # clipping makes pen pressure and lighting across the digit stop mattering.
    ink = np.clip(ink / np.percentile(ink[mask], 90), 0, 1)
    ink, mask = _thicken(ink, mask)

    crop = ink[_bounding_box(mask)]
    small = _rescale(crop, BOX / max(crop.shape), Image.Resampling.LANCZOS)
    frame = np.zeros((FRAME, FRAME), np.float32)
    top, left = (FRAME - small.shape[0]) // 2, (FRAME - small.shape[1]) // 2
    # LANCZOS overshoots a little around sharp edges; ink cannot be negative.
    frame[top : top + small.shape[0], left : left + small.shape[1]] = np.clip(small, 0, None)
    # Whole-pixel shift, as MNIST did: a sub-pixel shift would blur the strokes.
    row, col = ndimage.center_of_mass(frame)
    frame = ndimage.shift(frame, (round(CENTRE - row), round(CENTRE - col)), order=0)
    return (frame / frame.max()).astype(np.float32)
