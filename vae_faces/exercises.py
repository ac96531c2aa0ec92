"""Checks for the exercises at the end of notebook 04: each compares a learner's function with
the package's own on fixed inputs and prints [PASS], [FAIL] with what is wrong, or [TODO]."""

from __future__ import annotations

import numpy as np

from course.exercises import check_function
from vae_faces.metrics import recall_on_rarest
from vae_faces.resampling import sampling_weights
from vae_faces.skin_tone import tone_groups


def check_kl(my_kl) -> str:
    """``my_kl(mean, log_variance)``: the closed-form KL term, one value per row."""
    import keras

    from vae_faces.model import kl_divergence

    rng = np.random.default_rng(7)
    mean, log_variance = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    expected = keras.ops.convert_to_numpy(
        kl_divergence(mean.astype("float32"), log_variance.astype("float32")))
    return check_function(
        my_kl, (mean, log_variance), expected,
        "sigma_j^2 is exp(log_variance), and the sum runs over the last axis only.", atol=1e-5)


def check_darker_share(darker_share) -> str:
    """``darker_share(angles, threshold)``: the share of measured faces below the threshold."""
    angles = np.array([-45.0, -31.0, -30.0, np.nan, 12.0, 40.0, -60.0, np.nan, -29.9, 5.0])
    groups = tone_groups(angles, np.full(len(angles), "Female"), -30.0)
    expected = np.mean(np.char.startswith(groups[groups != ""], "D"))
    return check_function(
        darker_share, (angles, -30.0), expected,
        "count only faces whose angle is not NaN, and 'below' means strictly less than.")


def check_product_weights(product_weights) -> str:
    """``product_weights(means, num_bins, alpha)``: the paper's product of per-dimension weights."""
    rng = np.random.default_rng(3)
    means = rng.normal(size=(300, 4)) * [1.0, 2.0, 0.5, 1.0]
    expected = sampling_weights(means, 10, 0.001, aggregate="product")
    return check_function(
        product_weights, (means, 10, 0.001), expected,
        "did you standardise each column first and normalise each dimension's scores to sum "
        "to 1?", atol=1e-9)


def check_rare_recall(rare_recall) -> str:
    """``rare_recall(rarity, found, fraction)``: recall on the rarest fraction and on the rest."""
    rarity = np.arange(10.0)
    found = np.array([1, 1, 1, 1, 1, 0, 1, 1, 0, 1], dtype=bool)
    return check_function(
        rare_recall, (rarity, found, 0.2), recall_on_rarest(rarity, found, 0.2),
        "the rarest faces have the LARGEST rarity: rarity >= np.quantile(rarity, 1 - fraction).")


CHECKS = {
    "my_kl": check_kl,
    "darker_share": check_darker_share,
    "product_weights": check_product_weights,
    "rare_recall": check_rare_recall,
}
