"""Chapter 5, the environment side: evaluation, the training loop, checkpoints and the command."""

import csv
import json

import course  # noqa: F401  (quiets TensorFlow before it is imported)

# isort: split
import keras
import numpy as np
import pytest
from PIL import Image

from course.checkpoint import (
    STATE,
    WEIGHTS,
    DamagedCheckpointError,
    checkpoint_files,
    runs_root,
)
from dqn_cartpole import cartpole, run
from dqn_cartpole.cartpole import (
    EPISODES_CSV,
    EVALUATIONS_CSV,
    REPLAY,
    evaluate,
    load_run,
    make_env,
    train,
)
from dqn_cartpole.constant import get_config
from dqn_cartpole.dqn import ReplayBuffer


def always_left(states):
    return np.zeros(len(states), dtype=np.int64)


def lean_controller(states):
    """Push the cart under the pole: towards where the pole leans and is falling."""
    angle, angular_velocity = states[:, 2], states[:, 3]
    return (angle + 0.5 * angular_velocity > 0).astype(np.int64)


def single_env_return(policy, seed: int) -> float:
    env = make_env()
    state, _ = env.reset(seed=seed)
    total, done = 0.0, False
    while not done:
        state, reward, terminated, truncated, _ = env.step(int(policy(state[None])[0]))
        total += reward
        done = terminated or truncated
    return total


def test_evaluation_of_a_policy_that_always_pushes_left_is_short():
    returns = evaluate(always_left, num_episodes=100, seed=0)
    assert returns.shape == (100,)
    # The pole falls (past 12 degrees) within a dozen steps; one episode per copy is counted.
    assert 5 <= returns.min() and returns.max() < 15
    assert single_env_return(always_left, seed=0) < 15


def test_evaluation_stops_counting_at_the_500_step_time_limit():
    returns = evaluate(lean_controller, num_episodes=20, seed=1)
    assert returns.shape == (20,)
    assert returns.max() == 500 and returns.mean() > 475
    assert single_env_return(lean_controller, seed=1) == 500


def smoke_config(**overrides):
    settings = {"num_steps": 600, "eval_every": 200, "figure_every": 600}
    return get_config("smoke", **{**settings, **overrides})


def read_rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_training_logs_episodes_and_evaluations(tmp_path):
    result = train(smoke_config(), folder=tmp_path, progress=False)
    assert result.env_step == 600
    expected_steps = (600 - 200) // 1 + 1  # one gradient step per env step after learning_starts
    assert result.gradient_steps == expected_steps
    assert [row["env_step"] for row in result.evaluations] == [200, 400, 600]
    episodes = read_rows(tmp_path / EPISODES_CSV)
    assert len(episodes) == len(result.episodes) > 10
    lengths = [int(row["length"]) for row in episodes]
    assert sum(lengths) <= 600 and all(float(row["return"]) == int(row["length"])
                                       for row in episodes)
    assert np.isfinite([float(row["mean_max_q"]) for row in episodes]).all()
    evaluations = read_rows(tmp_path / EVALUATIONS_CSV)
    assert [int(row["env_step"]) for row in evaluations] == [200, 400, 600]
    for name in ("training_curve.png", "evaluations.png"):
        assert Image.open(tmp_path / name).size[0] > 300


@pytest.mark.parametrize("n_step", [1, 4])
def test_training_with_several_environments_counts_only_real_transitions(tmp_path, n_step):
    config = smoke_config(num_envs=3, train_every=2, num_steps=300, eval_every=300,
                          n_step=n_step)
    result = train(config, folder=tmp_path, progress=False)
    assert 300 <= result.env_step < 303
    # The reset steps of gymnasium's autoreset are no transitions: they are neither counted nor
    # stored, so the buffer holds one transition per real step and every episode is whole,
    # except the last n-1 steps of each episode still in play, which wait for their n rewards.
    with np.load(checkpoint_files(tmp_path)[REPLAY]) as replay:
        stored = len(replay["actions"])
        assert result.env_step - config.num_envs * (n_step - 1) <= stored <= result.env_step
        assert replay["terminated"].sum() >= len(result.episodes)
        assert replay["horizons"].max() == n_step and replay["horizons"].min() >= 1
    assert sum(row["length"] for row in result.episodes) <= result.env_step
    assert result.gradient_steps == (result.env_step - config.learning_starts) // 2 + 1


def test_the_training_loop_reads_on_one_screen():
    """Issue 17: the loop stays short; bookkeeping belongs in RunLogger."""
    import inspect

    lines = inspect.getsource(train).splitlines()
    assert len(lines) <= 60, f"train() has {len(lines)} lines"
    source = "\n".join(lines)
    for step in ("epsilon_greedy(", "envs.step(", "buffer.extend(", "buffer.sample(",
                 "gradient_step(", "update_target("):
        assert step in source
    for bookkeeping in ("perf_counter", "save_checkpoint", "write_figures", "evaluate("):
        assert bookkeeping not in source


def test_logger_records_episodes_and_the_mean_loss(tmp_path):
    config = smoke_config(num_envs=2)
    run = cartpole.TrainingRun(None, config, tmp_path)
    logger = cartpole.RunLogger(run, ReplayBuffer(config.buffer_size),
                                np.random.default_rng(0), progress=False)
    assert np.isnan(logger.mean_loss())
    q_values = np.array([[1.0, 3.0], [2.0, 0.5]])
    both, first = np.array([True, True]), np.array([True, False])
    for step in range(3):
        run.env_step += 2
        logger.record_steps(both, np.ones(2), q_values, np.array([False, step == 2]), 0.5)
    run.env_step += 1
    logger.record_steps(first, np.ones(2), q_values, np.array([True, True]), 0.25)
    # Environment 1 ended after 3 steps, environment 0 after 4; a step that is not real
    # (environment 1's autoreset) neither counts nor ends anything.
    assert [(row["env_step"], row["return"], row["length"], row["mean_max_q"], row["epsilon"])
            for row in run.episodes] == [(6, 3.0, 3, 2.0, 0.5), (7, 4.0, 4, 3.0, 0.25)]
    for loss in (1.0, 2.0, 6.0):
        logger.record_loss(keras.ops.convert_to_tensor(loss))
    assert logger.mean_loss() == pytest.approx(3.0)
    assert np.isnan(logger.mean_loss())  # reset by the previous call
    logger.close()


class Interrupted(Exception):
    """Stands in for Ctrl-C or a killed kernel."""


def agent_state(agent):
    return [keras.ops.convert_to_numpy(v).copy() for v in agent.variables] + [
        keras.ops.convert_to_numpy(v).copy() for v in agent.optimizer.variables
    ]


def test_an_interrupted_run_resumes_at_its_checkpoint(tmp_path, monkeypatch):
    config = smoke_config()
    real_evaluate = cartpole.evaluate
    calls = []

    def evaluate_then_crash(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:  # after the checkpoint of step 400, before the one of step 600
            raise Interrupted
        return real_evaluate(*args, **kwargs)

    monkeypatch.setattr(cartpole, "evaluate", evaluate_then_crash)
    with pytest.raises(Interrupted):
        train(config, folder=tmp_path, progress=False)
    monkeypatch.setattr(cartpole, "evaluate", real_evaluate)

    saved = json.loads((tmp_path / STATE).read_text())
    assert saved["env_step"] == 400
    at_checkpoint = load_run(config, tmp_path)
    assert at_checkpoint.env_step == 400 and at_checkpoint.gradient_steps == 201
    # The loaded weights are the trained ones, not those a fresh agent starts with.
    fresh = load_run(config, tmp_path / "empty")
    assert fresh.env_step == 0
    assert any(not np.array_equal(a, b) for a, b in
               zip(agent_state(at_checkpoint.agent)[:4], agent_state(fresh.agent)[:4],
                   strict=True))

    resumed = train(config, folder=tmp_path, progress=False)
    assert resumed.env_step == 600 and resumed.gradient_steps == 401
    assert [row["env_step"] for row in resumed.evaluations] == [200, 400, 600]
    assert resumed.evaluations[:2] == at_checkpoint.evaluations
    assert resumed.episodes[: len(at_checkpoint.episodes)] == at_checkpoint.episodes

    # A finished run is loaded as it is, not trained again.
    again = train(config, folder=tmp_path, progress=False)
    assert again.env_step == 600 and again.evaluations == resumed.evaluations
    for a, b in zip(agent_state(again.agent), agent_state(resumed.agent), strict=True):
        np.testing.assert_array_equal(a, b)


def test_checkpoint_restores_the_saved_weights_and_optimizer(tmp_path):
    config = smoke_config(num_steps=400)
    finished = train(config, folder=tmp_path, progress=False)
    loaded = load_run(config, tmp_path)
    assert loaded.env_step == 400
    for a, b in zip(agent_state(loaded.agent), agent_state(finished.agent), strict=True):
        np.testing.assert_array_equal(a, b)
    # Training longer continues from there: the first 400 steps are not repeated.
    longer = train(smoke_config(num_steps=600), folder=tmp_path, progress=False)
    assert longer.evaluations[:2] == finished.evaluations and longer.env_step == 600


def test_a_checkpoint_of_another_network_or_a_damaged_one_is_refused(tmp_path):
    train(smoke_config(num_steps=200), folder=tmp_path, progress=False)
    with pytest.raises(ValueError, match=r"different configuration \(hidden_units="):
        train(smoke_config(num_steps=200, hidden_units=(16,)), folder=tmp_path, progress=False)
    # Even with a matching configuration, a checkpoint of another network is refused.
    state = json.loads((tmp_path / STATE).read_text())
    (tmp_path / STATE).write_text(json.dumps({**state, "architecture": "0" * 64}))
    with pytest.raises(ValueError, match="different network"):
        load_run(smoke_config(num_steps=200), tmp_path)
    # A truncated replay buffer: one clear error naming the folder, not NumPy's.
    (tmp_path / STATE).write_text(json.dumps(state))
    replay = checkpoint_files(tmp_path)[REPLAY]
    replay.write_bytes(replay.read_bytes()[:100])
    with pytest.raises(DamagedCheckpointError, match="Delete that folder") as error:
        train(smoke_config(num_steps=400), folder=tmp_path, progress=False)
    assert str(tmp_path) in str(error.value) and replay.name in str(error.value)


@pytest.mark.parametrize("extra", [["--render"], ["--no-target-network"]])
def test_run_main_writes_curves_checkpoint_and_animation(tmp_path, monkeypatch, extra):
    monkeypatch.setenv("DL_CHECKPOINT_DIR", str(tmp_path))
    summary = run.main(["--profile", "smoke", "--seed", "3", "--quiet", *extra])
    variant = "dqn-no-target" if "--no-target-network" in extra else "dqn"
    folder = runs_root() / "dqn_cartpole" / "smoke" / f"{variant}-seed3"
    assert summary["env_steps"] == get_config("smoke").num_steps
    assert json.loads((folder / "summary.json").read_text()) == summary
    for name in (EPISODES_CSV, EVALUATIONS_CSV, "training_curve.png", "evaluations.png", STATE):
        assert (folder / name).stat().st_size > 0
    checkpoint = checkpoint_files(folder)
    assert set(checkpoint) == {WEIGHTS, REPLAY}
    assert all(path.stat().st_size > 0 for path in checkpoint.values())
    assert len(read_rows(folder / EVALUATIONS_CSV)) == 2  # smoke: 600 steps, every 300
    if "--render" in extra:
        gif = Image.open(folder / "cartpole.gif")
        assert gif.n_frames > 2 and gif.size == (300, 200)
        assert Image.open(folder / "filmstrip.png").size[0] > 300
    else:
        assert not (folder / "cartpole.gif").exists()


def test_animation_reaches_every_viewer_as_an_image_output(tmp_path):
    from IPython.core.interactiveshell import InteractiveShell

    frames = [np.full((40, 60, 3), 40 * k, dtype=np.uint8) for k in range(4)]
    gif = cartpole.save_gif(frames, tmp_path / "tiny.gif", scale=1.0)
    data, _ = InteractiveShell.instance().display_formatter.format(cartpole.Animation(gif))
    InteractiveShell.clear_instance()
    # image/png is what nbconvert, nbviewer and GitHub render; the bytes stay the GIF's.
    assert data["image/png"] == gif.read_bytes() and data["image/png"][:4] == b"GIF8"
    assert "image/gif" not in data
    assert data["text/plain"] == "<animated GIF tiny.gif>"
    assert Image.open(gif).n_frames == 4


def test_filmstrip_titles_name_the_steps_shown():
    frames = [np.zeros((40, 60, 3), dtype=np.uint8)] * 7  # steps 0, 2, ..., 10 and the end, 11
    fig = cartpole.plot_filmstrip(frames, num_panels=3, last_step=11, title="an episode")
    assert [ax.get_title() for ax in fig.axes] == ["step 0", "step 6", "step 11"]
    assert fig.get_suptitle() == "an episode"

