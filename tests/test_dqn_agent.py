"""Chapter 5, the agent: configuration, Bellman target, replay buffer, exploration, loss, gradient
step and target network, each checked against a hand computation in numpy."""

import course  # noqa: F401  (quiets TensorFlow before it is imported)

# isort: split
import keras
import numpy as np
import pytest

from course.autodiff import value_and_gradients
from dqn_cartpole.constant import PROFILES, get_config
from dqn_cartpole.dqn import (
    Batch,
    DQNAgent,
    NStepAccumulator,
    ReplayBuffer,
    build_q_network,
    epsilon_greedy,
    gradient_step,
    huber,
    learning_rate_schedule,
    linear_epsilon,
    td_loss,
    td_targets,
)

GAMMA = 0.9
# Four transitions: ongoing, terminated (the pole fell), truncated (time limit), ongoing.
REWARDS = np.array([1.0, 1.0, 1.0, 0.5], np.float32)
TERMINATED = np.array([False, True, False, False])
TRUNCATED = np.array([False, False, True, False])
NEXT_Q_TARGET = np.array([[2.0, 5.0], [3.0, 4.0], [7.0, 1.0], [0.5, 0.25]], np.float32)
NEXT_Q_ONLINE = np.array([[9.0, 0.0], [0.0, 9.0], [0.0, 1.0], [1.0, 0.0]], np.float32)


def to_numpy(x):
    return keras.ops.convert_to_numpy(x)


# ---------------------------------------------------------------------------------------------
# Configuration


def test_profiles_are_valid_and_overrides_apply():
    for name in PROFILES:
        assert get_config(name).profile == name
    config = get_config("smoke", num_steps=123, hidden_units=[8, 4])
    assert config.num_steps == 123 and config.hidden_units == (8, 4)


def test_unknown_profile_is_a_clear_error():
    with pytest.raises(ValueError, match="Unknown profile 'laptop'"):
        get_config("laptop")


@pytest.mark.parametrize(
    "override, message",
    [
        ({"num_steps": -5}, "num_steps must be a positive"),
        ({"num_steps": 0}, "num_steps must be a positive"),
        ({"batch_size": 2.5}, "batch_size must be a positive"),
        ({"eval_every": 0}, "eval_every must be a positive"),
        ({"learning_starts": -1}, "learning_starts"),
        ({"gamma": 1.5}, "gamma must lie in"),
        ({"epsilon_end": -0.1}, "epsilon_end"),
        ({"tau": 0.0}, "tau must lie in"),
        ({"hidden_units": ()}, "hidden_units"),
        ({"batch_size": 5_000}, "cannot exceed buffer_size"),
        ({"target_update": "medium"}, "target_update"),
        ({"loss": "l1"}, "loss must be"),
    ],
)
def test_nonsense_settings_are_refused(override, message):
    with pytest.raises(ValueError, match=message):
        get_config("smoke", **override)


# ---------------------------------------------------------------------------------------------
# The Bellman target


def bellman_by_hand(rewards, next_q_target, terminated, gamma, next_q_online=None,
                    horizons=None):
    """One transition at a time, as the definition reads."""
    targets = []
    for row, reward in enumerate(rewards):
        discount = gamma ** (1 if horizons is None else int(horizons[row]))
        if terminated[row]:
            targets.append(reward)
            continue
        if next_q_online is None:
            next_value = max(next_q_target[row])
        else:
            chosen = int(np.argmax(next_q_online[row]))
            next_value = next_q_target[row][chosen]
        targets.append(reward + discount * next_value)
    return np.array(targets)


def test_td_targets_stop_at_termination_and_bootstrap_on_truncation():
    targets = to_numpy(td_targets(REWARDS, NEXT_Q_TARGET, TERMINATED, GAMMA))
    np.testing.assert_allclose(targets, [1 + 0.9 * 5, 1.0, 1 + 0.9 * 7, 0.5 + 0.9 * 0.5], rtol=1e-6)
    np.testing.assert_allclose(
        targets, bellman_by_hand(REWARDS, NEXT_Q_TARGET, TERMINATED, GAMMA), rtol=1e-6
    )
    # The truncated row bootstraps exactly like an ongoing one would.
    assert targets[2] != REWARDS[2]


def test_double_dqn_takes_the_online_argmax_valued_by_the_target_network():
    targets = to_numpy(td_targets(REWARDS, NEXT_Q_TARGET, TERMINATED, GAMMA, NEXT_Q_ONLINE))
    # Row 0: online picks action 0, whose target value is 2 (not the target's own max, 5).
    np.testing.assert_allclose(targets, [1 + 0.9 * 2, 1.0, 1 + 0.9 * 1, 0.5 + 0.9 * 0.5],
                               rtol=1e-6)
    np.testing.assert_allclose(
        targets,
        bellman_by_hand(REWARDS, NEXT_Q_TARGET, TERMINATED, GAMMA, NEXT_Q_ONLINE),
        rtol=1e-6,
    )


def test_n_step_targets_discount_the_bootstrap_by_gamma_to_the_horizon():
    horizons = np.array([3, 2, 1, 5])
    targets = to_numpy(td_targets(REWARDS, NEXT_Q_TARGET, TERMINATED, GAMMA, horizons=horizons))
    np.testing.assert_allclose(targets, [1 + 0.9**3 * 5, 1.0, 1 + 0.9 * 7, 0.5 + 0.9**5 * 0.5],
                               rtol=1e-6)


def n_step_by_hand(rewards, gamma, n, t):
    """(summed reward, horizon) of the n-step transition that starts at step t of an episode."""
    horizon = min(n, len(rewards) - t)
    return sum(gamma**k * rewards[t + k] for k in range(horizon)), horizon


@pytest.mark.parametrize("n", [1, 3])
@pytest.mark.parametrize("ending", ["terminated", "truncated"])
def test_n_step_accumulator_turns_an_episode_into_n_step_transitions(n, ending):
    rewards = [1.0, 2.0, 3.0, 4.0, 5.0]
    states = np.arange(6, dtype=np.float32)[:, None] * np.ones(4, np.float32)
    accumulator = NStepAccumulator(num_envs=2, n=n, gamma=GAMMA)
    out = []
    for t, reward in enumerate(rewards):
        last = t == len(rewards) - 1
        out += accumulator.step(1, states[t], t % 2, reward, states[t + 1],
                                last and ending == "terminated", last and ending == "truncated")
    assert len(out) == len(rewards)  # one transition per step, each leaving exactly once
    for t, (state, action, summed, next_state, terminated, truncated, horizon) in enumerate(out):
        expected_sum, expected_horizon = n_step_by_hand(rewards, GAMMA, n, t)
        assert state[0] == t and action == t % 2
        assert summed == pytest.approx(expected_sum) and horizon == expected_horizon
        assert next_state[0] == t + horizon  # s_{t+horizon}: where the bootstrap looks
        reaches_end = t + horizon == len(rewards)
        assert terminated == (reaches_end and ending == "terminated")
        assert truncated == (reaches_end and ending == "truncated")
    assert accumulator.pending == [[], []]


def test_n_step_accumulator_keeps_environments_apart():
    accumulator = NStepAccumulator(num_envs=2, n=2, gamma=1.0)
    state = np.zeros(4, np.float32)
    assert accumulator.step(0, state, 0, 1.0, state, False, False) == []
    assert accumulator.step(1, state, 0, 10.0, state, False, False) == []
    (transition,) = accumulator.step(0, state, 1, 2.0, state, False, False)
    assert transition[2] == 3.0 and transition[6] == 2  # env 0's rewards only
    with pytest.raises(ValueError, match="n >= 1"):
        NStepAccumulator(num_envs=1, n=0, gamma=0.9)


def test_huber_is_quadratic_inside_and_linear_outside():
    errors = np.array([-3.0, -1.0, -0.5, 0.0, 0.25, 2.0], np.float32)
    expected = np.where(np.abs(errors) <= 1, 0.5 * errors**2, np.abs(errors) - 0.5)
    np.testing.assert_allclose(to_numpy(huber(errors)), expected, rtol=1e-6)


# ---------------------------------------------------------------------------------------------
# Replay buffer


def transitions(first: int, count: int):
    """``count`` transitions numbered from ``first``; each field encodes its number."""
    numbers = np.arange(first, first + count)
    states = np.repeat(numbers[:, None], 4, axis=1).astype(np.float32)
    return (states, numbers % 2, numbers.astype(np.float32), states + 1000,
            numbers % 3 == 0, numbers % 5 == 0)


def test_replay_buffer_wraps_around_and_keeps_the_newest():
    buffer = ReplayBuffer(capacity=5)
    buffer.add(*transitions(0, 3))
    assert len(buffer) == 3 and buffer.position == 3
    buffer.add(*transitions(3, 4))  # numbers 3..6; 5 and 6 overwrite slots 0 and 1
    assert len(buffer) == 5 and buffer.position == 2
    np.testing.assert_array_equal(buffer.rewards, [5, 6, 2, 3, 4])
    np.testing.assert_array_equal(buffer.actions, np.array([5, 6, 2, 3, 4]) % 2)
    np.testing.assert_array_equal(buffer.terminated, np.array([5, 6, 2, 3, 4]) % 3 == 0)
    np.testing.assert_array_equal(buffer.truncated, np.array([5, 6, 2, 3, 4]) % 5 == 0)
    np.testing.assert_array_equal(buffer.next_states[:, 0], [1005, 1006, 1002, 1003, 1004])


def test_replay_buffer_samples_whole_transitions_with_the_right_shapes():
    buffer = ReplayBuffer(capacity=50)
    buffer.add(*transitions(0, 30))
    batch = buffer.sample(64, np.random.default_rng(0))
    assert isinstance(batch, Batch)
    assert batch.states.shape == (64, 4) and batch.next_states.shape == (64, 4)
    assert batch.actions.shape == batch.rewards.shape == batch.terminated.shape == (64,)
    assert batch.states.dtype == np.float32 and batch.terminated.dtype == bool
    # Every field of a sampled row comes from the same transition, and only stored ones.
    numbers = batch.rewards.astype(int)
    assert numbers.max() < 30
    np.testing.assert_array_equal(batch.states[:, 0], numbers)
    np.testing.assert_array_equal(batch.next_states[:, 0], numbers + 1000)
    np.testing.assert_array_equal(batch.actions, numbers % 2)
    np.testing.assert_array_equal(batch.terminated, numbers % 3 == 0)
    np.testing.assert_array_equal(batch.truncated, numbers % 5 == 0)
    with pytest.raises(ValueError, match="empty"):
        ReplayBuffer(4).sample(2, np.random.default_rng(0))


def test_replay_buffer_extend_stores_accumulator_tuples_like_add():
    states, actions, rewards, next_states, terminated, truncated = transitions(0, 4)
    horizons = np.array([1, 2, 3, 1])
    by_add, by_extend = ReplayBuffer(capacity=3), ReplayBuffer(capacity=3)
    by_add.add(states, actions, rewards, next_states, terminated, truncated, horizons)
    rows = list(zip(states, actions, rewards, next_states, terminated, truncated, horizons,
                    strict=True))
    by_extend.extend(rows[:1])
    by_extend.extend([])  # nothing to store: no error
    by_extend.extend(rows[1:])
    assert (len(by_extend), by_extend.position) == (len(by_add), by_add.position)
    for name in Batch._fields:
        np.testing.assert_array_equal(getattr(by_extend, name), getattr(by_add, name))


def test_replay_buffer_round_trips_through_arrays():
    buffer = ReplayBuffer(capacity=5)
    buffer.add(*transitions(0, 7))
    copy = ReplayBuffer(capacity=5)
    copy.load_arrays(buffer.to_arrays())
    assert (len(copy), copy.position) == (5, 2)
    for name in Batch._fields:
        np.testing.assert_array_equal(getattr(copy, name), getattr(buffer, name))


# ---------------------------------------------------------------------------------------------
# Exploration


def test_linear_epsilon_runs_from_start_to_end_then_stays():
    assert linear_epsilon(0, 1.0, 0.05, 100) == 1.0
    assert linear_epsilon(50, 1.0, 0.05, 100) == pytest.approx(0.525)
    assert linear_epsilon(100, 1.0, 0.05, 100) == pytest.approx(0.05)
    assert linear_epsilon(10_000, 1.0, 0.05, 100) == pytest.approx(0.05)


def test_epsilon_greedy_exploits_at_zero_and_explores_at_one():
    rng = np.random.default_rng(0)
    q_values = np.tile([[0.0, 1.0]], (2_000, 1))
    assert (epsilon_greedy(q_values, 0.0, rng) == 1).all()
    share_of_left = np.mean(epsilon_greedy(q_values, 1.0, rng) == 0)
    assert 0.45 < share_of_left < 0.55
    share_of_left = np.mean(epsilon_greedy(q_values, 0.2, rng) == 0)
    assert 0.07 < share_of_left < 0.13  # half of the 20% random picks go left


# ---------------------------------------------------------------------------------------------
# The agent


def make_agent(**overrides) -> DQNAgent:
    keras.utils.set_random_seed(0)
    return DQNAgent(get_config("smoke", **overrides))


def fixed_batch(size: int = 32, seed: int = 1) -> Batch:
    rng = np.random.default_rng(seed)
    buffer = ReplayBuffer(size)
    states = rng.normal(scale=0.5, size=(size, 4)).astype(np.float32)
    buffer.add(states, rng.integers(2, size=size), np.ones(size, np.float32),
               states + rng.normal(scale=0.1, size=(size, 4)).astype(np.float32),
               rng.random(size) < 0.3, rng.random(size) < 0.2, rng.integers(1, 4, size=size))
    return Batch(*(getattr(buffer, name) for name in Batch._fields))


def test_q_network_maps_states_to_one_value_per_action():
    network = build_q_network((8, 8))
    assert network.output_shape == (None, 2)
    assert to_numpy(network(np.zeros((3, 4), np.float32))).shape == (3, 2)


def loss_by_hand(agent: DQNAgent, batch: Batch, double: bool, use_target: bool) -> float:
    online = agent.online_network
    evaluator = agent.target_network if use_target else online
    q = to_numpy(online(batch.states))
    next_q_target = to_numpy(evaluator(batch.next_states))
    next_q_online = to_numpy(online(batch.next_states)) if double else None
    targets = bellman_by_hand(batch.rewards, next_q_target, batch.terminated, agent.gamma,
                              next_q_online, batch.horizons)
    errors = targets - q[np.arange(len(q)), batch.actions]
    return float(np.mean(np.where(np.abs(errors) <= 1, 0.5 * errors**2, np.abs(errors) - 0.5)))


def loss_of(agent, batch) -> float:
    return float(to_numpy(td_loss(agent, batch)))


@pytest.mark.parametrize("double_dqn", [True, False])
def test_td_loss_matches_the_hand_computation(double_dqn):
    agent = make_agent(double_dqn=double_dqn)
    batch = fixed_batch()
    # Move the online network away from the target so the two differ.
    for _ in range(3):
        gradient_step(agent, batch.pack())
    expected = loss_by_hand(agent, batch, double=double_dqn, use_target=True)
    assert loss_of(agent, batch) == pytest.approx(expected, rel=1e-5)


def test_mse_loss_is_half_the_squared_error():
    agent = make_agent(loss="mse")
    batch = fixed_batch()
    online = to_numpy(agent.online_network(batch.states))
    targets = bellman_by_hand(batch.rewards, to_numpy(agent.target_network(batch.next_states)),
                              batch.terminated, agent.gamma,
                              to_numpy(agent.online_network(batch.next_states)), batch.horizons)
    errors = targets - online[np.arange(len(online)), batch.actions]
    assert loss_of(agent, batch) == pytest.approx(np.mean(0.5 * errors**2), rel=1e-5)


def test_without_target_network_the_online_network_makes_the_targets():
    agent = make_agent(use_target_network=False, double_dqn=False)
    assert agent.target_network is None
    batch = fixed_batch()
    expected = loss_by_hand(agent, batch, double=False, use_target=False)
    assert loss_of(agent, batch) == pytest.approx(expected, rel=1e-5)
    agent.update_target()  # a no-op, not an error


def test_gradient_step_is_one_adam_step_on_the_td_loss():
    """The compiled step against the same step taken by hand: the loss's gradient (taken
    eagerly), clipped to the global norm, through a fresh copy of the optimizer."""
    agent, by_hand = make_agent(), make_agent()
    batch = fixed_batch()
    variables = by_hand.online_network.trainable_variables
    expected_loss, gradients = value_and_gradients(lambda: td_loss(by_hand, batch), variables)
    by_hand.optimizer.apply([keras.ops.convert_to_tensor(g) for g in gradients], variables)

    loss = gradient_step(agent, batch.pack())
    assert float(to_numpy(loss)) == pytest.approx(float(expected_loss), rel=1e-6)
    for a, b in zip(weights(agent.online_network), weights(by_hand.online_network), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    assert int(to_numpy(agent.optimizer.iterations)) == 1
    # Only the online network moved.
    for t, o in zip(weights(agent.target_network), weights(by_hand.target_network), strict=True):
        np.testing.assert_array_equal(t, o)


def test_training_steps_reduce_the_td_loss_on_a_fixed_batch():
    agent = make_agent(learning_rate=3e-3)
    batch = fixed_batch()
    first = loss_of(agent, batch)
    losses = [float(to_numpy(gradient_step(agent, batch.pack()))) for _ in range(60)]
    assert losses[0] == pytest.approx(first, rel=1e-5)  # each step returns the loss before it
    assert loss_of(agent, batch) < 0.3 * first
    # Only the online network learns: the target network still holds its initial weights.
    target = [to_numpy(w) for w in agent.target_network.weights]
    online = [to_numpy(w) for w in agent.online_network.weights]
    assert any(not np.allclose(t, o) for t, o in zip(target, online, strict=True))


def test_gradient_step_serves_several_agents_apart():
    # Alike in every respect but identity: the compiled step must still train each its own.
    first, second = make_agent(), make_agent()
    batch = fixed_batch()
    before = weights(second.online_network)
    gradient_step(first, batch.pack())
    gradient_step(second, batch.pack())
    gradient_step(first, batch.pack())
    assert int(to_numpy(first.optimizer.iterations)) == 2
    assert int(to_numpy(second.optimizer.iterations)) == 1
    assert any(not np.array_equal(a, b)
               for a, b in zip(before, weights(second.online_network), strict=True))


def test_learning_rate_decays_linearly_over_the_gradient_steps():
    config = get_config("smoke", learning_rate=1e-3, learning_rate_end=0.0)
    schedule = learning_rate_schedule(config)
    gradient_steps = (config.num_steps - config.learning_starts) // config.train_every
    assert float(to_numpy(schedule(0))) == pytest.approx(1e-3)
    assert float(to_numpy(schedule(gradient_steps // 2))) == pytest.approx(5e-4, rel=1e-3)
    assert float(to_numpy(schedule(gradient_steps))) == pytest.approx(0.0, abs=1e-9)
    constant = get_config("smoke", learning_rate_end=None)
    assert learning_rate_schedule(constant) == constant.learning_rate


def test_a_packed_batch_round_trips_exactly():
    batch = fixed_batch()
    packed = batch.pack()
    assert packed.shape == (len(batch.actions), 12) and packed.dtype == np.float32
    unpacked = Batch.unpack(packed)
    np.testing.assert_array_equal(unpacked.states, batch.states)
    np.testing.assert_array_equal(unpacked.actions.astype(int), batch.actions)
    np.testing.assert_array_equal(unpacked.rewards, batch.rewards)
    np.testing.assert_array_equal(unpacked.next_states, batch.next_states)
    np.testing.assert_array_equal(unpacked.terminated.astype(bool), batch.terminated)
    np.testing.assert_array_equal(unpacked.horizons.astype(int), batch.horizons)
    assert unpacked.truncated is None  # the loss never reads it
    # The loss of the unpacked batch is the loss of the batch.
    agent = make_agent()
    assert loss_of(agent, unpacked) == pytest.approx(loss_of(agent, batch), rel=1e-6)


def test_the_agent_uses_no_private_keras_state():
    """Its gradient step is ``gradient_step``: no compile, no loss tracker, no metrics."""
    agent = make_agent()
    assert not agent.compiled and agent.metrics == []
    assert "reset_metrics" not in vars(DQNAgent)


def weights(network) -> list[np.ndarray]:
    return [to_numpy(w).copy() for w in network.weights]


def test_hard_target_update_copies_the_online_network():
    agent = make_agent()
    for t, o in zip(weights(agent.target_network), weights(agent.online_network), strict=True):
        np.testing.assert_array_equal(t, o)  # the target starts as a copy
    gradient_step(agent, fixed_batch().pack())
    before = weights(agent.target_network)
    assert any(not np.array_equal(t, o)
               for t, o in zip(before, weights(agent.online_network), strict=True))
    agent.update_target()
    for t, o in zip(weights(agent.target_network), weights(agent.online_network), strict=True):
        np.testing.assert_array_equal(t, o)


def test_soft_target_update_is_polyak_averaging():
    agent = make_agent()
    for _ in range(3):
        gradient_step(agent, fixed_batch().pack())
    target_before, online = weights(agent.target_network), weights(agent.online_network)
    agent.update_target(tau=0.25)
    for after, t, o in zip(weights(agent.target_network), target_before, online, strict=True):
        np.testing.assert_allclose(after, 0.25 * o + 0.75 * t, rtol=1e-5, atol=1e-7)
