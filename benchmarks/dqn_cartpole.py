"""Benchmark: our DQN (5 seeds) against Stable-Baselines3's tuned DQN, in one process.

    make bench        # builds .venv-bench (the course + CPU torch and SB3), runs every benchmark
    .venv-bench/bin/python -m benchmarks.dqn_cartpole [--seeds 0 1 2 3 4] [--budget 50000]
    .venv/bin/python -m benchmarks.dqn_cartpole --skip-reference   # ours only: no torch needed

Both agents are judged by one rule: every 2,500 environment steps the greedy policy plays 100
episodes side by side (``dqn_cartpole.cartpole.evaluate``), with the training clock stopped.
Per seed: environment steps and training seconds at the first evaluation with a mean return of at
least 475 (None if none within the budget), the mean return of the policy the run ends with, and
the fraction of the evaluations after the first pass that pass too.

Then the run notebook 05 makes (``python -m dqn_cartpole --profile cpu``: its own number of steps
and schedule) on ten seeds never used while its settings were chosen, each judged by the mean
return of the policy it ends with over 100 fresh episodes. Writes
benchmarks/results/dqn_cartpole.json.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from unittest import mock

import numpy as np

import course  # noqa: F401  (quiets TensorFlow's C++ logs before it is imported)
from course.atomic import atomic_write_text
from course.env import describe_device
from dqn_cartpole.cartpole import evaluate, train
from dqn_cartpole.constant import SOLVED_RETURN, get_config

RESULTS = Path(__file__).resolve().parent / "results" / "dqn_cartpole.json"
EVAL_EVERY = 2_500
EVAL_EPISODES = 100
# Seeds no setting of the recipe was tuned on (those used 0-4).
NOTEBOOK_SEEDS = tuple(range(100, 110))
# rl-baselines3-zoo's hyperparameters for DQN on CartPole-v1 (hyperparams/dqn.yml).
ZOO_CARTPOLE = dict(
    learning_rate=2.3e-3, batch_size=64, buffer_size=100_000, learning_starts=1_000, gamma=0.99,
    target_update_interval=10, train_freq=256, gradient_steps=128, exploration_fraction=0.16,
    exploration_final_eps=0.04, policy_kwargs=dict(net_arch=[256, 256]),
)


def summarise(evaluations: list[dict]) -> dict:
    """The judged numbers of one run from its evaluations (env_step, mean_return, train_seconds)."""
    passes = [row["mean_return"] >= SOLVED_RETURN for row in evaluations]
    first = passes.index(True) if True in passes else None
    later = passes[first + 1:] if first is not None else []
    return {
        "steps_to_solve": evaluations[first]["env_step"] if first is not None else None,
        "seconds_to_solve": (round(evaluations[first]["train_seconds"], 2)
                             if first is not None else None),
        "final_return": evaluations[-1]["mean_return"],
        "pass_fraction_after_solve": (round(sum(later) / len(later), 3)
                                      if later else (1.0 if first is not None else None)),
        # The whole run's training seconds: with the budget, the agent's speed on this machine
        # at this moment, apart from how soon it learns.
        "train_seconds": round(evaluations[-1]["train_seconds"], 2),
        "curve": [(row["env_step"], row["mean_return"]) for row in evaluations],
    }


def run_ours(seed: int, budget: int, profile: str) -> dict:
    config = get_config(profile, seed=seed, num_steps=budget, eval_every=EVAL_EVERY,
                        eval_episodes=EVAL_EPISODES, figure_every=budget)
    with tempfile.TemporaryDirectory() as folder:
        run = train(config, folder=folder, progress=False)
    return summarise(run.evaluations)


def run_reference(seed: int, budget: int) -> dict:
    """Stable-Baselines3's DQN with the zoo's CartPole hyperparameters, under the same rule."""
    import gymnasium as gym
    import torch
    from stable_baselines3 import DQN
    from stable_baselines3.common.callbacks import BaseCallback

    class EvaluationClock(BaseCallback):
        """Evaluates every EVAL_EVERY steps with the training clock stopped."""

        def _on_training_start(self):
            self.evaluations, self.next_eval = [], EVAL_EVERY
            self.train_seconds, self.started = 0.0, time.perf_counter()

        def evaluate_now(self):
            self.train_seconds += time.perf_counter() - self.started
            returns = evaluate(lambda states: self.model.predict(states, deterministic=True)[0],
                               EVAL_EPISODES, seed=10_000 * (seed + 1) + len(self.evaluations))
            self.evaluations.append({"env_step": self.num_timesteps,
                                     "mean_return": float(returns.mean()),
                                     "train_seconds": self.train_seconds})
            self.started = time.perf_counter()

        def _on_step(self):
            if self.num_timesteps >= self.next_eval:
                self.evaluate_now()
                self.next_eval += EVAL_EVERY
            return True

    torch.manual_seed(seed)
    clock = EvaluationClock()
    model = DQN("MlpPolicy", gym.make("CartPole-v1"), seed=seed, device="cpu", verbose=0,
                **ZOO_CARTPOLE)
    model.learn(total_timesteps=budget, callback=clock)
    if clock.evaluations[-1]["env_step"] < budget:  # the policy the run ends with
        clock.evaluate_now()
    return summarise(clock.evaluations)


def run_notebook_recipe(seed: int, profile: str) -> dict:
    """The command-line run of the notebook's profile on ``seed``, in a throwaway folder: the
    summary it writes (first solved step, mean and worst return of its final policy, seconds)."""
    from dqn_cartpole.run import main as train_from_command_line

    with (tempfile.TemporaryDirectory() as folder,
          mock.patch.dict(os.environ, {"DL_CHECKPOINT_DIR": folder}),
          contextlib.redirect_stdout(io.StringIO())):
        return train_from_command_line(["--profile", profile, "--seed", str(seed), "--quiet"])


def collect(runs: list[dict], seeds: list[int]) -> dict:
    keys = ("steps_to_solve", "seconds_to_solve", "final_return", "pass_fraction_after_solve",
            "train_seconds", "curve")
    return {"seeds": seeds, **{key: [run[key] for run in runs] for key in keys}}


def write_result(result: dict, ours: list[dict], reference: list[dict], args) -> None:
    """Write the seeds measured so far (the JSON shape of the chapter's issue)."""
    result["ours"] = {"name": f"dqn_cartpole {args.profile} profile",
                      **collect(ours, args.seeds[: len(ours)])}
    if reference:
        result["reference"] = {
            "name": "Stable-Baselines3 2.9 DQN, rl-baselines3-zoo CartPole-v1 hyperparameters",
            "hyperparameters": {k: v for k, v in ZOO_CARTPOLE.items() if k != "policy_kwargs"}
            | {"net_arch": [256, 256]},
            **collect(reference, args.seeds[: len(reference)]),
        }
    atomic_write_text(args.out, json.dumps(result, indent=1))


def notebook_runs_block(summaries: list[dict], args) -> dict:
    keys = ("first_solved_step", "final_mean_return", "final_min_return", "train_seconds")
    return {"name": f"python -m dqn_cartpole --profile {args.profile} (notebook 05's run)",
            "num_steps": get_config(args.profile).num_steps,
            "seeds": list(args.notebook_seeds[: len(summaries)]),
            **{key: [summary[key] for summary in summaries] for key in keys}}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--budget", type=int, default=50_000, help="environment steps per run")
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--skip-reference", action="store_true")
    parser.add_argument("--notebook-seeds", type=int, nargs="*", default=list(NOTEBOOK_SEEDS),
                        help="seeds for the notebook's own run (none: skip that part)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    result = {"machine": f"{describe_device()}, {platform.platform()}",
              "budget_steps": args.budget, "profile": args.profile}
    # Seeds alternate between the two agents, so a busy spell on a shared machine slows both.
    # The file is rewritten after every seed: an interrupted benchmark keeps what it measured.
    ours, reference = [], []
    for seed in args.seeds:
        ours.append(run_ours(seed, args.budget, args.profile))
        print(f"ours seed {seed}: {ours[-1]['steps_to_solve']} steps, "
              f"{ours[-1]['seconds_to_solve']} s, final {ours[-1]['final_return']}", flush=True)
        if not args.skip_reference:
            reference.append(run_reference(seed, args.budget))
            print(f"reference seed {seed}: {reference[-1]['steps_to_solve']} steps, "
                  f"{reference[-1]['seconds_to_solve']} s, final "
                  f"{reference[-1]['final_return']}", flush=True)
        write_result(result, ours, reference, args)
    summaries = []
    for seed in args.notebook_seeds:
        summaries.append(run_notebook_recipe(seed, args.profile))
        print(f"notebook run seed {seed}: final mean {summaries[-1]['final_mean_return']:.1f}, "
              f"worst episode {summaries[-1]['final_min_return']:.0f}", flush=True)
        result["notebook_runs"] = notebook_runs_block(summaries, args)
        write_result(result, ours, reference, args)
    print(f"wrote {args.out}")
    steps = [run["steps_to_solve"] for run in ours]
    print("ours: median steps to solve",
          np.median([s if s is not None else np.inf for s in steps]))


if __name__ == "__main__":
    main()
