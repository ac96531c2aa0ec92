"""Skin tone from pixels: CIELAB, the skin mask, the typology angle and the four groups."""

import numpy as np
import pytest

from vae_faces.skin_tone import (
    individual_typology_angle,
    skin_mask,
    srgb_to_lab,
    tone_groups,
)


def test_srgb_to_lab_matches_published_values():
    # CIELAB (D65) of sRGB white, black, pure red and a mid grey (e.g. Lindbloom's converter).
    colours = np.array([[255, 255, 255], [0, 0, 0], [255, 0, 0], [128, 128, 128]], np.uint8)
    expected = np.array([[100, 0, 0], [0, 0, 0], [53.24, 80.09, 67.20], [53.59, 0, 0]])
    np.testing.assert_allclose(srgb_to_lab(colours), expected, atol=0.02)


def face_of(colour, size=64, background=(20, 120, 30)):
    """A green image with a skin-coloured disc in the middle."""
    image = np.empty((size, size, 3), np.uint8)
    image[:] = background
    rows, columns = np.mgrid[:size, :size]
    disc = (rows - size / 2) ** 2 + (columns - size / 2) ** 2 < (0.3 * size) ** 2
    image[disc] = colour
    return image


def test_the_angle_is_measured_on_the_skin_of_the_face_centre():
    skin = (200, 150, 120)
    lightness, _, b = srgb_to_lab(np.array(skin, np.uint8))
    expected = np.degrees(np.arctan((lightness - 50) / b))
    for size in (64, 32):
        angle = individual_typology_angle(face_of(skin, size=size)[None])
        np.testing.assert_allclose(angle, [expected], atol=1e-6)
    assert skin_mask(np.array(skin)) and not skin_mask(np.array((20, 120, 30)))


def test_lighter_skin_has_a_larger_angle_and_grey_photos_none():
    tones = [(240, 200, 180), (200, 150, 120), (140, 95, 70), (80, 50, 35)]
    angles = individual_typology_angle(np.stack([face_of(t) for t in tones]))
    assert np.all(np.diff(angles) < 0)
    grey = face_of((150, 150, 150), background=(150, 150, 150))
    assert np.isnan(individual_typology_angle(grey[None]))[0]
    with pytest.raises(ValueError, match="uint8 RGB"):
        individual_typology_angle(grey.astype("float32")[None])


def test_tone_groups_split_at_the_threshold_by_gender():
    groups = tone_groups([10.0, -30.0, -30.1, np.nan], ["Female", "Male", "Female", "Male"],
                         threshold=-30.0)
    assert list(groups) == ["LF", "LM", "DF", ""]
    with pytest.raises(ValueError, match="Female"):
        tone_groups([0.0], ["female"], threshold=0.0)
