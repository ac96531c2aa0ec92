"""Hyperparameters of the music chapter, one frozen dataclass per profile."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from course.profiles import get_profile


@dataclass(frozen=True)
class MusicConfig:
    """Everything a run of this chapter depends on; ``asdict`` of it keys the checkpoints."""

    profile: str
    num_tunes: int | None = None  # None: all 804 tunes; a number takes the first ones (smoke)
    heldout_fraction: float = 0.1  # of the tunes, drawn at random, never trained on
    # Model: Embedding -> LSTM -> Dense over the vocabulary
    embedding_dim: int = 64
    rnn_units: int = 256
    # Dropout in training on the LSTM's inputs and outputs (rnn_music.model.build_model): the
    # corpus is small enough to memorise (docs/decisions.md, "Chapter 2").
    input_dropout: float = 0.2
    output_dropout: float = 0.5
    # Training on random windows of the training text
    sequence_length: int = 200
    batch_size: int = 32
    learning_rate: float = 5e-3  # peak; a cosine decay takes it down as training progresses
    # A fixed number of steps, so a rerun reproduces the run; only the benchmark stops on the
    # clock (``train_seconds``), to compare recipes at equal time.
    num_steps: int = 1_750
    train_seconds: float | None = None
    steps_per_checkpoint: int = 250  # one Keras "epoch": a checkpoint and a held-out evaluation
    # Generation
    temperature: float = 0.5  # below 1: fewer slips in bar lengths, safer tunes
    num_sampled_tunes: int = 100
    num_streams: int = 40  # tunes are generated in parallel, one stream per batch row
    stream_length: int = 1_200  # characters per stream (about four tunes each)
    # The bar-checked sampler (rnn_music.bar_sampler): draws of one bar before keeping it
    # as it is, and the longest tune before a stream gives up and starts another
    max_bar_redraws: int = 30
    max_tune_length: int = 2_000
    seed: int = 0

    def as_dict(self) -> dict:
        return asdict(self)

    def training_fingerprint(self) -> dict:
        """The fields that change what training produces (generation settings excluded)."""
        keep = (
            "num_tunes", "heldout_fraction", "embedding_dim", "rnn_units", "input_dropout",
            "output_dropout", "sequence_length",
            "batch_size", "learning_rate", "num_steps", "train_seconds", "steps_per_checkpoint",
            "seed",
        )
        return {name: getattr(self, name) for name in keep}


PROFILES = {
    "smoke": MusicConfig(
        profile="smoke",
        num_tunes=60,
        embedding_dim=16,
        rnn_units=32,
        sequence_length=50,
        batch_size=16,
        learning_rate=1e-2,
        num_steps=40,
        train_seconds=None,
        steps_per_checkpoint=20,
        num_sampled_tunes=4,
        num_streams=4,
        stream_length=400,
        max_bar_redraws=5,
        max_tune_length=300,
    ),
    "cpu": MusicConfig(profile="cpu"),
    "gpu": MusicConfig(
        profile="gpu", embedding_dim=256, rnn_units=1024, sequence_length=200, batch_size=64,
        learning_rate=2e-3, num_steps=10_000, train_seconds=None, steps_per_checkpoint=500,
    ),
}


def get_config(profile: str | None = None, **overrides) -> MusicConfig:
    """The configuration of ``profile`` (default: ``$DL_PROFILE`` or auto), with overrides."""
    return replace(PROFILES[get_profile(profile)], **overrides)
