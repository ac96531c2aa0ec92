"""course.plan: what `make reproduce` says it will download and how long it will take."""

from pathlib import Path

import nbformat
import pytest

from course import plan
from course.fetch import RemoteFile

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
MNIST_BYTES = 11_490_434


@pytest.fixture
def caches(tmp_path, monkeypatch):
    """Empty data/ and $DL_DATA_DIR folders, whatever this checkout has downloaded."""
    monkeypatch.setattr(plan, "default_cache_dir", lambda: tmp_path / "data")
    monkeypatch.setenv("DL_DATA_DIR", str(tmp_path / "shared"))
    return tmp_path


def _place(folder: Path, relpath: str) -> None:
    (folder / relpath).parent.mkdir(parents=True, exist_ok=True)
    (folder / relpath).write_bytes(b"")


def test_every_notebook_has_its_data_listed():
    assert set(plan.chapter_needs()) == {path.stem for path in NOTEBOOKS}
    assert set(plan.CPU_MINUTES) == {path.stem for path in NOTEBOOKS}


@pytest.mark.parametrize("folder", ["data", "shared"])
def test_a_file_found_in_either_folder_downloads_nothing(caches, folder):
    (mnist,) = plan.chapter_needs()["03_cnn_digits"]
    assert plan.download_bytes(mnist) == (MNIST_BYTES, True)
    _place(caches / folder, "mnist/mnist.npz")
    assert plan.download_bytes(mnist) == (0, True)


def test_imdb_needs_the_tarball_only_while_the_csv_is_missing(caches):
    (reviews,) = plan.chapter_needs()["01_rnn_sentiment"]
    assert plan.download_bytes(reviews) == (84_125_825, True)
    _place(caches / "data", "imdb/aclImdb_v1.tar.gz")  # downloaded, not converted yet
    assert plan.download_bytes(reviews) == (0, True)


def test_a_download_of_unknown_size_makes_the_total_a_lower_bound(caches):
    known = RemoteFile("x/known.bin", "https://example.org/k", "0" * 64, size=5_000_000)
    unknown = RemoteFile("x/unknown.bin", "https://example.org/u", "0" * 64)
    need = plan.Need("x", ("x/built.npz",), (known, unknown))
    assert plan.download_bytes(need) == (5_000_000, False)


def _notebook(folder: Path, stem: str, record: dict | None = None) -> Path:
    notebook = nbformat.v4.new_notebook()
    if record:
        notebook.metadata["course"] = record
    path = folder / f"{stem}.ipynb"
    nbformat.write(notebook, path)
    return path


def test_the_plan_names_downloads_and_times(caches):
    paths = [_notebook(caches, "03_cnn_digits", {"profile": "cpu", "seconds": 290}),
             _notebook(caches, "05_dqn_cartpole")]
    text = plan.describe(paths, "cpu")
    assert "03_cnn_digits     MNIST                    about 11 MB to download" in text
    assert "in all: about 11 MB." in text
    assert "03_cnn_digits     about 5 min (its last cpu run)" in text
    assert f"05_dqn_cartpole   about {plan.CPU_MINUTES['05_dqn_cartpole']} min" in text
    _place(caches / "data", "mnist/mnist.npz")
    assert "MNIST                    found, nothing to download" in plan.describe(paths, "cpu")


def test_a_run_that_loaded_its_training_is_not_used(caches):
    record = {"profile": "cpu", "seconds": 61, "reused_training": True}
    path = _notebook(caches, "03_cnn_digits", record)
    estimate = plan.CPU_MINUTES["03_cnn_digits"]
    assert f"03_cnn_digits     about {estimate} min on 2 CPU cores (estimate)" in plan.describe(
        [path], "cpu"
    )


def test_a_record_of_another_profile_is_not_used(caches):
    path = _notebook(caches, "03_cnn_digits", {"profile": "cpu", "seconds": 290})
    assert "03_cnn_digits     not measured yet" in plan.describe([path], "gpu")
    smoke = plan.describe([path], "smoke")
    assert "nothing is downloaded" in smoke and "a minute or less" in smoke
