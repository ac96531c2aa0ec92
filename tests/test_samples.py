"""The committed sample data of the smoke profile: present, small, checked, and rebuildable."""

import hashlib
import re

import numpy as np
import pytest

from cnn_digits.data import MNIST, load_mnist
from course import samples
from course.fetch import SAMPLES_DIR, DataFileError, RemoteFile, fetch, sha256_of
from rnn_music.data import IRISH_ABC
from rnn_sentiment.data import IMDB_CSV, load_imdb
from vae_faces.data import FAIRFACE, TINYIMAGENET, mit_test_face_files

SAMPLED = [MNIST, IRISH_ABC, IMDB_CSV, FAIRFACE, TINYIMAGENET, *mit_test_face_files()]
SAMPLE_BUDGET = 3 * 1024 * 1024


def test_every_sample_is_committed_checked_and_small():
    paths = [fetch(remote, profile="smoke") for remote in SAMPLED]
    assert all(path.is_relative_to(SAMPLES_DIR) for path in paths)
    assert sum(path.stat().st_size for path in SAMPLES_DIR.rglob("*") if path.is_file()) < (
        SAMPLE_BUDGET
    )


def test_the_tune_sample_is_the_real_corpus():
    assert sha256_of(fetch(IRISH_ABC, profile="smoke")) == IRISH_ABC.sha256


def test_smoke_never_looks_at_the_shared_folder_or_the_network(tmp_path, monkeypatch):
    # A shared folder whose MNIST is garbage, and a URL nobody can reach: smoke must use neither.
    (tmp_path / "mnist").mkdir()
    (tmp_path / "mnist" / "mnist.npz").write_bytes(b"not an npz")
    monkeypatch.setenv("DL_DATA_DIR", str(tmp_path))
    monkeypatch.setattr("urllib.request.urlopen", lambda *a, **k: pytest.fail("downloaded"))
    splits = load_mnist(num_validation=200, num_train=1_000, num_test=500, profile="smoke")
    assert (len(splits.x_train), len(splits.x_val), len(splits.x_test)) == (1_000, 200, 500)
    monkeypatch.setenv("DL_PROFILE", "smoke")  # the environment variable picks it as well
    reviews = load_imdb(num_validation=200, num_train=600, num_test=300)
    assert sorted(set(reviews.y_train)) == [0, 1] and len(reviews.x_test) == 300
    with pytest.raises(DataFileError, match="npz"):
        monkeypatch.delenv("DL_PROFILE")
        load_mnist()


def test_a_missing_sample_says_how_to_get_it_back():
    missing = RemoteFile(relpath="nowhere/file.bin", url="http://example.invalid/x", sha256="0")
    with pytest.raises(DataFileError, match="course.samples"):
        fetch(missing, profile="smoke")


def test_generated_samples_rebuild_to_what_is_committed(tmp_path):
    rebuilt = samples.build_reviews(tmp_path)
    assert rebuilt.read_bytes() == (SAMPLES_DIR / IMDB_CSV.relpath).read_bytes()
    rebuilt = samples.build_nonfaces(tmp_path)
    assert_same_arrays(rebuilt, SAMPLES_DIR / TINYIMAGENET.relpath)


def test_template_reviews_hold_whole_films_and_ratings_that_match_the_label():
    rows = samples.review_rows()
    assert len(rows) == 2 * sum(samples.REVIEWS_PER_LABEL.values())
    words = "|".join(samples._TITLE_WORDS)
    films = {}
    for text, label, split, review_id, rating in rows:
        assert (rating >= 7) == (label == 1)
        title = re.search(rf"The (?:{words}) (?:{words})", text).group()
        films.setdefault((split, label, review_id // samples.REVIEWS_PER_FILM), set()).add(title)
    # Consecutive ids review one film, as in aclImdb, so validation can hold out whole films.
    assert all(len(titles) == 1 for titles in films.values())


@pytest.mark.real_data(MNIST.relpath, FAIRFACE.relpath, IRISH_ABC.relpath)
def test_sliced_samples_rebuild_from_the_real_files(tmp_path):
    for name in ("mnist", "faces"):
        samples.BUILDERS[name](tmp_path)
    assert_same_arrays(tmp_path / MNIST.relpath, SAMPLES_DIR / MNIST.relpath)
    assert_same_arrays(tmp_path / FAIRFACE.relpath, SAMPLES_DIR / FAIRFACE.relpath)
    with np.load(fetch(MNIST), allow_pickle=False) as real, np.load(
        SAMPLES_DIR / MNIST.relpath
    ) as sample:
        np.testing.assert_array_equal(sample["x_train"][-200:], real["x_train"][-200:])
        np.testing.assert_array_equal(sample["x_test"], real["x_test"][:500])


def assert_same_arrays(path_a, path_b):
    with np.load(path_a, allow_pickle=False) as a, np.load(path_b, allow_pickle=False) as b:
        assert sorted(a.files) == sorted(b.files)
        for key in a.files:
            digest = [hashlib.sha256(x[key].tobytes()).hexdigest() for x in (a, b)]
            assert digest[0] == digest[1], key
