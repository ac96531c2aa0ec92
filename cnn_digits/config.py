"""Hyperparameters of the digits chapter, one frozen dataclass per profile."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from course.profiles import get_profile


@dataclass(frozen=True)
class DigitsConfig:
    """Everything a run of this chapter depends on; ``asdict`` of it keys the checkpoints."""

    profile: str
    num_train: int | None  # None: all 60,000 MNIST training images (minus validation)
    num_test: int | None  # None: all 10,000 test images
    num_validation: int = 5_000  # held out from the training images, for fit()'s validation
    batch_size: int = 128
    mlp_epochs: int = 6
    cnn_epochs: int = 4
    augmented_epochs: int = 16
    learning_rate: float = 3e-3
    # The optimizer keeps an exponential moving average of the weights, w_avg <- m w_avg +
    # (1 - m) w, and the model is evaluated and saved with it. m = 0.98 averages over the last
    # ~50 steps, smoothing the zig-zag of the high early learning rate (what it gained:
    # docs/decisions.md, chapter 3). None turns averaging off.
    weight_averaging_momentum: float | None = 0.98
    # Augmentation ranges (random per image, per epoch)
    rotation_degrees: float = 10.0
    shift_pixels: float = 2.0
    zoom_fraction: float = 0.1
    shear_fraction: float = 0.1
    seed: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


PROFILES = {
    "smoke": DigitsConfig(
        profile="smoke",
        num_train=1_000,
        num_test=500,
        num_validation=200,
        batch_size=100,
        mlp_epochs=1,
        cnn_epochs=1,
        augmented_epochs=2,
        # 10 steps an epoch: a 50-step average would still be mostly the initial weights.
        weight_averaging_momentum=0.8,
    ),
    "cpu": DigitsConfig(profile="cpu", num_train=None, num_test=None),
    "gpu": DigitsConfig(
        profile="gpu", num_train=None, num_test=None, mlp_epochs=20, cnn_epochs=15,
        augmented_epochs=40,
    ),
}


def get_config(profile: str | None = None, **overrides) -> DigitsConfig:
    """The configuration of ``profile`` (default: ``$DL_PROFILE`` or auto), with overrides."""
    return replace(PROFILES[get_profile(profile)], **overrides)
