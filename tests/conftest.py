"""Shared test settings: tests that need the real data sets, and one line on what was skipped.

A test marked ``@pytest.mark.real_data("mnist/mnist.npz", ...)`` runs only when ``$DL_DATA_DIR``
holds those files (CI points it at the course's shared copy); everything else, the notebook
runs included, works on a bare clone with the samples in ``data/samples/``.
"""

import os
from collections import defaultdict
from pathlib import Path

import pytest

# The tests that build, train or run models, or run the notebooks: `make test-backends` runs
# these (``-m backends``) again on JAX and PyTorch. The rest test files, text and plots.
BACKEND_MODULES = {
    "test_backends", "test_benchmark_backends", "test_checkpoint", "test_cnn_digits",
    "test_cnn_digits_exercises", "test_convolution", "test_distribution", "test_dqn_agent",
    "test_dqn_cartpole", "test_exercises", "test_first_run", "test_notebooks", "test_progress",
    "test_rnn_music", "test_rnn_music_bars", "test_rnn_music_display", "test_rnn_sentiment",
    "test_rnn_sentiment_data", "test_rnn_sentiment_exercises", "test_rnn_sentiment_math",
    "test_rnn_sentiment_reruns", "test_vae_faces", "test_vae_faces_data", "test_vae_faces_figures",
}


def real_data_dir() -> Path | None:
    """``$DL_DATA_DIR`` as a Path, or None when it is not set."""
    folder = os.environ.get("DL_DATA_DIR")
    return Path(folder) if folder else None


@pytest.fixture(autouse=True)
def no_profile_from_the_shell(monkeypatch):
    """Tests choose their profile themselves; a DL_PROFILE in the shell must not leak in."""
    monkeypatch.delenv("DL_PROFILE", raising=False)


@pytest.fixture(scope="session")
def cnn_digits_smoke_run(tmp_path_factory) -> tuple[Path, str]:
    """Chapter 3's command line run once on the smoke profile (its models train for a minute),
    shared by the tests that need trained models: (the runs folder, what the run printed)."""
    import contextlib
    import io

    from cnn_digits.__main__ import main

    runs = tmp_path_factory.mktemp("runs")
    printed = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(printed):
        patch.setenv("DL_CHECKPOINT_DIR", str(runs))
        main(["--profile", "smoke"])
    return runs, printed.getvalue()


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "real_data(*relpaths): needs these files under $DL_DATA_DIR, else skipped"
    )
    config.addinivalue_line("markers", "backends: runs on every Keras backend (test-backends)")
    config.addinivalue_line(
        "markers", "slow: trains a whole run or runs processes that do; scheduled first"
    )


def runs_long(item) -> bool:
    # Real-data tests read whole data sets (when DL_DATA_DIR is set; else they skip at once).
    return any(item.get_closest_marker(name) for name in ("slow", "notebook", "real_data"))


def pytest_collection_modifyitems(config, items):
    # Longest first: the two xdist workers then finish together instead of one waiting for a
    # notebook that the other started last (xdist hands out tests in collection order).
    items.sort(key=lambda item: not runs_long(item))
    folder = real_data_dir()
    for item in items:
        if item.module.__name__ in BACKEND_MODULES:
            item.add_marker(pytest.mark.backends)
        marker = item.get_closest_marker("real_data")
        if marker is None:
            continue
        if folder is None:
            reason = "needs the real data sets: DL_DATA_DIR is not set"
        else:
            missing = [path for path in marker.args if not (folder / path).exists()]
            if not missing:
                continue
            reason = f"needs the real data sets: DL_DATA_DIR={folder} has no {', '.join(missing)}"
        item.add_marker(pytest.mark.skip(reason=reason))


def pytest_terminal_summary(terminalreporter):
    """One line per reason for skipping, naming the tests (pytest's own list is one per test)."""
    by_reason = defaultdict(list)
    for report in terminalreporter.stats.get("skipped", []):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        by_reason[reason.removeprefix("Skipped: ")].append(report.nodeid.split("::")[-1])
    for reason, names in sorted(by_reason.items()):
        terminalreporter.write_line(f"skipped {len(names)} ({reason}): {', '.join(names)}")
