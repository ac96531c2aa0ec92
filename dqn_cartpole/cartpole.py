"""CartPole: environments, the training loop, evaluation, checkpoints, plots and animation.

Training steps ``config.num_envs`` CartPole-v1 environments together (gymnasium's numpy-vectorised
CartPole), stores every transition in the replay buffer, and takes a gradient step every
``train_every`` environment steps. Every ``eval_every`` steps the greedy policy plays 100 fresh
episodes; the run folder then gets a checkpoint (networks, optimizer, replay buffer, history) from
which an interrupted run resumes, and the curves as CSV (and, every ``figure_every`` steps, PNG).
"""

from __future__ import annotations

import csv
import io
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import gymnasium as gym
import matplotlib.pyplot as plt
import numpy as np
from tqdm import tqdm

from course.atomic import atomic_path, atomic_write_text
from course.checkpoint import (
    WEIGHTS,
    DamagedCheckpointError,
    load_checkpoint,
    remove_leftovers,
    runs_root,
    write_checkpoint,
)
from course.env import set_seed
from course.figures import save_figure
from dqn_cartpole.constant import MAX_EPISODE_STEPS, DQNConfig
from dqn_cartpole.dqn import (
    DQNAgent,
    NStepAccumulator,
    ReplayBuffer,
    epsilon_greedy,
    gradient_step,
    linear_epsilon,
)

ENV_ID = "CartPole-v1"
REPLAY = "replay.npz"
EPISODES_CSV = "episodes.csv"
EVALUATIONS_CSV = "evaluations.csv"
CURVE_PNG = "training_curve.png"
EVALUATIONS_PNG = "evaluations.png"
# Configuration fields a run may change when it resumes: training longer, redrawing more often.
RESUMABLE_CHANGES = ("num_steps", "figure_every")

Policy = Callable[[np.ndarray], np.ndarray]  # states (n, 4) -> actions (n,)


# ---------------------------------------------------------------------------------------------
# Environments


def make_env(render_mode: str | None = None) -> gym.Env:
    """One CartPole-v1 episode at a time (with the 500-step time limit), e.g. for rendering.

    An episode terminates when the pole leans past 12 degrees (0.2095 rad) or the cart leaves
    |x| <= 2.4, and is truncated after 500 steps; each step before that earns a reward of 1.
    """
    return gym.make(ENV_ID, render_mode=render_mode)


def make_vector_env(num_envs: int) -> gym.vector.VectorEnv:
    """``num_envs`` CartPole-v1 copies stepped together by one numpy computation.

    It resets a finished copy on the *next* call to ``step`` (gymnasium's "next-step" autoreset):
    that call ignores the action, returns the first state of a new episode and reward 0, and is
    not a transition of the game. The loops below skip it.
    """
    return gym.make_vec(ENV_ID, num_envs=num_envs, vectorization_mode="vector_entry_point")


# ---------------------------------------------------------------------------------------------
# Evaluation


def greedy_policy(agent: DQNAgent) -> Policy:
    """a = argmax_a Q(s, a): the policy the agent has learnt, without exploration."""
    return lambda states: np.argmax(agent.q_values(states), axis=1)


def evaluate(policy: Policy, num_episodes: int = 100, seed: int = 0) -> np.ndarray:
    """The return of ``policy`` in each of ``num_episodes`` episodes, played side by side.

    All episodes run in lock-step in one vectorised environment, so the policy is called once
    per time step for all of them; each copy's first episode is counted, the rest ignored.
    """
    envs = make_vector_env(num_episodes)
    states, _ = envs.reset(seed=seed)
    returns = np.zeros(num_episodes)
    playing = np.ones(num_episodes, dtype=bool)
    while playing.any():  # ends within 500 steps: the time limit truncates every episode
        states, rewards, terminated, truncated, _ = envs.step(policy(states).astype(np.int64))
        returns += np.where(playing, rewards, 0.0)
        playing &= ~(terminated | truncated)
    envs.close()
    return returns


# ---------------------------------------------------------------------------------------------
# The record of a run


@dataclass
class TrainingRun:
    """A trained agent and what its run logged, as a notebook or benchmark reads them.

    ``episodes``: one row per finished training episode (the step it ended at, its return, the
    mean of max_a Q(s_t, a) over its states, epsilon). ``evaluations``: one row per evaluation of
    the greedy policy (mean/min/max return over ``eval_episodes`` episodes, whether it solved
    CartPole, the mean TD loss of the training steps since the previous evaluation, and the
    seconds spent so far: ``train_seconds`` without evaluations and file writing,
    ``wall_seconds`` with them).
    """

    agent: DQNAgent
    config: DQNConfig
    folder: Path
    episodes: list[dict] = field(default_factory=list)
    evaluations: list[dict] = field(default_factory=list)
    env_step: int = 0
    gradient_steps: int = 0

    @property
    def first_solved(self) -> dict | None:
        """The first evaluation with a mean return >= solved_return, or None."""
        return next((row for row in self.evaluations if row["solved"]), None)


EPISODE_COLUMNS = ("env_step", "episode", "return", "length", "mean_max_q", "epsilon")
EVALUATION_COLUMNS = (
    "env_step", "mean_return", "min_return", "max_return", "solved", "td_loss", "train_seconds",
    "wall_seconds",
)


def rows_to_csv(rows: list[dict], columns: tuple[str, ...]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def run_dir(config: DQNConfig) -> Path:
    """Where a run writes: one folder per profile, variant and seed."""
    variant = "dqn" if config.use_target_network else "dqn-no-target"
    return runs_root() / "dqn_cartpole" / config.profile / f"{variant}-seed{config.seed}"


# ---------------------------------------------------------------------------------------------
# Checkpoints


def _fingerprint(config: DQNConfig) -> dict:
    """The configuration as JSON sees it, without the fields a resumed run may change."""
    as_json = json.loads(json.dumps(config.as_dict()))
    return {name: value for name, value in as_json.items() if name not in RESUMABLE_CHANGES}


def save_checkpoint(run: TrainingRun, buffer: ReplayBuffer, rng: np.random.Generator,
                    seconds: dict[str, float]) -> None:
    """Commit weights (both networks and the optimizer), replay buffer and state to run.folder,
    through ``course.checkpoint``: a kill at any moment leaves this checkpoint or the last one."""
    state = {
        "env_step": run.env_step,
        "gradient_steps": run.gradient_steps,
        "seconds": seconds,
        "rng": rng.bit_generator.state,
        "episodes": run.episodes,
        "evaluations": run.evaluations,
    }
    # The CSV views first, the commit last (as course.checkpoint writes history.csv).
    atomic_write_text(run.folder / EPISODES_CSV, rows_to_csv(run.episodes, EPISODE_COLUMNS))
    atomic_write_text(run.folder / EVALUATIONS_CSV,
                      rows_to_csv(run.evaluations, EVALUATION_COLUMNS))
    write_checkpoint(run.folder, run.agent, _fingerprint(run.config), state,
                     extra_files={REPLAY: lambda path: np.savez(path, **buffer.to_arrays())})


def restore_checkpoint(run: TrainingRun, buffer: ReplayBuffer, rng: np.random.Generator) -> dict:
    """Load run.folder's checkpoint into ``run``, ``buffer`` and ``rng``; return its seconds.

    With no checkpoint, changes nothing and returns zero seconds. A checkpoint from another
    configuration or network is refused with the differences named, never silently mixed in.
    """
    loaded = load_checkpoint(run.agent, run.folder, _fingerprint(run.config))
    if loaded is None:
        return {"train": 0.0, "wall": 0.0}
    state, files = loaded
    try:
        with np.load(files[REPLAY], allow_pickle=False) as arrays:
            buffer.load_arrays(arrays)
        rng.bit_generator.state = state["rng"]
        run.env_step = int(state["env_step"])
        run.gradient_steps = int(state["gradient_steps"])
        run.episodes = list(state["episodes"])
        run.evaluations = list(state["evaluations"])
        return {"train": float(state["seconds"]["train"]), "wall": float(state["seconds"]["wall"])}
    except (KeyError, TypeError, ValueError) as error:
        reason = f"its DQN state is incomplete ({error!r})"
        raise DamagedCheckpointError(run.folder, reason) from None


def load_run(config: DQNConfig, folder: str | os.PathLike | None = None) -> TrainingRun:
    """A run as its folder's checkpoint left it (or a fresh agent if there is none)."""
    set_seed(config.seed)
    run = TrainingRun(DQNAgent(config), config, Path(folder or run_dir(config)))
    restore_checkpoint(run, ReplayBuffer(config.buffer_size), np.random.default_rng(config.seed))
    return run


def write_figures(run: TrainingRun) -> None:
    """Redraw the training curve and the evaluations as PNGs in the run folder."""
    for make, name in ((plot_training_curve, CURVE_PNG), (plot_evaluations, EVALUATIONS_PNG)):
        fig = make(run.episodes, run.evaluations, run.config.solved_return)
        save_figure(fig, run.folder / name)
        plt.close(fig)


# ---------------------------------------------------------------------------------------------
# The logger: everything the training loop does besides learning


class RunLogger:
    """The bookkeeping of a training run, so that ``train`` shows only the algorithm.

    It resumes the run from its folder's checkpoint when it is made (agent, replay buffer, random
    generator, records and clocks), keeps the progress bar, the record of every training episode
    and the mean TD loss, and every ``eval_every`` environment steps (and at the end) evaluates
    the greedy policy, writes a checkpoint and the CSV files, and every ``figure_every`` steps
    the PNGs. The training clock stops while it does so.
    """

    def __init__(self, run: TrainingRun, buffer: ReplayBuffer, rng: np.random.Generator,
                 progress: bool = True):
        self.run, self.buffer, self.rng = run, buffer, rng
        config = run.config
        self.seconds_before = restore_checkpoint(run, buffer, rng)  # of earlier sessions
        remove_leftovers(run.folder, (WEIGHTS, REPLAY))
        finished = run.env_step >= config.num_steps
        if run.env_step and not finished:
            print(f"Resuming {run.folder} at step {run.env_step} of {config.num_steps}.")
        self.started = time.perf_counter()
        self.outside_training = 0.0  # seconds spent evaluating and writing files since `started`
        self.lengths = np.zeros(config.num_envs, dtype=int)  # of the episodes in play
        self.returns = np.zeros(config.num_envs)
        self.q_sums = np.zeros(config.num_envs)  # sum over the episode of max_a Q(s_t, a)
        self.losses = []  # TD losses of the gradient steps since the last evaluation
        self.next_eval = (run.env_step // config.eval_every + 1) * config.eval_every
        self.next_figure = (run.env_step // config.figure_every + 1) * config.figure_every
        self.bar = tqdm(total=config.num_steps, initial=run.env_step, desc="DQN", unit="step",
                        mininterval=2.0, disable=not progress or finished)

    def record_steps(self, real: np.ndarray, rewards: np.ndarray, q_values: np.ndarray,
                     ended: np.ndarray, epsilon: float) -> None:
        """Add one vector step to the episodes in play (``real``: the environments that made a
        transition) and log each episode that just ended."""
        run = self.run
        self.bar.update(int(real.sum()))
        self.lengths += real
        self.returns += np.where(real, rewards, 0.0)
        self.q_sums += np.where(real, q_values.max(axis=1), 0.0)
        finished = real & ended
        for index in np.flatnonzero(finished):
            run.episodes.append({
                "env_step": run.env_step,
                "episode": len(run.episodes) + 1,
                "return": float(self.returns[index]),
                "length": int(self.lengths[index]),
                "mean_max_q": float(self.q_sums[index] / self.lengths[index]),
                "epsilon": round(epsilon, 4),
            })
        self.lengths[finished], self.returns[finished], self.q_sums[finished] = 0, 0.0, 0.0

    def record_loss(self, loss) -> None:
        """Keep a gradient step's loss (a tensor: reading it now would wait for the step)."""
        self.losses.append(loss)

    def mean_loss(self) -> float:
        """The mean TD loss since the last call (nan if no gradient step was taken)."""
        losses = [float(loss) for loss in self.losses]
        self.losses.clear()
        return float(np.mean(losses)) if losses else float("nan")

    def evaluate_when_due(self) -> None:
        """Every ``eval_every`` steps and at the end: evaluate, redraw, checkpoint."""
        run, config = self.run, self.run.config
        last_step = run.env_step >= config.num_steps
        if run.env_step < self.next_eval and not last_step:
            return
        paused = time.perf_counter()
        train_seconds = self.seconds_before["train"] + paused - self.started - self.outside_training
        scores = evaluate(greedy_policy(run.agent), config.eval_episodes,
                          seed=10_000 * (config.seed + 1) + len(run.evaluations))
        run.evaluations.append({
            "env_step": run.env_step,
            "mean_return": float(scores.mean()),
            "min_return": float(scores.min()),
            "max_return": float(scores.max()),
            "solved": bool(scores.mean() >= config.solved_return),
            "td_loss": round(self.mean_loss(), 6),  # mean since the last evaluation
            "train_seconds": round(train_seconds, 3),
            "wall_seconds": round(self.seconds_before["wall"] + time.perf_counter() - self.started,
                                  3),
        })
        self.bar.set_postfix_str(f"eval {scores.mean():.0f}", refresh=False)
        if run.env_step >= self.next_figure or last_step:
            write_figures(run)
            self.next_figure = (run.env_step // config.figure_every + 1) * config.figure_every
        wall_seconds = self.seconds_before["wall"] + time.perf_counter() - self.started
        save_checkpoint(run, self.buffer, self.rng, {"train": train_seconds, "wall": wall_seconds})
        self.outside_training += time.perf_counter() - paused
        self.next_eval = (run.env_step // config.eval_every + 1) * config.eval_every

    def close(self) -> None:
        self.bar.close()


# ---------------------------------------------------------------------------------------------
# Training


def train(
    config: DQNConfig,
    folder: str | os.PathLike | None = None,
    progress: bool = True,
) -> TrainingRun:
    """Train a DQN agent on CartPole-v1 for ``config.num_steps`` environment steps.

    Resumes from the checkpoint in ``folder`` (default ``run_dir(config)``) when there is one,
    and returns at once when that run is already complete. A resumed run starts fresh episodes:
    the episodes in play when the checkpoint was written are not part of it.
    """
    set_seed(config.seed)  # the networks' initial weights
    rng = np.random.default_rng(config.seed)  # exploration and minibatch sampling
    agent, buffer = DQNAgent(config), ReplayBuffer(config.buffer_size)
    run = TrainingRun(agent, config, Path(folder or run_dir(config)))
    logger = RunLogger(run, buffer, rng, progress)  # first loads the checkpoint, if any
    if run.env_step >= config.num_steps:
        return run
    envs = make_vector_env(config.num_envs)
    states, _ = envs.reset(seed=config.seed + run.env_step)
    starting = np.zeros(config.num_envs, dtype=bool)  # copies whose next step() only resets them
    n_step = NStepAccumulator(config.num_envs, config.n_step, config.gamma)

    while run.env_step < config.num_steps:
        # Act: epsilon-greedy on the online network's Q values, one call for all environments.
        epsilon = linear_epsilon(run.env_step, config.epsilon_start, config.epsilon_end,
                                 config.exploration_steps)
        q_values = agent.q_values(states)
        actions = epsilon_greedy(q_values, epsilon, rng)
        next_states, rewards, terminated, truncated, _ = envs.step(actions)

        # Store: every real transition (an autoreset step is none) as n-step transitions.
        real = ~starting
        for i in np.flatnonzero(real):
            buffer.extend(n_step.step(i, states[i], actions[i], rewards[i], next_states[i],
                                      terminated[i], truncated[i]))
        run.env_step += int(real.sum())
        logger.record_steps(real, rewards, q_values, terminated | truncated, epsilon)
        starting, states = terminated | truncated, next_states

        # Learn: each gradient step due samples a minibatch and regresses Q(s, a) on its TD
        # targets; every target_update_every steps the target network catches up (sync).
        if run.env_step >= config.learning_starts and len(buffer) >= config.batch_size:
            due = (run.env_step - config.learning_starts) // config.train_every + 1
            while run.gradient_steps < due:
                batch = buffer.sample(config.batch_size, rng)
                logger.record_loss(gradient_step(agent, batch.pack()))
                run.gradient_steps += 1
                if run.gradient_steps % config.target_update_every == 0:
                    agent.update_target(1.0 if config.target_update == "hard" else config.tau)

        logger.evaluate_when_due()  # and checkpoint, CSV files, figures
    envs.close()
    logger.close()
    return run


# ---------------------------------------------------------------------------------------------
# Plots


def _moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """Mean of the last ``window`` values at each point (fewer at the start)."""
    sums = np.cumsum(np.insert(values, 0, 0.0))
    counts = np.minimum(np.arange(1, len(values) + 1), window)
    return (sums[1:] - sums[np.arange(1, len(values) + 1) - counts]) / counts


def plot_training_curve(episodes: list[dict], evaluations: list[dict] | None = None,
                        solved_return: float = 475.0):
    """Score (return) of each training episode, and its mean predicted max_a Q(s, a).

    Training episodes explore (epsilon-greedy), so their scores sit below what the greedy policy
    achieves; the evaluations of the greedy policy are drawn on top.
    """
    fig, (score_ax, q_ax) = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    steps = np.array([row["env_step"] for row in episodes])
    scores = np.array([row["return"] for row in episodes], dtype=float)
    q_means = np.array([row["mean_max_q"] for row in episodes], dtype=float)
    score_ax.plot(steps, scores, ".", ms=3, color="0.6", label="training episode")
    if len(scores):
        score_ax.plot(steps, _moving_average(scores, 20), color="C0", label="mean of last 20")
    if evaluations:
        score_ax.plot([row["env_step"] for row in evaluations],
                      [row["mean_return"] for row in evaluations],
                      "o-", ms=4, color="C2", label="greedy policy, mean of 100 episodes")
    score_ax.axhline(solved_return, color="C3", ls="--", lw=1, label=f"solved ({solved_return:g})")
    score_ax.set(ylabel="score (return)", ylim=(0, MAX_EPISODE_STEPS * 1.05))
    # Above the panel, in one row: inside it, any corner hides part of some run's curve.
    score_ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.01), ncol=4, fontsize=8,
                    frameon=False, borderaxespad=0.0)
    q_ax.plot(steps, q_means, color="C1")
    q_ax.set(xlabel="environment step", ylabel="mean of max_a Q(s, a)\nover the episode")
    fig.tight_layout()
    return fig


def plot_evaluations(episodes: list[dict] | None, evaluations: list[dict],
                     solved_return: float = 475.0):
    """Mean, worst and best return of the greedy policy at each evaluation."""
    del episodes  # the same signature as plot_training_curve, for write_figures
    fig, ax = plt.subplots(figsize=(9, 3.5))
    steps = [row["env_step"] for row in evaluations]
    ax.fill_between(steps, [row["min_return"] for row in evaluations],
                    [row["max_return"] for row in evaluations], color="C2", alpha=0.25,
                    label="worst to best episode")
    ax.plot(steps, [row["mean_return"] for row in evaluations], "o-", ms=4, color="C2",
            label="mean return")
    ax.axhline(solved_return, color="C3", ls="--", lw=1, label=f"solved ({solved_return:g})")
    ax.set(xlabel="environment step", ylabel="return of the greedy policy",
           ylim=(0, MAX_EPISODE_STEPS * 1.05))
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig


def plot_variant_comparison(runs: dict[str, list[TrainingRun]], solved_return: float = 475.0):
    """Greedy-policy return against environment steps, one panel per variant, one line per seed.

    ``runs`` maps a variant's label (say "no target network") to its runs over several seeds.
    """
    fig, axes = plt.subplots(1, len(runs), figsize=(5.2 * len(runs), 3.6), sharey=True,
                             squeeze=False)
    for ax, (label, variant_runs) in zip(axes[0], runs.items(), strict=True):
        for run in variant_runs:
            steps = [row["env_step"] for row in run.evaluations]
            means = [row["mean_return"] for row in run.evaluations]
            ax.plot(steps, means, "o-", ms=2.5, lw=1, label=f"seed {run.config.seed}")
        solved = sum(run.first_solved is not None for run in variant_runs)
        ax.axhline(solved_return, color="C3", ls="--", lw=1)
        ax.set(title=f"{label}\nsolved in {solved} of {len(variant_runs)} seeds",
               xlabel="environment step", ylim=(0, MAX_EPISODE_STEPS * 1.05))
        ax.legend(loc="lower right", fontsize=8)
    axes[0, 0].set_ylabel("greedy return (mean of 100 episodes)")
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------
# Animation


def record_episode(policy: Policy, seed: int = 0, frame_every: int = 2,
                   max_steps: int = MAX_EPISODE_STEPS) -> tuple[list[np.ndarray], float]:
    """Play one episode with ``policy`` and keep every ``frame_every``-th rendered frame.

    Returns the frames (RGB uint8 arrays, no display needed) and the episode's return.
    """
    # pygame draws the frames off-screen; without a display SDL would complain on stderr.
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    env = make_env(render_mode="rgb_array")
    state, _ = env.reset(seed=seed)
    frames = [env.render()]
    total = 0.0
    for step in range(1, max_steps + 1):
        action = int(policy(state[None])[0])
        state, reward, terminated, truncated, _ = env.step(action)
        total += float(reward)
        if step % frame_every == 0 or terminated or truncated:
            frames.append(env.render())
        if terminated or truncated:
            break
    env.close()
    return frames, total


def save_gif(frames: list[np.ndarray], path: str | os.PathLike, fps: float = 25.0,
             scale: float = 0.5) -> Path:
    """Write ``frames`` as a looping GIF (shrunk by ``scale``), atomically."""
    from PIL import Image

    path = Path(path)
    images = [Image.fromarray(frame) for frame in frames]
    if scale != 1:
        size = (round(images[0].width * scale), round(images[0].height * scale))
        images = [image.resize(size, Image.Resampling.LANCZOS) for image in images]
    with atomic_path(path) as tmp:
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:],
                       duration=round(1000 / fps), loop=0)
    return path


def plot_filmstrip(frames: list[np.ndarray], num_panels: int = 6, frame_every: int = 2,
                   title: str | None = None, last_step: int | None = None):
    """``num_panels`` frames spread evenly over an episode, labelled with their time step, under
    an optional ``title``.

    ``frames`` are those of ``record_episode``: every ``frame_every``-th step, and the last
    step of the episode, whose number ``last_step`` gives (its length, for CartPole its return).
    """
    picks = np.unique(np.linspace(0, len(frames) - 1, num_panels).round().astype(int))
    steps = np.minimum(np.arange(len(frames)) * frame_every, MAX_EPISODE_STEPS)
    if last_step is not None:
        steps[-1] = last_step
    # Constrained layout keeps the title clear of the panels' own titles.
    fig, axes = plt.subplots(1, len(picks), figsize=(2.4 * len(picks), 2.2), squeeze=False,
                             layout="constrained")
    for ax, index in zip(axes[0], picks, strict=True):
        ax.imshow(frames[index])
        ax.set_title(f"step {steps[index]}", fontsize=9)
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


class Animation:
    """An animated GIF as a notebook output that every viewer shows, GitHub's included.

    Jupyter would send a GIF as ``image/gif``, which nbconvert, nbviewer and GitHub do not
    render: they print ``<IPython.core.display.Image object>`` instead. Sent as ``image/png``,
    the same bytes become an ``<img>`` everywhere, and browsers recognise a GIF by its content
    and animate it. The plain-text form names the file, for text-only viewers.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def _repr_png_(self) -> bytes:
        return self.path.read_bytes()

    def __repr__(self) -> str:
        return f"<animated GIF {self.path.name}>"
