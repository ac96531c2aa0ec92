"""Find, download and verify the course's data files.

A file is looked up first in $DL_DATA_DIR (a shared copy, possibly read-only), then in the
project cache (data/ by default), and only then downloaded. Downloads are hashed while they
stream and moved into place only once verified, so the cache never holds a partial file.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

PROJECT_ROOT = Path(__file__).resolve().parent.parent
_CHUNK = 1 << 20

# Everything that means "the server could not be reached or hung up", as opposed to a bad file.
_NETWORK_ERRORS = (urllib.error.URLError, ConnectionError, TimeoutError, http.client.HTTPException)


class DataFileError(RuntimeError):
    """One clear message saying what is wrong and what to do."""


@dataclass(frozen=True)
class RemoteFile:
    """A public data file: where it goes locally, where it comes from, and how to verify it."""

    relpath: str
    url: str
    sha256: str
    check: Callable[[Path], None] | None = None


def default_cache_dir() -> Path:
    """Return the project's download cache, ``<project root>/data``."""
    return PROJECT_ROOT / "data"


def sha256_of(path: Path) -> str:
    """Return the hex sha256 of the file at ``path``."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def check_npz(path: Path, expected: dict[str, tuple[tuple[int | None, ...], str]]) -> None:
    """Check that an .npz holds each expected key with the given shape and dtype.

    ``expected`` maps key -> (shape, dtype string); ``None`` in a shape accepts any length on
    that axis. Raises DataFileError on a mismatch or if the file is not a readable .npz.
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            for key, (shape, dtype) in expected.items():
                if key not in data.files:
                    raise DataFileError(f"{path.name} has no array {key!r} (it has {data.files}).")
                # Loading the whole array (not just its header) also catches corrupt zip members.
                array = data[key]
                shape_ok = len(array.shape) == len(shape) and all(
                    want is None or want == got
                    for want, got in zip(shape, array.shape, strict=True)
                )
                if not shape_ok:
                    raise DataFileError(
                        f"{path.name}: array {key!r} has shape {array.shape}, expected {shape}."
                    )
                if str(array.dtype) != dtype:
                    raise DataFileError(
                        f"{path.name}: array {key!r} has dtype {array.dtype}, expected {dtype}."
                    )
    except DataFileError:
        raise
    except Exception as exc:  # numpy/zipfile raise many types for a damaged file; all mean "bad"
        raise DataFileError(
            f"{path.name} is not a valid .npz file ({type(exc).__name__}: {exc})."
        ) from exc


def fetch(
    remote: RemoteFile,
    *,
    cache_dir: Path | None = None,
    progress: bool = True,
    timeout: float = 60.0,
) -> Path:
    """Return a local, verified path for ``remote``, downloading it into the cache if needed.

    Order: ``$DL_DATA_DIR/<relpath>`` (structural check only, never written to), then
    ``<cache_dir>/<relpath>`` (sha256 or structural check), then a download from ``remote.url``.
    Raises DataFileError with instructions when no usable copy can be found or fetched.
    """
    shared_dir = os.environ.get("DL_DATA_DIR")
    if shared_dir:
        shared = Path(shared_dir) / remote.relpath
        if shared.exists():
            # A shared copy may be rebuilt from another source, so its hash can differ;
            # the structural check is what vouches for it.
            try:
                _run_check(remote, shared)
            except DataFileError as exc:
                raise DataFileError(
                    f"{shared} (from DL_DATA_DIR) failed its check: {exc} "
                    "Replace it with a good copy or unset DL_DATA_DIR."
                ) from exc
            return shared

    dest = Path(cache_dir or default_cache_dir()) / remote.relpath
    if dest.exists():
        if sha256_of(dest) == remote.sha256:
            return dest
        problem = "its sha256 differs from the published one."
        if remote.check is not None:
            try:
                remote.check(dest)
                return dest
            except DataFileError as exc:
                problem = f"its sha256 differs from the published one and its check failed: {exc}"
        raise DataFileError(
            f"Cached file {dest} is unusable: {problem} Delete it so it is downloaded again."
        )

    _download(remote, dest, progress=progress, timeout=timeout)
    return dest


def _run_check(remote: RemoteFile, path: Path) -> None:
    if remote.check is not None:
        remote.check(path)


def _download(remote: RemoteFile, dest: Path, *, progress: bool, timeout: float) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    # Same folder as dest, so the final os.replace is an atomic rename on one filesystem.
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            received, expected_size, actual_sha = _stream(remote, out, dest, progress, timeout)
        if expected_size is not None and received != expected_size:
            raise DataFileError(
                f"Download of {dest.name} from {remote.url} was truncated "
                f"({received} of {expected_size} bytes); run again to retry."
            )
        if actual_sha != remote.sha256:
            raise DataFileError(
                f"Download of {dest.name} from {remote.url} is corrupt or truncated: expected "
                f"sha256 {remote.sha256}, got {actual_sha}. Retry, or place a verified copy "
                f"at {dest}."
            )
        _run_check(remote, tmp)
        os.replace(tmp, dest)
    except BaseException:
        # Also on Ctrl-C: a half-written temp file must never linger in the cache.
        tmp.unlink(missing_ok=True)
        raise


def _stream(
    remote: RemoteFile, out, dest: Path, progress: bool, timeout: float
) -> tuple[int, int | None, str]:
    """Copy ``remote.url`` into ``out``; return (bytes received, Content-Length or None, sha256)."""
    digest = hashlib.sha256()
    received = 0
    try:
        with urllib.request.urlopen(remote.url, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            expected_size = int(length) if length is not None else None
            with tqdm(
                total=expected_size,
                desc=dest.name,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                disable=not progress,
            ) as bar:
                while block := response.read(_CHUNK):
                    out.write(block)
                    digest.update(block)
                    received += len(block)
                    bar.update(len(block))
    except _NETWORK_ERRORS as exc:
        raise DataFileError(
            f"Could not download {dest.name} from {remote.url} ({exc}). Download it yourself and "
            f"put it in {dest.parent}, or set DL_DATA_DIR to a folder holding {remote.relpath}."
        ) from exc
    return received, expected_size, digest.hexdigest()
