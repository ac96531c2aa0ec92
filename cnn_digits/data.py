"""MNIST: fetch (through ``course.fetch``), split, and feed as ``tf.data`` pipelines."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from course.fetch import RemoteFile, check_npz, fetch

MNIST_SHAPES = {
    "x_train": ((60_000, 28, 28), "uint8"),
    "y_train": ((60_000,), "uint8"),
    "x_test": ((10_000, 28, 28), "uint8"),
    "y_test": ((10_000,), "uint8"),
}


def check_mnist(path: Path) -> None:
    """Accept a local copy whose four arrays have MNIST's keys, shapes and dtypes."""
    check_npz(path, MNIST_SHAPES)


def check_mnist_sample(path: Path) -> None:
    """Accept MNIST's keys and image shape with any number of images (the smoke sample)."""
    any_length = {key: ((None, *shape[1:]), dtype) for key, (shape, dtype) in MNIST_SHAPES.items()}
    check_npz(path, any_length)


# The file Keras's `mnist.load_data` downloads; its sha256 is the one Keras pins.
MNIST = RemoteFile(
    relpath="mnist/mnist.npz",
    url="https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz",
    sha256="731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1",
    check=check_mnist,
    size=11_490_434,
    sample_check=check_mnist_sample,
)


@dataclass(frozen=True)
class DigitSplits:
    """uint8 images (n, 28, 28) and integer labels (n,) for each split."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def load_mnist(
    num_validation: int = 5_000,
    num_train: int | None = None,
    num_test: int | None = None,
    profile: str | None = None,
) -> DigitSplits:
    """MNIST with the last ``num_validation`` training images held out for validation.

    ``num_train`` and ``num_test`` take the first images of each split (for quick runs); the
    ``smoke`` profile reads the committed sample (see ``course.fetch``).
    """
    with np.load(fetch(MNIST, profile=profile), allow_pickle=False) as arrays:
        x_all, y_all = arrays["x_train"], arrays["y_train"].astype("int64")
        x_test, y_test = arrays["x_test"], arrays["y_test"].astype("int64")
    if not 0 < num_validation < len(x_all):
        raise ValueError(f"num_validation must be between 1 and {len(x_all) - 1}")
    x_val, y_val = x_all[-num_validation:], y_all[-num_validation:]
    x_train, y_train = x_all[:-num_validation][:num_train], y_all[:-num_validation][:num_train]
    return DigitSplits(x_train, y_train, x_val, y_val, x_test[:num_test], y_test[:num_test])


def scale_images(images: np.ndarray) -> np.ndarray:
    """uint8 pixels in [0, 255] to float32 in [0, 1] with a channel axis: (n, 28, 28, 1)."""
    # 255, not 256: the brightest pixel must map to exactly 1.
    return (np.asarray(images, dtype="float32") / 255.0)[..., None]


def make_dataset(images: np.ndarray, labels: np.ndarray, batch_size: int, shuffle: bool, seed=0):
    """A batched ``tf.data.Dataset`` of scaled images and labels.

    ``fit`` on a dataset keeps the CPU busy between epochs; fed NumPy arrays it stalled here.
    A shuffled (training) dataset drops its last, smaller batch: one batch shape means one traced
    training step instead of two, and the images left out differ from epoch to epoch.
    """
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices((scale_images(images), labels))
    if shuffle:
        dataset = dataset.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size, drop_remainder=shuffle).prefetch(tf.data.AUTOTUNE)
