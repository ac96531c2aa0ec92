"""Checks for the exercises at the end of notebook 05: each compares a learner's function with
the package's own on fixed inputs and prints [PASS], [FAIL] with what is wrong, or [TODO]."""

from __future__ import annotations

import numpy as np

from course.exercises import attempt, check_close, check_function
from dqn_cartpole.dqn import huber, linear_epsilon, td_targets

GAMMAS = (0.5, 0.9, 0.99, 0.999)


def _to_numpy(tensor) -> np.ndarray:
    import keras

    return keras.ops.convert_to_numpy(tensor)


def never_ending_value(gamma: float) -> float:
    """The value q that ``td_targets`` maps to itself for a reward of 1 that never terminates.

    The target y(q) = td_targets(1, [[q, q]], not terminated) is affine in q, y = a + b q, so
    two evaluations give a and b, and the fixed point q = y(q) is a / (1 - b).
    """
    def target(q: float) -> float:
        return float(_to_numpy(td_targets(np.ones(1), np.full((1, 2), q), np.zeros(1), gamma))[0])

    a, b = target(0.0), target(1.0) - target(0.0)
    return a / (1.0 - b)


def check_perfect_q(perfect_q) -> str:
    """``perfect_q(gamma)``: the value the targets of a never-failing policy converge to."""
    answer, failed = attempt(lambda: [perfect_q(gamma) for gamma in GAMMAS])
    if failed:
        return failed
    expected = [never_ending_value(gamma) for gamma in GAMMAS]
    return check_close(
        answer, expected,
        "write the target of a transition that never terminates, y = 1 + gamma * q, and ask "
        "which q gives y = q.", rtol=1e-3)


def check_epsilon(my_epsilon) -> str:
    """``my_epsilon(step, start, end, decay_steps)``: the linear exploration schedule."""
    cases = [(step, 1.0, 0.05, 6_000) for step in (0, 1_500, 3_000, 6_000, 12_000)]
    cases += [(step, 0.5, 0.1, 100) for step in (0, 25, 100, 1_000)]
    answer, failed = attempt(lambda: [my_epsilon(*case) for case in cases])
    if failed:
        return failed
    expected = [linear_epsilon(*case) for case in cases]
    return check_close(
        answer, expected,
        "epsilon falls in a straight line from start (step 0) to end (step decay_steps), "
        "and stays at end after that.")


def check_huber(my_huber) -> str:
    """``my_huber(errors, delta)``: the Huber loss of each error."""
    errors = np.array([-5.0, -3.0, -1.0, -0.5, 0.0, 0.25, 1.5, 2.0, 4.0])
    answer, failed = attempt(lambda: [my_huber(errors, 1.0), my_huber(errors, 2.0)])
    if failed:
        return failed
    expected = [_to_numpy(huber(errors, delta)) for delta in (1.0, 2.0)]
    return check_close(
        answer, expected,
        "inside |e| <= delta it is e^2 / 2; beyond, the line delta * (|e| - delta / 2), which "
        "meets the parabola at |e| = delta.", atol=1e-5)


def check_td_targets(my_td_targets) -> str:
    """``my_td_targets(rewards, next_q, terminated, truncated, gamma)``: one-step targets with
    the max, where only termination stops the bootstrap."""
    rewards = np.array([1.0, 1.0, 1.0, 0.5, 1.0])
    next_q = np.array([[2.0, 5.0], [3.0, 4.0], [7.0, 1.0], [0.5, 0.25], [6.0, 6.5]])
    # Ongoing, terminated (the pole fell), truncated (the time limit), ongoing, and both.
    terminated = np.array([False, True, False, False, True])
    truncated = np.array([False, False, True, False, True])
    expected = _to_numpy(td_targets(rewards, next_q, terminated, 0.9))
    return check_function(
        my_td_targets, (rewards, next_q, terminated, truncated, 0.9), expected,
        "take the max over the actions of next_q (axis 1), and stop the bootstrap only where "
        "the episode terminated: a truncated transition still bootstraps.", atol=1e-5)


CHECKS = {
    "perfect_q": check_perfect_q,
    "my_epsilon": check_epsilon,
    "my_huber": check_huber,
    "my_td_targets": check_td_targets,
}
