"""``python -m <chapter>``: every chapter has one, listed in the README, answering before TF loads.

Each check runs in a fresh interpreter (this one has long since imported TensorFlow) and reports
the exit code and whether TensorFlow or Keras were imported by then.
"""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = ("rnn_sentiment", "rnn_music", "cnn_digits", "vae_faces", "dqn_cartpole")
PROBE = """
import runpy, sys
sys.argv = sys.argv[1:]
try:
    runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
except SystemExit as exit:
    print("exit", exit.code, "tensorflow" in sys.modules, "keras" in sys.modules)
"""


def _run(chapter: str, *arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", PROBE, chapter, *arguments],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_an_unknown_profile_exits_2_before_tensorflow_loads(chapter):
    result = _run(chapter, "--profile", "bogus")
    assert result.stdout.splitlines()[-1] == "exit 2 False False"
    assert "invalid choice: 'bogus' (choose from 'smoke', 'cpu', 'gpu')" in result.stderr


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_help_lists_the_profiles_without_loading_tensorflow(chapter):
    result = _run(chapter, "--help")
    assert result.stdout.splitlines()[-1] == "exit 0 False False"
    assert "--profile {smoke,cpu,gpu}" in result.stdout


def test_the_readme_lists_every_chapter_command():
    readme = (ROOT / "README.md").read_text()
    for chapter in CHAPTERS:
        assert f"python -m {chapter} --profile cpu" in readme
