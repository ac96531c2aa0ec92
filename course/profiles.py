"""Run profiles: one environment variable, ``DL_PROFILE``, picks the size of every run.

- ``smoke``: seconds per notebook on tiny slices, only for tests; results are not meaningful.
- ``cpu``: the full data set, sized to finish a notebook in minutes to half an hour on two cores.
- ``gpu``: the full recipe that reproduces the headline numbers.
"""

from __future__ import annotations

import argparse
import functools
import os
import warnings
from pathlib import Path

PROFILES = ("smoke", "cpu", "gpu")
ENV_VAR = "DL_PROFILE"


def nvidia_driver_present() -> bool:
    """True when an NVIDIA driver exposes a device (checked without loading any framework)."""
    return Path("/dev/nvidia0").exists() or Path("/proc/driver/nvidia/gpus").is_dir()


@functools.cache
def backend_sees_gpu() -> bool:
    """True when the Keras backend lists a GPU; asked once per process (loading it takes seconds).

    A driver without the CUDA libraries the backend needs (TensorFlow installed without its
    ``[and-cuda]`` extra, say) leaves the backend on the CPU: one warning says so.
    """
    from course.env import backend_gpus  # imported here: course.env imports this module

    if backend_gpus():
        return True
    warnings.warn(
        "An NVIDIA driver is present but the Keras backend sees no GPU (are its CUDA libraries "
        "installed? See the README's 'Running on a GPU'); using the cpu profile.",
        RuntimeWarning,
        stacklevel=2,
    )
    return False


def gpu_visible() -> bool:
    """True when the Keras backend can run on an NVIDIA GPU.

    Without a driver the answer is no at once, so CPU-only machines never load the backend here.
    """
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return False
    return nvidia_driver_present() and backend_sees_gpu()


def get_profile(name: str | None = None) -> str:
    """Return the profile to run with: ``name``, else ``$DL_PROFILE``, else ``gpu`` or ``cpu``.

    Only the last case looks for a GPU, so a profile given explicitly never loads TensorFlow.
    """
    chosen = name or os.environ.get(ENV_VAR) or ("gpu" if gpu_visible() else "cpu")
    chosen = chosen.strip().lower()
    if chosen not in PROFILES:
        raise ValueError(
            f"Unknown profile {chosen!r} (from {'the argument' if name else ENV_VAR}); "
            f"choose one of: {', '.join(PROFILES)}."
        )
    return chosen


def add_profile_argument(parser: argparse.ArgumentParser) -> None:
    """``--profile``, checked by argparse itself: a typo exits at once, before any model code."""
    parser.add_argument(
        "--profile",
        type=str.lower,
        choices=PROFILES,
        help=f"run size (default: ${ENV_VAR}, else gpu if the Keras backend sees one, else cpu)",
    )


def profile_from_command_line(description: str, argv: list[str] | None = None) -> str | None:
    """The ``--profile`` a chapter's ``python -m <chapter>`` was given (None: choose by itself)."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_profile_argument(parser)
    return parser.parse_args(argv).profile
