"""The log-odds blend of two sentiment classifiers (rnn_sentiment.blend)."""

import numpy as np
import pytest

from rnn_sentiment.blend import BLEND_WEIGHTS, blend, blend_weight


def test_blend_mixes_log_odds():
    first, second = np.array([0.8, 0.5]), np.array([0.2, 0.9])
    # Equal weights of log-odds log 4 and -log 4 cancel: P = 0.5.
    assert blend(first, second, 0.5)[0] == pytest.approx(0.5)
    # Weight 0.25 on the second: 0.75 * 0 + 0.25 * log 9 for the second review.
    assert blend(first, second, 0.25)[1] == pytest.approx(1 / (1 + 9 ** -0.25))


def test_blend_weight_is_chosen_by_validation_accuracy():
    labels = np.array([1, 1, 0, 0])
    # The first model is right on reviews 0 and 2 with margin, the second on all four, weakly:
    # only a blend that leans on the second gets review 1 (and 3) right.
    first = np.array([0.9, 0.3, 0.1, 0.7])
    second = np.array([0.6, 0.6, 0.4, 0.4])
    weight = blend_weight(first, second, labels)
    assert weight in BLEND_WEIGHTS
    assert np.mean((blend(first, second, weight) > 0.5) == labels) == 1.0
    assert weight == min(w for w in BLEND_WEIGHTS
                         if np.mean((blend(first, second, w) > 0.5) == labels) == 1.0)
