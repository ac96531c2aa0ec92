"""Seeding and the environment report each notebook prints first."""

from __future__ import annotations

import contextlib
import os
import platform
import sys
from importlib import metadata

from course.profiles import get_profile


@contextlib.contextmanager
def native_stderr_silenced():
    """Point file descriptor 2 at /dev/null for a moment.

    TensorFlow's C++ core logs a few lines while it loads (looking for CUDA, for instance) before
    its log level applies, straight to descriptor 2, past Python's ``sys.stderr``; Jupyter would
    show them under the first cell. Python exceptions are unaffected: they are raised, not lost.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def import_keras_quietly():
    """Import Keras (and its backend) without the backend's native start-up messages."""
    if "keras" not in sys.modules:
        with native_stderr_silenced():
            import keras  # noqa: F401

            keras.backend.backend()
    return sys.modules["keras"]


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and the Keras backend, so a run can be repeated."""
    import keras

    keras.utils.set_random_seed(seed)


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def backend_gpus() -> list[str]:
    """The GPUs the Keras backend can use: none on a CPU, or when its CUDA libraries are missing."""
    backend = import_keras_quietly().backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with native_stderr_silenced():  # a machine without a GPU logs a failed CUDA start
            return [d.name for d in tf.config.list_physical_devices("GPU")]
    if backend == "jax":
        import jax

        return [str(d) for d in jax.devices() if d.platform != "cpu"]
    if backend == "torch":
        import torch

        return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return []


def describe_device() -> str:
    """The accelerator the Keras backend will use, or the CPU with its core count."""
    gpus = backend_gpus()
    if gpus:
        return "GPU: " + ", ".join(gpus)
    return f"CPU: {_cpu_name()} ({os.cpu_count()} cores)"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def environment_report(profile: str | None = None) -> str:
    """Profile, Keras backend, library versions and device, as a few printable lines.

    Every notebook and command line calls this first, before building a model, so this is also
    where the ``gpu`` profile on JAX starts splitting each batch over every accelerator
    (``course.distribution``); the device line then says over how many.
    """
    from course.distribution import use_all_devices

    keras = import_keras_quietly()
    profile = get_profile(profile)
    num_devices = use_all_devices() if profile == "gpu" else 1
    device = describe_device()
    if num_devices > 1:
        device += f" (each batch split over {num_devices} devices: data parallel)"
    backend = keras.backend.backend()
    backend_package = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}.get(backend)
    lines = [
        f"profile : {profile}",
        f"backend : {backend} {_version(backend_package) if backend_package else ''}".rstrip(),
        f"keras   : {keras.__version__}",
        f"numpy   : {_version('numpy')}",
        f"python  : {platform.python_version()}",
        f"device  : {device}",
    ]
    return "\n".join(lines)
