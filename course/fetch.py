"""Find, download and verify the course's data files.

A file is looked up first in $DL_DATA_DIR (a shared copy, possibly read-only), then in the
project cache (data/ by default), and only then downloaded. Downloads are hashed while they
stream and moved into place only once verified, so the cache never holds a partial file.

The ``smoke`` profile never does any of that: it reads the small sample copy of each file that
the repository commits under ``data/samples/`` (same path, same format, a few hundred items;
``python -m course.samples`` rebuilds them), so the tests run on a bare clone, offline.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from course.atomic import atomic_path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SAMPLES_DIR = PROJECT_ROOT / "data" / "samples"
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
    size: int | None = None  # bytes of the download, when known (told before a long fetch)
    # The check of the committed sample copy, where ``check`` expects the full data set.
    sample_check: Callable[[Path], None] | None = None


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


def uses_samples(profile: str | None = None) -> bool:
    """True when the run reads the committed samples: profile ``smoke`` (argument or env)."""
    chosen = profile or os.environ.get("DL_PROFILE") or ""
    return chosen.strip().lower() == "smoke"


def sample_path(remote: RemoteFile) -> Path:
    """The committed sample copy of ``remote`` under ``data/samples/``, checked."""
    path = SAMPLES_DIR / remote.relpath
    if not path.exists():
        raise DataFileError(
            f"The smoke profile reads sample data committed in the repository, and {path} is "
            "missing. Restore it with `git checkout -- data/samples`, or rebuild the samples "
            "from the real files with `python -m course.samples`."
        )
    check = remote.sample_check or remote.check
    if check is not None:
        try:
            check(path)
        except DataFileError as exc:
            raise DataFileError(
                f"The sample file {path} failed its check: {exc} Restore it with "
                "`git checkout -- data/samples` or rebuild it with `python -m course.samples`."
            ) from exc
    return path


def fetch(
    remote: RemoteFile,
    *,
    cache_dir: Path | None = None,
    progress: bool = True,
    timeout: float = 60.0,
    profile: str | None = None,
) -> Path:
    """Return a local, verified path for ``remote``, downloading it into the cache if needed.

    The ``smoke`` profile (``profile``, else ``$DL_PROFILE``) always gets the committed sample
    copy (``sample_path``). Otherwise: ``$DL_DATA_DIR/<relpath>`` (structural check only, never
    written to), then ``<cache_dir>/<relpath>`` (sha256 or structural check), then a download
    from ``remote.url``. Raises DataFileError with instructions when no usable copy is found.
    """
    if uses_samples(profile):
        return sample_path(remote)
    shared_dir = os.environ.get("DL_DATA_DIR")
    if shared_dir:
        if not Path(shared_dir).is_dir():
            raise DataFileError(
                f"DL_DATA_DIR is set to {shared_dir}, which is not a folder. Point it at the "
                "folder that holds the data sets (e.g. mnist/, imdb/), or unset it to use "
                f"{Path(cache_dir or default_cache_dir())} and downloads."
            )
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
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        if not os.access(dest.parent, os.W_OK):
            raise PermissionError(f"no write permission on {dest.parent}")
        # atomic_path: the file appears under its name only once it is complete and verified.
        with atomic_path(dest) as tmp, open(tmp, "wb") as out:
            received, expected_size, actual_sha = _stream(remote, out, dest, progress, timeout)
            out.close()
            _verify(remote, dest, tmp, received, expected_size, actual_sha)
    except OSError as exc:  # network errors were already turned into DataFileError
        raise DataFileError(
            f"{dest.name} must be downloaded, but it cannot be written into {dest.parent} "
            f"({exc}). Make that folder writable (and check the free space), or put "
            f"{remote.relpath} under a folder named by DL_DATA_DIR."
        ) from exc


def _verify(remote, dest, tmp, received, expected_size, actual_sha) -> None:
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
        shared_dir = os.environ.get("DL_DATA_DIR")
        looked = (
            f"DL_DATA_DIR is set to {shared_dir}, but it has no {remote.relpath}. "
            if shared_dir else ""
        )
        raise DataFileError(
            f"Could not download {dest.name} from {remote.url} ({exc}). {looked}Download it "
            f"yourself and put it in {dest.parent}, or set DL_DATA_DIR to a folder holding "
            f"{remote.relpath}."
        ) from exc
    return received, expected_size, digest.hexdigest()
