"""Chapter 4 data: the real files, bad inputs, the build step's refusals, the CLI.

The build's first run on fake archives is in test_first_run.py.
"""

import json
import os
import socket
from dataclasses import replace
from pathlib import Path

import course  # noqa: F401  (quiets TensorFlow before it is imported)

# isort: split
import keras
import numpy as np
import pytest
from test_first_run import fake_fairface, fake_tinyimagenet

from course.checkpoint import runs_root
from course.fetch import DataFileError
from vae_faces import build
from vae_faces.config import RACES, get_config
from vae_faces.data import (
    FAIRFACE,
    TINYIMAGENET,
    check_images,
    evaluation_indices,
    face_tones,
    load_splits,
    locate,
    resize_images,
    skewed_indices,
)
from vae_faces.skin_tone import TONE_GROUPS

SHARED = Path(os.environ.get("DL_DATA_DIR", "/nonexistent"))
needs_faces = pytest.mark.real_data(FAIRFACE.relpath, TINYIMAGENET.relpath)


def small_config(**overrides):
    """The smoke profile's sizes under the cpu profile's name, so the real files are read
    (a config whose profile is smoke reads the committed samples)."""
    return replace(get_config("smoke", **overrides), profile="cpu")


@needs_faces
def test_real_files_give_a_balanced_held_out_set_and_a_skewed_training_set():
    with np.load(SHARED / FAIRFACE.relpath) as arrays:
        race, split = arrays["faces_race"], arrays["faces_split"]
    held_out = evaluation_indices(race, split, None)
    assert all(np.sum(race[held_out] == r) == 300 for r in RACES)
    assert set(split[held_out]) == {"val"}
    config = get_config("cpu")
    tone = face_tones(config)["tone"]
    counts = config.train_counts
    trained = skewed_indices(tone, split, counts, np.random.default_rng(0))
    assert not set(held_out) & set(trained)
    assert {g: int(np.sum(tone[trained] == g)) for g in TONE_GROUPS} == counts
    # Every skin-tone group keeps at least 150 training faces; darker faces are the rare ones.
    assert min(counts.values()) >= 150
    assert counts["DF"] + counts["DM"] < (counts["LF"] + counts["LM"]) / 5

    config = small_config()
    splits = load_splits(config)
    size = config.image_size
    assert splits.x_train.shape[1:] == (size, size, 3) and splits.x_train.dtype == np.uint8
    assert int(splits.y_train.sum()) == sum(config.train_counts.values())
    assert np.sum(splits.y_train == 0) == config.num_train_nonfaces
    assert np.sum(splits.y_eval == 1) == np.sum(splits.y_eval == 0) == 7 * 20
    assert set(splits.race_eval[splits.y_eval == 1]) == set(RACES)
    # Tone and ITA travel with their images: recomputed from the stored 64x64 faces they agree.
    faces = splits.y_eval == 1
    assert set(splits.tone_eval[faces]) <= {*TONE_GROUPS, ""} and not any(splits.tone_eval[~faces])
    assert np.isnan(splits.ita_eval[~faces]).all()
    lighter = np.char.startswith(splits.tone_eval[faces], "L")
    assert (splits.ita_eval[faces][lighter] >= config.ita_threshold).all()
    # No training image is also an evaluation image.
    train_rows = {row.tobytes() for row in splits.x_train.reshape(len(splits.x_train), -1)}
    assert not any(row.tobytes() in train_rows
                   for row in splits.x_eval.reshape(len(splits.x_eval), -1))
    assert len(splits.x_calibration) == config.num_calibration_nonfaces
    calibration_rows = {row.tobytes() for row in splits.x_calibration.reshape(
        len(splits.x_calibration), -1)}
    assert not calibration_rows & train_rows
    assert not any(row.tobytes() in calibration_rows
                   for row in splits.x_eval.reshape(len(splits.x_eval), -1))
    # Another mix of training faces leaves the evaluation set (faces and non-faces) unchanged.
    other = load_splits(small_config(train_counts={g: 5 for g in TONE_GROUPS}))
    np.testing.assert_array_equal(other.x_eval, splits.x_eval)
    np.testing.assert_array_equal(other.x_train[other.y_train == 0],
                                  splits.x_train[splits.y_train == 0])
    np.testing.assert_array_equal(other.x_calibration, splits.x_calibration)
    # One non-face more than the file holds beside the evaluation and calibration hold-outs.
    with np.load(SHARED / TINYIMAGENET.relpath) as arrays:
        num_nonfaces = len(arrays["offsets"]) - 1
    spare = num_nonfaces - len(splits.x_eval) // 2 - config.num_calibration_nonfaces
    with pytest.raises(ValueError, match="num_calibration_nonfaces"):
        load_splits(small_config(num_train_nonfaces=spare + 1))


def test_bad_images_and_groups_get_clear_errors():
    with pytest.raises(ValueError, match="RGB"):
        check_images(np.zeros((4, 32, 32), np.uint8))
    with pytest.raises(ValueError, match="RGB"):
        check_images(np.zeros((32, 32, 3), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        check_images(np.zeros((2, 32, 32, 3), np.int32))
    with pytest.raises(ValueError, match="resize"):
        check_images(np.zeros((2, 64, 64, 3), np.uint8), size=32)
    with pytest.raises(ValueError, match="integer factor"):
        resize_images(np.zeros((1, 64, 64, 3), np.uint8), 48)
    race = np.array(["White", "White", "Black"])
    split = np.array(["train", "train", "val"])
    with pytest.raises(ValueError, match="empty"):
        skewed_indices(race, split, {"White": 1, "Black": 1}, np.random.default_rng(0))
    with pytest.raises(ValueError, match="empty"):
        skewed_indices(race, split, {"White": 0}, np.random.default_rng(0))
    with pytest.raises(ValueError, match="Unknown"):
        skewed_indices(race, split, {"Martian": 1}, np.random.default_rng(0))


def test_resize_averages_blocks():
    image = np.arange(4 * 4 * 3, dtype=np.float32).reshape(1, 4, 4, 3) / 100
    small = resize_images(image, 2)
    np.testing.assert_allclose(small[0, 0, 0], image[0, :2, :2].mean(axis=(0, 1)))


def test_missing_and_corrupt_files_are_reported(tmp_path, monkeypatch):
    monkeypatch.setenv("DL_PROFILE", "cpu")
    shared = tmp_path / "shared"
    shared.mkdir()
    monkeypatch.setenv("DL_DATA_DIR", str(shared))
    # Missing everywhere and the source unreachable: one error naming the file, the URL that
    # failed, and where a copy can go; nothing half-built is left behind.
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}/train.parquet"
    monkeypatch.setattr(build, "FAIRFACE_PARQUETS", {
        split: tuple(replace(f, url=dead) for f in files)
        for split, files in build.FAIRFACE_PARQUETS.items()})
    with pytest.raises(DataFileError) as error:
        locate(FAIRFACE, cache_dir=tmp_path / "cache")
    assert "fairface_faces_64_jpeg.npz could not be built" in str(error.value)
    assert dead in str(error.value) and "DL_DATA_DIR" in str(error.value)
    assert not [path for path in (tmp_path / "cache").rglob("*") if path.is_file()]
    assert not any(shared.iterdir())

    bad = shared / FAIRFACE.relpath
    bad.parent.mkdir(parents=True)
    np.savez(bad, jpeg=np.zeros(10, np.uint8), offsets=np.array([0, 4, 12]))
    with pytest.raises(DataFileError, match="offsets"):
        locate(FAIRFACE, cache_dir=tmp_path / "cache")
    np.savez(bad, jpeg=np.zeros(10, np.uint8), offsets=np.array([0, 4, 10]),
             faces_race=np.array(["White"]))
    with pytest.raises(DataFileError, match="faces_gender|faces_race"):
        locate(FAIRFACE, cache_dir=tmp_path / "cache")


def test_the_smoke_profile_reads_the_sample_and_never_builds(tmp_path, monkeypatch):
    import course.fetch

    sample = tmp_path / "samples" / TINYIMAGENET.relpath
    sample.parent.mkdir(parents=True)
    build.build_nonfaces(sample, fake_tinyimagenet(tmp_path / "tiny.zip"), total=6,
                         progress=False)
    monkeypatch.setattr(course.fetch, "SAMPLES_DIR", tmp_path / "samples")
    monkeypatch.setenv("DL_PROFILE", "smoke")
    monkeypatch.delenv("DL_DATA_DIR", raising=False)
    monkeypatch.setattr(build, "build_file", lambda *a, **k: pytest.fail("built under smoke"))
    assert locate(TINYIMAGENET, cache_dir=tmp_path / "cache") == sample


def test_build_refuses_a_release_that_is_not_fairface(tmp_path, monkeypatch):
    out = tmp_path / "faces.npz"
    parquets = fake_fairface(tmp_path / "release", {"train": 2, "val": 1})
    monkeypatch.setattr(build, "FAIRFACE_ROWS", {"train": 14 * 3, "val": 14 * 2})
    with pytest.raises(DataFileError, match="fewer than the 3 to draw"):
        build.build_faces(out, parquets, train_per_cell=3, val_per_cell=1, progress=False)

    monkeypatch.setattr(build, "FAIRFACE_ROWS", {"train": 86_744, "val": 14 * 2})
    with pytest.raises(DataFileError, match="train has 42 rows .* not the 86744"):
        build.build_faces(out, parquets, progress=False)

    monkeypatch.setattr(build, "FAIRFACE_ROWS", {"train": 14 * 3, "val": 14 * 2})
    shuffled = {**build.LABEL_NAMES, "race": tuple(sorted(build.RACE_NAMES))}
    with pytest.raises(DataFileError, match="race labels are"):
        build.build_faces(out, fake_fairface(tmp_path / "relabelled", {"train": 2, "val": 1},
                                             shuffled), progress=False)

    import pyarrow.parquet as pq

    pq.write_table(pq.read_table(parquets["val"][0]).drop_columns(["race"]), parquets["val"][0])
    with pytest.raises(DataFileError, match="not FairFace's parquet release"):
        build.build_faces(out, parquets, progress=False)
    assert not out.exists()


def test_build_refuses_more_nonfaces_than_the_zip_holds(tmp_path):
    tiny = fake_tinyimagenet(tmp_path / "tiny.zip")
    with pytest.raises(DataFileError, match="fewer than the 31 asked for"):
        build.build_nonfaces(tmp_path / "nonfaces.npz", tiny, total=31, progress=False)
    with pytest.raises(DataFileError, match="not a readable zip"):
        build.check_tinyimagenet_zip(tmp_path / "tiny.zip.missing")


def test_resampling_uses_the_current_model_before_each_epoch():
    from vae_faces.model import build_dbvae
    from vae_faces.train import FaceSampler, Resample, compile_model

    config = get_config("smoke")
    rng = np.random.default_rng(0)
    faces = rng.integers(0, 255, (40, 32, 32, 3), dtype=np.uint8)
    nonfaces = rng.integers(0, 255, (24, 32, 32, 3), dtype=np.uint8)
    model = compile_model(build_dbvae(config), config)
    sampler = FaceSampler(faces, nonfaces, batch_size=16, seed=0)
    races = np.array(RACES * 6)[:40]
    tones = np.array(TONE_GROUPS * 10)[:40]
    resample = Resample(sampler, tones, races, config)
    history = model.fit(sampler.dataset(), epochs=2, callbacks=[resample], shuffle=False,
                        verbose=0)
    assert sampler.drawn_epochs == [0, 1]  # each epoch drew with that epoch's probabilities
    assert not np.allclose(sampler.probabilities, 1 / 40)
    for groups in (RACES, TONE_GROUPS):  # both views log shares that add up to all draws
        np.testing.assert_allclose(sum(history.history[f"share_{g}"][-1] for g in groups), 1.0)
    assert len(history.history["vae_loss"]) == 2

    # The ablation: uniform probabilities throughout, but still a fresh draw every epoch.
    uniform = FaceSampler(faces, nonfaces, batch_size=16, seed=0)
    model.fit(uniform.dataset(), epochs=2, verbose=0, callbacks=[
        Resample(uniform, tones, races, get_config("smoke", resampling="uniform"))])
    np.testing.assert_allclose(uniform.probabilities, 1 / 40)
    assert uniform.drawn_epochs == [0, 1]
    assert uniform.epoch == 1
    # The oracle: every skin-tone group gets an equal share of the draws.
    oracle = FaceSampler(faces, nonfaces, batch_size=16, seed=0)
    Resample(oracle, tones, races, get_config("smoke", resampling="group"))
    for group in TONE_GROUPS:
        assert oracle.probabilities[tones == group].sum() == pytest.approx(1 / 4)
    with pytest.raises(ValueError, match="resampling must be one of"):
        Resample(uniform, tones, races, get_config("smoke", resampling="inverse"))


@pytest.mark.slow
def test_command_line_trains_writes_and_then_reloads(tmp_path, monkeypatch, capsys):
    from vae_faces.__main__ import main

    monkeypatch.setenv("DL_CHECKPOINT_DIR", str(tmp_path))
    report = main(["--profile", "smoke"])
    out = runs_root() / "vae_faces" / "smoke"
    saved = json.loads((out / "metrics.json").read_text())
    assert set(saved["metrics"]) == {"cnn", "dbvae"}
    for reading in ("threshold_0.5", "matched_fpr"):
        assert set(saved["metrics"]["cnn"][f"race_{reading}"]["recall_by_group"]) == set(RACES)
        assert set(saved["metrics"]["dbvae"][f"tone_{reading}"]["recall_by_group"]) == set(
            TONE_GROUPS)
    assert 0 <= saved["tone_dimension"]["dimension"] < get_config("smoke").latent_dim
    for name in ("composition", "group_examples", "ita_by_race", "tone_extremes", "schematic",
                 "recall_by_group", "recall_by_race", "histories", "resampling_extremes",
                 "group_shares", "reconstructions", "interpolation", "prior_samples",
                 "tone_traversal", "mit_test_faces"):
        assert (out / f"{name}.png").stat().st_size > 1000
    dbvae = keras.models.load_model(out / "dbvae" / "model.keras")
    images = np.zeros((2, 32, 32, 3), "float32")
    assert dbvae(images)["face_logit"].shape == (2,)
    assert keras.models.load_model(out / "cnn" / "model.keras").output_shape == (None, 1)
    capsys.readouterr()
    again = main(["--profile", "smoke"])  # second run: loaded, not retrained
    assert capsys.readouterr().out.count("Loaded the finished run") == 2
    assert again["metrics"] == report["metrics"]


def test_a_damaged_jpeg_is_reported_with_its_file_and_index():
    from io import BytesIO

    from PIL import Image

    from vae_faces.data import decode_jpegs

    encoded = BytesIO()
    Image.new("RGB", (64, 64), "teal").save(encoded, format="JPEG")
    good = encoded.getvalue()
    images = [good, good, b"not a jpeg at all", good[: len(good) // 2]]
    buffer = np.frombuffer(b"".join(images), np.uint8)
    offsets = np.cumsum([0] + [len(image) for image in images])
    source = Path("data/faces/fairface_faces_64_jpeg.npz")
    assert decode_jpegs(buffer, offsets, [0, 1], source=source).shape == (2, 64, 64, 3)
    with pytest.raises(DataFileError, match=r"^data/faces/fairface_faces_64_jpeg\.npz: image 2 is"):
        decode_jpegs(buffer, offsets, source=source)
    with pytest.raises(DataFileError, match=r"image 3 is not a readable JPEG.*damaged"):
        decode_jpegs(buffer, offsets, [3], source=source)


def test_the_loader_names_the_damaged_file_it_read(tmp_path, monkeypatch):
    # A shared copy of the sample faces with every image's bytes scrambled: the structure
    # (offsets, labels) still passes, so the damage only shows when an image is decoded.
    from course.fetch import SAMPLES_DIR

    damaged = tmp_path / FAIRFACE.relpath
    damaged.parent.mkdir(parents=True)
    with np.load(SAMPLES_DIR / FAIRFACE.relpath) as sample:
        arrays = {key: sample[key] for key in sample.files}
    arrays["jpeg"] = arrays["jpeg"].copy()
    arrays["jpeg"][:] = 7
    np.savez(damaged, **arrays)
    (tmp_path / TINYIMAGENET.relpath).symlink_to(SAMPLES_DIR / TINYIMAGENET.relpath)
    monkeypatch.setenv("DL_DATA_DIR", str(tmp_path))
    config = small_config(num_calibration_nonfaces=10, train_counts={g: 1 for g in TONE_GROUPS})
    with pytest.raises(DataFileError, match=rf"^{damaged}: image \d+ is not a readable JPEG"):
        load_splits(config)
