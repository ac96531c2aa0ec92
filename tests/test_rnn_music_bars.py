"""Chapter 2: counting bars like abc2midi, and the sampler that redraws wrong bars."""

import shutil
from fractions import Fraction

import numpy as np
import pytest

from course.fetch import SAMPLES_DIR
from rnn_music.abc_tools import check_tune
from rnn_music.bar_sampler import sample_tunes_bar_checked
from rnn_music.bars import bar_problems, header_meter, parse_meter, read_events, split_header
from rnn_music.data import Vocabulary, split_tunes

# The committed sample is the whole corpus, byte for byte (tests/test_samples.py checks it).
CORPUS = SAMPLES_DIR / "irish_abc" / "irish.abc"
needs_abc2midi = pytest.mark.skipif(shutil.which("abc2midi") is None, reason="no abc2midi")

JIG = "X:1\nT:t\nM:6/8\nL:1/8\nK:G\n"
# (body, does abc2midi complain?) in 6/8: a pickup of one eighth, parts with and without repeats
CASES = [
    ("d|edB Bcd|edB cAF|GBA BGA|B2G A2:|\n", False),  # last bar 5 + pickup 1 = 6
    ("d|edB Bcd|edB cAF|GBA BGA|B2G A3:|\n", True),  # full last bar: the pickup is short
    ("d|edB Bcd|edB cAF|GBA BGA|B2G A2|\n", True),  # no repeat: a short bar before |
    ("edB Bcd|edB cA|GBA BGA|B2G A3|\n", True),  # a short bar inside the tune
    ("edB Bcd|edB cAF|GBA BGA|B2G A2|]\n", False),  # |] does not end a short bar
    ("|:d|edB Bcd|B2G A2:|\n|:e|fed edB|B2G A2:|\n", False),
    ("(3ded B2 c|d>ed B<c d|]\n", False),  # triplet: 3 in the time of 2; broken rhythm
    ("GBA BGA|[1 B2G A3:|[2 B2G A2 z|]\n", False),  # first and second endings
    ("GBA BGA|[1 B2G A3:|[2 B2G A2|]\n", False),
    ("GBA BGA|[1 B2G A3:|[2 B2G A2|B3 c3|]\n", True),
    ("GBA BGA|B2G A3:|\nd|gdB GBd|[1 AGF G2:|[2 AGF G2|]\n", True),  # [1 opens no repeat
]


def test_meters_and_unit_lengths():
    assert parse_meter("6/8") == Fraction(3, 4)
    assert parse_meter("C") == parse_meter("C|") == parse_meter("4/4") == 1
    assert parse_meter("none") is None
    assert header_meter("M:2/4\n").unit == Fraction(1, 16)  # below 3/4: L defaults to 1/16
    assert header_meter("M:6/8\nL:1/4\n").unit == Fraction(1, 4)
    assert split_header(JIG + "abc|\n") == (JIG.rstrip("\n"), "abc|\n")


def test_note_lengths_in_whole_notes():
    meter = header_meter("M:4/4\nL:1/8")
    lengths = [e[1] for e in read_events("A2 B/ c// d3/2 z4 (3efg a>b {ga}c [ceg]2", meter)
               if e[0] == "note"]
    eighth = Fraction(1, 8)
    triplet = eighth * Fraction(2, 3)
    expected = [2 * eighth, eighth / 2, eighth / 4, eighth * Fraction(3, 2), 4 * eighth,
                triplet, triplet, triplet, eighth * Fraction(3, 2), eighth / 2, eighth,
                2 * eighth]
    assert lengths == expected


@pytest.mark.parametrize(("body", "complains"), CASES)
def test_hand_made_bars(body, complains):
    assert bool(bar_problems(JIG + body)) == complains


@needs_abc2midi
@pytest.mark.parametrize(("body", "complains"), CASES)
def test_hand_made_bars_agree_with_abc2midi(body, complains):
    assert abc2midi_complains(JIG + body) == complains


@needs_abc2midi
def test_bar_count_agrees_with_abc2midi_on_corpus_tunes():
    tunes = split_tunes(CORPUS.read_text())[::4]  # 201 tunes of every kind in the corpus
    disagree = [t for t in tunes if bool(bar_problems(t)) != abc2midi_complains(t)]
    assert not disagree, disagree[:2]


def abc2midi_complains(tune: str) -> bool:
    """A bar-length warning or an error (a tune without notes is invalid for another reason)."""
    problems = check_tune(tune).problems
    return any(p.startswith("Error") or "time units" in p for p in problems)


# ---------------------------------------------------------------------------------------------
# The sampler, on a scripted "model" whose only uncertainty is one bar's last note

SCRIPT_GOOD = "X:1\nT:t\nM:6/8\nL:1/8\nK:G\nd|edB Bcd|B2G A?:|\n\n"


class ScriptedGenerator:
    """Writes ``script`` one character at a time; at '?' it says '2' or '3' with equal odds.

    Its state is the position in the script (h[:, 0]), so rewinding the state rewinds it.
    """

    def __init__(self, script: str, choices="23"):
        self.script, self.choices = script, choices
        self.vocabulary = Vocabulary.from_text(script.replace("?", "") + choices)
        self.units = 1

    def zero_state(self, batch):
        return np.zeros((batch, 1), "float32"), np.zeros((batch, 1), "float32")

    def run(self, tokens, state):
        tokens = np.asarray(tokens)
        position = state[0][:, 0].astype(int) + tokens.shape[1]
        logits = np.full((len(tokens), 1, self.vocabulary.size), -1e9, "float32")
        for row, at in enumerate(position):
            wanted = self.script[at] if at < len(self.script) else "\n"
            for char in (self.choices if wanted == "?" else wanted):
                logits[row, 0, self.vocabulary.characters.index(char)] = 0.0
        new_h = position[:, None].astype("float32")
        return logits, (new_h, new_h.copy())


def test_sampler_redraws_the_wrong_bar_until_it_fits():
    generator = ScriptedGenerator(SCRIPT_GOOD)
    result = sample_tunes_bar_checked(generator, num_tunes=40, temperature=1.0, seed=3)
    assert len(result.tunes) == 40
    assert all(tune.endswith("A2:|") for tune in result.tunes)  # 5 + pickup 1 = 6
    assert all(not bar_problems(tune) for tune in result.tunes)
    assert result.bars_redrawn > 5  # about half the first draws were A3
    assert result.bars_kept_wrong == 0


def test_sampler_keeps_a_bar_it_cannot_fix_and_says_so():
    generator = ScriptedGenerator(SCRIPT_GOOD, choices="3")  # A3: always one eighth too long
    result = sample_tunes_bar_checked(generator, num_tunes=3, temperature=1.0, max_redraws=4)
    assert len(result.tunes) == 3 and result.bars_kept_wrong == 3
    assert result.bars_redrawn == 3 * 5
    assert all(bar_problems(tune) for tune in result.tunes)


def test_sampler_needs_a_positive_temperature():
    with pytest.raises(ValueError, match="temperature"):
        sample_tunes_bar_checked(ScriptedGenerator(SCRIPT_GOOD), 1, temperature=0)


def test_sampler_gives_up_on_a_model_that_never_ends_a_tune():
    endless = ScriptedGenerator("X:1\nT:t\nM:6/8\nL:1/8\nK:G\n" + "edB Bcd|" * 100)
    result = sample_tunes_bar_checked(endless, num_tunes=2, temperature=1.0, max_length=60)
    assert result.tunes == [] and result.tunes_abandoned >= 2
