"""Every reader installs the same versions: the lock pins all of them, the Makefile uses it."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements-lock.txt"
BENCH = ROOT / "benchmarks" / "requirements-dqn_cartpole.txt"
PIN = re.compile(r"^([A-Za-z0-9._-]+)(\[[^\]]*\])?==(\S+)$")


def pins(path: Path) -> dict[str, str]:
    """``name == version`` of every requirement line; names normalised as pip compares them."""
    found = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = PIN.match(line)
        assert match, f"{path.name}: {line!r} is not pinned as name==version"
        found[re.sub(r"[-_.]+", "-", match.group(1)).lower()] = match.group(3)
    return found


def test_every_direct_requirement_is_in_the_lock_at_its_version():
    lock = pins(LOCK)
    for path in (ROOT / "requirements.txt", ROOT / "requirements-dev.txt"):
        for name, version in pins(path).items():
            assert lock.get(name) == version, f"{path.name} pins {name}=={version}: `make lock`"


def test_the_lock_pulls_in_no_torch_and_no_cuda():
    names = pins(LOCK)
    assert len(names) > 100  # transitive packages too, not only the top level
    assert not [name for name in names if name == "torch" or name.startswith("nvidia-")]


def test_the_benchmark_extras_take_the_cpu_build_of_torch_and_agree_with_the_lock():
    bench, lock = pins(BENCH), pins(LOCK)
    assert bench["torch"].endswith("+cpu")
    assert {name: bench[name] for name in bench.keys() & lock.keys()} == {
        name: lock[name] for name in bench.keys() & lock.keys()
    }


def _dry_run(target: str, changed: str) -> str:
    """The commands ``make`` would run for ``target`` if ``changed`` had just been edited."""
    result = subprocess.run(["make", "-n", "-W", changed, target], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_the_course_venv_is_reinstalled_from_the_lock_when_it_changes():
    commands = _dry_run(".venv/.installed", "requirements-lock.txt")
    assert "-r requirements.txt -r requirements-dev.txt -c requirements-lock.txt" in commands


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_the_benchmark_extras_go_into_their_own_venv_with_torch_from_the_cpu_index():
    commands = _dry_run(".venv-bench/.installed", "benchmarks/requirements-dqn_cartpole.txt")
    torch_line = next(line for line in commands.splitlines() if "--index-url" in line)
    assert torch_line.startswith(".venv-bench/bin/pip install")
    assert "--no-deps --index-url https://download.pytorch.org/whl/cpu" in torch_line
    assert "-r benchmarks/requirements-dqn_cartpole.txt -c requirements-lock.txt" in commands
    assert ".venv/bin/pip" not in commands and ".venv/bin/python -m pip" not in commands


def test_the_backend_requirements_are_pinned_and_agree_with_the_lock_and_the_benchmark():
    jax, torch = pins(ROOT / "requirements-jax.txt"), pins(ROOT / "requirements-torch.txt")
    lock = pins(LOCK)
    assert set(jax) == {"jax", "jaxlib"} and jax["jax"] == jax["jaxlib"]
    assert torch["torch"].endswith("+cpu")
    for extra in (jax, torch):
        shared = extra.keys() & lock.keys()
        assert {name: extra[name] for name in shared} == {name: lock[name] for name in shared}
    bench = pins(BENCH)
    assert {name: torch[name] for name in torch.keys() & bench.keys()} == {
        name: bench[name] for name in torch.keys() & bench.keys()
    }


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_each_backend_venv_is_built_from_the_lock_and_its_own_pins(backend):
    commands = _dry_run(f".venv-{backend}/.installed", f"requirements-{backend}.txt")
    assert f"-r requirements-{backend}.txt -c requirements-lock.txt" in commands.replace("\\\n", "")
    if backend == "torch":
        torch_line = next(line for line in commands.splitlines() if "--index-url" in line)
        assert "--no-deps --index-url https://download.pytorch.org/whl/cpu" in torch_line
    assert ".venv/bin/pip" not in commands
