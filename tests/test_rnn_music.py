"""Chapter 2 package: corpus splitting, windows, stateful generation, ABC tools, resume, CLI."""

import json
import re
import shutil
import struct
import sys
import wave

import course  # noqa: F401  (quiets TensorFlow before it is imported)

# isort: split
import keras
import numpy as np
import pytest

from course.checkpoint import runs_root
from course.fetch import SAMPLES_DIR
from rnn_music.abc_tools import (
    CopyFinder,
    MissingToolError,
    SilentAudioError,
    check_tune,
    complete_tunes,
    find_program,
    midi_to_wav,
    read_midi_notes,
    render_tune,
    tools_available,
    wav_peak,
)
from rnn_music.config import get_config
from rnn_music.data import (
    Vocabulary,
    join_tunes,
    random_batches,
    split_heldout,
    split_tunes,
    window_starts,
    windows,
)
from rnn_music.model import Generator, build_model, softmax_with_temperature
from rnn_music.train import BudgetSchedule

# The committed sample is the whole corpus, byte for byte (tests/test_samples.py checks it).
CORPUS = SAMPLES_DIR / "irish_abc" / "irish.abc"
needs_abc2midi = pytest.mark.skipif(shutil.which("abc2midi") is None, reason="no abc2midi")

GOOD_TUNE = "X:1\nT:Good\nM:4/4\nL:1/8\nK:D\nDEFG ABcd|d2A2 F2D2:|\n"
# Two bars of 7 and 9 eighths in 4/4: abc2midi's bar-length warning.
WRONG_BARS = "X:2\nT:Wrong bars\nM:4/4\nL:1/8\nK:D\nDEFG ABc|dcBA FEDE F|\n"
BROKEN = 'X:3\nT:Broken\nM:4/4\nL:1/8\nK:D\nDEFG ABcd|"xyz"d2A2 F2D2|\n'


# ----------------------------------------------------------------------------- corpus and windows

def test_real_corpus_splits_into_804_tunes_each_starting_at_its_x_line():
    text = CORPUS.read_text()
    tunes = split_tunes(text)
    x_lines = [line for line in text.splitlines() if line.startswith("X:")]
    assert len(tunes) == len(x_lines) == 804
    assert all(tune.startswith("X:") for tune in tunes)
    assert [tune.splitlines()[0] for tune in tunes] == x_lines
    # Why blank lines are the wrong separator: two tunes hold a blank line of their own.
    blocks = [block for block in text.split("\n\n") if block.strip()]
    assert len(blocks) == 806 and sum(not b.strip().startswith("X:") for b in blocks) == 2
    # The lab's regex without overlaps: each match eats the blank line the next one needs.
    assert len(re.findall(r"(^|\n\n)(.*?)\n\n", text, flags=re.DOTALL)) == 403
    assert split_tunes(join_tunes(tunes)) == tunes


def test_split_tunes_drops_a_header_and_refuses_text_without_tunes():
    text = "% a file comment\n\nX:1\nK:C\nCDEF|\n\nX:2\nK:G\nGABc|\n\n\n"
    assert split_tunes(text) == ["X:1\nK:C\nCDEF|", "X:2\nK:G\nGABc|"]
    with pytest.raises(ValueError, match="no ABC tune"):
        split_tunes("just some words\nwithout any header\n")


def test_heldout_split_is_a_seeded_partition_and_vocabulary_covers_everything():
    tunes = [f"X:{i}\nK:C\n{'CDEFGAB'[i % 7] * 3}|\n" for i in range(50)]
    splits = split_heldout(tunes, 0.1, seed=3)
    assert len(splits.heldout_tunes) == 5 and len(splits.train_tunes) == 45
    assert sorted(splits.train_tunes + splits.heldout_tunes) == sorted(tunes)
    assert split_heldout(tunes, 0.1, seed=3).heldout_tunes == splits.heldout_tunes
    assert split_heldout(tunes, 0.1, seed=4).heldout_tunes != splits.heldout_tunes
    assert set(splits.vocabulary.characters) == set("".join(tunes) + "\n")


def test_vocabulary_round_trip_and_unknown_characters():
    vocabulary = Vocabulary.from_text("X:1\nK:D\nabc|")
    text = "K:D\nbca|"
    assert vocabulary.decode(vocabulary.encode(text)) == text
    assert vocabulary.encode("a").tolist() == [sorted(set("X:1\nK:D\nabc|")).index("a")]
    with pytest.raises(ValueError, match="not in the model's vocabulary"):
        vocabulary.encode("abc~")


def test_window_starts_cover_the_whole_text_not_the_vocabulary():
    rng = np.random.default_rng(0)
    starts = window_starts(5_000, 100, 20_000, rng)
    # s + L + 1 <= n: the last target character exists.
    assert starts.min() == 0 and starts.max() == 5_000 - 100 - 1
    assert starts.max() > 100  # far beyond any vocabulary size (the notes' slip)
    with pytest.raises(ValueError, match="shorter than one window"):
        window_starts(50, 100, 1, rng)


def test_windows_targets_are_the_inputs_shifted_by_one():
    encoded = np.arange(1000) % 97
    starts = np.array([0, 17, 898])
    inputs, targets = windows(encoded, starts, 101)
    for row, s in enumerate(starts):
        np.testing.assert_array_equal(inputs[row], encoded[s : s + 101])
        np.testing.assert_array_equal(targets[row], encoded[s + 1 : s + 102])


def test_random_batches_have_the_declared_shape_and_new_windows_each_pass():
    encoded = np.arange(10_000, dtype=np.int32)  # every value marks its own position
    dataset = random_batches(encoded, 30, 8, num_batches=3, seed=1)
    first = [x.numpy() for x, _ in dataset]
    second = [x.numpy() for x, _ in dataset]
    assert len(first) == 3 and first[0].shape == (8, 30)
    for inputs, targets in dataset:
        np.testing.assert_array_equal(targets.numpy(), inputs.numpy() + 1)
    assert not np.array_equal(first[0], second[0])


# ----------------------------------------------------------------------------- model and sampling

def _peaked_model(vocabulary):
    """A small random model whose next-character distribution is far from uniform."""
    keras.utils.set_random_seed(1)
    model = build_model(vocabulary.size, 8, 16)
    dense = model.get_layer("logits")
    kernel, _ = dense.get_weights()
    dense.set_weights([kernel * 4, np.linspace(-2, 2, vocabulary.size).astype("float32")])
    return model


VOCAB = Vocabulary.from_text("X:1234567890\nT:K:M:L:/|ABCDEFGabcdefg ")


def test_generation_carries_the_lstm_state_one_character_at_a_time():
    model = _peaked_model(VOCAB)
    generator = Generator(model, VOCAB)
    prefix = VOCAB.encode("X:12\nK:")
    # Feeding one character per call with the carried state gives the full-sequence logits.
    state, stepwise = generator.zero_state(1), []
    for token in prefix:
        logits, state = generator.run(np.array([[token]]), state)
        stepwise.append(logits[0, 0])
    full = keras.ops.convert_to_numpy(model(prefix[None, :]))[0]
    np.testing.assert_allclose(np.array(stepwise), full, atol=1e-5)
    # Greedy generation equals re-running the whole model on the growing text each time.
    greedy = generator.generate("X:12\nK:", 12, temperature=0)[0]
    sequence = list(prefix)
    for _ in range(12):
        logits = keras.ops.convert_to_numpy(model(np.array([sequence])))[0, -1]
        sequence.append(int(logits.argmax()))
    assert greedy == VOCAB.decode(sequence)


def test_dropout_acts_in_training_only_and_the_stepper_ignores_it():
    keras.utils.set_random_seed(2)
    model = build_model(VOCAB.size, 8, 16, input_dropout=0.2, output_dropout=0.5)
    tokens = np.array([VOCAB.encode("X:1\nK:G\nABcd|")])
    to_numpy = keras.ops.convert_to_numpy
    first, second = (to_numpy(model(tokens, training=True)) for _ in range(2))
    assert not np.allclose(first, second)  # a fresh mask per call
    inference = to_numpy(model(tokens, training=False))
    np.testing.assert_allclose(inference, to_numpy(model(tokens, training=False)))
    # Generation reads the same weights without the dropout layer: same logits as inference.
    generator = Generator(model, VOCAB)
    logits, _ = generator.run(tokens, generator.zero_state(1))
    np.testing.assert_allclose(logits, inference, rtol=1e-5, atol=1e-5)


def test_sampled_characters_follow_softmax_of_logits_over_temperature():
    model = _peaked_model(VOCAB)
    generator = Generator(model, VOCAB)
    logits = keras.ops.convert_to_numpy(model(VOCAB.encode("X:")[None, :]))[0, -1]
    num_streams = 4000
    for temperature in (0.5, 1.0, 2.0):
        texts = generator.generate("X:", 1, temperature, num_streams=num_streams, seed=5)
        counts = np.bincount(VOCAB.encode("".join(t[-1] for t in texts)), minlength=VOCAB.size)
        expected = softmax_with_temperature(logits, temperature)
        total_variation = 0.5 * np.abs(counts / num_streams - expected).sum()
        assert total_variation < 0.05, (temperature, total_variation)
    cold = softmax_with_temperature(logits, 0.002)
    hot = softmax_with_temperature(logits, 100.0)
    assert cold.max() > 0.99 and cold.argmax() == logits.argmax()
    np.testing.assert_allclose(hot, 1 / VOCAB.size, rtol=0.1)
    same = generator.generate("X:", 20, 1.0, num_streams=2, seed=9)
    assert same == generator.generate("X:", 20, 1.0, num_streams=2, seed=9)


def test_generation_rejects_bad_start_strings():
    generator = Generator(_peaked_model(VOCAB), VOCAB)
    with pytest.raises(ValueError, match="start_string is empty"):
        generator.generate("", 10)
    with pytest.raises(ValueError, match="not in the model's vocabulary"):
        generator.generate("X:1\nQ:", 10)  # "Q" never occurs in VOCAB
    with pytest.raises(ValueError, match="temperature"):
        generator.generate("X:", 10, temperature=-1)


def test_a_negative_character_count_is_refused_and_zero_writes_nothing():
    generator = Generator(_peaked_model(VOCAB), VOCAB)
    with pytest.raises(ValueError, match="num_characters is -5.*must be >= 0"):
        generator.generate("X:", -5)
    assert generator.generate("X:", 0, num_streams=2) == ["X:", "X:"]


def test_budget_schedule_warms_up_then_decays_to_zero():
    schedule = BudgetSchedule(1e-2, num_steps=1000)
    assert schedule.rate(0.0) == pytest.approx(1e-3)
    assert schedule.rate(0.03) == pytest.approx(1e-2)
    later = [schedule.rate(p) for p in np.linspace(0.03, 1.0, 50)]
    assert all(a >= b for a, b in zip(later, later[1:], strict=False))
    assert later[-1] == pytest.approx(0.0, abs=1e-12)


# ----------------------------------------------------------------------------- ABC, MIDI, WAV

def test_complete_tunes_keeps_finished_tunes_with_a_key_and_music():
    text = (
        "X:1\nT:a\nK:D\nDEF|\n\n"  # complete: the next X: follows
        "X:2\nT:no key line\nDEF|\n\n"  # no K: line
        "X:3\nT:b\nK:G\nGAB|\n\n"  # complete
        "X:4\nT:cut off\nK:A\nAB"  # the generator stopped in the middle of it
    )
    assert [t.splitlines()[0] for t in complete_tunes(text)] == ["X:1", "X:3"]
    assert len(complete_tunes(text + "c|\n\n")) == 3  # now closed by a blank line
    assert complete_tunes("X:1\nT:header only\nK:D\n") == []
    with pytest.raises(ValueError, match="no ABC tune"):
        complete_tunes("no tune here")


@needs_abc2midi
def test_validity_rule_with_abc2midi_on_hand_written_tunes():
    assert check_tune(GOOD_TUNE).valid
    # ":|" without an opening "|:" only draws abc2midi's stylistic repeat warning.
    assert check_tune(GOOD_TUNE.replace("F2D2:|", "F2D2|\nABcd efga:|")).valid
    wrong = check_tune(WRONG_BARS)
    assert not wrong.valid and any("time units" in p for p in wrong.problems)
    broken = check_tune(BROKEN)
    assert not broken.valid and any(p.startswith("Error") for p in broken.problems)
    # A blank line after K: ends the tune: abc2midi writes a MIDI without notes.
    assert not check_tune(GOOD_TUNE.replace("K:D\n", "K:D\n\n")).valid


@needs_abc2midi
def test_midi_reader_gets_the_pitches_and_beats_abc2midi_wrote():
    notes = read_midi_notes(check_tune("X:1\nM:4/4\nL:1/4\nK:C\nC D E F|G4|\n").midi)
    assert [n.pitch for n in notes] == [60, 62, 64, 65, 67]
    np.testing.assert_allclose([n.start for n in notes], [0, 1, 2, 3, 4], atol=0.05)
    assert notes[-1].duration == pytest.approx(4, abs=0.1)


def _midi_file(track: bytes, division: int = 96) -> bytes:
    header = b"MThd" + struct.pack(">IHHH", 6, 0, 1, division)
    return header + b"MTrk" + struct.pack(">I", len(track)) + track


def test_midi_reader_on_a_hand_made_file_with_running_status():
    track = bytes(
        [0x00, 0xFF, 0x51, 0x03, 0x07, 0xA1, 0x20]  # tempo meta event
        + [0x00, 0x90, 60, 100]  # note on C4
        + [0x60, 64, 100]  # 96 ticks later, running status: note on E4
        + [0x00, 60, 0]  # note on with velocity 0 = note off for C4
        + [0x81, 0x40, 0x80, 64, 0]  # 192 ticks (two-byte length) later: note off E4
        + [0x00, 0xFF, 0x2F, 0x00]  # end of track
    )
    notes = read_midi_notes(_midi_file(track))
    assert [(n.pitch, n.start, n.duration) for n in notes] == [(60, 0, 1), (64, 1, 2)]
    with pytest.raises(ValueError, match="MThd"):
        read_midi_notes(b"RIFF0000")


def test_missing_tools_give_an_install_hint_and_rendering_still_writes_the_abc(
    tmp_path, monkeypatch
):
    empty = tmp_path / "bin"
    empty.mkdir()
    with pytest.raises(MissingToolError, match="apt-get install"):
        find_program("abc2midi", search_path=str(empty))
    assert not tools_available(search_path=str(empty))
    monkeypatch.setenv("PATH", str(empty))
    rendered = render_tune(GOOD_TUNE, tmp_path / "out", "tune")
    assert rendered.abc_path.read_text().startswith("X:1")
    assert rendered.midi_path is None and "abc2midi" in rendered.message
    assert "apt-get install" in rendered.message


def _write_wav(path, samples):
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(np.asarray(samples, dtype="<i2").tobytes())


def test_a_silent_wav_from_timidity_is_refused(tmp_path):
    # A stand-in for timidity without a soundfont: it writes a WAV of near-silence.
    fake = tmp_path / "timidity"
    fake.write_text(
        f"#!{sys.executable}\n"
        "import sys, wave\n"
        "out = sys.argv[sys.argv.index('-o') + 1]\n"
        "w = wave.open(out, 'wb'); w.setnchannels(1); w.setsampwidth(2); w.setframerate(8000)\n"
        "w.writeframes(b'\\x03\\x00' * 8000); w.close()\n"
    )
    fake.chmod(0o755)
    midi = tmp_path / "tune.mid"
    midi.write_bytes(_midi_file(bytes([0x00, 0xFF, 0x2F, 0x00])))
    with pytest.raises(SilentAudioError, match="soundfont"):
        midi_to_wav(midi, tmp_path / "tune.wav", timidity=str(fake))
    assert not (tmp_path / "tune.wav").exists()
    _write_wav(tmp_path / "loud.wav", [0, 16384, -32768, 5])
    assert wav_peak(tmp_path / "loud.wav") == pytest.approx(1.0)


@needs_abc2midi
@pytest.mark.skipif(shutil.which("timidity") is None, reason="no timidity")
def test_render_tune_writes_midi_wav_and_notes(tmp_path):
    rendered = render_tune(GOOD_TUNE, tmp_path, "good")
    if rendered.wav_path is None:  # timidity present, but no soundfont on this machine
        assert "soundfont" in rendered.message
    else:
        assert wav_peak(rendered.wav_path) > 0.01
    # 12 notes, played twice: the ":|" repeats the line.
    assert rendered.midi_path.exists() and len(rendered.notes) == 24


def test_longest_copy_matches_brute_force():
    rng = np.random.default_rng(0)
    for _ in range(30):
        text = "".join(rng.choice(list("abc"), size=int(rng.integers(1, 40))))
        query = "".join(rng.choice(list("abcd"), size=int(rng.integers(0, 30))))
        finder = CopyFinder(text)
        found = finder.longest_copy(query)
        best = max(
            (j - i for i in range(len(query)) for j in range(i + 1, len(query) + 1)
             if query[i:j] in text),
            default=0,
        )
        assert len(found) == best and found in text and found in query


# ----------------------------------------------------------------------------- training and CLI

class _Interrupt(Exception):
    pass


class _InterruptAtEpoch(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 1:
            raise _Interrupt


@pytest.mark.slow
def test_training_resumes_after_an_interruption(tmp_path, capsys):
    from rnn_music.data import load_splits
    from rnn_music.train import train

    config = get_config("smoke")
    splits = load_splits(config)
    keras.utils.set_random_seed(config.seed)
    with pytest.raises(_Interrupt):
        train(splits, config, folder=tmp_path, callbacks=[_InterruptAtEpoch()])
    saved = json.loads((tmp_path / "state.json").read_text())
    assert saved["epochs_done"] == 1 and not (tmp_path / "model.keras").exists()
    capsys.readouterr()
    keras.utils.set_random_seed(config.seed + 1)  # everything must come from the checkpoint
    model, history = train(splits, config, folder=tmp_path)
    assert "Resuming" in capsys.readouterr().out
    assert history["val_loss"][0] == saved["history"]["val_loss"][0]
    assert len(history["val_loss"]) == 2 and history["steps"][-1] == config.num_steps
    assert int(model.optimizer.iterations) == config.num_steps
    # The same windows and dropout masks as a run that was never interrupted.
    keras.utils.set_random_seed(config.seed)
    straight_model, straight = train(splits, config, folder=tmp_path / "straight")
    for name in ("loss", "val_loss"):
        np.testing.assert_allclose(history[name], straight[name], rtol=1e-5)
    for resumed, unbroken in zip(model.weights, straight_model.weights, strict=True):
        np.testing.assert_allclose(resumed, unbroken, rtol=1e-5, atol=1e-6)
    _, again = train(splits, config, folder=tmp_path)
    assert "Loaded the finished run" in capsys.readouterr().out
    assert again == history


@pytest.mark.slow
def test_command_line_writes_samples_metrics_and_figures(tmp_path, monkeypatch):
    from rnn_music.__main__ import main

    monkeypatch.setenv("DL_CHECKPOINT_DIR", str(tmp_path))
    metrics = main(["--profile", "smoke"])
    out = runs_root() / "rnn_music" / "smoke"
    assert json.loads((out / "metrics.json").read_text()) == metrics
    assert metrics["train_steps"] == get_config("smoke").num_steps
    assert 0 < metrics["heldout_nats_per_char"] < np.log(100)
    assert (out / "history.png").stat().st_size > 1000
    assert (out / "generated.abc").exists()
    assert keras.models.load_model(out / "model" / "model.keras").output_shape[-1] > 50
