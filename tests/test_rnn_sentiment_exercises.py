"""Chapter 1 additions of issue 17: the exercise checks, the turning-review finder, the figures.

Every published solution is run through its check in tests/test_exercises.py; here the checks
must also catch the mistakes a learner is likely to make.
"""

import matplotlib

matplotlib.use("Agg")

import course  # noqa: F401, E402  (quiets TensorFlow before it is imported)

# isort: split
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from course.exercises import FAIL, PASS  # noqa: E402
from rnn_sentiment import exercises, plots  # noqa: E402
from rnn_sentiment.config import get_config  # noqa: E402
from rnn_sentiment.data import make_vectorizer  # noqa: E402
from rnn_sentiment.lstm_numpy import sigmoid  # noqa: E402
from rnn_sentiment.train import find_turning_review, turns_at  # noqa: E402


def lstm_step_in_the_notes_order(x_t, h_prev, c_prev, kernel, recurrent_kernel, bias):
    """The classic mistake: Keras's blocks read as (c~, f, i, o)."""
    z = x_t @ kernel + h_prev @ recurrent_kernel + bias
    z_candidate, z_forget, z_input, z_output = np.split(z, 4, axis=-1)
    c_t = sigmoid(z_forget) * c_prev + sigmoid(z_input) * np.tanh(z_candidate)
    return sigmoid(z_output) * np.tanh(c_t), c_t


def test_checks_catch_the_likely_mistakes(capsys):
    def srn_with_column_vectors(x_t, h_prev, W, U, b):
        return np.tanh(x_t @ W + h_prev @ U.T + b)

    assert exercises.check_srn_step(srn_with_column_vectors) == FAIL
    assert exercises.check_lstm_step(lstm_step_in_the_notes_order) == FAIL
    # Only h_t, not the pair (h_t, c_t): the shape says what is missing.
    assert exercises.check_lstm_step(lambda *args: lstm_step_in_the_notes_order(*args)[0]) == FAIL
    assert "the answer has shape (2, 4), expected (2, 2, 4)" in capsys.readouterr().out
    # Input and state sizes swapped, or the bias forgotten.
    assert exercises.check_lstm_parameter_count(lambda m, d: 4 * (d * m + m * m + m)) == FAIL
    assert exercises.check_lstm_parameter_count(lambda m, d: 4 * (m * d + d * d)) == FAIL

    def gru_with_the_gates_swapped(x_t, h_prev, kernel, recurrent_kernel, bias):
        x_z, x_r, x_h = np.split(x_t @ kernel + bias[0], 3, axis=-1)
        h_z, h_r, h_h = np.split(h_prev @ recurrent_kernel + bias[1], 3, axis=-1)
        update, reset = sigmoid(x_z + h_z), sigmoid(x_r + h_r)
        candidate = np.tanh(x_h + reset * h_h)
        return (1 - update) * h_prev + update * candidate

    assert exercises.check_gru_step(gru_with_the_gates_swapped) == FAIL


def test_parameter_count_check_agrees_with_keras_on_the_formula():
    def count(m, d):
        return 4 * (m * d + d * d + d)

    assert exercises.check_lstm_parameter_count(count) == PASS
    assert [exercises.keras_lstm_parameters(m, d) for m, d in exercises.LAYER_SIZES] == [
        count(m, d) for m, d in exercises.LAYER_SIZES
    ]


@pytest.mark.parametrize(
    ("probabilities", "expected"),
    [
        ([0.5, 0.7, 0.8, 0.9, 0.3, 0.2, 0.1], 4),  # positive until "but", negative right after
        ([0.5, 0.7, 0.8, 0.9, 0.8, 0.8, 0.2], 4),  # the end turns, within five words of "but"
        ([0.5, 0.7, 0.8, 0.9, 0.8, 0.8, 0.9], None),  # never turns
        ([0.5, 0.3, 0.2, 0.1, 0.2, 0.4, 0.3], None),  # negative throughout
    ],
)
def test_turns_at_reads_the_verdict_around_the_pivot(probabilities, expected):
    words = ["a", "fine", "cast", "and", "but", "dull", "plot"]
    assert turns_at(words, probabilities) == expected


def test_turns_at_needs_the_turn_soon_after_the_pivot_and_words_before_it():
    words = ["the", "cast", "is", "fine", "but", "x", "x", "x", "x", "x", "x", "dull"]
    late = [0.6, 0.7, 0.7, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.2]
    assert turns_at(words, late) is None  # the verdict turns six words after the "but"
    assert turns_at(words, late, window=8) == 4
    assert turns_at(["fine", "but", "dull", "dull"], [0.8, 0.8, 0.2, 0.1]) is None  # too early
    assert turns_at(["a", "dull", "film"], [0.5, 0.2, 0.2]) is None  # no "but"


class WordScoreModel:
    """A stand-in network: P(positive) = sigmoid(sum of fixed word scores over the prefix)."""

    def __init__(self, vectorizer, scores):
        vocabulary = vectorizer.get_vocabulary()
        self.score = np.array([scores.get(word, 0.0) for word in vocabulary])

    def predict(self, prefixes, batch_size=None, verbose=0):
        return sigmoid(self.score[prefixes].sum(axis=1))[:, None]


def test_find_turning_review_takes_the_first_short_review_that_turns_at_but():
    texts = [
        "a good film but a dull plot",  # label 0, turns: found second
        "dull dull and dull",  # label 0, no "but": not a candidate
        "a dull film but good good good",  # label 1
        "good good but still good",  # label 0 but never turns (and is wrong)
        "good cast good music and then " * 20 + "but dull dull dull dull",  # too long
    ]
    labels = np.array([0, 0, 1, 0, 0])
    order = [3, 1, 0, 2, 4]  # the non-turning candidate first
    texts, labels = [texts[i] for i in order], labels[order]
    vectorizer = make_vectorizer(texts, 50)
    model = WordScoreModel(vectorizer, {"good": 1.0, "dull": -2.0})
    config = get_config("smoke")
    found = find_turning_review(texts, labels, 0, model, vectorizer, config)
    assert texts[found.index] == "a good film but a dull plot"
    assert found.tried == 2 and found.words[found.position] == "but"
    assert found.probabilities[found.position - 1] > 0.5 > found.probabilities[-1]
    assert find_turning_review(texts, labels, 0, model, vectorizer, config, max_tries=1) is None
    positive = find_turning_review(texts, labels, 1, model, vectorizer, config)
    assert texts[positive.index] == "a dull film but good good good"


def test_running_probability_wraps_long_reviews_and_marks_the_pivot():
    words = [f"w{i}" for i in range(65)]
    fig = plots.plot_running_probability(words, np.linspace(0.1, 0.9, 65), "t", mark=40)
    assert len(fig.axes) == 3  # 30 + 30 + 5 words
    labels = [label.get_text() for label in fig.axes[1].get_xticklabels()]
    assert labels[0] == "w30" and len(labels) == 30
    assert fig.axes[1].get_xticklabels()[10].get_fontweight() == "bold"
    widths = {round(ax.get_xlim()[1] - ax.get_xlim()[0]) for ax in fig.axes}
    assert widths == {30}  # one scale on every row, the last one included


@pytest.mark.parametrize("num_epochs", [1, 3])
def test_history_plot_has_whole_epochs_and_a_legend_on_both_panels(num_epochs):
    history = {name: list(np.linspace(0.5, 0.8, num_epochs))
               for name in ("loss", "val_loss", "accuracy", "val_accuracy")}
    fig = plots.plot_histories({"srn": history, "bilstm": history})
    fig.canvas.draw()
    for ax in fig.axes:
        left, right = ax.get_xlim()
        ticks = [tick for tick in ax.get_xticks() if left <= tick <= right]
        assert ticks == list(range(1, num_epochs + 1))
        assert ax.get_legend() is not None
