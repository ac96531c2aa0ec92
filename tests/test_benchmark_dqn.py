"""The DQN benchmark's judging rule, on hand-made evaluation records and on a tiny real run."""

import json

import pytest

from benchmarks import dqn_cartpole as bench


def evaluations(*returns):
    return [{"env_step": 2500 * (i + 1), "mean_return": r, "train_seconds": 1.5 * (i + 1)}
            for i, r in enumerate(returns)]


def test_first_pass_final_return_and_pass_fraction():
    result = bench.summarise(evaluations(100, 480, 300, 500, 500))
    assert result["steps_to_solve"] == 5000
    assert result["seconds_to_solve"] == 3.0
    assert result["final_return"] == 500
    assert result["pass_fraction_after_solve"] == pytest.approx(2 / 3, abs=1e-3)
    assert result["train_seconds"] == 7.5  # the whole run's, at its last evaluation


def test_a_run_that_never_passes_has_no_solve_numbers():
    result = bench.summarise(evaluations(100, 474.9, 20))
    assert result["steps_to_solve"] is None and result["seconds_to_solve"] is None
    assert result["pass_fraction_after_solve"] is None
    assert result["final_return"] == 20


def test_passing_only_at_the_last_evaluation_counts_as_solved():
    result = bench.summarise(evaluations(10, 475))
    assert result["steps_to_solve"] == 5000 and result["pass_fraction_after_solve"] == 1.0


@pytest.mark.slow
def test_benchmark_writes_the_agreed_json_shape(tmp_path, monkeypatch):
    monkeypatch.setenv("DL_CHECKPOINT_DIR", str(tmp_path / "runs"))
    out = tmp_path / "dqn.json"
    bench.main(["--seeds", "0", "--budget", "600", "--profile", "smoke", "--skip-reference",
                "--notebook-seeds", "7", "--out", str(out)])
    result = json.loads(out.read_text())
    assert result["budget_steps"] == 600 and result["machine"]
    ours = result["ours"]
    assert ours["seeds"] == [0]
    for key in ("steps_to_solve", "seconds_to_solve", "final_return",
                "pass_fraction_after_solve", "train_seconds"):
        assert len(ours[key]) == 1
    assert ours["train_seconds"][0] >= (ours["seconds_to_solve"][0] or 0)
    assert ours["curve"][0][-1][0] >= 600  # the last evaluation is at the end of the budget

    notebook = result["notebook_runs"]
    assert notebook["seeds"] == [7] and notebook["num_steps"] == 600  # the smoke profile's
    assert 0 <= notebook["final_min_return"][0] <= notebook["final_mean_return"][0] <= 500
    assert not list((tmp_path / "runs").glob("**/*seed7*"))  # a throwaway folder, not the user's
