"""Detection metrics per group, and bootstrap intervals for them.

Recall of a group = the fraction of its faces called faces (p >= threshold). Groups are race
labels (seven of 300 evaluation faces each) or skin-tone groups (four). The best-minus-worst gap
is inflated by sampling noise alone (the largest of several noisy numbers minus the smallest),
so every number comes with a bootstrap 95% interval.
"""

from __future__ import annotations

import numpy as np

from vae_faces.config import RACES

# The second operating point of every reading: the threshold at which this share of held-out
# calibration non-faces is called a face (see threshold_at_fpr).
MATCHED_FPR = 0.01


def recall_by_group(probabilities, groups, threshold: float = 0.5, group_names=RACES) -> dict:
    """{group: fraction of that group's faces with p(face) >= threshold}."""
    probabilities, groups = np.asarray(probabilities), np.asarray(groups)
    recalls = {}
    for name in group_names:
        members = groups == name
        if not members.any():
            raise ValueError(f"No faces of group {name!r} to compute a recall on.")
        recalls[name] = float(np.mean(probabilities[members] >= threshold))
    return recalls


def precision(probabilities, is_face, threshold: float = 0.5) -> float:
    """Of the images called faces, the fraction that are faces (1.0 when none is called)."""
    called = np.asarray(probabilities) >= threshold
    if not called.any():
        return 1.0
    return float(np.mean(np.asarray(is_face)[called] == 1))


def gap(recalls: dict) -> float:
    """Best group recall minus worst group recall."""
    return max(recalls.values()) - min(recalls.values())


def bootstrap_intervals(
    probabilities, groups, threshold: float = 0.5, num_resamples: int = 2000, seed: int = 0,
    group_names=RACES, level: float = 0.95,
) -> dict:
    """Percentile bootstrap intervals: {group: (low, high)}, plus 'gap' and 'worst'.

    Each resample redraws every group's faces with replacement (group sizes stay fixed, as in
    the balanced evaluation set), and recomputes each recall, the gap and the worst recall.
    """
    rng = np.random.default_rng(seed)
    probabilities, groups = np.asarray(probabilities), np.asarray(groups)
    hits = {name: probabilities[groups == name] >= threshold for name in group_names}
    draws = np.empty((num_resamples, len(group_names)))
    for column, name in enumerate(group_names):
        if len(hits[name]) == 0:
            raise ValueError(f"No faces of group {name!r} to bootstrap.")
        # The mean of n draws from the group's hits, num_resamples times.
        index = rng.integers(0, len(hits[name]), size=(num_resamples, len(hits[name])))
        draws[:, column] = hits[name][index].mean(axis=1)
    tail = 100 * (1 - level) / 2
    def interval(values):
        return tuple(float(v) for v in np.percentile(values, [tail, 100 - tail]))
    result = {name: interval(draws[:, column]) for column, name in enumerate(group_names)}
    result["gap"] = interval(draws.max(axis=1) - draws.min(axis=1))
    result["worst"] = interval(draws.min(axis=1))
    return result


def threshold_at_fpr(nonface_probabilities, false_positive_rate: float) -> float:
    """The threshold at which a fraction ``false_positive_rate`` of these non-faces (held out
    from training and evaluation) would be called faces.

    Recall at a fixed threshold of 0.5 moves with each run's calibration: two runs that rank
    the images alike can differ by points of recall because one leans towards "face". At a
    common false-positive rate every detector is read at the same operating point.
    """
    values = np.asarray(nonface_probabilities, dtype="float64")
    if values.ndim != 1 or len(values) == 0 or not 0 < false_positive_rate < 1:
        raise ValueError("Need a non-empty 1-D array and a false-positive rate in (0, 1).")
    return float(np.quantile(values, 1.0 - false_positive_rate))


def summarize(probabilities, is_face, groups, threshold: float = 0.5, group_names=RACES) -> dict:
    """Recall per group, worst-group recall, gap and precision on an evaluation set."""
    face = np.asarray(is_face) == 1
    recalls = recall_by_group(np.asarray(probabilities)[face], np.asarray(groups)[face], threshold,
                              group_names)
    return {
        "recall_by_group": recalls,
        "worst_group_recall": min(recalls.values()),
        "gap": gap(recalls),
        "precision": precision(probabilities, is_face, threshold),
    }


def recall_on_rarest(rarity, found, fraction: float) -> tuple[float, float]:
    """Recall on the faces whose ``rarity`` is at or above its ``1 - fraction`` quantile (the
    rarest ``fraction``), and recall on the others. ``found``: True/False per face."""
    rarity, found = np.asarray(rarity, dtype="float64"), np.asarray(found, dtype=bool)
    if rarity.shape != found.shape:
        raise ValueError(f"rarity {rarity.shape} and found {found.shape} must match.")
    rare = rarity >= np.quantile(rarity, 1 - fraction)
    return float(found[rare].mean()), float(found[~rare].mean())


def separation_auc(values, members) -> float:
    """How well one number separates a group from the rest: the ROC AUC of ``values`` for
    ``members`` (True/False per example), folded so that 0.5 means no separation and 1.0
    perfect separation in either direction. Computed from ranks (Mann-Whitney U); ties share
    their mean rank."""
    from scipy.stats import rankdata

    values, members = np.asarray(values, dtype="float64"), np.asarray(members, dtype=bool)
    num_in, num_out = int(members.sum()), int((~members).sum())
    if num_in == 0 or num_out == 0:
        raise ValueError("separation_auc needs examples both in and out of the group.")
    ranks = rankdata(values)
    auc = (ranks[members].sum() - num_in * (num_in + 1) / 2) / (num_in * num_out)
    return float(max(auc, 1.0 - auc))


def latent_group_separation(latent_means, groups, group_names=RACES) -> dict:
    """{group: (best AUC over the latent dimensions, that dimension)}: how visible each group
    is along the single most telling axis of the latent space, the only view the per-dimension
    resampler has."""
    latent_means, groups = np.asarray(latent_means), np.asarray(groups)
    result = {}
    for name in group_names:
        scores = [separation_auc(column, groups == name) for column in latent_means.T]
        best = int(np.argmax(scores))
        result[name] = (scores[best], best)
    return result
