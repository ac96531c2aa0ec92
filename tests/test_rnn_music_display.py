"""Chapter 2's views of a tune (sheet music, piano roll with bar lines, small audio), the
training step written out, and the exercises' stand-in generator."""

import shutil
import tempfile
from pathlib import Path

import course  # noqa: F401  (quiets TensorFlow before it is imported)

# isort: split
import keras
import matplotlib
import nbformat
import numpy as np
import pytest

from course.exercises import PASS, solutions
from rnn_music import plots
from rnn_music.abc_tools import (
    MissingToolError,
    Note,
    audio_player,
    bar_line_times,
    engrave_tune,
    read_midi_notes,
    render_tune,
)
from rnn_music.data import Vocabulary
from rnn_music.exercises import BARS, ScriptedGenerator, bar_units_expected, check_sample_one_tune
from rnn_music.model import Generator, build_model
from rnn_music.train import gradient_step

matplotlib.use("Agg")

needs_abc2midi = pytest.mark.skipif(shutil.which("abc2midi") is None, reason="no abc2midi")
needs_abcm2ps = pytest.mark.skipif(shutil.which("abcm2ps") is None, reason="no abcm2ps")
NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "02_rnn_music.ipynb"

# A jig with a pickup (d), a repeat, and a part whose last bar (5 units) completes the pickup.
JIG = "X:1\nT:Pickup jig\nM:6/8\nL:1/8\nK:G\nd|edB Bcd|edB cAF|GBA BGA|B2G A2:|\n"
# A reel whose pickup is a triplet (three eighths in the time of two): one quarter note.
REEL = ("X:2\nT:Triplet reel\nM:C|\nL:1/8\nK:D\n(3ABc|dAFA DFAd|fdcd FAdf|gfge fefd|"
        "(3efe dc d2:|\n")


# ----------------------------------------------------------------------------- sheet music

@needs_abcm2ps
def test_engrave_tune_writes_a_stable_svg_named_after_the_tune(tmp_path):
    first = engrave_tune(JIG, tmp_path / "jig.svg").read_text()
    again = engrave_tune(JIG, tmp_path / "again.svg").read_text()
    assert first.lstrip().startswith("<?xml") and "<svg" in first and first.rstrip().endswith(
        "</svg>")
    assert "<title>Pickup jig</title>" in first and "Pickup jig</text>" in first
    # No date and no temporary path: a rerun writes the same file (small notebook diffs).
    assert first == again and "CreationDate" not in first
    assert tempfile.gettempdir() not in first and "tune.abc" not in first


def test_engraving_without_abcm2ps_says_how_to_install_and_rendering_goes_on(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no program at all
    with pytest.raises(MissingToolError, match="apt-get install .*abcm2ps"):
        engrave_tune(JIG, tmp_path / "jig.svg")
    rendered = render_tune(JIG, tmp_path / "out", "jig")
    assert rendered.abc_path.exists() and rendered.svg_path is None
    assert "abcm2ps" in rendered.sheet_message and "make system-deps" in rendered.sheet_message


# ----------------------------------------------------------------------------- bar lines

def test_bar_lines_start_after_the_pickup_and_follow_the_metre():
    # 6/8 bar = 3 quarter notes; pickup d = half a quarter note.
    assert bar_line_times(JIG, 9.0) == [0.5, 3.5, 6.5]
    # No pickup: the first line closes the first full bar.
    assert bar_line_times(JIG.replace("d|edB", "edB"), 7.0) == [3.0, 6.0]
    # A triplet pickup in cut time: one quarter note, then bars of four.
    assert bar_line_times(REEL, 10.0) == [1.0, 5.0, 9.0]
    assert bar_line_times(JIG.replace("M:6/8", "M:none"), 9.0) == []
    assert bar_line_times("X:3\nT:No body\nM:C\nK:D\n", 9.0) == []


@needs_abc2midi
@pytest.mark.parametrize("tune", [JIG, REEL], ids=["jig", "reel"])
def test_every_bar_line_falls_where_abc2midi_starts_a_bar(tune, tmp_path):
    rendered = render_tune(tune, tmp_path, "tune")
    starts = np.array([note.start for note in rendered.notes])
    end = max(note.start + note.duration for note in rendered.notes)
    assert rendered.bar_lines == bar_line_times(tune, end)
    # Each bar of these tunes opens with a note, repeats included: so every line is a note's
    # start (abc2midi delays notes by a few ticks).
    assert len(rendered.bar_lines) >= 8
    for time in rendered.bar_lines[:-1]:
        assert np.min(np.abs(starts - time)) < 0.02, time


def test_piano_rolls_share_one_time_axis_and_draw_the_bar_lines():
    short = [Note(60 + i, i * 0.5, 0.5) for i in range(8)]  # 4 quarter notes
    long = [Note(67, i * 1.0, 1.0) for i in range(12)]  # 12 quarter notes
    fig = plots.plot_piano_rolls(
        [("short", short, [1.0, 3.0]), ("long", long, [4.0, 8.0, 12.0]), ("no lines", short)]
    )
    axes = fig.axes
    assert [ax.get_xlim() for ax in axes] == [(0.0, 12.0)] * 3
    vertical = [[line for line in ax.get_lines() if line.get_xdata()[0] == line.get_xdata()[1]]
                for ax in axes]
    assert [len(lines) for lines in vertical] == [2, 3, 0]
    assert [line.get_xdata()[0] for line in vertical[1]] == [4.0, 8.0, 12.0]
    # One label for the shared axis, under the last panel.
    assert [bool(ax.get_xlabel()) for ax in axes] == [False, False, True]
    assert plots.plot_piano_rolls([("empty", [])]).axes[0].texts[0].get_text() == "no notes"


# ----------------------------------------------------------------------------- sound

def test_audio_player_embeds_a_small_file_and_links_a_big_one(tmp_path):
    small, big = tmp_path / "small.ogg", tmp_path / "big.ogg"
    small.write_bytes(b"OggS" + bytes(100))
    big.write_bytes(b"OggS" + bytes(2_000))
    embedded = audio_player(small, max_bytes=1_000)
    assert 'type="audio/ogg"' in embedded._repr_html_()
    link = audio_player(big, max_bytes=1_000)
    assert "big.ogg" in link._repr_html_() and "<audio" not in link._repr_html_()


@needs_abc2midi
@pytest.mark.skipif(shutil.which("timidity") is None, reason="no timidity")
def test_rendered_sound_is_an_ogg_file_far_smaller_than_the_wav(tmp_path):
    rendered = render_tune(JIG, tmp_path, "jig")
    if rendered.wav_path is None:  # timidity present, but no soundfont on this machine
        pytest.skip(rendered.message)
    ogg = rendered.ogg_path.read_bytes()
    assert ogg[:4] == b"OggS" and b"vorbis" in ogg[:200]
    assert len(ogg) < rendered.wav_path.stat().st_size / 4
    assert read_midi_notes(rendered.midi_path) == rendered.notes


# ----------------------------------------------------------------------------- training step

def test_gradient_step_is_the_step_that_fit_takes():
    keras.utils.set_random_seed(0)
    model = build_model(7, 4, 8)
    twin = build_model(7, 4, 8)
    twin.set_weights(model.get_weights())
    x = np.random.default_rng(0).integers(0, 7, size=(3, 5)).astype("int32")
    y = np.roll(x, -1, axis=1)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    twin.compile(optimizer=keras.optimizers.Adam(0.01), loss=loss_fn)
    optimizer = keras.optimizers.Adam(0.01)
    for _ in range(2):
        loss = gradient_step(model, optimizer, loss_fn, x, y)
        fit_loss = twin.train_on_batch(x, y)
        assert loss == pytest.approx(float(fit_loss), rel=1e-5)
    for ours, keras_weights in zip(model.get_weights(), twin.get_weights(), strict=True):
        np.testing.assert_allclose(ours, keras_weights, rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------------- exercises

def test_bar_units_reference_counts_by_hand():
    # edB Bcd | B2G A2 | A3/2 B/ c2 | ^F2 G,2 z2 | d/e/f/g/ a2 | c'3 =B,/ A/ _e2
    assert [bar_units_expected(bar) for bar in BARS] == [6, 5, 4, 6, 4, 6]


def _notebook_solution(name):
    for code in solutions(nbformat.read(NOTEBOOK, as_version=4)):
        if f"def {name}(" in code:
            namespace = {}
            exec(compile(code, name, "exec"), namespace)  # noqa: S102
            return namespace[name]
    raise AssertionError(f"no solution defines {name}")


def test_the_stand_in_generator_answers_like_the_real_one_and_the_solution_runs_on_both():
    sample_one_tune = _notebook_solution("sample_one_tune")
    assert check_sample_one_tune(sample_one_tune) == PASS
    vocabulary = Vocabulary.from_text("X:1\nK:D\nABcd|")
    generator = Generator(build_model(vocabulary.size, 4, 8), vocabulary)
    stand_in = ScriptedGenerator()
    for candidate in (generator, stand_in):
        logits, state = candidate.run(candidate.vocabulary.encode("X:")[None, :],
                                      candidate.zero_state(1))
        assert np.shape(logits) == (1, 2, candidate.vocabulary.size) and len(state) == 2
    text = sample_one_tune(generator, 1.0, 30, 0)
    assert text.startswith("X:") and len(text) <= 32
    assert "\n\n" not in text[:-2]  # stops at the first blank line, if any
