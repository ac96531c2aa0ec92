"""What lets the course run on every Keras backend: one gradient step per backend, runs kept
apart per backend, and the backend test set (`make test-backends`) covering every model test."""

import ast
from pathlib import Path

import keras
import numpy as np
import pytest
from conftest import BACKEND_MODULES

from course.autodiff import make_gradient_step, value_and_gradients
from course.checkpoint import runs_root

TESTS = Path(__file__).resolve().parent


def test_every_test_module_that_imports_keras_runs_on_every_backend():
    importing = set()
    for path in TESTS.glob("test_*.py"):
        tree = ast.parse(path.read_text())
        names = [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                 for alias in node.names]
        names += [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
        if any(name == "keras" or name.startswith("keras.") for name in names):
            importing.add(path.stem)
    assert importing <= BACKEND_MODULES, sorted(importing - BACKEND_MODULES)
    assert BACKEND_MODULES <= {path.stem for path in TESTS.glob("test_*.py")}


@pytest.mark.parametrize("backend", ["tensorflow", "jax", "torch"])
def test_each_backend_writes_its_runs_apart(backend, tmp_path, monkeypatch):
    monkeypatch.setenv("DL_CHECKPOINT_DIR", str(tmp_path))
    monkeypatch.setattr(keras.backend, "backend", lambda: backend)
    expected = tmp_path if backend == "tensorflow" else tmp_path / backend
    assert runs_root() == expected


def _regression(seed: int):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="tanh"),
                              keras.layers.Dropout(0.3, seed=1), keras.layers.Dense(1)])
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(16, 3)).astype("float32")
    y = rng.normal(size=(16, 1)).astype("float32")
    return model, x, y


@pytest.mark.parametrize("compiled", [True, False])
def test_the_gradient_step_matches_keras_own_training_step(compiled):
    """Same weights, same dropout masks, same Adam: our step and ``train_on_batch`` agree."""
    ours, x, y = _regression(0)
    reference, _, _ = _regression(0)
    reference.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    optimizer = keras.optimizers.Adam(0.01)
    loss_fn = keras.losses.MeanSquaredError()
    step = make_gradient_step(lambda x, y: loss_fn(y, ours(x, training=True)), ours, optimizer,
                              compiled=compiled)
    for _ in range(3):
        loss = float(keras.ops.convert_to_numpy(step(x, y)))
        expected = reference.train_on_batch(x, y)
        assert loss == pytest.approx(expected, rel=1e-5)
    for a, b in zip(ours.weights, reference.weights, strict=True):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b),
                                   rtol=1e-5, atol=1e-6)
    assert int(keras.ops.convert_to_numpy(optimizer.iterations)) == 3


def test_value_and_gradients_of_a_known_function():
    w = keras.Variable(np.array([1.0, -2.0, 3.0], "float32"))
    value, (gradient,) = value_and_gradients(lambda: keras.ops.sum(w**3), [w])
    assert float(value) == pytest.approx(1 - 8 + 27)
    np.testing.assert_allclose(gradient, 3 * np.array([1.0, 4.0, 9.0]), rtol=1e-6)


def test_the_backend_table_counts_each_chapter_from_the_junit_reports(tmp_path):
    from course.backend_tests import SHARED, summarize, table

    (tmp_path / "jax.xml").write_text("""<testsuites><testsuite>
      <testcase classname="tests.test_rnn_music" name="test_a"/>
      <testcase classname="tests.test_notebooks"
                name="test_notebook_runs_in_smoke_profile[04_vae_faces]"><failure/></testcase>
      <testcase classname="tests.test_checkpoint" name="test_b"><skipped/></testcase>
      <testcase classname="tests.test_dqn_agent" name="test_c"><error/></testcase>
    </testsuite></testsuites>""")
    (tmp_path / "tensorflow.xml").write_text(
        '<testsuite><testcase classname="tests.test_rnn_music" name="test_a"/></testsuite>')
    summary = summarize([tmp_path / "jax.xml", tmp_path / "tensorflow.xml"])
    assert list(summary) == ["tensorflow", "jax"]  # the default backend first
    assert summary["jax"] == {
        "2 RNN music": {"passed": 1, "failed": 0, "skipped": 0},
        "4 VAE faces": {"passed": 0, "failed": 1, "skipped": 0},
        "5 DQN CartPole": {"passed": 0, "failed": 1, "skipped": 0},
        SHARED: {"passed": 0, "failed": 0, "skipped": 1},
    }
    rows = table(summary).splitlines()
    assert rows[0] == "| chapter | `tensorflow` | `jax` |"
    assert "| 2 RNN music | 1 of 1 pass | 1 of 1 pass |" in rows
    assert "| 4 VAE faces | not run | **0 of 1 pass** |" in rows
