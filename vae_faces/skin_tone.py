"""Skin tone measured from pixels: the individual typology angle (ITA).

Dermatology describes skin colour in CIELAB by the angle

    ITA = arctan( (L* - 50) / b* ) * 180 / pi        (Chardon et al. 1991)

where L* is lightness (0 black .. 100 white) and b* the yellow-blue axis. Lighter skin has a
larger angle. Merler et al. (2019, "Diversity in Faces") used it to describe face datasets.
Here it is measured on the skin pixels of a fixed box in the face centre (cheeks and nose,
below the eyes and above the mouth, where FairFace's aligned crops put them), as the angle
of the median L* and median b* of those pixels.

It is a proxy: the camera, the white balance and the light move it as much as the skin does,
and a grey photo has no b* to measure (``individual_typology_angle`` returns NaN there).
Its value for this chapter is that it is measured from the same pixels the networks see.
"""

from __future__ import annotations

import numpy as np

# The face-centre box, as fractions of the image side (rows, then columns): at 64x64, rows
# 28-39 and columns 20-43.
CENTRE_ROWS = (0.4375, 0.625)
CENTRE_COLUMNS = (0.3125, 0.6875)
MIN_SKIN_PIXELS = 20  # at 64x64; fewer (profile views, masks, sunglasses): use the whole box
# Below this chroma (median sqrt(a*^2 + b*^2)) a photo is grey and b* carries no skin colour.
MIN_CHROMA = 4.0
TONE_GROUPS = ("LF", "LM", "DF", "DM")  # lighter/darker x female/male, as in the MIT lab

# sRGB (D65) to XYZ, and the D65 white point (IEC 61966-2-1; CIE 15)
_RGB_TO_XYZ = np.array([
    [0.4124564, 0.3575761, 0.1804375],
    [0.2126729, 0.7151522, 0.0721750],
    [0.0193339, 0.1191920, 0.9503041],
])
_WHITE = np.array([0.95047, 1.0, 1.08883])


def srgb_to_lab(images) -> np.ndarray:
    """CIELAB (L*, a*, b*) of uint8 sRGB pixels (..., 3); L* in [0, 100]."""
    rgb = np.asarray(images, dtype="float64") / 255.0
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    xyz = linear @ _RGB_TO_XYZ.T / _WHITE
    delta = 6 / 29
    f = np.where(xyz > delta**3, np.cbrt(xyz), xyz / (3 * delta**2) + 4 / 29)
    lightness = 116 * f[..., 1] - 16
    a = 500 * (f[..., 0] - f[..., 1])
    b = 200 * (f[..., 1] - f[..., 2])
    return np.stack([lightness, a, b], axis=-1)


def skin_mask(images) -> np.ndarray:
    """True where a uint8 RGB pixel's chroma lies in the skin range of the YCbCr space
    (77 <= Cb <= 127, 133 <= Cr <= 173; Chai & Ngan 1999), for any lightness."""
    rgb = np.asarray(images, dtype="float64")
    red, green, blue = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    cb = 128 - 0.168736 * red - 0.331264 * green + 0.5 * blue
    cr = 128 + 0.5 * red - 0.418688 * green - 0.081312 * blue
    return (cb >= 77) & (cb <= 127) & (cr >= 133) & (cr <= 173)


def centre_box(images) -> np.ndarray:
    """The face-centre box of square images (n, size, size, 3)."""
    size = images.shape[1]
    rows = slice(round(CENTRE_ROWS[0] * size), round(CENTRE_ROWS[1] * size))
    columns = slice(round(CENTRE_COLUMNS[0] * size), round(CENTRE_COLUMNS[1] * size))
    return images[:, rows, columns]


def individual_typology_angle(images) -> np.ndarray:
    """ITA in degrees of each uint8 face image (n, size, size, 3); NaN for grey photos."""
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise ValueError(
            f"Expected uint8 RGB images of shape (n, size, size, 3), got {images.dtype} "
            f"{images.shape}."
        )
    box = centre_box(images)
    lab = srgb_to_lab(box).reshape(len(images), -1, 3)
    skin = skin_mask(box).reshape(len(images), -1)
    min_pixels = MIN_SKIN_PIXELS * (images.shape[1] / 64) ** 2
    angles = np.empty(len(images))
    for i in range(len(images)):
        pixels = lab[i][skin[i]] if skin[i].sum() >= min_pixels else lab[i]
        lightness, a, b = np.median(pixels, axis=0)
        if np.hypot(a, b) < MIN_CHROMA:
            angles[i] = np.nan  # a grey photo
        else:
            # ITA = arctan((L* - 50) / b*); arctan2 is the same for b* > 0 and never divides by 0
            angles[i] = np.degrees(np.arctan2(lightness - 50, b))
    return angles


def tone_groups(angles, genders, threshold: float) -> np.ndarray:
    """'LF', 'LM', 'DF' or 'DM' per face: lighter (ITA >= threshold) or darker, by gender
    ('Female'/'Male'); '' where the angle is NaN (a grey photo)."""
    angles, genders = np.asarray(angles, dtype="float64"), np.asarray(genders)
    unknown = set(np.unique(genders)) - {"Female", "Male"}
    if unknown:
        raise ValueError(f"genders must be 'Female' or 'Male', found {sorted(unknown)}.")
    tone = np.where(angles >= threshold, "L", "D")
    groups = np.char.add(tone, np.where(genders == "Female", "F", "M"))
    return np.where(np.isnan(angles), "", groups).astype("<U2")
