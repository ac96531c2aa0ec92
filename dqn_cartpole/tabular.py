"""Tabular Q-learning on FrozenLake: the update DQN generalises, with a table instead of a network.

FrozenLake (shipped with gymnasium) is a 4x4 grid of frozen tiles and holes: 16 states, 4 actions
(left, down, right, up), reward 1 for reaching the goal and 0 otherwise. With ``is_slippery=True``
the agent moves in the intended direction only a third of the time.
"""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np


@dataclass(frozen=True)
class TabularConfig:
    """Hyperparameters of tabular Q-learning."""

    num_episodes: int = 5_000
    learning_rate: float = 0.1  # alpha in Q <- Q + alpha (y - Q)
    gamma: float = 0.95
    epsilon_start: float = 1.0
    epsilon_end: float = 0.05
    exploration_fraction: float = 0.5  # share of the episodes over which epsilon falls
    seed: int = 0

    def __post_init__(self):
        if self.num_episodes <= 0:
            raise ValueError(f"num_episodes must be positive, got {self.num_episodes}.")
        if not 0 < self.learning_rate <= 1 or not 0 < self.gamma <= 1:
            raise ValueError("learning_rate and gamma must lie in (0, 1].")


def get_tabular_config(profile: str | None = None, **overrides) -> TabularConfig:
    """Tabular Q-learning settings for a profile: the smoke profile plays few episodes."""
    from course.profiles import get_profile

    num_episodes = 300 if get_profile(profile) == "smoke" else TabularConfig.num_episodes
    return TabularConfig(**{"num_episodes": num_episodes, **overrides})


def make_frozen_lake(slippery: bool = False) -> gym.Env:
    """The 4x4 FrozenLake-v1 (episodes are cut off after 100 steps)."""
    return gym.make("FrozenLake-v1", is_slippery=slippery)


def q_learning(env: gym.Env, config: TabularConfig) -> tuple[np.ndarray, np.ndarray]:
    """Learn a Q table by epsilon-greedy play; return it and each episode's return.

    After every step (s, a, r, s'):
        y = r                               if s' ends the episode for good (goal or hole)
        y = r + gamma * max_a' Q[s', a']    otherwise (also when the time limit cut it off)
        Q[s, a] <- Q[s, a] + alpha * (y - Q[s, a])
    """
    rng = np.random.default_rng(config.seed)
    q_table = np.zeros((env.observation_space.n, env.action_space.n))
    returns = np.zeros(config.num_episodes)
    decay_episodes = max(1, int(config.exploration_fraction * config.num_episodes))
    for episode in range(config.num_episodes):
        fraction = min(1.0, episode / decay_episodes)
        epsilon = config.epsilon_start + (config.epsilon_end - config.epsilon_start) * fraction
        state, _ = env.reset(seed=config.seed + episode)
        done = False
        while not done:
            if rng.random() < epsilon:
                action = int(rng.integers(env.action_space.n))
            else:  # break ties at random: an untrained table is all zeros
                best = np.flatnonzero(q_table[state] == q_table[state].max())
                action = int(rng.choice(best))
            next_state, reward, terminated, truncated, _ = env.step(action)
            target = reward if terminated else reward + config.gamma * q_table[next_state].max()
            q_table[state, action] += config.learning_rate * (target - q_table[state, action])
            returns[episode] += reward
            state, done = next_state, terminated or truncated
    return q_table, returns


def greedy_success_rate(env: gym.Env, q_table: np.ndarray, num_episodes: int = 1_000,
                        seed: int = 10_000) -> float:
    """Fraction of episodes in which always taking argmax_a Q[s, a] reaches the goal."""
    successes = 0
    for episode in range(num_episodes):
        state, _ = env.reset(seed=seed + episode)
        done, reward = False, 0.0
        while not done:
            state, reward, terminated, truncated, _ = env.step(int(np.argmax(q_table[state])))
            done = terminated or truncated
        successes += reward > 0
    return successes / num_episodes


ARROWS = {0: "\u2190", 1: "\u2193", 2: "\u2192", 3: "\u2191"}  # FrozenLake's action order


def plot_q_table(env: gym.Env, q_table: np.ndarray):
    """The lake with each tile coloured by max_a Q[s, a] and the greedy action drawn on it."""
    import matplotlib.pyplot as plt

    tiles = env.unwrapped.desc.astype(str)
    rows, cols = tiles.shape
    values = q_table.max(axis=1).reshape(rows, cols)
    fig, ax = plt.subplots(figsize=(4, 4))
    image = ax.imshow(values, cmap="Blues", vmin=0, vmax=max(values.max(), 1e-9))
    for row in range(rows):
        for col in range(cols):
            tile = tiles[row, col]
            state = row * cols + col
            if tile in "HG":  # holes and the goal end the episode: no action to choose
                label = "hole" if tile == "H" else "goal"
                ax.text(col, row, label, ha="center", va="center", fontsize=9, color="C3")
            else:
                ax.text(col, row, ARROWS[int(np.argmax(q_table[state]))], ha="center",
                        va="center", fontsize=18)
    ax.set(xticks=[], yticks=[], title="greedy action and max_a Q[s, a]")
    fig.colorbar(image, ax=ax, shrink=0.8)
    fig.tight_layout()
    return fig
