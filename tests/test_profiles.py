"""Tests for course.profiles (which profile a run uses) and cnn_digits.config (what it means)."""

import dataclasses
import warnings

import pytest

from cnn_digits import config as digits_config
from course import profiles
from course.profiles import ENV_VAR, PROFILES, get_profile


@pytest.fixture
def no_env(monkeypatch):
    """No DL_PROFILE in the environment, whatever the shell running the tests has set."""
    monkeypatch.delenv(ENV_VAR, raising=False)


@pytest.fixture
def gpu(monkeypatch, no_env):
    monkeypatch.setattr(profiles, "gpu_visible", lambda: True)


@pytest.fixture
def no_gpu(monkeypatch, no_env):
    monkeypatch.setattr(profiles, "gpu_visible", lambda: False)


def test_profile_names():
    assert PROFILES == ("smoke", "cpu", "gpu")


@pytest.mark.parametrize("name", ["smoke", "cpu", "gpu"])
def test_argument_is_returned(no_gpu, name):
    assert get_profile(name) == name


def test_argument_beats_environment_and_gpu(monkeypatch, gpu):
    monkeypatch.setenv(ENV_VAR, "cpu")
    assert get_profile("smoke") == "smoke"


@pytest.mark.parametrize("value", ["smoke", "cpu"])
def test_environment_beats_gpu_detection(monkeypatch, gpu, value):
    monkeypatch.setenv(ENV_VAR, value)
    assert get_profile() == value


def test_environment_can_ask_for_gpu_without_one(monkeypatch, no_gpu):
    monkeypatch.setenv(ENV_VAR, "gpu")
    assert get_profile() == "gpu"


def test_falls_back_to_gpu_when_one_is_visible(gpu):
    assert get_profile() == "gpu"


def test_falls_back_to_cpu_without_gpu(no_gpu):
    assert get_profile() == "cpu"


def test_empty_environment_variable_counts_as_unset(monkeypatch, no_gpu):
    monkeypatch.setenv(ENV_VAR, "")
    assert get_profile() == "cpu"


def test_empty_argument_counts_as_none(monkeypatch, no_gpu):
    monkeypatch.setenv(ENV_VAR, "smoke")
    assert get_profile("") == "smoke"


@pytest.mark.parametrize(
    ("raw", "expected"), [(" GPU ", "gpu"), ("Smoke", "smoke"), ("cpu\n", "cpu")]
)
def test_argument_case_and_whitespace_are_ignored(no_gpu, raw, expected):
    assert get_profile(raw) == expected


def test_environment_case_and_whitespace_are_ignored(monkeypatch, gpu):
    monkeypatch.setenv(ENV_VAR, "  SMOKE\t")
    assert get_profile() == "smoke"


def _assert_lists_all_profiles(message: str):
    for name in ("smoke", "cpu", "gpu"):
        assert name in message


def test_unknown_argument_raises_with_valid_names(no_gpu):
    with pytest.raises(ValueError, match="tpu") as info:
        get_profile("tpu")
    message = str(info.value)
    _assert_lists_all_profiles(message.split("choose one of")[1])
    assert "argument" in message


def test_unknown_environment_value_raises_naming_the_variable(monkeypatch, no_gpu):
    monkeypatch.setenv(ENV_VAR, "laptop")
    with pytest.raises(ValueError, match="laptop") as info:
        get_profile()
    message = str(info.value)
    assert ENV_VAR in message
    _assert_lists_all_profiles(message.split("choose one of")[1])


def test_whitespace_only_environment_value_is_refused(monkeypatch, no_gpu):
    monkeypatch.setenv(ENV_VAR, "   ")
    with pytest.raises(ValueError):
        get_profile()


def test_gpu_visible_false_when_cuda_devices_hidden(monkeypatch):
    for hidden in ("", "-1"):
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", hidden)
        assert profiles.gpu_visible() is False


# Which GPU counts: the one the Keras backend sees, not merely a driver's device file. ----------


@pytest.fixture
def machine(monkeypatch, no_env):
    """Pretend hardware, ``machine(driver, gpus)``; returns a list that grows per backend query."""
    import course.env

    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    profiles.backend_sees_gpu.cache_clear()
    asked = []

    def pretend(driver: bool, gpus: list[str]):
        def backend_gpus():
            asked.append(True)
            return gpus

        monkeypatch.setattr(profiles, "nvidia_driver_present", lambda: driver)
        monkeypatch.setattr(course.env, "backend_gpus", backend_gpus)
        return asked

    yield pretend
    profiles.backend_sees_gpu.cache_clear()


def test_gpu_profile_when_the_backend_sees_a_gpu(machine):
    machine(True, ["/physical_device:GPU:0"])
    assert get_profile() == "gpu"


def test_a_driver_without_cuda_libraries_warns_once_and_runs_on_cpu(machine):
    asked = machine(True, [])
    with pytest.warns(RuntimeWarning, match="driver is present but the Keras backend sees no GPU"):
        assert get_profile() == "cpu"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a second warning would raise here
        assert get_profile() == "cpu"
    assert len(asked) == 1


def test_without_a_driver_the_backend_is_not_loaded(machine):
    asked = machine(False, ["/physical_device:GPU:0"])
    assert get_profile() == "cpu"
    assert asked == []


@pytest.mark.parametrize(("argument", "environment"), [("cpu", ""), (None, "gpu"), (None, "smoke")])
def test_an_explicit_profile_never_loads_the_backend(machine, monkeypatch, argument, environment):
    asked = machine(True, [])
    monkeypatch.setenv(ENV_VAR, environment)
    assert get_profile(argument) == (argument or environment)
    assert asked == []


# cnn_digits.config -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["smoke", "cpu", "gpu"])
def test_config_per_profile(no_gpu, name):
    cfg = digits_config.get_config(name)
    assert isinstance(cfg, digits_config.DigitsConfig)
    assert cfg.profile == name


def test_config_follows_environment(monkeypatch, no_gpu):
    monkeypatch.setenv(ENV_VAR, "smoke")
    assert digits_config.get_config().profile == "smoke"


def test_config_defaults_to_detected_hardware(gpu):
    assert digits_config.get_config().profile == "gpu"


def test_config_overrides_apply_and_leave_the_rest(no_gpu):
    base = digits_config.get_config("smoke")
    changed = digits_config.get_config("smoke", batch_size=base.batch_size + 7, seed=123)
    assert changed.batch_size == base.batch_size + 7
    assert changed.seed == 123
    assert changed.profile == "smoke"
    assert changed.num_train == base.num_train
    # The shared table of profiles is not modified by an override.
    assert digits_config.get_config("smoke") == base


def test_unknown_override_is_refused(no_gpu):
    with pytest.raises(TypeError):
        digits_config.get_config("smoke", no_such_field=1)


def test_smoke_is_smaller_than_cpu(no_gpu):
    smoke = digits_config.get_config("smoke")
    cpu = digits_config.get_config("cpu")
    # None means "all of MNIST", which is more than any number.
    assert smoke.num_train is not None
    assert cpu.num_train is None or smoke.num_train < cpu.num_train
    assert smoke.num_test is not None
    assert cpu.num_test is None or smoke.num_test < cpu.num_test
    assert smoke.mlp_epochs < cpu.mlp_epochs
    assert smoke.cnn_epochs < cpu.cnn_epochs
    assert smoke.augmented_epochs < cpu.augmented_epochs


def test_gpu_trains_at_least_as_long_as_cpu(no_gpu):
    cpu = digits_config.get_config("cpu")
    gpu_cfg = digits_config.get_config("gpu")
    assert gpu_cfg.mlp_epochs >= cpu.mlp_epochs
    assert gpu_cfg.cnn_epochs >= cpu.cnn_epochs
    assert gpu_cfg.augmented_epochs >= cpu.augmented_epochs


def test_smoke_validation_fits_in_training_slice(no_gpu):
    smoke = digits_config.get_config("smoke")
    assert 0 < smoke.num_validation < smoke.num_train


def test_unknown_config_profile_raises(no_gpu):
    with pytest.raises(ValueError, match="smoke, cpu, gpu"):
        digits_config.get_config("huge")


def test_config_is_frozen(no_gpu):
    cfg = digits_config.get_config("smoke")
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.batch_size = 1
    assert cfg.batch_size == digits_config.get_config("smoke").batch_size


def test_as_dict_round_trips(no_gpu):
    cfg = digits_config.get_config("cpu", learning_rate=1e-2)
    as_dict = cfg.as_dict()
    assert as_dict["profile"] == "cpu"
    assert as_dict["learning_rate"] == 1e-2
    assert digits_config.DigitsConfig(**as_dict) == cfg


def test_environment_report_names_profile_backend_and_device(monkeypatch, capfd):
    from course.env import environment_report

    monkeypatch.setenv("DL_PROFILE", "smoke")
    report = environment_report()
    pairs = (line.split(":", 1) for line in report.splitlines())
    lines = {key.strip(): value.strip() for key, value in pairs}
    assert lines["profile"] == "smoke"
    assert lines["backend"].split()[0] in ("tensorflow", "jax", "torch")
    assert lines["device"].startswith(("CPU: ", "GPU: "))
    assert {"keras", "numpy", "python"} <= set(lines)


def test_native_stderr_is_silenced_only_inside_the_block(capfd):
    import os

    from course.env import native_stderr_silenced

    with native_stderr_silenced():
        os.write(2, b"hidden\n")
    os.write(2, b"shown\n")
    assert capfd.readouterr().err == "shown\n"


def test_the_profile_option_of_a_chapter_command_line():
    from course.profiles import profile_from_command_line

    assert profile_from_command_line("demo", ["--profile", "smoke"]) == "smoke"
    assert profile_from_command_line("demo", []) is None
