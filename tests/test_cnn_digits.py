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
from course.checkpoint import runs_root


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


@pytest.mark.slow
@pytest.mark.xdist_group("cnn_digits_smoke_run")  # one worker trains the shared run once
def test_command_line_trains_writes_and_then_reloads(cnn_digits_smoke_run, monkeypatch, capsys):
    from cnn_digits.__main__ import main

    runs, first_output = cnn_digits_smoke_run
    assert "Loaded the finished run" not in first_output  # the first run trained every model
    monkeypatch.setenv("DL_CHECKPOINT_DIR", str(runs))
    out = runs_root() / "cnn_digits" / "smoke"
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


def _figures():
    import matplotlib

    matplotlib.use("Agg")
    from cnn_digits import plots

    return plots


def test_matrix_numbers_are_readable_and_windows_are_framed():
    import matplotlib.pyplot as plt

    plots = _figures()
    assert plots.text_colour((0.0, 0.1, 0.4, 1.0)) == "w"
    assert plots.text_colour((0.95, 0.95, 1.0)) == "k"
    matrix = np.arange(9.0).reshape(3, 3)
    fig = plots.plot_matrix_values(
        {"a": matrix, "b": matrix / 2}, outlines={"a": [(0, 0, 2, 2, "C1"), (1, 1, 2, 2, "C2")]}
    )
    panel_a, panel_b, *colour_bars = fig.axes
    assert [bar.get_label() for bar in colour_bars] == ["<colorbar>"] * 2  # one per panel
    colours = {text.get_text(): text.get_color() for text in panel_a.texts}
    assert colours["0"] == "k" and colours["8"] == "w"
    assert len(panel_a.patches) == 2 and len(panel_b.patches) == 0
    assert panel_b.get_images()[0].get_clim() == (0.0, 4.0)
    shared = plots.plot_matrix_values({"a": matrix, "b": matrix / 2}, shared_scale=True)
    assert [ax.get_label() for ax in shared.axes[2:]] == ["<colorbar>"]  # one for both panels
    assert {ax.get_images()[0].get_clim() for ax in shared.axes[:2]} == {(0.0, 8.0)}
    plt.close("all")


def test_feature_maps_share_one_colour_scale_with_a_bar():
    import matplotlib.pyplot as plt

    plots = _figures()
    maps = np.random.default_rng(0).random((26, 26, 20)) * np.arange(1, 21)
    fig = plots.plot_feature_maps(np.zeros((28, 28)), maps)
    images = [ax.get_images()[0] for ax in fig.axes if ax.get_images()]
    assert len(images) == 17  # the input and 16 maps
    assert {image.get_clim() for image in images[1:]} == {(0.0, float(maps[..., :16].max()))}
    assert any(ax.get_label() == "<colorbar>" for ax in fig.axes)
    plt.close("all")


def test_own_digits_figure_is_compact_and_marks_mistakes():
    import matplotlib.pyplot as plt

    plots = _figures()
    images = np.zeros((9, 28, 28))
    probabilities = np.full((9, 10), 0.01)
    probabilities[np.arange(9), np.arange(9)] = 0.91
    labels = [0, 1, 2, 3, 4, 5, 6, 7, 3]  # the last one is a mistake
    fig = plots.plot_own_digits(images, images, probabilities, labels)
    assert fig.get_size_inches()[1] < 4  # the old layout was 15 in tall for nine images
    titles = [ax.title for ax in fig.axes if ax.get_title()]
    assert [t.get_text() for t in titles[:2]] == ["0 (91%)", "1 (91%)"]
    assert titles[8].get_text() == "8 (91%), true 3" and titles[8].get_color() == "C3"
    taller = plots.plot_own_digits(np.zeros((12, 28, 28)), np.zeros((12, 28, 28)),
                                   np.full((12, 10), 0.1))
    assert taller.get_size_inches()[1] > fig.get_size_inches()[1]  # wraps into a second row
    plt.close("all")
