"""Hyperparameters of the sentiment chapter, one frozen dataclass per profile."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from course.profiles import get_profile


@dataclass(frozen=True)
class SentimentConfig:
    """Everything a run of this chapter depends on; ``asdict`` of it keys the checkpoints."""

    profile: str
    num_train: int | None  # None: all 25,000 training reviews (minus validation)
    num_test: int | None  # None: all 25,000 test reviews
    num_validation: int = 2_500  # held out from the training reviews, for fit()'s validation
    vocabulary_size: int = 20_000  # most frequent words kept; the rest share one token
    # Reviews longer than this keep their first `head_tokens` and the rest from their end:
    # openings and verdicts carry most of the sentiment, the middle mostly retells the plot.
    max_tokens: int = 600
    head_tokens: int = 150
    embedding_dim: int = 64
    # Rows of the BiLSTM's hashed word-pair table (0: words only, the SRN's input). Pairs beat
    # a smaller table and a twice-as-wide words-only network (docs/decisions.md, chapter 1).
    pair_buckets: int = 262_147
    rnn_units: int = 64
    batch_size: int = 128
    # Cosine decay over 2 epochs: with the pair table a third epoch overfits (docs/decisions.md).
    num_epochs: int = 2
    srn_epochs: int = 3
    learning_rate: float = 3e-3
    dropout: float = 0.4
    # Non-recurrent baseline: NB-weighted logistic regression on binary n-grams.
    ngram_max: int = 3
    ngram_min_count: int = 2  # n-grams seen in fewer training reviews are dropped
    baseline_l2: float = 3e-4  # weight of 0.5 * ||w||^2 per training review
    seed: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


PROFILES = {
    "smoke": SentimentConfig(
        profile="smoke",
        num_train=600,
        num_test=300,
        num_validation=200,
        vocabulary_size=2_000,
        max_tokens=80,
        head_tokens=20,
        embedding_dim=16,
        pair_buckets=4_099,
        rnn_units=8,
        batch_size=64,
        num_epochs=1,
        srn_epochs=1,
        ngram_max=2,
    ),
    "cpu": SentimentConfig(profile="cpu", num_train=None, num_test=None),
    "gpu": SentimentConfig(
        profile="gpu", num_train=None, num_test=None, max_tokens=800, head_tokens=200,
        embedding_dim=128, rnn_units=128, num_epochs=2, srn_epochs=6,
    ),
}


def get_config(profile: str | None = None, **overrides) -> SentimentConfig:
    """The configuration of ``profile`` (default: ``$DL_PROFILE`` or auto), with overrides."""
    return replace(PROFILES[get_profile(profile)], **overrides)
