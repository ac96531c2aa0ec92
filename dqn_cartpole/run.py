"""Train DQN on CartPole-v1 and write its curves, checkpoint and (with --render) an animation.

    python -m dqn_cartpole --profile cpu --seed 0 [--no-target-network] [--render]

Everything goes to training_checkpoints/dqn_cartpole/<profile>/<variant>-seed<seed>/ (or under
$DL_CHECKPOINT_DIR); a rerun resumes an interrupted run or reloads a finished one.
"""

from __future__ import annotations

import argparse
import json

import course  # noqa: F401  (quiets TensorFlow's C++ logs before it is imported)
from course.atomic import atomic_write_text
from course.env import environment_report
from course.figures import save_figure
from course.profiles import add_profile_argument
from dqn_cartpole.constant import get_config


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_profile_argument(parser)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num-steps", type=int, help="environment steps (default: the profile's)")
    parser.add_argument("--no-target-network", action="store_true",
                        help="no target network: the online network makes its own targets "
                             "(replay, n-step returns and the Huber loss stay)")
    parser.add_argument("--render", action="store_true",
                        help="also write an animated GIF and a filmstrip of one greedy episode")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    # Imported only once the command line is read: it loads TensorFlow (seconds), and a mistyped
    # --profile or --help should answer at once.
    from dqn_cartpole.cartpole import (
        evaluate,
        greedy_policy,
        plot_filmstrip,
        record_episode,
        save_gif,
        train,
    )

    overrides = {"seed": args.seed, "use_target_network": not args.no_target_network}
    if args.num_steps is not None:
        overrides["num_steps"] = args.num_steps
    config = get_config(args.profile, **overrides)
    print(environment_report(config.profile), flush=True)

    run = train(config, progress=not args.quiet)
    policy = greedy_policy(run.agent)
    final_returns = evaluate(policy, config.eval_episodes, seed=123_456 + config.seed)
    solved = run.first_solved
    summary = {
        "env_steps": run.env_step,
        "gradient_steps": run.gradient_steps,
        "episodes": len(run.episodes),
        "first_solved_step": solved["env_step"] if solved else None,
        "first_solved_train_seconds": solved["train_seconds"] if solved else None,
        "train_seconds": run.evaluations[-1]["train_seconds"] if run.evaluations else None,
        "final_mean_return": float(final_returns.mean()),
        "final_min_return": float(final_returns.min()),
    }
    atomic_write_text(run.folder / "summary.json", json.dumps(summary, indent=1))
    print(json.dumps(summary, indent=1))

    if args.render:
        frames, episode_return = record_episode(policy, seed=config.seed)
        save_gif(frames, run.folder / "cartpole.gif")
        fig = plot_filmstrip(frames, last_step=round(episode_return))
        save_figure(fig, run.folder / "filmstrip.png")
        print(f"animation: {len(frames)} frames, return {episode_return:g}")
    print(f"wrote curves, checkpoint and figures to {run.folder}")
    return summary


if __name__ == "__main__":
    main()
