"""Every hyperparameter of the DQN chapter, in one frozen dataclass with a profile each.

The original notes kept their constants in a module of this name; here they are one dataclass so
that a run's checkpoint can record exactly what produced it (``as_dict``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from course.profiles import get_profile

# gymnasium's CartPole-v1: 4 numbers describe the state, 2 actions push the cart left or right,
# an episode is cut off (truncated) after 500 steps, and "solved" means a mean return of 475.
NUM_OBSERVATIONS = 4
NUM_ACTIONS = 2
MAX_EPISODE_STEPS = 500
SOLVED_RETURN = 475.0


@dataclass(frozen=True)
class DQNConfig:
    """Everything a training run depends on.

    Steps are environment steps (transitions) unless the name says otherwise. A "training step"
    is one gradient step on a minibatch drawn from the replay buffer.
    """

    profile: str
    num_steps: int = 30_000  # environment steps of the whole run
    seed: int = 0
    # The Q-network: a multilayer perceptron from the 4 state numbers to one Q value per action.
    # 256x256 learnt in about half the steps of 64x64 (docs/decisions.md, chapter 5).
    hidden_units: tuple[int, ...] = (256, 256)
    # Adam's peak learning rate: the fastest of those tried that left every seed's final policy
    # solved (docs/decisions.md).
    learning_rate: float = 2e-3
    # The learning rate falls linearly to learning_rate_end over the first decay_steps
    # environment steps (None: the whole run), so late updates cannot shake a solved policy
    # apart. learning_rate_end=None keeps it constant.
    learning_rate_end: float | None = 0.0
    decay_steps: int | None = None
    gradient_clip_norm: float | None = 10.0  # None: no clipping
    loss: str = "huber"  # "huber" or "mse"
    gamma: float = 0.99  # discount factor of the return G_t = r_t + gamma r_{t+1} + ...
    # n-step returns: the target sums n rewards before it bootstraps (1: plain DQN); news of a
    # failure travels back n steps per target refresh instead of one.
    n_step: int = 5
    # Experience replay
    buffer_size: int = 50_000
    batch_size: int = 128
    learning_starts: int = 1_000  # random-ish steps collected before the first training step
    # A compiled call costs about the same whatever the batch, so 4 environments share one
    # acting call and a gradient step comes every 2 environment steps (3x faster, as good).
    train_every: int = 2  # environment steps per gradient step
    num_envs: int = 4  # environments stepped together (one network call chooses all actions)
    # Exploration: epsilon falls linearly from start to end over the first exploration_steps.
    epsilon_start: float = 1.0
    epsilon_end: float = 0.05
    exploration_steps: int = 6_000
    # Target network (the 2015 paper); False: the online network makes its own targets.
    use_target_network: bool = True
    target_update: str = "hard"  # "hard": copy every target_update_every steps; "soft": Polyak
    target_update_every: int = 100  # training steps between hard copies (soft: between updates)
    tau: float = 0.005  # soft update: target <- tau * online + (1 - tau) * target
    double_dqn: bool = True  # pick a' with the online network, value it with the target network
    # Evaluation of the greedy policy, checkpoints and figures
    eval_every: int = 1_000  # environment steps between evaluations (and checkpoints)
    eval_episodes: int = 100
    solved_return: float = SOLVED_RETURN
    figure_every: int = 10_000  # environment steps between refreshes of the curve PNGs

    def __post_init__(self):
        positive = (
            "num_steps", "buffer_size", "batch_size", "train_every", "num_envs",
            "exploration_steps", "target_update_every", "eval_every", "n_step",
            "eval_episodes", "figure_every",
        )
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{name} must be a positive whole number, got {value!r}.")
        if self.decay_steps is not None and (
            not isinstance(self.decay_steps, int) or self.decay_steps <= 0
        ):
            raise ValueError(f"decay_steps must be a positive whole number or None, "
                             f"got {self.decay_steps!r}.")
        if self.learning_starts < 0:
            raise ValueError(f"learning_starts must be >= 0, got {self.learning_starts!r}.")
        if not self.hidden_units or any(int(u) <= 0 for u in self.hidden_units):
            raise ValueError(
                "hidden_units must list one or more positive layer sizes, "
                f"got {self.hidden_units!r}."
            )
        if self.batch_size > self.buffer_size:
            raise ValueError(
                f"batch_size ({self.batch_size}) cannot exceed buffer_size ({self.buffer_size})."
            )
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate!r}.")
        if self.gradient_clip_norm is not None and not self.gradient_clip_norm > 0:
            raise ValueError(
                f"gradient_clip_norm must be > 0 or None, got {self.gradient_clip_norm!r}."
            )
        if not 0 < self.gamma <= 1:
            raise ValueError(f"gamma must lie in (0, 1], got {self.gamma!r}.")
        for name in ("epsilon_start", "epsilon_end"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must lie in [0, 1], got {getattr(self, name)!r}.")
        if not 0 < self.tau <= 1:
            raise ValueError(f"tau must lie in (0, 1], got {self.tau!r}.")
        if self.loss not in ("huber", "mse"):
            raise ValueError(f"loss must be 'huber' or 'mse', got {self.loss!r}.")
        if self.target_update not in ("hard", "soft"):
            raise ValueError(f"target_update must be 'hard' or 'soft', got {self.target_update!r}.")

    def as_dict(self) -> dict:
        return asdict(self)


PROFILES = {
    # Seconds, for tests: a few hundred steps, a small network; nothing is learnt.
    "smoke": DQNConfig(
        profile="smoke",
        num_steps=600,
        hidden_units=(32, 32),
        buffer_size=1_000,
        batch_size=32,
        num_envs=1,
        train_every=1,
        learning_starts=200,
        exploration_steps=400,
        target_update_every=100,
        eval_every=300,
        eval_episodes=20,
        figure_every=300,
    ),
    "cpu": DQNConfig(profile="cpu"),
    # A GPU does not speed up a network this small; the gpu profile trains longer instead.
    "gpu": DQNConfig(profile="gpu", num_steps=100_000, figure_every=20_000),
}


# Seeds of the notebook's comparison of DQN with and without a target network.
COMPARISON_SEEDS = {"smoke": (0,), "cpu": (0, 1, 2), "gpu": (0, 1, 2, 3, 4)}


def get_config(profile: str | None = None, **overrides) -> DQNConfig:
    """The configuration of ``profile`` (default: ``$DL_PROFILE`` or auto), with overrides."""
    config = replace(PROFILES[get_profile(profile)], **overrides)
    # A list from JSON or the command line would make an unhashable, unequal config.
    return replace(config, hidden_units=tuple(int(u) for u in config.hidden_units))
