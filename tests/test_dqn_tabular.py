"""Tabular Q-learning on FrozenLake: it finds the way on the plain lake, and far beats chance on
the slippery one."""

import numpy as np
import pytest

from dqn_cartpole.tabular import TabularConfig, greedy_success_rate, make_frozen_lake, q_learning


def test_learns_the_shortest_path_on_the_plain_lake():
    env = make_frozen_lake(slippery=False)
    q_table, returns = q_learning(env, TabularConfig(num_episodes=500))
    assert greedy_success_rate(env, q_table, num_episodes=10) == 1.0
    # The shortest path takes 6 steps, so the start state's value is gamma^5 (reward 1 at step 6).
    assert q_table[0].max() == pytest.approx(0.95**5, rel=0.05)
    assert returns[-100:].mean() > returns[:100].mean()


def test_beats_a_random_policy_on_the_slippery_lake():
    env = make_frozen_lake(slippery=True)
    q_table, _ = q_learning(env, TabularConfig(num_episodes=4_000, seed=1))
    random_table = np.random.default_rng(0).random(q_table.shape)
    learnt = greedy_success_rate(env, q_table, num_episodes=300)
    chance = greedy_success_rate(env, random_table, num_episodes=300)
    assert learnt > 0.5 and learnt > chance + 0.3


def test_terminal_states_keep_a_zero_value():
    env = make_frozen_lake(slippery=False)
    q_table, _ = q_learning(env, TabularConfig(num_episodes=300))
    holes_and_goal = [5, 7, 11, 12, 15]  # never left, so their rows are never updated
    assert np.all(q_table[holes_and_goal] == 0)


def test_bad_hyperparameters_are_refused():
    with pytest.raises(ValueError, match="num_episodes"):
        TabularConfig(num_episodes=0)
    with pytest.raises(ValueError, match="gamma"):
        TabularConfig(gamma=1.5)
