"""Hyperparameters of the faces chapter, one frozen dataclass per profile."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

from course.profiles import get_profile

RESAMPLING_MODES = ("latent", "uniform", "group")

RACES = (
    "White", "Black", "East Asian", "Southeast Asian", "Indian", "Middle Eastern",
    "Latino_Hispanic",
)

# Skin-tone groups (vae_faces.skin_tone): "lighter" at or above this individual typology angle,
# "darker" below. -30 degrees is the published boundary of the "dark" category (Del Bino et al.
# 2006); why this value and not the training median: docs/decisions.md.
ITA_THRESHOLD = -30.0

# Faces per skin-tone group in the skewed training set: darker faces rare, as in the
# lighter-skinned celebrity corpora (CelebA) that detectors are often trained on.
SKEWED_TRAIN_COUNTS = {"LF": 1_500, "LM": 1_500, "DF": 150, "DM": 150}


@dataclass(frozen=True)
class FacesConfig:
    """Everything a run of this chapter depends on; ``asdict`` of it keys the checkpoints."""

    profile: str
    train_counts: dict = field(default_factory=lambda: dict(SKEWED_TRAIN_COUNTS))
    ita_threshold: float = ITA_THRESHOLD
    num_train_nonfaces: int = 3_000  # drawn from the non-faces left after the evaluation hold-out
    # Held-out non-faces that fix each detector's threshold at a chosen false-positive rate
    # (the benchmark's second reading of recall; see vae_faces.metrics.threshold_at_fpr).
    num_calibration_nonfaces: int = 2_000
    eval_faces_per_group: int | None = None  # None: all 300 FairFace-val faces per race group
    image_size: int = 32  # the files store 64x64; 2x2 averaging gives 32x32 (4x fewer pixels)
    batch_size: int = 64
    # k latent dimensions: few, so the resampler's per-dimension histograms find less noise.
    latent_dim: int = 8
    base_filters: int = 16
    cnn_epochs: int = 6
    dbvae_epochs: int = 10
    learning_rate: float = 1e-3
    # Training-only random shifts (up to this fraction of the frame each way) and zooms (in or
    # out by up to this fraction): FairFace's aligned crops put every face at one place and
    # size, and detectors trained on them missed faces framed otherwise (docs/decisions.md).
    # 0 switches either off. Colours are left alone: the skin tone is what the chapter measures.
    shift_fraction: float = 0.1
    zoom_fraction: float = 0.2
    # c in  L_VAE = c * KL + mean |x - x_hat|; ten times larger, the codes collapse to the prior.
    kl_weight: float = 0.0005
    num_bins: int = 10  # histogram bins per latent dimension for the resampler
    smoothing_alpha: float = 0.001  # alpha in  s_j ~ 1 / (Q_j + alpha)
    resampling_aggregate: str = "max"  # W ~ max_j s_j (see vae_faces.resampling)
    # How the DB-VAE draws its training faces each epoch (vae_faces.train.Resample):
    # "latent": the method, by inverse density in the latent space; "uniform": the ablation,
    # every face equally (what the VAE loss alone does to the shared encoder); "group": an
    # oracle that reads the skin-tone groups and gives each an equal share of the draws (the
    # best any resampler could do at finding the groups; the DB-VAE never sees these labels).
    resampling: str = "latent"
    seed: int = 0
    split_seed: int = 6194  # fixes which non-faces are held out and which faces are drawn

    def as_dict(self) -> dict:
        return asdict(self)


PROFILES = {
    "smoke": FacesConfig(
        profile="smoke",
        train_counts={group: max(3, count // 30) for group, count in SKEWED_TRAIN_COUNTS.items()},
        num_train_nonfaces=150,
        num_calibration_nonfaces=60,  # the sample file holds 360 non-faces (data/samples)
        eval_faces_per_group=20,
        batch_size=32,
        latent_dim=8,
        base_filters=8,
        cnn_epochs=1,
        dbvae_epochs=1,
    ),
    "cpu": FacesConfig(profile="cpu"),
    # The scale of the published reproduction (64x64 inputs, a latent of 100-200 dimensions,
    # tens of epochs); too slow for a CPU.
    "gpu": FacesConfig(
        profile="gpu", image_size=64, num_train_nonfaces=6_000, latent_dim=128, base_filters=32,
        cnn_epochs=20, dbvae_epochs=30,
    ),
}


def balanced_counts(counts: dict) -> dict:
    """As many faces in all as ``counts``, split equally over its groups (rounded)."""
    if not counts:
        raise ValueError("counts must name at least one group.")
    per_group = round(sum(counts.values()) / len(counts))
    return {group: per_group for group in counts}


def get_config(profile: str | None = None, **overrides) -> FacesConfig:
    """The configuration of ``profile`` (default: ``$DL_PROFILE`` or auto), with overrides."""
    return replace(PROFILES[get_profile(profile)], **overrides)
