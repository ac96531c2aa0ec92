"""What ``make reproduce`` is about to do: the data it will download and how long it will take.

``course.notebooks run`` prints this before the first notebook starts, so a newcomer knows what
they started: hundreds of MB and most of an hour on a laptop CPU are worth knowing beforehand.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from course.fetch import RemoteFile, default_cache_dir

# The 20 MIT test-face PNGs, as SOURCES.md of the shared data lists them (every other download's
# size is on its RemoteFile).
MIT_TEST_FACES_BYTES = 2_045_900

# Minutes per notebook on the cpu profile on two CPU cores, from the committed notebooks' own
# runs from scratch (their metadata: 01 1,070 s, 02 1,392 s, 03 2,207 s on a loaded machine,
# 04 157 s, 05 848 s), rounded up. A run records its real time in the notebook's metadata
# (``course.notebooks.execute``); that record, for the same profile, wins unless the run
# loaded training done before.
CPU_MINUTES = {
    "01_rnn_sentiment": 18,
    "02_rnn_music": 24,
    "03_cnn_digits": 37,
    "04_vae_faces": 3,
    "05_dqn_cartpole": 15,
}


@dataclass(frozen=True)
class Need:
    """Data a notebook reads: found if every file in ``files`` is present, else downloaded."""

    label: str
    files: tuple[str, ...]  # relpaths under $DL_DATA_DIR or data/
    downloads: tuple[RemoteFile, ...]  # fetched when ``files`` are missing (each unless cached)
    extra_bytes: int = 0  # downloads not described by a RemoteFile


def chapter_needs() -> dict[str, list[Need]]:
    """Each notebook's data, by notebook file stem (the chapters' own RemoteFiles)."""
    from cnn_digits.data import MNIST
    from rnn_music.data import IRISH_ABC
    from rnn_sentiment.data import ACLIMDB_TARBALL, IMDB_CSV
    from vae_faces import build
    from vae_faces.data import FAIRFACE, MIT_TEST_FACES, TINYIMAGENET

    fairface_parquets = tuple(f for files in build.FAIRFACE_PARQUETS.values() for f in files)
    return {
        # The reviews CSV is converted once from the tarball.
        "01_rnn_sentiment": [Need("IMDB reviews", (IMDB_CSV.relpath,), (ACLIMDB_TARBALL,))],
        "02_rnn_music": [Need("Irish folk tunes", (IRISH_ABC.relpath,), (IRISH_ABC,))],
        "03_cnn_digits": [Need("MNIST", (MNIST.relpath,), (MNIST,))],
        # The 64x64 faces and non-faces are built once from their public sources.
        "04_vae_faces": [
            Need("FairFace faces", (FAIRFACE.relpath,), fairface_parquets),
            Need("Tiny ImageNet non-faces", (TINYIMAGENET.relpath,), (build.TINYIMAGENET_ZIP,)),
            Need("MIT lab test faces", tuple(f"mit_test_faces/{name}" for name in MIT_TEST_FACES),
                 (), extra_bytes=MIT_TEST_FACES_BYTES),
        ],
        "05_dqn_cartpole": [],  # gymnasium simulates CartPole: nothing to download
    }


def _found(relpath: str) -> Path | None:
    """Where ``fetch`` would find ``relpath`` without downloading it, if anywhere."""
    folders = [os.environ.get("DL_DATA_DIR"), default_cache_dir()]
    for folder in filter(None, folders):
        if (Path(folder) / relpath).exists():
            return Path(folder) / relpath
    return None


def download_bytes(need: Need) -> tuple[int, bool]:
    """Bytes ``need`` would download now, and whether every size is known (else a lower bound)."""
    if all(_found(relpath) for relpath in need.files):
        return 0, True
    total, known = need.extra_bytes, True
    for remote in need.downloads:
        if _found(remote.relpath):
            continue
        size = remote.size
        known = known and size is not None
        total += size or 0
    return total, known


def _megabytes(count: int) -> str:
    return f"{count / 1e6:,.0f} MB" if count >= 1e6 else f"{count / 1e6:.1f} MB"


def recorded_seconds(notebook_metadata: dict, profile: str) -> float | None:
    """The time the notebook's last run took, if that run used ``profile`` and trained its
    models itself (a run that loaded them took a fraction of a first run's time)."""
    record = notebook_metadata.get("course", {})
    if record.get("profile") != profile or record.get("reused_training"):
        return None
    return record.get("seconds")


def describe(paths: list[Path], profile: str) -> str:
    """The plan, as printable lines: downloads per notebook, then time per notebook."""
    import nbformat

    lines = [f"Plan: {len(paths)} notebook(s), profile {profile}."]
    if profile == "smoke":
        lines.append("Data: the samples committed under data/samples/; nothing is downloaded.")
    else:
        needs = chapter_needs()
        lines.append("Data (looked up in $DL_DATA_DIR, then data/; downloaded only if missing):")
        total, all_known = 0, True
        for path in paths:
            for need in needs.get(path.stem, []):
                count, known = download_bytes(need)
                total, all_known = total + count, all_known and known
                if count == 0 and known:
                    status = "found, nothing to download"
                else:
                    status = f"{'about' if known else 'at least'} {_megabytes(count)} to download"
                lines.append(f"  {path.stem:<17} {need.label:<24} {status}")
        lines.append(f"  in all: {'about' if all_known else 'at least'} {_megabytes(total)}.")
    lines.append(f"Time per notebook on the {profile} profile:")
    minutes = []
    for path in paths:
        seconds = recorded_seconds(nbformat.read(path, as_version=4).metadata, profile)
        if seconds is not None:
            minutes.append(max(1, round(seconds / 60)))
            guess = f"about {minutes[-1]} min (its last {profile} run)"
        elif profile == "cpu" and path.stem in CPU_MINUTES:
            minutes.append(CPU_MINUTES[path.stem])
            guess = f"about {minutes[-1]} min on 2 CPU cores (estimate)"
        elif profile == "smoke":
            guess = "a minute or less"
        else:
            guess = "not measured yet"
        lines.append(f"  {path.stem:<17} {guess}")
    if len(minutes) == len(paths) > 1:
        lines.append(f"  in all: about {sum(minutes)} min.")
    return "\n".join(lines)
