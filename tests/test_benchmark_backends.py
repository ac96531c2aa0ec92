"""benchmarks/backends.py: one worker's step on the same weights, and how backends are compared."""

import numpy as np

from benchmarks import backends, report


def test_a_worker_started_from_saved_weights_repeats_the_losses(tmp_path):
    weights = tmp_path / "dqn_cartpole.weights.h5"
    first = backends.run_chapter("dqn_cartpole", steps=2, weights=weights, save_weights=True)
    again = backends.run_chapter("dqn_cartpole", steps=2, weights=weights, save_weights=False)
    assert len(first["losses"]) == backends.AGREEMENT_STEPS
    assert first["losses"] == again["losses"]
    assert first["losses"][0] != first["losses"][-1]  # the steps train
    assert first["seconds_per_step"] > 0 and first["first_step_seconds"] > 0


def worker_result(losses):
    chapter = {"model": "m", "first_step_seconds": 1.0, "seconds_per_step": 0.01,
               "losses": losses}
    return {"keras": "3", "device": "CPU", "chapters": {"cnn_digits": chapter}}


def test_losses_agree_only_within_the_tolerance():
    reference = [2.0, 1.5, 1.2]
    close = [x * (1 + backends.RELATIVE_TOLERANCE / 2) for x in reference]
    far = [x * (1 + backends.RELATIVE_TOLERANCE * 2) for x in reference]
    agreeing = backends.combine({"tensorflow": worker_result(reference),
                                 "jax": worker_result(close)}, steps=3)
    row = agreeing["chapters"]["cnn_digits"]
    assert row["losses_agree"]
    assert np.isclose(row["jax"]["max_relative_difference"], backends.RELATIVE_TOLERANCE / 2)
    differing = backends.combine({"tensorflow": worker_result(reference),
                                  "torch": worker_result(far)}, steps=3)
    assert not differing["chapters"]["cnn_digits"]["losses_agree"]
    table = report.backend_speed_table(differing)
    assert "| 3 CNN digits: m | 10.0 (1.0) | 10.0 (1.0) | NO (max 2.0e-03) |" in table
