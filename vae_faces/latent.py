"""Looking inside the DB-VAE's latent space: samples from the prior, and the one dimension that
follows skin tone most closely, walked from end to end."""

from __future__ import annotations

import keras
import numpy as np
from scipy.stats import spearmanr

from vae_faces.model import DebiasingVAE


def sample_prior(model: DebiasingVAE, num_samples: int, seed: int = 0) -> np.ndarray:
    """Decoded draws z ~ N(0, I): what the decoder makes of codes no image produced."""
    z = np.random.default_rng(seed).standard_normal((num_samples, model.latent_dim))
    return keras.ops.convert_to_numpy(model.decoder(z.astype("float32"), training=False))


def tone_dimension(means: np.ndarray, angles: np.ndarray) -> tuple[int, float]:
    """The latent dimension whose means rank the faces most like their ITA does, and that
    rank correlation (Spearman; its sign says which way lighter lies). NaN angles are skipped."""
    means, angles = np.asarray(means), np.asarray(angles)
    measured = ~np.isnan(angles)
    if measured.sum() < 3:
        raise ValueError("Need at least three faces with a measured ITA.")
    correlations = [spearmanr(column[measured], angles[measured]).statistic
                    for column in means.T]
    best = int(np.nanargmax(np.abs(correlations)))
    return best, float(correlations[best])


def traverse(model: DebiasingVAE, mean: np.ndarray, dimension: int, values) -> np.ndarray:
    """Decoded copies of one face's latent mean with ``dimension`` set to each of ``values``."""
    codes = np.repeat(np.asarray(mean, "float32")[None], len(values), axis=0)
    codes[:, dimension] = values
    return keras.ops.convert_to_numpy(model.decoder(codes, training=False))
