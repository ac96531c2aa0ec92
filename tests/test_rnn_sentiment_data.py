"""Chapter 1 data: the IMDB file, the tarball conversion, tokenization and batching."""

import gzip
import io
import os
import tarfile
from pathlib import Path

import course  # noqa: F401  (quiets TensorFlow before it is imported)

# isort: split
import numpy as np
import pandas as pd
import pytest

from course.fetch import DataFileError
from rnn_sentiment import data

FAKE_REVIEWS = {
    "aclImdb/train/pos/10_9.txt": "Loved it.<br /><br />A gem, truly!",
    "aclImdb/train/pos/2_8.txt": 'Great fun, "quoted", with commas',
    "aclImdb/train/neg/0_1.txt": "Dull.",
    "aclImdb/train/neg/1_3.txt": "Naïve script; weak acting?",
    "aclImdb/test/pos/0_10.txt": "Superb.",
    "aclImdb/test/neg/5_2.txt": "Awful.",
    "aclImdb/train/unsup/0_0.txt": "unlabelled: must be left out",
    "aclImdb/README": "not a review",
}


def make_fake_tarball(path: Path, reviews=FAKE_REVIEWS) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as archive:
        for name, text in reviews.items():
            payload = text.encode("utf-8")
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            archive.addfile(info, io.BytesIO(payload))
    return path


def test_fake_tarball_converts_into_the_shared_csv_layout(tmp_path):
    tarball = make_fake_tarball(tmp_path / "aclImdb_v1.tar.gz")
    data.check_tarball(tarball)
    csv_path = data.convert_tarball(tarball, tmp_path / "out" / "imdb_reviews.csv.gz")
    with gzip.open(csv_path, "rt", encoding="utf-8") as f:
        assert f.readline().strip() == "text,label,split,id,rating"
    table = pd.read_csv(csv_path)
    assert list(table.columns) == data.CSV_COLUMNS
    # Ordered by split (train first), label (neg first), numeric id (2 before 10); no unsup.
    assert table[["split", "label", "id", "rating"]].values.tolist() == [
        ["train", 0, 0, 1], ["train", 0, 1, 3], ["train", 1, 2, 8], ["train", 1, 10, 9],
        ["test", 0, 5, 2], ["test", 1, 0, 10],
    ]
    assert table["text"][3] == FAKE_REVIEWS["aclImdb/train/pos/10_9.txt"]
    assert table["text"][1] == FAKE_REVIEWS["aclImdb/train/neg/1_3.txt"]  # UTF-8 kept
    data.check_imdb_csv(csv_path)


def test_loader_converts_a_downloaded_tarball_once_into_the_cache(tmp_path, monkeypatch):
    monkeypatch.delenv("DL_DATA_DIR", raising=False)
    # A tarball already in the cache: fetch accepts it by its structural check (a real
    # download would be verified against the pinned sha256).
    make_fake_tarball(tmp_path / data.ACLIMDB_TARBALL.relpath)
    splits = data.load_imdb(num_validation=1, cache_dir=tmp_path)
    assert (tmp_path / data.IMDB_CSV.relpath).exists()
    assert len(splits.x_train) + len(splits.x_val) == 4 and len(splits.x_test) == 2
    assert sorted(splits.y_test.tolist()) == [0, 1]
    (tmp_path / data.ACLIMDB_TARBALL.relpath).unlink()  # the CSV is now enough
    assert len(data.load_imdb(num_validation=1, cache_dir=tmp_path).x_test) == 2


def test_broken_files_get_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv("DL_DATA_DIR", raising=False)
    not_a_tarball = tmp_path / "imdb" / "aclImdb_v1.tar.gz"
    not_a_tarball.parent.mkdir(parents=True)
    not_a_tarball.write_bytes(b"not gzip at all")
    with pytest.raises(DataFileError, match="Delete it"):
        data.load_imdb(cache_dir=tmp_path)
    wrong = make_fake_tarball(tmp_path / "other.tar.gz", {"aclImdb/train/pos/0_9.txt": "x"})
    with pytest.raises(DataFileError, match="lacks the review folders"):
        data.check_tarball(wrong)
    bad_csv = tmp_path / "bad.csv.gz"
    with gzip.open(bad_csv, "wt") as f:
        f.write("review,sentiment\nnice,1\n")
    with pytest.raises(DataFileError, match="columns"):
        data.check_imdb_csv(bad_csv)


@pytest.mark.real_data("imdb/imdb_reviews.csv.gz")
def test_real_file_splits_hold_out_validation_from_train_only():
    splits = data.load_imdb(num_validation=2_500)
    assert (len(splits.x_train), len(splits.x_val), len(splits.x_test)) == (22_500, 2_500, 25_000)
    shared_csv = Path(os.environ["DL_DATA_DIR"]) / data.IMDB_CSV.relpath
    table = pd.read_csv(shared_csv, keep_default_na=False)
    train_rows = table[table["split"] == "train"]
    # Train and validation together are exactly the file's training reviews (a partition:
    # duplicate texts in the file appear as often in the splits as in the file).
    assert sorted([*splits.x_train, *splits.x_val]) == sorted(train_rows["text"])
    texts, labels = [*splits.x_train, *splits.x_val], [*splits.y_train, *splits.y_val]
    pairs = sorted(zip(texts, labels, strict=True))
    assert pairs == sorted(zip(train_rows["text"], train_rows["label"], strict=True))
    assert sorted(splits.x_test) == sorted(table.loc[table["split"] == "test", "text"])
    assert splits.y_val.mean() == 0.5  # half of the validation reviews from each label
    # Validation is the block of the highest ids of each label (whole films), not a random draw.
    top_ids = train_rows.sort_values("id").groupby("label").tail(1_250)
    assert sorted(splits.x_val) == sorted(top_ids["text"])
    small = data.load_imdb(num_validation=100, num_train=300, num_test=50)
    assert (len(small.x_train), len(small.x_val), len(small.x_test)) == (300, 100, 50)
    assert 0 < small.y_test.mean() < 1
    with pytest.raises(ValueError, match="num_validation"):
        data.load_imdb(num_validation=0)


def test_tokenize_strips_break_tags_and_keeps_emphasis():
    assert data.tokenize("Great!<br /><br />Really,GREAT<br/>film?") == [
        "great", "!", "really", "great", "film", "?",
    ]
    assert data.tokenize("   \n ") == [] and data.tokenize("...") == []


def test_text_vectorization_applies_the_same_rules_as_tokenize():
    texts = [
        "It's <br />a MUST-see!!<br /><br />10/10",
        "don't<br/>watch... (seriously)",
        "Plain words only",
    ]
    vectorizer = data.make_vectorizer(texts, vocabulary_size=50)
    vocabulary = vectorizer.get_vocabulary()
    assert not {"br", "<br", "/>", "<br />"} & set(vocabulary)
    for text in texts:
        ids = data.vectorize(vectorizer, [text], max_tokens=10**6, head_tokens=0)[0].tolist()
        assert [vocabulary[i] for i in ids] == data.tokenize(text)
    # Unknown words map to index 1, and a saved vocabulary rebuilds the same layer.
    ids = data.vectorize(vectorizer, ["zebra plain"], max_tokens=10**6, head_tokens=0)[0]
    assert ids.tolist() == [1, vocabulary.index("plain")]
    again = data.make_vectorizer(vocabulary=vocabulary)
    assert again.get_vocabulary() == vocabulary
    with pytest.raises(ValueError, match="texts or a vocabulary"):
        data.make_vectorizer()


def test_vocabulary_is_ranked_by_frequency_and_capped():
    vocabulary = data.build_vocabulary(["b a b c", "b a"], vocabulary_size=4)
    assert vocabulary == ["b", "a"]  # 4 minus the padding and unknown-word slots


def test_head_and_tail_keeps_the_start_and_the_end():
    ids = np.arange(10)
    np.testing.assert_array_equal(data.head_and_tail(ids, 20, 5), ids)
    np.testing.assert_array_equal(data.head_and_tail(ids, 6, 2), [0, 1, 6, 7, 8, 9])


def test_batches_are_padded_to_their_longest_or_on_jax_to_a_few_widths(monkeypatch):
    import keras

    longest = np.arange(1, 2501)
    if keras.backend.backend() != "jax":
        assert [data.padded_width(n) for n in longest] == list(longest)
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    widths = np.array([data.padded_width(n) for n in longest])
    assert np.all(widths >= longest) and np.all(widths <= np.maximum(16, 1.5 * longest))
    assert len(set(widths)) <= 15  # 16, 24, 36, ... : one compiled program each


@pytest.mark.parametrize("shuffle", [False, True])
def test_batches_hold_every_review_once_padded_to_their_own_longest(shuffle):
    rng = np.random.default_rng(0)
    sequences = [rng.integers(2, 50, size=n).astype("int32") for n in rng.integers(1, 40, 37)]
    labels = np.arange(37) % 2
    seen = []
    for words, batch_labels in data.make_dataset(sequences, labels, 8, shuffle=shuffle, seed=1):
        words = words.numpy()
        lengths = (words != 0).sum(axis=1)
        assert words.shape[1] == data.padded_width(lengths.max())  # on TF: the longest review
        for row, length in zip(words, lengths, strict=True):
            assert np.all(row[length:] == 0)
            seen.append(tuple(row[:length]))
        assert batch_labels.shape[0] == len(words) <= 8
    assert sorted(seen) == sorted(tuple(s) for s in sequences)
