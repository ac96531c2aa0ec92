"""The DQN agent, top to bottom: Q-network, epsilon-greedy actions, replay buffer, Bellman target,
target network, loss and gradient step.

Everything that runs on tensors uses ``keras.layers`` and ``keras.ops``, so the chapter runs on
every Keras backend. Taking a gradient is the one thing each backend does its own way:
``gradient_step`` hands the loss to ``course.autodiff``, which holds the TensorFlow, JAX and
PyTorch versions side by side.
"""

from __future__ import annotations

from typing import NamedTuple

import keras
import numpy as np
from keras import ops

from course.autodiff import make_gradient_step
from dqn_cartpole.constant import NUM_ACTIONS, NUM_OBSERVATIONS, DQNConfig

# ---------------------------------------------------------------------------------------------
# The Q-network: Q(s, . ; w), one output per action.


def build_q_network(
    hidden_units=(64, 64),
    num_observations: int = NUM_OBSERVATIONS,
    num_actions: int = NUM_ACTIONS,
    name: str = "q_network",
) -> keras.Model:
    """A multilayer perceptron from a state to the Q value of every action.

    One forward pass values all actions at once, so max_a Q(s, a) and argmax_a Q(s, a) cost a
    single call. The last layer is linear: Q values are returns, not probabilities.
    """
    states = keras.Input((num_observations,), name="state")
    hidden = states
    for index, units in enumerate(hidden_units, start=1):
        hidden = keras.layers.Dense(units, activation="relu", name=f"hidden_{index}")(hidden)
    q_values = keras.layers.Dense(num_actions, name="q_values")(hidden)
    return keras.Model(states, q_values, name=name)


# ---------------------------------------------------------------------------------------------
# Exploration: epsilon-greedy with a linear schedule.


def linear_epsilon(step: int, start: float, end: float, decay_steps: int) -> float:
    """epsilon_t = start + (end - start) * min(1, t / decay_steps): a ramp, then flat at end."""
    fraction = min(1.0, step / decay_steps)
    return start + (end - start) * fraction


def epsilon_greedy(q_values: np.ndarray, epsilon: float, rng: np.random.Generator) -> np.ndarray:
    """One action per row of ``q_values`` (n, num_actions).

    With probability epsilon a uniformly random action (explore), else argmax_a Q(s, a) (exploit).
    """
    num_states, num_actions = q_values.shape
    greedy = np.argmax(q_values, axis=1)
    random = rng.integers(num_actions, size=num_states)
    explore = rng.random(num_states) < epsilon
    return np.where(explore, random, greedy)


# ---------------------------------------------------------------------------------------------
# Experience replay: a ring buffer of transitions (s, a, r, s', terminated, truncated).


class Batch(NamedTuple):
    """A minibatch of transitions, one row per transition."""

    states: np.ndarray  # (n, num_observations) float32
    actions: np.ndarray  # (n,) int32
    rewards: np.ndarray  # (n,) float32
    next_states: np.ndarray  # (n, num_observations) float32
    terminated: np.ndarray  # (n,) bool: s' ends the episode for good (the pole fell)
    truncated: np.ndarray  # (n,) bool: the time limit cut the episode off after s'
    horizons: np.ndarray  # (n,) int32: how many rewards `rewards` sums (n-step returns; else 1)

    def pack(self) -> np.ndarray:
        """What the loss reads, in one (n, 12) float32 array: a compiled step converts each array
        it is given, and one conversion is cheaper than six. Columns: state (4), action, reward,
        next state (4), terminated, horizon. ``truncated`` is left out: the loss never reads it.
        Actions and horizons are small whole numbers, exact in float32."""
        return np.concatenate(
            [self.states, self.actions[:, None], self.rewards[:, None], self.next_states,
             self.terminated[:, None], self.horizons[:, None]],
            axis=1, dtype=np.float32,
        )

    @staticmethod
    def unpack(packed) -> Batch:
        """The inverse of ``pack`` (on an array or a tensor); ``truncated`` is None."""
        n = NUM_OBSERVATIONS
        return Batch(states=packed[:, :n], actions=packed[:, n], rewards=packed[:, n + 1],
                     next_states=packed[:, n + 2 : 2 * n + 2], terminated=packed[:, 2 * n + 2],
                     truncated=None, horizons=packed[:, 2 * n + 3])


class ReplayBuffer:
    """The last ``capacity`` transitions in preallocated numpy arrays.

    New transitions overwrite the oldest ones (a ring buffer), and minibatches are drawn uniformly,
    which breaks up the strong correlation between consecutive steps of an episode.
    ``terminated`` and ``truncated`` are stored apart because they mean different things for the
    Bellman target (see ``td_targets``).
    """

    FIELDS = Batch._fields

    def __init__(self, capacity: int, num_observations: int = NUM_OBSERVATIONS):
        if capacity <= 0:
            raise ValueError(f"capacity must be positive, got {capacity}.")
        self.capacity = capacity
        self.states = np.zeros((capacity, num_observations), np.float32)
        self.actions = np.zeros(capacity, np.int32)
        self.rewards = np.zeros(capacity, np.float32)
        self.next_states = np.zeros((capacity, num_observations), np.float32)
        self.terminated = np.zeros(capacity, bool)
        self.truncated = np.zeros(capacity, bool)
        self.horizons = np.ones(capacity, np.int32)
        self.position = 0  # where the next transition goes
        self.size = 0  # how many slots hold a transition

    def __len__(self) -> int:
        return self.size

    def add(self, states, actions, rewards, next_states, terminated, truncated,
            horizons=1) -> None:
        """Store a batch of transitions (leading axis: one row per transition)."""
        count = len(actions)
        rows = (self.position + np.arange(count)) % self.capacity
        self.states[rows] = states
        self.actions[rows] = actions
        self.rewards[rows] = rewards
        self.next_states[rows] = next_states
        self.terminated[rows] = terminated
        self.truncated[rows] = truncated
        self.horizons[rows] = horizons
        self.position = (self.position + count) % self.capacity
        self.size = min(self.size + count, self.capacity)

    def extend(self, transitions: list[tuple]) -> None:
        """Store transitions given one tuple each, in ``add``'s order of fields (as
        ``NStepAccumulator.step`` returns them)."""
        if transitions:
            self.add(*(np.array(column) for column in zip(*transitions, strict=True)))

    def sample(self, batch_size: int, rng: np.random.Generator) -> Batch:
        """``batch_size`` transitions drawn uniformly (with replacement) from those stored."""
        if self.size == 0:
            raise ValueError("Cannot sample from an empty replay buffer.")
        rows = rng.integers(self.size, size=batch_size)
        return Batch(*(getattr(self, name)[rows] for name in self.FIELDS))

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The stored transitions and the write position, for ``np.savez``."""
        arrays = {name: getattr(self, name)[: self.size] for name in self.FIELDS}
        arrays["position"] = np.array(self.position)
        return arrays

    def load_arrays(self, arrays) -> None:
        """Refill the buffer from ``to_arrays``'s output (a dict or an opened .npz)."""
        size = len(arrays["actions"])
        if size > self.capacity:
            raise ValueError(f"{size} saved transitions do not fit a buffer of {self.capacity}.")
        for name in self.FIELDS:
            if name == "horizons" and name not in arrays:  # saved before n-step returns existed
                self.horizons[:size] = 1
                continue
            getattr(self, name)[:size] = arrays[name]
        self.size = size
        self.position = int(arrays["position"]) % self.capacity


class NStepAccumulator:
    """Turns the one-step transitions of several environments into n-step transitions.

    With n-step returns the regression target sums n real rewards before it bootstraps,

        y_t = r_t + gamma r_{t+1} + ... + gamma^(n-1) r_{t+n-1} + gamma^n max_a' Q(s_{t+n}, a'),

    so one refresh of the target network carries news (say, of the cart leaving the track) n
    steps back instead of one. Each environment keeps its last n steps; once n are pending the
    oldest leaves as (s_t, a_t, summed rewards, s_{t+n}, not terminated, horizon n). When an
    episode ends, every pending step leaves with the rewards up to the end, the final state, the
    episode's terminated/truncated flags and its shorter horizon. n = 1 is plain one-step DQN.
    """

    def __init__(self, num_envs: int, n: int, gamma: float):
        if n < 1:
            raise ValueError(f"n-step returns need n >= 1, got {n}.")
        self.n, self.gamma = n, gamma
        self.pending: list[list[tuple]] = [[] for _ in range(num_envs)]  # (s, a, r) per env

    def _leave(self, steps, next_state, terminated, truncated) -> tuple:
        state, action, _ = steps[0]
        summed = sum(self.gamma**k * reward for k, (_, _, reward) in enumerate(steps))
        return state, action, summed, next_state, terminated, truncated, len(steps)

    def step(self, env_index: int, state, action, reward, next_state, terminated: bool,
             truncated: bool) -> list[tuple]:
        """Record one real transition of an environment; return the n-step transitions it completes.

        Each returned tuple is (state, action, summed reward, next state, terminated, truncated,
        horizon), ready for ``ReplayBuffer.add``.
        """
        pending = self.pending[env_index]
        pending.append((state, action, float(reward)))
        if terminated or truncated:
            done = [self._leave(pending[k:], next_state, terminated, truncated)
                    for k in range(len(pending))]
            pending.clear()
            return done
        if len(pending) == self.n:
            done = [self._leave(pending, next_state, False, False)]
            pending.pop(0)
            return done
        return []

    def reset(self) -> None:
        """Forget the pending steps (the episodes in play are abandoned, e.g. on resume)."""
        for pending in self.pending:
            pending.clear()


# ---------------------------------------------------------------------------------------------
# The Bellman target.


def td_targets(rewards, next_q_target, terminated, gamma: float, next_q_online=None,
               horizons=None):
    """The regression target y of Q(s, a) for a batch of transitions.

        DQN:         y = r + gamma * (1 - terminated) * max_a' Q_target(s', a')
        double DQN:  y = r + gamma * (1 - terminated) * Q_target(s', argmax_a' Q_online(s', a'))

    With n-step transitions, r sums ``horizons`` discounted rewards and gamma becomes
    gamma ** horizons: the bootstrap value lies that many steps ahead.

    Q-learning's target estimates Q*, the value of acting optimally from s' on, hence the max.
    A terminated transition (the pole fell, the cart left the track) has no future: y = r.
    A truncated one (the 500-step time limit) still bootstraps: the pole was upright and the
    episode would have gone on, so its value is not zero. That is why ``truncated`` is no argument.
    Double DQN lets the online network choose a' and the target network value it, which curbs
    the upward bias of taking a max over noisy estimates.
    """
    next_q_target = ops.convert_to_tensor(next_q_target)
    if next_q_online is None:
        next_value = ops.max(next_q_target, axis=1)
    else:
        best_actions = ops.argmax(next_q_online, axis=1)
        next_value = ops.take_along_axis(
            next_q_target, ops.expand_dims(best_actions, axis=1), axis=1
        )[:, 0]
    not_terminated = 1.0 - ops.cast(terminated, next_value.dtype)
    discount = gamma
    if horizons is not None:
        discount = ops.power(gamma, ops.cast(horizons, next_value.dtype))
    return ops.cast(rewards, next_value.dtype) + discount * not_terminated * next_value


def huber(errors, delta: float = 1.0):
    """0.5 e^2 where |e| <= delta, delta (|e| - delta / 2) beyond: squared error near zero,
    absolute error for outliers, so one surprising target cannot blow up a gradient."""
    absolute = ops.abs(errors)
    quadratic = ops.minimum(absolute, delta)
    return 0.5 * quadratic**2 + delta * (absolute - quadratic)


# ---------------------------------------------------------------------------------------------
# The agent: online and target networks and their optimizer.


def learning_rate_schedule(config: DQNConfig):
    """The optimizer's learning rate: constant, or falling linearly to ``learning_rate_end``.

    The optimizer counts gradient steps; the config counts environment steps.
    """
    if config.learning_rate_end is None:
        return config.learning_rate
    env_steps = (config.decay_steps or config.num_steps) - config.learning_starts
    gradient_steps = max(1, env_steps // config.train_every)
    return keras.optimizers.schedules.PolynomialDecay(
        config.learning_rate, gradient_steps, config.learning_rate_end, power=1.0
    )


class DQNAgent(keras.Model):
    """The online network Q(., .; w), its target copy Q(., .; w-), and the optimizer of w.

    A keras.Model only to hold the three together: ``save_weights`` writes both networks and the
    optimizer's state in one file, which is what a checkpoint needs. Calling the agent on states
    gives the online network's Q values; ``gradient_step`` trains it. Without a target network
    (``use_target_network=False``) the online network makes the targets itself.
    """

    def __init__(self, config: DQNConfig, **kwargs):
        super().__init__(name="dqn_agent", **kwargs)
        self.gamma = config.gamma
        self.double_dqn = config.double_dqn
        self.loss_name = config.loss
        self.online_network = build_q_network(config.hidden_units, name="online_network")
        self.target_network = None
        if config.use_target_network:
            self.target_network = build_q_network(config.hidden_units, name="target_network")
            self.target_network.trainable = False
            self.update_target(tau=1.0)  # start as an exact copy
        # Clipping the gradient's norm keeps one wild target from throwing the weights far away.
        self.optimizer = keras.optimizers.Adam(
            learning_rate_schedule(config), global_clipnorm=config.gradient_clip_norm
        )
        # Built here, not inside the compiled step: a compiled graph may not create variables.
        self.optimizer.build(self.online_network.trainable_variables)
        self(np.zeros((1, NUM_OBSERVATIONS), np.float32))  # one call builds the agent
        self.step_function = None  # gradient_step's compiled step, made on its first call

    def call(self, states):
        return self.online_network(states)

    def q_values(self, states: np.ndarray) -> np.ndarray:
        """Online Q values (n, num_actions) of a batch of states, through Keras's compiled call
        (``model.predict`` would rebuild a data pipeline on every call)."""
        return self.predict_on_batch(np.asarray(states, np.float32))

    def update_target(self, tau: float = 1.0) -> None:
        """w- <- tau * w + (1 - tau) * w-.  tau = 1 is a hard copy; a small tau (Polyak averaging)
        lets the target trail the online network smoothly."""
        if self.target_network is None:
            return
        online = self.online_network.weights
        for target_variable, online_variable in zip(
            self.target_network.weights, online, strict=True
        ):
            if tau == 1.0:
                # A copy: on JAX the two variables must not share one buffer, which a compiled
                # call may reuse for its output.
                target_variable.assign(ops.copy(online_variable))
            else:
                target_variable.assign(tau * online_variable + (1.0 - tau) * target_variable)


# ---------------------------------------------------------------------------------------------
# The loss and the gradient step.


def td_loss(agent: DQNAgent, batch: Batch):
    """L(w) = mean over the batch of huber(y - Q(s, a; w)), with y = td_targets(...) held fixed.

    Written with ``keras.ops`` only, so it is the same on every Keras backend.
    """
    evaluator = agent.target_network if agent.target_network is not None else agent.online_network
    next_q_target = evaluator(batch.next_states)
    next_q_online = agent.online_network(batch.next_states) if agent.double_dqn else None
    targets = td_targets(batch.rewards, next_q_target, batch.terminated, agent.gamma,
                         next_q_online, batch.horizons)
    targets = ops.stop_gradient(targets)  # y is a label, not a function of w to descend on
    # Q(s, a; w): the predicted value of the action actually taken.
    actions = ops.expand_dims(ops.cast(batch.actions, "int32"), axis=1)
    q_taken = ops.take_along_axis(agent.online_network(batch.states), actions, axis=1)[:, 0]
    errors = targets - q_taken
    per_sample = huber(errors) if agent.loss_name == "huber" else 0.5 * errors**2
    return ops.mean(per_sample)


def gradient_step(agent: DQNAgent, packed_batch):
    """w <- w - Adam(grad_w L(w)): one step on ``td_loss`` of a minibatch; returns the loss.

    The step is compiled into one graph on the first call (it runs tens of thousands of times
    per training run) and kept on the agent. ``packed_batch`` is ``Batch.pack()``'s one array:
    one input instead of seven keeps the compiled step's signature simple.
    """
    if agent.step_function is None:
        agent.step_function = make_gradient_step(
            lambda packed: td_loss(agent, Batch.unpack(packed)), agent, agent.optimizer
        )
    return agent.step_function(packed_batch)
