"""Run profiles: one environment variable, ``DL_PROFILE``, picks the size of every run.

- ``smoke``: seconds per notebook on tiny slices, only for tests; results are not meaningful.
- ``cpu``: the full data set, sized to finish a notebook in about ten minutes on two cores.
- ``gpu``: the full recipe that reproduces the headline numbers.
"""

from __future__ import annotations

import os
from pathlib import Path

PROFILES = ("smoke", "cpu", "gpu")
ENV_VAR = "DL_PROFILE"


def gpu_visible() -> bool:
    """True when an NVIDIA GPU is visible to this process (checked without any framework)."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return False
    return Path("/dev/nvidia0").exists() or Path("/proc/driver/nvidia/gpus").is_dir()


def get_profile(name: str | None = None) -> str:
    """Return the profile to run with: ``name``, else ``$DL_PROFILE``, else ``gpu`` or ``cpu``."""
    chosen = name or os.environ.get(ENV_VAR) or ("gpu" if gpu_visible() else "cpu")
    chosen = chosen.strip().lower()
    if chosen not in PROFILES:
        raise ValueError(
            f"Unknown profile {chosen!r} (from {'the argument' if name else ENV_VAR}); "
            f"choose one of: {', '.join(PROFILES)}."
        )
    return chosen


def profile_from_command_line(description: str, argv: list[str] | None = None) -> str | None:
    """The ``--profile`` a chapter's ``python -m <chapter>`` was given (None: choose by itself)."""
    import argparse

    parser = argparse.ArgumentParser(description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", help="smoke, cpu or gpu (default: $DL_PROFILE, else auto)")
    return parser.parse_args(argv).profile
