"""Each chapter's first run, end to end, on small fake archives from a loopback HTTP server.

A first run downloads (through ``course.fetch``), verifies, converts where the chapter needs it,
and caches under ``data/``; the second run reads the cache and asks the server for nothing.
dqn_cartpole needs no data. The fake archives here are also used by test_vae_faces_data.py.
"""

import functools
import gzip
import hashlib
import io
import json
import tarfile
import threading
import urllib.request
import zipfile
from dataclasses import dataclass, replace
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
from PIL import Image

import course.fetch
from vae_faces.config import RACES

GENDERS = ("Male", "Female")


@dataclass
class Server:
    root: Path  # the folder it serves
    url: str
    hits: list  # request paths, in order

    def serve(self, name: str, data: bytes) -> tuple[str, str]:
        """Publish ``data`` as /<name>; return its URL and sha256."""
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return f"{self.url}/{name}", hashlib.sha256(data).hexdigest()


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    hits = []

    class Handler(SimpleHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            super().do_GET()

        def log_message(self, *args):  # keep test output quiet
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=root))
    # A short poll interval makes shutdown() return quickly (the default waits up to 0.5 s).
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield Server(root, f"http://127.0.0.1:{httpd.server_address[1]}", hits)
    httpd.shutdown()
    httpd.server_close()
    thread.join()


@pytest.fixture(autouse=True)
def fresh_project(tmp_path, monkeypatch):
    """A bare checkout: an empty data/ cache, no shared copy, a full-data profile."""
    monkeypatch.delenv("DL_DATA_DIR", raising=False)
    monkeypatch.setenv("DL_PROFILE", "cpu")  # smoke would read the committed samples instead
    monkeypatch.setattr(course.fetch, "PROJECT_ROOT", tmp_path / "project")
    return tmp_path / "project" / "data"


# ---- Fake archives ----------------------------------------------------------------------------
def jpeg_bytes(rng, color, size=40) -> bytes:
    """A JPEG of one colour with a little noise (so no two are byte-identical)."""
    pixels = np.clip(np.array(color) + rng.integers(-3, 4, (size, size, 3)), 0, 255)
    out = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8)).save(out, "JPEG", quality=95)
    return out.getvalue()


def face_color(race: str, gender: str) -> tuple[int, int, int]:
    """Each race x gender cell has its own colour, so a test can see which image got which label."""
    return 20 + 30 * RACES.index(race), 40 + 150 * GENDERS.index(gender), 128


def fake_fairface(folder: Path, per_cell: dict, class_names=None) -> dict[str, list[Path]]:
    """FairFace's parquet layout: train in two files, val in one; codes as in the release.

    Per cell: ``per_cell[split]`` distinct photos, plus one photo present in both splits (the
    release repeats some photos; the build must never draw one), told apart by its blue 250.
    Rows are shuffled, numbered 1.. per split in row order, as the release numbers its files.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from vae_faces import build

    names = class_names or build.LABEL_NAMES
    features = {column: {"names": list(values), "_type": "ClassLabel"}
                for column, values in names.items()}
    metadata = {b"huggingface": json.dumps({"info": {"features": features}}).encode()}
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    repeated = {(r, g): jpeg_bytes(rng, (*face_color(r, g)[:2], 250)) for r in RACES
                for g in GENDERS}
    paths = {}
    for split, count in per_cell.items():
        rows = [(r, g, jpeg_bytes(rng, face_color(r, g))) for r in RACES for g in GENDERS
                for _ in range(count)]
        rows += [(r, g, data) for (r, g), data in repeated.items()]
        rows = [rows[i] for i in rng.permutation(len(rows))]
        table = pa.table({
            "image": [{"bytes": data, "path": f"{n}.jpg"} for n, (_, _, data) in
                      enumerate(rows, start=1)],
            "age": pa.array([3] * len(rows), pa.int64()),
            "gender": pa.array([build.GENDER_NAMES.index(g) for _, g, _ in rows], pa.int64()),
            "race": pa.array([build.RACE_NAMES.index(r) for r, _, _ in rows], pa.int64()),
            "service_test": [False] * len(rows),
        }).replace_schema_metadata(metadata)
        parts = 2 if split == "train" else 1
        paths[split] = []
        for part, rows_of_part in enumerate(np.array_split(np.arange(len(rows)), parts)):
            path = folder / f"{split}-{part:05d}.parquet"
            pq.write_table(table.take(rows_of_part), path)
            paths[split].append(path)
    return paths


TINY_CLASSES = {  # the real wnids; apron is one of the person-centric classes
    "n01443537": "goldfish, Carassius auratus",
    "n02730930": "apron",
    "n04398044": "teapot",
    "n07747607": "orange",
}


def nonface_color(wnid: str) -> tuple[int, int, int]:
    return 30 + 50 * list(TINY_CLASSES).index(wnid), 90, 200


def fake_tinyimagenet(path: Path, val_per_class=2, train_per_class=8) -> Path:
    """tiny-imagenet-200.zip's layout: wnids, words, val images with annotations, train folders."""
    rng = np.random.default_rng(1)
    root = "tiny-imagenet-200/"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(root + "wnids.txt", "\n".join(TINY_CLASSES) + "\n")
        archive.writestr(root + "words.txt", "".join(f"{w}\t{n}\n" for w, n in
                                                     TINY_CLASSES.items()))
        lines = []
        for number, wnid in enumerate(list(TINY_CLASSES) * val_per_class):
            archive.writestr(f"{root}val/images/val_{number}.JPEG",
                             jpeg_bytes(rng, nonface_color(wnid), 64))
            lines.append(f"val_{number}.JPEG\t{wnid}\t0\t0\t63\t63")
        archive.writestr(root + "val/val_annotations.txt", "\n".join(lines) + "\n")
        for wnid in TINY_CLASSES:
            for number in range(train_per_class):
                archive.writestr(f"{root}train/{wnid}/images/{wnid}_{number}.JPEG",
                                 jpeg_bytes(rng, nonface_color(wnid), 64))
    return path


def serve_faces_sources(server: Server, monkeypatch, tmp_path) -> None:
    """Point vae_faces.build at fake FairFace and Tiny ImageNet files on ``server``."""
    from vae_faces import build

    parquets = fake_fairface(tmp_path, {"train": 2, "val": 1})
    remotes = {}
    for split, paths in parquets.items():
        remotes[split] = []
        for path, real in zip(paths, build.FAIRFACE_PARQUETS[split], strict=True):
            url, sha256 = server.serve(f"hf/{path.name}", path.read_bytes())
            remotes[split].append(replace(real, url=url, sha256=sha256))
    monkeypatch.setattr(build, "FAIRFACE_PARQUETS", remotes)
    monkeypatch.setattr(build, "FAIRFACE_ROWS", {"train": 14 * 3, "val": 14 * 2})
    url, sha256 = server.serve("tiny.zip", fake_tinyimagenet(tmp_path / "tiny.zip").read_bytes())
    monkeypatch.setattr(build, "TINYIMAGENET_ZIP", replace(build.TINYIMAGENET_ZIP, url=url,
                                                           sha256=sha256))
    monkeypatch.setattr(build, "TRAIN_PER_CELL", 2)
    monkeypatch.setattr(build, "VAL_PER_CELL", 1)
    monkeypatch.setattr(build, "NUM_NONFACES", 25)  # 3 kept classes: 8, 8 and 9 images


# ---- Chapter 3: MNIST -------------------------------------------------------------------------
def test_mnist_is_downloaded_verified_and_cached(server, monkeypatch, fresh_project):
    from cnn_digits import data

    labels = np.arange(60_000, dtype=np.uint8) % 10
    buffer = io.BytesIO()
    np.savez_compressed(buffer, x_train=np.zeros((60_000, 28, 28), np.uint8), y_train=labels,
                        x_test=np.full((10_000, 28, 28), 7, np.uint8),
                        y_test=labels[:10_000])
    url, sha256 = server.serve("mnist.npz", buffer.getvalue())
    monkeypatch.setattr(data, "MNIST", replace(data.MNIST, url=url, sha256=sha256))

    first = data.load_mnist(num_validation=5_000)
    assert (fresh_project / "mnist" / "mnist.npz").read_bytes() == buffer.getvalue()
    assert first.x_train.shape == (55_000, 28, 28) and first.x_val.shape == (5_000, 28, 28)
    np.testing.assert_array_equal(first.y_val, labels[-5_000:])
    assert server.hits == ["/mnist.npz"]
    second = data.load_mnist(num_validation=5_000)
    np.testing.assert_array_equal(second.x_test, first.x_test)
    assert server.hits == ["/mnist.npz"]  # read from the cache


# ---- Chapter 1: the aclImdb tarball, converted to one CSV ------------------------------------
def test_imdb_tarball_is_downloaded_converted_once_and_cached(server, monkeypatch,
                                                              fresh_project):
    from rnn_sentiment import data

    reviews = {"train/pos/10_9.txt": "Loved it.", "train/neg/11_2.txt": "Dull<br />film.",
               "train/pos/3_8.txt": "Fine cast.", "test/neg/5_1.txt": "Awful.",
               "test/pos/6_10.txt": "Great!", "train/unsup/7_0.txt": "No label."}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, text in reviews.items():
            member = tarfile.TarInfo(f"aclImdb/{name}")
            member.size = len(text.encode())
            archive.addfile(member, io.BytesIO(text.encode()))
    url, sha256 = server.serve("aclImdb_v1.tar.gz", buffer.getvalue())
    monkeypatch.setattr(data, "ACLIMDB_TARBALL", replace(data.ACLIMDB_TARBALL, url=url,
                                                         sha256=sha256))

    csv_path = data.imdb_csv_path()
    assert csv_path == fresh_project / "imdb" / "imdb_reviews.csv.gz"
    with gzip.open(csv_path, "rt", encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    assert lines[0] == "text,label,split,id,rating"
    # Train before test, negative before positive, by id; the unlabelled review left out.
    assert lines[1:] == ["Dull<br />film.,0,train,11,2", "Fine cast.,1,train,3,8",
                         "Loved it.,1,train,10,9", "Awful.,0,test,5,1", "Great!,1,test,6,10"]
    splits = data.load_imdb(num_validation=1)
    assert len(splits.x_train) == 2 and len(splits.x_val) == 1 and len(splits.x_test) == 2
    assert server.hits == ["/aclImdb_v1.tar.gz"]

    converted = csv_path.stat().st_mtime_ns
    assert data.imdb_csv_path() == csv_path
    assert csv_path.stat().st_mtime_ns == converted  # not converted again
    assert server.hits == ["/aclImdb_v1.tar.gz"]


# ---- Chapter 2: irish.abc ---------------------------------------------------------------------
def test_irish_tunes_are_downloaded_and_cached(server, monkeypatch, fresh_project):
    from rnn_music import data

    corpus = b"X:1\nT:First\nK:D\nABc|\n\nX:2\nT:Second\nK:G\ndef|\n\n"
    url, sha256 = server.serve("irish.abc", corpus)
    monkeypatch.setattr(data, "IRISH_ABC", replace(data.IRISH_ABC, url=url, sha256=sha256))

    assert data.load_tunes() == ["X:1\nT:First\nK:D\nABc|", "X:2\nT:Second\nK:G\ndef|"]
    assert (fresh_project / "irish_abc" / "irish.abc").read_bytes() == corpus
    assert data.load_tunes(num_tunes=1) == ["X:1\nT:First\nK:D\nABc|"]
    assert server.hits == ["/irish.abc"]


# ---- Chapter 4: the two built files and the MIT test faces ------------------------------------
def test_faces_are_built_once_from_the_public_sources(server, monkeypatch, tmp_path,
                                                      fresh_project, capsys):
    from vae_faces import build, data
    from vae_faces.config import get_config

    serve_faces_sources(server, monkeypatch, tmp_path)
    shared = tmp_path / "shared"  # a read-only shared copy without faces/: never written to
    shared.mkdir()
    monkeypatch.setenv("DL_DATA_DIR", str(shared))

    faces_path = data.locate(data.FAIRFACE)
    assert faces_path == fresh_project / "faces" / "fairface_faces_64_jpeg.npz"
    assert "built once" in capsys.readouterr().out
    assert sorted(server.hits) == sorted(urlsplit(f.url).path for files in
                                         build.FAIRFACE_PARQUETS.values() for f in files)
    with np.load(faces_path) as arrays:
        race, gender, split = arrays["faces_race"], arrays["faces_gender"], arrays["faces_split"]
        files, group = arrays["faces_file"], arrays["faces_group"]
        images = data.decode_jpegs(arrays["jpeg"], arrays["offsets"])
        assert set(arrays["faces_age"]) == {"20-29"}  # code 3 of the release
    for part, per_cell in (("train", 2), ("val", 1)):
        for r in RACES:
            for g in GENDERS:
                assert np.sum((split == part) & (race == r) & (gender == g)) == per_cell
    # File order: split, race, gender, then file number.
    keys = [(s == "val", RACES.index(r), GENDERS.index(g), int(f.split("/")[1][:-4]))
            for s, r, g, f in zip(split, race, gender, files, strict=True)]
    assert keys == sorted(keys)
    assert list(group) == [f"{r}/{g}" for r, g in zip(race, gender, strict=True)]
    # Every image carries its own labels (each cell has its own colour), and none is the photo
    # present in both splits (its blue differs).
    for image, r, g in zip(images, race, gender, strict=True):
        np.testing.assert_allclose(image.reshape(-1, 3).mean(axis=0), face_color(r, g), atol=6)

    nonfaces_path = data.locate(data.TINYIMAGENET)
    assert server.hits[-1] == "/tiny.zip"
    with np.load(nonfaces_path) as arrays:
        names, wnids = arrays["nonfaces_class"], arrays["nonfaces_wnid"]
        nonfaces_split, nonfaces_file = arrays["nonfaces_split"], arrays["nonfaces_file"]
        nonfaces = data.decode_jpegs(arrays["jpeg"], arrays["offsets"])
    assert "apron" not in set(names)  # a person-centric class
    assert sorted(np.unique(wnids, return_counts=True)[1]) == [8, 8, 9]
    assert list(nonfaces_split[:6]) == ["val"] * 6  # every val image of the kept classes first
    number = [int(name.split("_")[-1][: -len(".JPEG")]) for name in nonfaces_file]
    assert number[:6] == sorted(number[:6])  # val by number, then train by class and number
    assert list(zip(wnids[6:], number[6:], strict=True)) == sorted(zip(wnids[6:], number[6:],
                                                                       strict=True))
    for image, wnid in zip(nonfaces, wnids, strict=True):
        np.testing.assert_allclose(image.reshape(-1, 3).mean(axis=0), nonface_color(wnid), atol=6)
    assert not any(shared.iterdir())

    config = get_config("cpu", num_train_nonfaces=5, num_calibration_nonfaces=4)
    tones = data.face_tones(config)["tone"][split == "train"]
    counts = {group: int(np.sum(tones == group)) for group in set(tones) - {""}}
    config = replace(config, train_counts=counts)
    splits = data.load_splits(config)
    assert splits.x_eval.shape == (28, 32, 32, 3)  # 2 val faces per race and as many non-faces
    assert len(splits.x_train) == sum(counts.values()) + 5 and len(splits.x_calibration) == 4

    # Second run: the built files are read, nothing is built or downloaded.
    hits, built = list(server.hits), faces_path.stat().st_mtime_ns
    monkeypatch.setattr(build, "build_file", lambda *a, **k: pytest.fail("built again"))
    again = data.load_splits(config)
    np.testing.assert_array_equal(again.x_train, splits.x_train)
    assert server.hits == hits and faces_path.stat().st_mtime_ns == built


def test_mit_test_faces_are_downloaded_and_cached(server, monkeypatch, fresh_project):
    from vae_faces import data

    rng = np.random.default_rng(2)
    pngs = {}
    for relpath, size in (("LF/1.png", 90), ("DM/3.png", 120)):
        out = io.BytesIO()
        Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(out, "PNG")
        pngs[relpath] = out.getvalue()
    monkeypatch.setattr(data, "MIT_TEST_FACES", {relpath: hashlib.sha256(png).hexdigest()
                                                 for relpath, png in pngs.items()})
    for remote in data.mit_test_face_files():
        server.serve(urlsplit(remote.url).path.lstrip("/"), pngs[remote.relpath.split("/", 1)[1]])
    # The lab's URLs point at GitHub; this server stands in for it.
    real_urlopen = urllib.request.urlopen
    github = "https://raw.githubusercontent.com/"
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, *args, **kwargs: real_urlopen(
        url.replace(github, server.url + "/"), *args, **kwargs))

    images, groups = data.load_mit_test_faces(size=32)
    assert images.shape == (2, 32, 32, 3) and groups == ["LF", "DM"]
    assert (fresh_project / "mit_test_faces" / "LF" / "1.png").read_bytes() == pngs["LF/1.png"]
    assert len(server.hits) == 2
    again, _ = data.load_mit_test_faces(size=32)
    np.testing.assert_array_equal(again, images)
    assert len(server.hits) == 2
