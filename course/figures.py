"""Saving figures next to the run that produced them."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def save_figure(fig, path: str | os.PathLike, dpi: int = 110) -> Path:
    """Write ``fig`` as a PNG at ``path`` atomically (a reader never sees half a file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".png")
    os.close(handle)
    try:
        fig.savefig(tmp_name, dpi=dpi, bbox_inches="tight")
        os.chmod(tmp_name, 0o644)  # mkstemp makes files private; a figure is an ordinary output
        os.replace(tmp_name, path)
    finally:
        if os.path.exists(tmp_name):
            os.remove(tmp_name)
    return path
