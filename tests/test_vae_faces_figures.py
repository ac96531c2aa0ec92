"""Chapter 4's shared figure helpers: what the notebook, the CLI and the README draw from."""

import course  # noqa: F401  (quiets TensorFlow before it is imported)

# isort: split
import json

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from benchmarks import report  # noqa: E402
from vae_faces import plots  # noqa: E402
from vae_faces.config import RACES, get_config  # noqa: E402
from vae_faces.latent import tone_walk, traverse  # noqa: E402
from vae_faces.model import build_dbvae  # noqa: E402
from vae_faces.skin_tone import TONE_GROUPS  # noqa: E402


def fake_benchmark(seeds=(0, 1)) -> dict:
    """A faces-benchmark JSON whose recalls say where they were read from."""
    def recall(value, groups):
        return {"recall_by_group": {g: [value + i / 100 for i, _ in enumerate(seeds)]
                                    for g in groups}}

    tone = {"false_positive_rate": 0.01}
    result = {"seeds": list(seeds), "skin_tone": tone}
    for index, arm in enumerate(plots.ARM_LABELS):
        tone[arm] = {"threshold_0.5": recall(0.5 + index / 10, TONE_GROUPS),
                     "matched_fpr": recall(0.45 + index / 10, TONE_GROUPS)}
        result[arm] = {**recall(0.3 + index / 10, RACES),
                       "matched_fpr": recall(0.25 + index / 10, RACES)}
    return result


def test_benchmark_readings_take_each_view_and_reading_from_its_own_block():
    result = fake_benchmark()
    arms = {"cnn": "CNN", "dbvae_uniform": "uniform"}
    tone = plots.benchmark_readings(result, "tone", arms)
    assert list(tone) == ["threshold 0.5", "matched 1% false-positive rate"]
    assert list(tone["threshold 0.5"]) == ["CNN", "uniform"]
    assert tone["threshold 0.5"]["uniform"]["recall"]["DF"] == [0.7, 0.71]
    assert tone["matched 1% false-positive rate"]["CNN"]["recall"]["LM"] == [0.45, 0.46]
    race = plots.benchmark_readings(result, "race", arms)
    assert race["threshold 0.5"]["CNN"]["recall"]["Black"] == [0.3, 0.31]
    matched = race["matched 1% false-positive rate"]
    assert matched["uniform"]["recall"]["White"] == [0.45, 0.46]
    assert matched["uniform"]["intervals"] is None


def test_the_readme_figure_is_drawn_from_the_benchmark_json(tmp_path, monkeypatch):
    (tmp_path / "vae_faces.json").write_text(json.dumps(fake_benchmark(seeds=(0, 1, 2))))
    monkeypatch.setattr(report, "RESULTS", tmp_path)
    monkeypatch.setattr(report, "ROOT", tmp_path)
    monkeypatch.setattr(report, "FACES_FIGURE", tmp_path / "faces.png")
    drawn = []
    monkeypatch.setattr(plots, "plot_recall_by_group",
                        lambda readings, **kwargs: drawn.append((readings, kwargs)) or plt.figure())
    report.draw_faces_figure()
    assert (tmp_path / "faces.png").stat().st_size > 0
    (readings, kwargs), = drawn
    labels = [plots.ARM_LABELS[arm] for arm in report.FACES_FIGURE_ARMS]
    assert list(readings["matched 1% false-positive rate"]) == labels
    assert set(readings["threshold 0.5"]["CNN"]["recall"]) == set(TONE_GROUPS)  # the tone view
    assert "3 seeds" in kwargs["title"]
    plt.close("all")


def test_no_benchmark_json_draws_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(report, "RESULTS", tmp_path)
    monkeypatch.setattr(report, "FACES_FIGURE", tmp_path / "faces.png")
    report.draw_faces_figure()
    assert not (tmp_path / "faces.png").exists()


def test_tone_extremes_show_each_labels_lowest_then_highest_angle():
    races = np.array(RACES * 3)
    angles = np.arange(len(races), dtype="float64")
    angles[0] = np.nan  # no angle: never chosen
    images = np.broadcast_to(np.arange(len(races))[:, None, None, None] / len(races),
                             (len(races), 2, 2, 3))
    fig = plots.plot_tone_extremes(images, races, angles)
    shown = [round(ax.images[0].get_array()[0, 0, 0] * len(races)) for ax in fig.axes
             if ax.images]
    n = len(RACES)
    assert shown == [n] + list(range(1, n)) + list(range(2 * n, 3 * n))
    assert fig.axes[0].get_title() == f"{RACES[0].replace('_', '/')}\n{n:.0f}°"
    plt.close(fig)


def test_image_grids_leave_room_for_every_line_of_title():
    images = np.zeros((4, 2, 2, 3))
    heights = [plots.show_images(images, titles, ncols=2).get_figheight()
               for titles in (None, ["a"] * 4, ["a\nb"] * 4)]
    assert heights[0] < heights[1] < heights[2]
    plt.close("all")


def test_tone_walk_walks_the_tone_dimension_around_its_mean_from_each_groups_first_face():
    config = get_config("smoke")
    model = build_dbvae(config)
    rng = np.random.default_rng(0)
    means = rng.normal(size=(40, config.latent_dim)).astype("float32")
    angles = 10 * means[:, 1] + rng.normal(scale=0.1, size=40)  # dimension 1 follows the angle
    tone = np.array(["LF", "LM", "DF", "DM"] * 10)
    walk = tone_walk(model, means, angles, tone, groups=("DM", "LF"), num_steps=5)
    assert walk["dimension"] == 1 and walk["correlation"] > 0.9
    column = means[:, 1]
    np.testing.assert_allclose(walk["values"], column.mean() + np.linspace(-2.5, 2.5, 5)
                               * column.std(), rtol=1e-5)
    assert list(walk["walks"]) == ["DM", "LF"]
    decoded, decoded_angles = walk["walks"]["DM"]
    np.testing.assert_allclose(decoded, traverse(model, means[3], 1, walk["values"]), atol=1e-6)
    assert decoded_angles.shape == (5,)
    fig = plots.plot_tone_walk(walk)
    assert len([ax for ax in fig.axes if ax.images]) == 10
    assert "DM, LF" in fig.get_suptitle()
    plt.close(fig)
