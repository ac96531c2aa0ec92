"""Chapter 3 package: data splits, the augmentation geometry, models, and the command line."""

import json
import os
from pathlib import Path

import course  # noqa: F401  (quiets TensorFlow before it is imported)

# isort: split
import keras
import numpy as np
import pytest

from cnn_digits.config import get_config
from cnn_digits.data import make_dataset, scale_images
from cnn_digits.model import RandomAffine, affine_sampling_grid, build_cnn, build_mlp


def test_scale_images_maps_0_255_onto_0_1():
    images = np.array([[[0, 255], [51, 102]]], dtype=np.uint8)
    scaled = scale_images(images)
    assert scaled.shape == (1, 2, 2, 1) and scaled.dtype == np.float32
    np.testing.assert_allclose(scaled[0, :, :, 0], [[0, 1], [0.2, 0.4]], rtol=1e-6)


def test_training_dataset_drops_the_partial_batch_and_evaluation_keeps_it():
    images = np.zeros((10, 28, 28), np.uint8)
    labels = np.arange(10)
    train_sizes = [len(y) for _, y in make_dataset(images, labels, 4, shuffle=True)]
    eval_sizes = [len(y) for _, y in make_dataset(images, labels, 4, shuffle=False)]
    assert train_sizes == [4, 4] and eval_sizes == [4, 4, 2]


@pytest.mark.real_data("mnist/mnist.npz")
def test_load_mnist_holds_out_validation_from_the_end_of_train():
    from cnn_digits.data import MNIST, load_mnist

    splits = load_mnist(num_validation=5_000)
    assert len(splits.x_train) == 55_000 and len(splits.x_val) == 5_000
    assert len(splits.x_test) == 10_000
    with np.load(Path(os.environ["DL_DATA_DIR"]) / MNIST.relpath) as arrays:
        np.testing.assert_array_equal(splits.x_val, arrays["x_train"][-5_000:])
    small = load_mnist(num_validation=100, num_train=300, num_test=50)
    assert (len(small.x_train), len(small.x_val), len(small.x_test)) == (300, 100, 50)
    with pytest.raises(ValueError, match="num_validation"):
        load_mnist(num_validation=0)


def _warp(image, **params):
    """Apply affine_sampling_grid with the given parameters to one (h, w) image."""
    names = ("angle", "shear", "zoom", "shift_x", "shift_y")
    defaults = {"angle": 0.0, "shear": 0.0, "zoom": 1.0, "shift_x": 0.0, "shift_y": 0.0}
    values = [np.array([params.get(n, defaults[n])], "float32") for n in names]
    grid = affine_sampling_grid(*values, *image.shape)
    batch = image[None, :, :, None].astype("float32")
    out = keras.ops.image.affine_transform(batch, grid, interpolation="nearest")
    return keras.ops.convert_to_numpy(out)[0, :, :, 0]


def test_affine_grid_quarter_turn_and_shift_match_numpy():
    image = np.zeros((7, 7))
    image[1, 4] = 1.0
    image[2, 2] = 0.5
    # A quarter turn about the centre is a np.rot90 (in one direction or the other).
    turned = _warp(image, angle=np.pi / 2)
    assert any(np.allclose(turned, np.rot90(image, k)) for k in (1, 3))
    # Output pixel q reads the input at q + d: content moves by -d.
    shifted = _warp(image, shift_x=2.0, shift_y=1.0)
    np.testing.assert_allclose(shifted[0, 2], 1.0)
    np.testing.assert_allclose(shifted[1, 0], 0.5)
    np.testing.assert_allclose(_warp(image), image)


def test_random_affine_is_identity_at_inference_and_varies_in_training():
    layer = RandomAffine(rotation_degrees=15, shift_pixels=3, seed=1)
    images = np.random.default_rng(0).random((4, 28, 28, 1)).astype("float32")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(images)), images)
    first = keras.ops.convert_to_numpy(layer(images, training=True))
    second = keras.ops.convert_to_numpy(layer(images, training=True))
    assert not np.allclose(first, images) and not np.allclose(first, second)
    still = RandomAffine(0.0, 0.0, 0.0, 0.0, seed=1)(images, training=True)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(still), images, atol=1e-5)


def test_models_map_a_batch_of_digits_to_class_probabilities():
    config = get_config("smoke")
    images = np.zeros((3, 28, 28, 1), "float32")
    for model in (build_mlp(), build_cnn(config), build_cnn(config, augment=True)):
        probabilities = keras.ops.convert_to_numpy(model(images))
        assert probabilities.shape == (3, 10)
        np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    with pytest.raises(ValueError, match="augmentation"):
        build_cnn(None, augment=True)


@pytest.mark.xdist_group("cnn_digits_smoke_run")  # one worker trains the shared run once
def test_command_line_trains_writes_and_then_reloads(cnn_digits_smoke_run, monkeypatch, capsys):
    from cnn_digits.__main__ import main

    runs, first_output = cnn_digits_smoke_run
    assert "Loaded the finished run" not in first_output  # the first run trained every model
    monkeypatch.setenv("DL_CHECKPOINT_DIR", str(runs))
    out = runs / "cnn_digits" / "smoke"
    metrics = json.loads((out / "metrics.json").read_text())["test_accuracy"]
    assert set(metrics) == {"mlp", "cnn", "cnn_augmented"}
    for name in ("histories", "confusion", "misclassified", "own_digits"):
        assert (out / f"{name}.png").stat().st_size > 1000
    model = keras.models.load_model(out / "cnn_augmented" / "model.keras")
    assert model.output_shape == (None, 10)
    capsys.readouterr()
    main(["--profile", "smoke"])  # second run: everything is loaded, nothing retrained
    printed = capsys.readouterr().out
    assert printed.count("Loaded the finished run") == 3
    assert json.loads((out / "metrics.json").read_text())["test_accuracy"] == metrics
