"""Make the sample "photos" of handwritten digits in notebooks/my_digits/.

The digits are synthetic pen strokes: smooth curves through control points placed by hand for
each digit, jittered, slanted and drawn with a varying width, then put on paper (or a board)
with uneven lighting, grain and JPEG compression like a phone photo. They are not real
handwriting, not a font and not MNIST images. A fixed seed makes every run write the same files.

Run from the repository root: ``python -m cnn_digits.make_samples [folder]``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

SEED = 2024
OUT_DIR = Path(__file__).resolve().parent.parent / "notebooks" / "my_digits"
SUPERSAMPLE = 3  # strokes are drawn this much larger, then shrunk, for smooth edges
ASPECT = 0.7  # a digit's width over its height

# Control points per stroke in a unit box (x to the right, y down). A digit written without
# lifting the pen is one stroke; separate strokes meet at sharp corners.
STROKES = {
    0: [[(0.55, 0.02), (0.2, 0.15), (0.05, 0.55), (0.3, 0.97), (0.75, 0.9), (0.95, 0.45),
         (0.8, 0.08), (0.5, 0.02)]],
    1: [[(0.2, 0.25), (0.55, 0.0)], [(0.55, 0.0), (0.52, 0.5), (0.5, 1.0)]],
    2: [[(0.08, 0.25), (0.35, 0.02), (0.75, 0.05), (0.85, 0.3), (0.55, 0.62), (0.05, 0.97)],
        [(0.05, 0.97), (0.5, 0.94), (0.95, 0.98)]],
    3: [[(0.1, 0.12), (0.5, 0.0), (0.85, 0.18), (0.7, 0.4), (0.35, 0.48), (0.75, 0.56),
         (0.9, 0.8), (0.5, 1.0), (0.05, 0.88)]],
    4: [[(0.62, 0.0), (0.3, 0.38), (0.02, 0.66)], [(0.02, 0.66), (0.5, 0.64), (0.98, 0.62)],
        [(0.72, 0.28), (0.7, 0.65), (0.68, 1.0)]],
    5: [[(0.9, 0.02), (0.2, 0.04)], [(0.2, 0.04), (0.14, 0.45)],
        [(0.14, 0.45), (0.55, 0.36), (0.9, 0.6), (0.8, 0.9), (0.4, 1.0), (0.05, 0.88)]],
    7: [[(0.05, 0.05), (0.5, 0.02), (0.95, 0.03)], [(0.95, 0.03), (0.6, 0.5), (0.4, 1.0)]],
    8: [[(0.5, 0.47), (0.15, 0.28), (0.25, 0.04), (0.6, 0.0), (0.85, 0.2), (0.5, 0.47),
         (0.1, 0.72), (0.3, 0.98), (0.75, 0.97), (0.9, 0.72), (0.5, 0.47)]],
    9: [[(0.85, 0.2), (0.5, 0.45), (0.15, 0.35), (0.2, 0.05), (0.6, 0.0), (0.88, 0.2)],
        [(0.88, 0.2), (0.8, 0.6), (0.72, 1.0)]],
}

# One entry per file. size: page (width, height); centre: the digit's centre as fractions of
# the page; height: digit height over page height; pen: stroke width over digit height;
# light: how much darker the dim side of the page is; noise: sensor noise in grey levels.
SAMPLES = [
    dict(name="3_pen_photo.jpg", size=(480, 640), centre=(0.5, 0.5), height=0.45, pen=0.06,
         ink=(35, 40, 90), paper=(238, 236, 228), light=0.35, noise=5),
    dict(name="7_marker_photo.jpg", size=(640, 480), centre=(0.45, 0.55), height=0.6,
         pen=0.11, ink=(20, 20, 22), paper=(245, 245, 240), light=0.3, noise=4),
    dict(name="0_pen_photo.jpg", size=(300, 400), centre=(0.5, 0.45), height=0.5, pen=0.07,
         ink=(30, 30, 35), paper=(240, 232, 215), light=0.25, noise=5),
    dict(name="2_pencil_photo.jpg", size=(400, 300), centre=(0.55, 0.5), height=0.65,
         pen=0.05, ink=(105, 105, 110), paper=(236, 236, 232), light=0.2, noise=4),
    dict(name="5_chalk_board.jpg", size=(640, 480), centre=(0.5, 0.5), height=0.55, pen=0.07,
         ink=(225, 228, 220), paper=(42, 58, 50), light=0.3, noise=5, chalk=True),
    dict(name="1_scan.png", size=(48, 64), centre=(0.5, 0.5), height=0.8, pen=0.1,
         ink=(40, 40, 40), paper=(246, 246, 246), light=0.0, noise=2, grey=True),
    dict(name="4_offcentre_page.jpg", size=(1200, 900), centre=(0.27, 0.7), height=0.18,
         pen=0.08, ink=(30, 35, 80), paper=(242, 242, 238), light=0.3, noise=1.5),
    dict(name="8_thin_pen_photo.jpg", size=(480, 360), centre=(0.5, 0.5), height=0.7,
         pen=0.025, ink=(25, 25, 60), paper=(240, 240, 235), light=0.3, noise=4),
    dict(name="9_pen_photo.jpg", size=(360, 480), centre=(0.52, 0.48), height=0.5, pen=0.07,
         ink=(40, 30, 30), paper=(235, 235, 238), light=0.4, noise=5),
]


def _catmull_rom(points: np.ndarray, steps: int = 24) -> np.ndarray:
    """A smooth curve through all the points, the way a pen sweeps through them."""
    # Mirrored end points make the curve start and end heading along the first/last segment.
    padded = np.vstack([2 * points[0] - points[1], points, 2 * points[-1] - points[-2]])
    t = np.linspace(0, 1, steps, endpoint=False)[:, None]
    pieces = []
    for i in range(len(points) - 1):
        p0, p1, p2, p3 = padded[i : i + 4]
        pieces.append(0.5 * (2 * p1 + (p2 - p0) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2
                             + (3 * p1 - p0 - 3 * p2 + p3) * t**3))
    pieces.append(points[-1:])
    return np.vstack(pieces)


def _ink_mask(digit: int, size, centre, height: float, pen: float, rng) -> np.ndarray:
    """Where the pen left ink, as coverage in [0, 1] over the page (height, width)."""
    width, page_height = size
    big = Image.new("L", (width * SUPERSAMPLE, page_height * SUPERSAMPLE), 0)
    draw = ImageDraw.Draw(big)
    slant = rng.uniform(-0.1, 0.25)  # most people lean their digits a little to the right
    angle = np.radians(rng.uniform(-6, 6))
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    digit_px = height * page_height * SUPERSAMPLE
    middle = np.array([centre[0] * width, centre[1] * page_height]) * SUPERSAMPLE
    for stroke in STROKES[digit]:
        unit = np.array(stroke) + rng.normal(0, 0.02, (len(stroke), 2))
        unit[:, 0] += slant * (0.5 - unit[:, 1])
        xy = (unit - 0.5) * [ASPECT, 1.0] @ rotation.T * digit_px + middle
        curve = _catmull_rom(xy)
        # Pen pressure drifts slowly along the stroke.
        along = np.linspace(0, 1, len(curve))
        pressure = 1 + 0.2 * np.sin(2 * np.pi * (rng.uniform(0.5, 1.5) * along + rng.random()))
        widths = pen * digit_px * pressure * rng.uniform(0.85, 1.15)
        for (x0, y0), (x1, y1), w in zip(curve[:-1], curve[1:], widths[1:], strict=True):
            draw.line([(x0, y0), (x1, y1)], fill=255, width=max(1, round(w)))
            draw.ellipse([x1 - w / 2, y1 - w / 2, x1 + w / 2, y1 + w / 2], fill=255)
    small = big.resize((width, page_height), Image.Resampling.LANCZOS)
    return np.asarray(small, dtype=np.float32) / 255


def _lighting(size, strength: float, rng) -> np.ndarray:
    """Brightness over the page: a lamp to one side plus a darker rim, as phone photos have."""
    width, height = size
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    x, y = x / width - 0.5, y / height - 0.5
    direction = rng.uniform(0, 2 * np.pi)
    ramp = x * np.cos(direction) + y * np.sin(direction) + 0.5  # 0 to about 1 across the page
    return 1 - strength * np.clip(ramp, 0, 1) - 0.3 * strength * (x**2 + y**2)


def make_sample(spec: dict, rng: np.random.Generator) -> Image.Image:
    """One sample image from an entry of SAMPLES."""
    width, height = spec["size"]
    digit = int(spec["name"][0])
    coverage = _ink_mask(digit, spec["size"], spec["centre"], spec["height"], spec["pen"], rng)
    coverage = ndimage.gaussian_filter(coverage, 0.6)  # a phone lens never focuses perfectly
    if spec.get("chalk"):
        # Chalk skips over the board's grain, leaving the stroke speckled.
        grain = ndimage.gaussian_filter(rng.random((height, width)), 0.7)
        coverage = coverage * np.clip((grain - 0.35) * 4, 0.2, 1)
    light = _lighting(spec["size"], spec["light"], rng)[:, :, None]
    # Paper is never flat: fibres and dust show as faint blotches a few pixels wide.
    blotches = ndimage.gaussian_filter(rng.normal(0, 1, (height, width)), 3)[:, :, None]
    paper = np.array(spec["paper"], np.float32) * (1 + 0.1 * blotches)
    ink = np.array(spec["ink"], np.float32)
    coverage = coverage[:, :, None]
    rgb = (paper * (1 - coverage) + ink * coverage) * light
    rgb += rng.normal(0, spec["noise"], (height, width, 1))
    image = Image.fromarray(np.clip(rgb, 0, 255).round().astype(np.uint8))
    return image.convert("L") if spec.get("grey") else image


def main(out_dir: Path = OUT_DIR) -> list[Path]:
    """Write every sample into `out_dir`, leaving any other files there alone."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for index, spec in enumerate(SAMPLES):
        # A seed per file, so editing one sample does not change the others.
        image = make_sample(spec, np.random.default_rng([SEED, index]))
        path = out_dir / spec["name"]
        if path.suffix == ".png":
            image.save(path, optimize=True)
        else:
            image.save(path, quality=80, optimize=True)
        written.append(path)
        print(f"{path}  {image.width}x{image.height}  {path.stat().st_size / 1024:.0f} KB")
    return written


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT_DIR)
