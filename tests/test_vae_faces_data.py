"""Chapter 4 data: the real files, bad inputs, the build step on fake archives, the CLI."""

import csv
import io
import json
import os
import zipfile
from pathlib import Path

import course  # noqa: F401  (quiets TensorFlow before it is imported)

# isort: split
import keras
import numpy as np
import pytest
from PIL import Image

from course.fetch import DataFileError
from vae_faces import build
from vae_faces.config import RACES, get_config
from vae_faces.data import (
    FAIRFACE,
    NONFACE_LABELS,
    TINYIMAGENET,
    check_images,
    check_jpeg_npz,
    decode_jpegs,
    evaluation_indices,
    load_splits,
    locate,
    resize_images,
    skewed_indices,
)

SHARED = Path(os.environ.get("DL_DATA_DIR", "/nonexistent"))
needs_faces = pytest.mark.skipif(
    not (SHARED / FAIRFACE.relpath).exists(), reason="DL_DATA_DIR has no faces/"
)


@needs_faces
def test_real_files_give_a_balanced_held_out_set_and_a_skewed_training_set():
    with np.load(SHARED / FAIRFACE.relpath) as arrays:
        race, split = arrays["faces_race"], arrays["faces_split"]
    held_out = evaluation_indices(race, split, None)
    assert all(np.sum(race[held_out] == r) == 300 for r in RACES)
    assert set(split[held_out]) == {"val"}
    counts = get_config("cpu").train_counts
    trained = skewed_indices(race, split, counts, np.random.default_rng(0))
    assert not set(held_out) & set(trained)
    assert {r: int(np.sum(race[trained] == r)) for r in RACES} == counts

    config = get_config("smoke")
    splits = load_splits(config)
    size = config.image_size
    assert splits.x_train.shape[1:] == (size, size, 3) and splits.x_train.dtype == np.uint8
    assert int(splits.y_train.sum()) == sum(config.train_counts.values())
    assert np.sum(splits.y_train == 0) == config.num_train_nonfaces
    assert np.sum(splits.y_eval == 1) == np.sum(splits.y_eval == 0) == 7 * 20
    assert set(splits.race_eval[splits.y_eval == 1]) == set(RACES)
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
    other = load_splits(get_config("smoke", train_counts={r: 5 for r in RACES}))
    np.testing.assert_array_equal(other.x_eval, splits.x_eval)
    np.testing.assert_array_equal(other.x_train[other.y_train == 0],
                                  splits.x_train[splits.y_train == 0])
    np.testing.assert_array_equal(other.x_calibration, splits.x_calibration)
    # One non-face more than the file holds beside the evaluation and calibration hold-outs.
    with np.load(SHARED / TINYIMAGENET.relpath) as arrays:
        num_nonfaces = len(arrays["offsets"]) - 1
    spare = num_nonfaces - len(splits.x_eval) // 2 - config.num_calibration_nonfaces
    with pytest.raises(ValueError, match="num_calibration_nonfaces"):
        load_splits(get_config("smoke", num_train_nonfaces=spare + 1))


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
    monkeypatch.setenv("DL_DATA_DIR", str(tmp_path / "shared"))
    with pytest.raises(DataFileError, match="vae_faces.build"):
        locate(FAIRFACE, cache_dir=tmp_path / "cache")
    bad = tmp_path / "shared" / FAIRFACE.relpath
    bad.parent.mkdir(parents=True)
    np.savez(bad, jpeg=np.zeros(10, np.uint8), offsets=np.array([0, 4, 12]))
    with pytest.raises(DataFileError, match="offsets"):
        locate(FAIRFACE, cache_dir=tmp_path / "cache")
    np.savez(bad, jpeg=np.zeros(10, np.uint8), offsets=np.array([0, 4, 10]),
             faces_race=np.array(["White"]))
    with pytest.raises(DataFileError, match="faces_gender|faces_race"):
        locate(FAIRFACE, cache_dir=tmp_path / "cache")


def _jpeg(rng, size=(80, 80)) -> bytes:
    out = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (*size, 3), dtype=np.uint8)).save(out, "JPEG")
    return out.getvalue()


def _fake_fairface(folder: Path, rng, train_per_cell=3, val_per_cell=2):
    paths = {"zip": folder / "fairface.zip", "train": folder / "train.csv",
             "val": folder / "val.csv"}
    with zipfile.ZipFile(paths["zip"], "w") as archive:
        for split, per_cell in (("train", train_per_cell), ("val", val_per_cell)):
            rows, number = [], 1
            for race in RACES:
                for gender in ("Male", "Female"):
                    for _ in range(per_cell):
                        name = f"{split}/{number}.jpg"
                        archive.writestr(name, _jpeg(rng))
                        rows.append({"file": name, "age": "20-29", "gender": gender,
                                     "race": race, "service_test": "True"})
                        number += 1
            with open(paths[split], "w", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
                writer.writeheader()
                writer.writerows(rows)
    return paths


def _fake_tinyimagenet(path: Path, rng):
    classes = {"n001": "goldfish, Carassius auratus", "n002": "apron", "n003": "teapot"}
    root = "tiny-imagenet-200/"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(root + "wnids.txt", "\n".join(classes))
        archive.writestr(root + "words.txt",
                         "\n".join(f"{w}\t{name}" for w, name in classes.items()))
        lines = []
        for index, wnid in enumerate([*classes] * 2):
            archive.writestr(f"{root}val/images/val_{index}.JPEG", _jpeg(rng, (64, 64)))
            lines.append(f"val_{index}.JPEG\t{wnid}\t0\t0\t10\t10")
        archive.writestr(root + "val/val_annotations.txt", "\n".join(lines))
        for wnid in classes:
            for number in range(5):
                archive.writestr(f"{root}train/{wnid}/images/{wnid}_{number}.JPEG",
                                 _jpeg(rng, (64, 64)))
    return path


def test_build_step_on_fake_archives(tmp_path):
    rng = np.random.default_rng(0)
    fairface = _fake_fairface(tmp_path, rng)
    tiny = _fake_tinyimagenet(tmp_path / "tiny.zip", rng)
    out = tmp_path / "faces"
    build.main(["--fairface-zip", str(fairface["zip"]),
                "--fairface-train-csv", str(fairface["train"]),
                "--fairface-val-csv", str(fairface["val"]),
                "--tinyimagenet-zip", str(tiny), "--out", str(out),
                "--train-per-cell", "2", "--val-per-cell", "1", "--nonfaces", "9"])
    faces_path = out / "fairface_faces_64_jpeg.npz"
    FAIRFACE.check(faces_path)
    with np.load(faces_path) as arrays:
        images = decode_jpegs(arrays["jpeg"], arrays["offsets"])
        race, split = arrays["faces_race"], arrays["faces_split"]
        group = arrays["faces_group"]
    assert images.shape == (7 * 2 * 3, 64, 64, 3)
    assert np.sum(split == "train") == 28 and np.sum(split == "val") == 14
    assert all(np.sum((race == r) & (split == "val")) == 2 for r in RACES)
    assert set(group) == {f"{r}/{g}" for r in RACES for g in ("Male", "Female")}

    nonfaces_path = out / "tinyimagenet_nonfaces_64_jpeg.npz"
    check_jpeg_npz(nonfaces_path, NONFACE_LABELS)
    with np.load(nonfaces_path) as arrays:
        names, split = arrays["nonfaces_class"], arrays["nonfaces_split"]
        assert decode_jpegs(arrays["jpeg"], arrays["offsets"]).shape == (9, 64, 64, 3)
    assert "apron" not in set(names)  # person-centric class dropped
    assert set(names) == {"goldfish", "teapot"}
    assert np.sum(split == "val") == 4  # both val images of each kept class come first
    assert list(split[:4]) == ["val"] * 4

    with pytest.raises(DataFileError, match="fewer"):
        build.build_fairface(fairface["zip"], fairface["train"], fairface["val"],
                             tmp_path / "x.npz", train_per_cell=99)


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
    resample = Resample(sampler, races, config)
    history = model.fit(sampler.dataset(), epochs=2, callbacks=[resample], shuffle=False,
                        verbose=0)
    assert sampler.drawn_epochs == [0, 1]  # each epoch drew with that epoch's probabilities
    assert not np.allclose(sampler.probabilities, 1 / 40)
    np.testing.assert_allclose(sum(history.history[f"share_{r}"][-1] for r in RACES), 1.0)
    assert len(history.history["vae_loss"]) == 2

    # The ablation: uniform probabilities throughout, but still a fresh draw every epoch.
    uniform = FaceSampler(faces, nonfaces, batch_size=16, seed=0)
    model.fit(uniform.dataset(), epochs=2, verbose=0,
              callbacks=[Resample(uniform, races, get_config("smoke", resampling="uniform"))])
    np.testing.assert_allclose(uniform.probabilities, 1 / 40)
    assert uniform.drawn_epochs == [0, 1]
    assert uniform.epoch == 1
    with pytest.raises(ValueError, match="resampling must be one of"):
        Resample(uniform, races, get_config("smoke", resampling="inverse"))


@needs_faces
def test_command_line_trains_writes_and_then_reloads(tmp_path, monkeypatch, capsys):
    from vae_faces.__main__ import main

    monkeypatch.setenv("DL_CHECKPOINT_DIR", str(tmp_path))
    report = main(["--profile", "smoke"])
    out = tmp_path / "vae_faces" / "smoke"
    saved = json.loads((out / "metrics.json").read_text())
    assert set(saved["metrics"]) == {"cnn", "dbvae"}
    assert set(saved["metrics"]["cnn"]["recall_by_group"]) == set(RACES)
    for name in ("composition", "recall_by_group", "histories", "resampling_extremes",
                 "group_shares", "reconstructions", "interpolation", "mit_test_faces"):
        assert (out / f"{name}.png").stat().st_size > 1000
    dbvae = keras.models.load_model(out / "dbvae" / "model.keras")
    images = np.zeros((2, 32, 32, 3), "float32")
    assert dbvae(images)["face_logit"].shape == (2,)
    assert keras.models.load_model(out / "cnn" / "model.keras").output_shape == (None, 1)
    capsys.readouterr()
    again = main(["--profile", "smoke"])  # second run: loaded, not retrained
    assert capsys.readouterr().out.count("Loaded the finished run") == 2
    assert again["metrics"] == report["metrics"]
