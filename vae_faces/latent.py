"""Looking inside the DB-VAE's latent space: samples from the prior, and the one dimension that
follows skin tone most closely, walked from end to end."""

from __future__ import annotations

import keras
import numpy as np
from scipy.stats import spearmanr

from vae_faces.model import DebiasingVAE
from vae_faces.skin_tone import individual_typology_angle


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


def tone_walk(model: DebiasingVAE, means: np.ndarray, angles: np.ndarray, tone: np.ndarray,
              groups=("LF", "DM"), spread: float = 2.5, num_steps: int = 7) -> dict:
    """Walk the dimension that tracks skin tone from ``spread`` standard deviations below its
    mean to as far above, starting from the first face of each of ``groups``; each decoded image
    comes with its own ITA, to check whether the walk changes the measured tone."""
    dimension, correlation = tone_dimension(means, angles)
    column = means[:, dimension]
    values = column.mean() + np.linspace(-spread, spread, num_steps) * column.std()
    walks = {}
    for group in groups:
        start = means[np.flatnonzero(tone == group)[0]]
        decoded = traverse(model, start, dimension, values)
        walks[group] = (decoded, individual_typology_angle(np.rint(decoded * 255).astype("uint8")))
    return {"dimension": dimension, "correlation": correlation, "values": values, "walks": walks}
