"""Checks for the exercises at the end of notebook 02: each calls a learner's function on fixed
inputs, compares the answer with the package's own computation, and prints [PASS], [FAIL] with
what is wrong, or [TODO] while the function still returns None. None of them trains a model."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from course.exercises import FAIL, PASS, attempt, check_function, verdict
from rnn_music.bars import Meter, read_events
from rnn_music.data import Vocabulary
from rnn_music.model import softmax_with_temperature

TEMPERATURES = (0.2, 1.0, 1.5)
# The last row would overflow exp() without subtracting the largest logit first.
LOGITS = np.array([[2.0, 1.0, 0.5, -1.0, 0.0], [0.0, 0.0, 0.0, 0.0, 3.0],
                   [1000.0, 999.0, 990.0, 0.0, -5.0]])
BARS = ("edB Bcd", "B2G A2", "A3/2B/ c2", "^F2 G,2 z2", "d/e/f/g/ a2", "c'3 =B,/A/ _e2")
UNIT = Fraction(1, 8)


def _each(function, inputs):
    """A function of nothing that answers ``function(*args)`` for every args in ``inputs``,
    stacked, or None as soon as one answer is None (an unfinished exercise)."""
    def answers():
        results = [function(*args) for args in inputs]
        if any(result is None for result in results):
            return None
        return np.stack([np.asarray(result, dtype="float64") for result in results])
    return answers


def check_softmax(my_softmax) -> str:
    """``my_softmax(logits, temperature)``: softmax(z / T) along the last axis."""
    inputs = [(LOGITS, temperature) for temperature in TEMPERATURES]
    expected = np.stack([softmax_with_temperature(LOGITS, t) for t in TEMPERATURES])
    return check_function(
        _each(my_softmax, inputs), (), expected,
        "divide the logits by T, subtract each row's largest value (exp(1000) overflows), "
        "exponentiate, and divide by each row's sum (axis=-1, keepdims=True).", atol=1e-9)


def check_perplexity(perplexity) -> str:
    """``perplexity(probabilities)``: exp of the mean of -ln p over the predicted characters."""
    rng = np.random.default_rng(2)
    cases = [np.array([0.5, 0.25, 0.125]), np.full(10, 1 / 83), rng.uniform(0.05, 1.0, 50)]
    expected = np.array([np.exp(-np.mean(np.log(p))) for p in cases])
    return check_function(
        _each(perplexity, [(p,) for p in cases]), (), expected,
        "first the loss in nats per character, -mean(ln p); the perplexity is e to that power. "
        "A model that gives every one of 83 characters 1/83 has perplexity 83.")


def bar_units_expected(bar: str, unit: Fraction = UNIT) -> float:
    """The time in a bar's notes, in units of L, as the package's ABC reader counts it."""
    events = read_events(bar, Meter(bar=None, unit=unit))
    return float(sum(event[1] for event in events if event[0] == "note") / unit)


def check_bar_units(bar_units) -> str:
    """``bar_units(bar)``: the length of a bar's notes in units of L."""
    return check_function(
        _each(bar_units, [(bar,) for bar in BARS]), (), [bar_units_expected(b) for b in BARS],
        f"for the bars {BARS}: a plain note is 1 unit, a number after it multiplies, '/' "
        "halves, '/n' divides by n, '3/2' is one and a half; accidentals (^ = _) and octave "
        "marks (' ,) take no time, and z is a rest, which does.")


# ---------------------------------------------------------------------------------------------
# A sampling loop with a stop rule, run on a stand-in for the Generator

SCRIPT = ("X:1\nT:Scripted\nM:6/8\nL:1/8\nK:D\nd|edB Bcd|edB A2:|\n\n"
          "X:2\nT:Not reached\nM:C\nL:1/8\nK:G\nGABc dedB|\n\n")


class ScriptedGenerator:
    """Stands in for ``rnn_music.model.Generator`` (same ``vocabulary``, ``zero_state`` and
    ``run``): its "model" recites ``SCRIPT``, giving the next character of the script a logit
    30 above every other one, whatever it was fed. Its state counts the characters read."""

    def __init__(self, script: str = SCRIPT):
        self.vocabulary = Vocabulary.from_text(script)
        self.script = self.vocabulary.encode(script)

    def zero_state(self, batch: int):
        zeros = np.zeros((batch, 1), dtype="float32")
        return zeros, zeros.copy()

    def run(self, tokens, state):
        tokens = np.asarray(tokens)
        position = np.asarray(state[0])[:, 0].astype(int)
        logits = np.zeros((*tokens.shape, self.vocabulary.size), dtype="float32")
        for t in range(tokens.shape[1]):
            position = position + 1
            logits[np.arange(len(position)), t, self.script[position % len(self.script)]] = 30.0
        return logits, (position[:, None].astype("float32"), np.asarray(state[1]))


def check_sample_one_tune(sample_one_tune) -> str:
    """``sample_one_tune(generator, temperature, max_characters, seed)``: "X:" and the drawn
    characters, stopping after the first blank line or after ``max_characters`` draws."""
    generator = ScriptedGenerator()
    first_tune = SCRIPT[: SCRIPT.index("\n\n") + 2]
    cases = [((0.5, 500, 0), first_tune), ((1.5, 500, 1), first_tune),
             ((1.0, 10, 2), SCRIPT[:12])]
    for (temperature, max_characters, seed), expected in cases:
        answer, failed = attempt(
            lambda: sample_one_tune(generator, temperature, max_characters, seed))  # noqa: B023
        if failed:
            return failed
        if answer != expected:
            return verdict(
                FAIL,
                f"with temperature={temperature}, max_characters={max_characters} on a model "
                f"that recites a tune, expected {expected!r}, got {answer!r}. Start from 'X:', "
                "feed each drawn character back in with the state, and stop right after the "
                "first blank line ('\\n\\n') or after max_characters draws.")
    return verdict(PASS)


CHECKS = {
    "my_softmax": check_softmax,
    "perplexity": check_perplexity,
    "bar_units": check_bar_units,
    "sample_one_tune": check_sample_one_tune,
}
