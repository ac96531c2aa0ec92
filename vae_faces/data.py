"""Faces (FairFace) and non-faces (Tiny ImageNet): fetch, decode, split, feed as ``tf.data``.

Both files store 64x64 RGB images as JPEG bytes in one uint8 buffer, with ``offsets[i]`` the
start of image ``i`` (``vae_faces.build`` makes them from the public archives). The experiment:
hold out FairFace's val split (300 faces per race group) and as many non-faces, never trained
on; draw a deliberately skewed training set from the rest, by skin-tone group
(``config.SKEWED_TRAIN_COUNTS``; groups from ``vae_faces.skin_tone``).
"""

from __future__ import annotations

import functools
import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from course.fetch import (
    DataFileError,
    RemoteFile,
    check_npz,
    default_cache_dir,
    fetch,
    uses_samples,
)
from vae_faces.config import RACES, FacesConfig
from vae_faces.skin_tone import individual_typology_angle, tone_groups

STORED_SIZE = 64
BUILD_HINT = (
    "Run again once the download works (`python -m vae_faces.build` does the same), or put a "
    "copy of {relpath} (the course's shared data) in {cache} or in a folder named by DL_DATA_DIR."
)
FACE_LABELS = ("faces_race", "faces_gender", "faces_age", "faces_split", "faces_file")
NONFACE_LABELS = ("nonfaces_wnid", "nonfaces_class", "nonfaces_split", "nonfaces_file")


def check_jpeg_npz(path: Path, label_keys: tuple[str, ...]) -> None:
    """Structural check: a JPEG buffer, offsets that cut it into images, one label per image."""
    check_npz(path, {"jpeg": ((None,), "uint8"), "offsets": ((None,), "int64")})
    with np.load(path, allow_pickle=False) as arrays:
        offsets, size = arrays["offsets"], arrays["jpeg"].shape[0]
        rising = len(offsets) >= 2 and np.all(np.diff(offsets) > 0)
        if not rising or offsets[0] != 0 or offsets[-1] != size:
            raise DataFileError(
                f"{path.name}: 'offsets' must rise from 0 to the buffer length {size}."
            )
        for key in label_keys:
            if key not in arrays.files:
                raise DataFileError(f"{path.name} has no array {key!r} (it has {arrays.files}).")
            labels = arrays[key]
            if labels.dtype.kind != "U" or labels.shape != (len(offsets) - 1,):
                raise DataFileError(
                    f"{path.name}: {key!r} must hold one string per image "
                    f"({len(offsets) - 1}), not {labels.dtype} of shape {labels.shape}."
                )


# Built on first use from public downloads (``vae_faces.build``, through ``locate``); the built
# files themselves have no public URL. The sha256s are those of the course's shared copies
# (SOURCES.md, section 4), so a copy of them in data/ verifies byte for byte. A built file differs
# from them byte for byte: ``check`` (structure) vouches for it, as for any $DL_DATA_DIR copy,
# after the build checked its counts before moving it into place. The check stays structural
# because the shared copy, a built one and the smoke samples rightly hold different counts.
FAIRFACE = RemoteFile(
    relpath="faces/fairface_faces_64_jpeg.npz",
    url="",
    sha256="d152740c3b6dcef607b7c7bc8c0b1cc4d9e36a29c2cda052a3bf05ff442b50ea",
    check=lambda path: check_jpeg_npz(path, FACE_LABELS),
)
TINYIMAGENET = RemoteFile(
    relpath="faces/tinyimagenet_nonfaces_64_jpeg.npz",
    url="",
    sha256="b5de0194c042bc3494e482edc8956a7eeeeef8316f1c951c79725c2820720557",
    check=lambda path: check_jpeg_npz(path, NONFACE_LABELS),
)

# The MIT 6.S191 lab-2 test faces (light/dark x female/male), pinned to one commit.
MIT_COMMIT = "e44754eac7a61d489fb07a68245bfbb290823228"
MIT_TEST_FACES = {
    "DF/10.png": "f573ea5038f2c81612ebd82a9640950895a8fdef48488926e86625bf49f6250b",
    "DF/19.png": "2cce0eab19082d43ffdc8da7d68347dfdee51319e19c0b5d47450495e415e856",
    "DF/6.png": "bcb202d263cd6dc380636ec0427b685037be054a937ff312283f9fd4020c9135",
    "DF/7.png": "aba3b1fb0f660a25173c038fa89e4e78464f63cbc435b62ce2fe9735806ff0f6",
    "DF/9.png": "a77cd11f2f9ec816dc066d5254ac1b5592afda151f712b5557ca13037ffb547b",
    "DM/20.png": "5964abe033c1475a7799d1a462eefa8881c4da1b983b7c87a8aaf0762b93d02f",
    "DM/3.png": "4b41a0707e112c7070651b2a1bf77cc92624dbac6404cf3cd05eef66d76cffc0",
    "DM/5.png": "7d9fb55e021cb68b37ffa7672caacbf36868c74e7fc8f2034012143baae8ef0a",
    "DM/8.png": "f93aca0f830ee987426c3ee8b427f8300a84f562e897e37fb1c778be69731928",
    "DM/9.png": "82fb3a34bdf72914f2136637f322e37972cd80fa86e58e531cbbb305d624658e",
    "LF/1.png": "9385151c31c7f954bad430b8aba87ecaf5126a9a51ef8c236e371bbd16fba7ec",
    "LF/11.png": "f8ede813b2159cefa381d97dc392d0dc59e3f16a3c7f43354b448a2801d197b1",
    "LF/2.png": "d176d6f516b2f3ef5580026594e0e0b9726abb9e48c8be8684c837672db2f7a0",
    "LF/4.png": "c741c2cea2176a603baf16d2cd3b46957781f1911be54690325280f4404ca541",
    "LF/8.png": "9554d450d26450cab62b0701cd91a197f2fd45a88e3d5f5069100e2d0770bcb2",
    "LM/1.png": "2439a704d2c7bccd4b4011a96484345e7c4f3ad94dd95af78e25f55cccd4af02",
    "LM/11.png": "5f4bd4d79cd025641189901f31c99795c655d73f4e7328db4b89f8dad5df32c6",
    "LM/5.png": "4e5572b2f3aa549836827d75c2b3126cf12492256550861ae9c602845ddbc6f6",
    "LM/8.png": "ed813af66881eba66dbba28dfdedb8fc066ae0e3d044ef236aa849060ce2774f",
    "LM/9.png": "45bd43803c26609abd7589bb16f0ee511db265d92d2513356b4f60ca5797b57f",
}


def locate(remote: RemoteFile, cache_dir: Path | None = None, profile: str | None = None) -> Path:
    """``fetch`` for FAIRFACE or TINYIMAGENET: a file found nowhere is built once, into the cache.

    The build downloads its public sources (``vae_faces.build``) and writes under ``cache_dir``
    (default ``data/``), never under $DL_DATA_DIR, which may be read-only. The smoke profile
    reads the committed sample, so nothing is built or downloaded there.
    """
    cache = Path(cache_dir or default_cache_dir())
    shared = os.environ.get("DL_DATA_DIR")
    found = (cache / remote.relpath).exists() or bool(
        shared and (Path(shared) / remote.relpath).exists()
    )
    if not found and not uses_samples(profile):
        from vae_faces.build import build_file  # here: build imports this module (and pyarrow)

        try:
            build_file(remote, cache_dir=cache)
        except DataFileError as exc:
            hint = BUILD_HINT.format(relpath=remote.relpath, cache=cache)
            raise DataFileError(
                f"{Path(remote.relpath).name} could not be built: {exc} {hint}"
            ) from exc
    return fetch(remote, cache_dir=cache_dir, progress=False, profile=profile)


def check_images(images: np.ndarray, size: int | None = None) -> np.ndarray:
    """Accept a batch of RGB images (n, h, w, 3): uint8 in [0, 255] or float in [0, 1]."""
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3 or images.shape[1] != images.shape[2]:
        raise ValueError(
            f"Expected square RGB images of shape (n, size, size, 3), got {images.shape}; "
            "add a batch axis with images[None] for one image, and convert grey or RGBA "
            "images to RGB first."
        )
    if size is not None and images.shape[1] != size:
        raise ValueError(
            f"Expected {size}x{size} images, got {images.shape[1]}x{images.shape[2]}; "
            "resize them with vae_faces.data.resize_images first."
        )
    if images.dtype != np.uint8 and not np.issubdtype(images.dtype, np.floating):
        raise ValueError(
            f"Images must be uint8 (0-255) or float (0-1), not {images.dtype}."
        )
    return images


def scale_images(images: np.ndarray) -> np.ndarray:
    """uint8 pixels in [0, 255] to float32 in [0, 1] (floats are passed through as float32)."""
    images = check_images(images)
    if images.dtype == np.uint8:
        return images.astype("float32") / 255.0  # 255, not 256: white maps to exactly 1
    return images.astype("float32")


def resize_images(images: np.ndarray, size: int) -> np.ndarray:
    """Shrink square images by an integer factor, averaging each factor x factor block."""
    images = check_images(images)
    factor, remainder = divmod(images.shape[1], size)
    if remainder or factor < 1:
        raise ValueError(
            f"Cannot shrink {images.shape[1]}px images to {size}px by an integer factor."
        )
    if factor == 1:
        return images
    n = len(images)
    blocks = images.reshape(n, size, factor, size, factor, 3).astype("float32")
    means = blocks.mean(axis=(2, 4))
    return np.rint(means).astype(images.dtype) if images.dtype == np.uint8 else means


def decode_jpegs(
    buffer: np.ndarray, offsets: np.ndarray, indices=None, source: str | os.PathLike = ""
) -> np.ndarray:
    """Decode images ``indices`` (default: all) of a JPEG buffer into uint8 (n, 64, 64, 3).

    ``source``, the file the buffer came from, is named in the error a damaged image raises.
    """
    where = f"{source}: image" if source else "Image"
    indices = range(len(offsets) - 1) if indices is None else indices
    out = []
    for i in indices:
        try:
            with Image.open(io.BytesIO(buffer[offsets[i] : offsets[i + 1]].tobytes())) as image:
                array = np.asarray(image.convert("RGB"))
        except (OSError, SyntaxError, ValueError) as exc:  # what PIL raises for damaged bytes
            raise DataFileError(
                f"{where} {i} is not a readable JPEG ({exc}): the file is damaged. Delete it so "
                "it is built again, or replace it with a good copy."
            ) from exc
        if array.shape != (STORED_SIZE, STORED_SIZE, 3):
            raise DataFileError(f"{where} {i} decodes to shape {array.shape}, expected 64x64x3.")
        out.append(array)
    return np.stack(out) if out else np.zeros((0, STORED_SIZE, STORED_SIZE, 3), np.uint8)


def _read(remote: RemoteFile, label_keys, indices, profile: str) -> tuple[np.ndarray, dict]:
    path = locate(remote, profile=profile)
    with np.load(path, allow_pickle=False) as arrays:
        labels = {key: arrays[key] for key in label_keys}
        images = decode_jpegs(arrays["jpeg"], arrays["offsets"], indices, source=path)
    if indices is not None:
        labels = {key: value[indices] for key, value in labels.items()}
    return images, labels


@dataclass(frozen=True)
class FaceSplits:
    """Images as uint8 (n, size, size, 3); labels 1 = face, 0 = non-face. Per image also the
    race label, the skin-tone group ('LF', 'LM', 'DF', 'DM') and the ITA in degrees, measured
    on the stored 64x64 image; non-faces have race and tone '' and ITA NaN (grey faces too)."""

    x_train: np.ndarray
    y_train: np.ndarray
    race_train: np.ndarray
    x_eval: np.ndarray
    y_eval: np.ndarray
    race_eval: np.ndarray
    # Non-faces used for neither training nor evaluation: they fix an operating point (the
    # threshold at a chosen false-positive rate) without looking at the evaluation set.
    x_calibration: np.ndarray
    tone_train: np.ndarray
    tone_eval: np.ndarray
    ita_train: np.ndarray
    ita_eval: np.ndarray

    @property
    def train_faces(self) -> np.ndarray:
        """The face images of the training set (what the resampler reweights)."""
        return self.x_train[self.y_train == 1]


def skewed_indices(groups, split, counts: dict, rng: np.random.Generator) -> np.ndarray:
    """Draw ``counts[group]`` FairFace-train faces per group (without replacement); ``groups``
    holds each face's group label (skin tone or race)."""
    groups = np.asarray(groups)
    unknown = set(counts) - set(np.unique(groups))
    if unknown:
        raise ValueError(
            f"Unknown groups {sorted(unknown)}; choose among {sorted(set(groups) - {''})}."
        )
    chosen = []
    for group, count in counts.items():
        pool = np.flatnonzero((groups == group) & (split == "train"))
        if count <= 0 or len(pool) == 0:
            raise ValueError(
                f"Group {group!r} would be empty in the training set (asked for {count}, "
                f"{len(pool)} available); give every group at least one face."
            )
        if count > len(pool):
            raise ValueError(f"Group {group!r}: asked for {count} faces, only {len(pool)} exist.")
        chosen.append(rng.choice(pool, size=count, replace=False))
    return np.sort(np.concatenate(chosen))


def evaluation_indices(race, split, per_group: int | None) -> np.ndarray:
    """FairFace's val faces, the first ``per_group`` of each race group (all when None)."""
    chosen = []
    for group in RACES:
        pool = np.flatnonzero((race == group) & (split == "val"))
        if len(pool) == 0:
            raise ValueError(f"The faces file has no val faces of group {group!r}.")
        chosen.append(pool[:per_group])
    return np.concatenate(chosen)


@functools.lru_cache(maxsize=4)
def _typology_angles(path: str, modified_ns: int) -> np.ndarray:
    """ITA of every face of a faces file; cached per file version (decoding 20,000 faces and
    measuring them takes ~12 s, and a benchmark loads two training sets from one file)."""
    with np.load(path, allow_pickle=False) as arrays:
        images = decode_jpegs(arrays["jpeg"], arrays["offsets"], source=path)
    return individual_typology_angle(images)


def face_tones(config: FacesConfig) -> dict[str, np.ndarray]:
    """Every face of the faces file: race, gender, split, ITA (measured on the stored 64x64
    image) and skin-tone group at ``config.ita_threshold``."""
    path = locate(FAIRFACE, profile=config.profile)
    with np.load(path, allow_pickle=False) as arrays:
        labels = {key: arrays[key] for key in ("faces_race", "faces_gender", "faces_split")}
    angles = _typology_angles(str(path), path.stat().st_mtime_ns)
    return {
        "race": labels["faces_race"], "gender": labels["faces_gender"],
        "split": labels["faces_split"], "ita": angles,
        "tone": tone_groups(angles, labels["faces_gender"], config.ita_threshold),
    }


def load_splits(config: FacesConfig) -> FaceSplits:
    """The held-out balanced evaluation set and the skewed training set of ``config``."""
    rng = np.random.default_rng(config.split_seed)
    faces = face_tones(config)
    eval_faces = evaluation_indices(faces["race"], faces["split"], config.eval_faces_per_group)
    train_faces = skewed_indices(faces["tone"], faces["split"], config.train_counts, rng)
    assert not set(eval_faces) & set(train_faces)  # different FairFace splits by construction

    with np.load(locate(TINYIMAGENET, profile=config.profile), allow_pickle=False) as arrays:
        num_nonfaces = len(arrays["offsets"]) - 1
    # A generator of their own: the non-faces held out must not depend on how many faces of
    # each group were drawn above (the benchmark compares training sets on one evaluation set).
    order = np.random.default_rng([config.split_seed, 1]).permutation(num_nonfaces)
    eval_nonfaces = np.sort(order[: len(eval_faces)])
    rest = order[len(eval_faces) :]
    if config.num_train_nonfaces + config.num_calibration_nonfaces > len(rest):
        raise ValueError(
            f"num_train_nonfaces={config.num_train_nonfaces} plus num_calibration_nonfaces="
            f"{config.num_calibration_nonfaces}, but only {len(rest)} non-faces remain after "
            "the evaluation hold-out."
        )
    train_nonfaces = np.sort(rest[: config.num_train_nonfaces])
    # Taken from the far end, so the training non-faces do not depend on how many these are.
    calibration_nonfaces = np.sort(rest[len(rest) - config.num_calibration_nonfaces :])
    nonfaces, _ = _read(
        TINYIMAGENET, (), np.concatenate([eval_nonfaces, train_nonfaces, calibration_nonfaces]),
        config.profile,
    )
    nonfaces = resize_images(nonfaces, config.image_size)
    n_eval_non, n_train_non = len(eval_nonfaces), len(train_nonfaces)

    face_images, _ = _read(FAIRFACE, (), np.concatenate([eval_faces, train_faces]),
                           config.profile)
    face_images = resize_images(face_images, config.image_size)

    def assemble(face_rows, images, nonface_images):
        """Images, labels, race, tone and ITA: the faces ``face_rows``, then the non-faces."""
        n = len(nonface_images)
        return (
            np.concatenate([images, nonface_images]),
            np.concatenate([np.ones(len(face_rows)), np.zeros(n)]).astype("float32"),
            *(np.concatenate([faces[key][face_rows], np.full(n, "")]).astype(str)
              for key in ("race", "tone")),
            np.concatenate([faces["ita"][face_rows], np.full(n, np.nan)]),
        )

    x_train, y_train, race_train, tone_train, ita_train = assemble(
        train_faces, face_images[len(eval_faces) :],
        nonfaces[n_eval_non : n_eval_non + n_train_non])
    x_eval, y_eval, race_eval, tone_eval, ita_eval = assemble(
        eval_faces, face_images[: len(eval_faces)], nonfaces[:n_eval_non])
    return FaceSplits(
        x_train, y_train, race_train, x_eval, y_eval, race_eval,
        x_calibration=nonfaces[n_eval_non + n_train_non :], tone_train=tone_train,
        tone_eval=tone_eval, ita_train=ita_train, ita_eval=ita_eval,
    )


def mit_test_face_files() -> list[RemoteFile]:
    """The 20 MIT lab test faces as RemoteFiles, pinned to one commit of the lab's repository."""
    return [
        RemoteFile(
            relpath=f"mit_test_faces/{relpath}",
            url="https://raw.githubusercontent.com/MITDeepLearning/introtodeeplearning/"
            f"{MIT_COMMIT}/mitdeeplearning/data/faces/{relpath}",
            sha256=sha256,
        )
        for relpath, sha256 in MIT_TEST_FACES.items()
    ]


def load_mit_test_faces(
    size: int, cache_dir: Path | None = None, profile: str | None = None
) -> tuple[np.ndarray, list[str]]:
    """The 20 MIT lab test faces, resized to ``size`` (uint8), and their group (LF, LM, DF, DM)."""
    images, groups = [], []
    for remote in mit_test_face_files():
        path = fetch(remote, cache_dir=cache_dir, progress=False, profile=profile)
        with Image.open(path) as image:
            # The PNGs come in many sizes; LANCZOS keeps detail when shrinking them.
            rgb = image.convert("RGB").resize((size, size), Image.Resampling.LANCZOS)
        images.append(np.asarray(rgb))
        groups.append(remote.relpath.split("/")[1])
    return np.stack(images), groups


def make_dataset(images, labels, batch_size: int, shuffle: bool, seed: int = 0):
    """A batched ``tf.data.Dataset`` of scaled images and float labels.

    A shuffled (training) dataset drops its last, smaller batch: one batch shape, one traced step.
    """
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices(
        (scale_images(images), np.asarray(labels, "float32"))
    )
    if shuffle:
        dataset = dataset.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size, drop_remainder=shuffle).prefetch(tf.data.AUTOTUNE)
