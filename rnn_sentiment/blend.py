"""Blending two classifiers by their log-odds, with the weight chosen on validation.

    logit(P) = (1 - weight) * logit(P_first) + weight * logit(P_second)

Mixing log-odds rather than probabilities lets a confident model outvote a hesitant one, and
the weight corrects for one model's log-odds being on a larger scale than the other's.
"""

from __future__ import annotations

import numpy as np

BLEND_WEIGHTS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def log_odds(probabilities) -> np.ndarray:
    """log(P / (1 - P)), with P clipped away from 0 and 1."""
    clipped = np.clip(np.asarray(probabilities, "float64"), 1e-7, 1 - 1e-7)
    return np.log(clipped) - np.log1p(-clipped)


def blend(first, second, weight: float) -> np.ndarray:
    """P(positive) from (1 - weight) * log-odds of ``first`` + weight * log-odds of ``second``."""
    mixed = (1 - weight) * log_odds(first) + weight * log_odds(second)
    return 1 / (1 + np.exp(-mixed))


def blend_weight(first_val, second_val, labels) -> float:
    """The weight in BLEND_WEIGHTS whose blend is most accurate on validation (smallest on ties)."""
    labels = np.asarray(labels)
    scores = [np.mean((blend(first_val, second_val, w) > 0.5) == labels) for w in BLEND_WEIGHTS]
    return BLEND_WEIGHTS[int(np.argmax(scores))]
