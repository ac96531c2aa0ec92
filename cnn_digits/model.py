"""The chapter's three digit classifiers: an MLP, a CNN, and the same CNN with augmentation."""

from __future__ import annotations

import math

import keras
from keras import layers, ops

from cnn_digits.config import DigitsConfig

IMAGE_SHAPE = (28, 28, 1)
NUM_CLASSES = 10


def build_mlp(hidden_units: tuple[int, ...] = (512, 256), dropout: float = 0.2) -> keras.Model:
    """A fully connected baseline: every pixel is a separate input, position is not shared."""
    model = keras.Sequential([keras.Input(IMAGE_SHAPE), layers.Flatten()], name="mlp")
    for units in hidden_units:
        model.add(layers.Dense(units, activation="relu"))
        model.add(layers.Dropout(dropout))
    model.add(layers.Dense(NUM_CLASSES, activation="softmax"))
    return model


def affine_sampling_grid(angle, shear, zoom, shift_x, shift_y, height: int, width: int):
    """The 8 numbers per image that ``keras.ops.image.affine_transform`` expects.

    Output pixel q = (x, y) reads the input at  c + B (q - c) + d,  with c the image centre,
    d = (shift_x, shift_y) and B = R(angle) @ [[1, shear], [0, 1]] / zoom. Arguments are
    tensors of shape (n,); angles in radians.
    """
    cos, sin = ops.cos(angle), ops.sin(angle)
    b00, b01 = cos / zoom, (cos * shear - sin) / zoom
    b10, b11 = sin / zoom, (sin * shear + cos) / zoom
    centre_x, centre_y = (width - 1) / 2, (height - 1) / 2
    offset_x = centre_x - b00 * centre_x - b01 * centre_y + shift_x
    offset_y = centre_y - b10 * centre_x - b11 * centre_y + shift_y
    zeros = ops.zeros_like(angle)
    return ops.stack([b00, b01, offset_x, b10, b11, offset_y, zeros, zeros], axis=1)


@keras.saving.register_keras_serializable(package="cnn_digits")
class RandomAffine(layers.Layer):
    """Random rotation, shear, zoom and shift of each image, as ONE affine resampling.

    Composing the four changes into one matrix (see ``affine_sampling_grid``) interpolates each
    image once: chaining four Keras augmentation layers blurs the strokes four times and costs
    four passes. Active only in training.
    """

    def __init__(self, rotation_degrees=10.0, shift_pixels=2.0, zoom_fraction=0.1,
                 shear_fraction=0.1, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rotation_degrees = rotation_degrees
        self.shift_pixels = shift_pixels
        self.zoom_fraction = zoom_fraction
        self.shear_fraction = shear_fraction
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def _uniform(self, count, half_width):
        return keras.random.uniform(
            (count,), -half_width, half_width, seed=self.seed_generator
        )

    def call(self, images, training=False):
        if not training:
            return images
        count = ops.shape(images)[0]
        angle = self._uniform(count, self.rotation_degrees * math.pi / 180)
        shear = self._uniform(count, self.shear_fraction)
        zoom = 1.0 + self._uniform(count, self.zoom_fraction)
        shift_x = self._uniform(count, self.shift_pixels)
        shift_y = self._uniform(count, self.shift_pixels)
        height, width = ops.shape(images)[1], ops.shape(images)[2]
        grid = affine_sampling_grid(angle, shear, zoom, shift_x, shift_y, height, width)
        return ops.image.affine_transform(images, grid, fill_mode="constant")

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "rotation_degrees": self.rotation_degrees,
            "shift_pixels": self.shift_pixels,
            "zoom_fraction": self.zoom_fraction,
            "shear_fraction": self.shear_fraction,
            "seed": self.seed,
        }


def build_augmenter(config: DigitsConfig) -> RandomAffine:
    """The augmentation of ``config``: random rotation, shift, zoom and shear per image."""
    return RandomAffine(
        config.rotation_degrees, config.shift_pixels, config.zoom_fraction,
        config.shear_fraction, seed=config.seed, name="augment",
    )


def conv_bn_relu(filters: int, index: int) -> list[layers.Layer]:
    """3x3 convolution, batch normalization, ReLU (the conv's bias is redundant before BN)."""
    return [
        layers.Conv2D(filters, 3, use_bias=False, name=f"conv{index}"),
        # Momentum 0.9 (Keras's default is 0.99): the running statistics used at test time
        # catch up with the weights within a few dozen steps of a fast-moving first epoch.
        layers.BatchNormalization(momentum=0.9, name=f"batchnorm{index}"),
        layers.ReLU(name=f"relu{index}"),
    ]


def build_cnn(config: DigitsConfig | None = None, augment: bool = False) -> keras.Model:
    """Three 3x3 conv layers with pooling, then one dense layer: 28 -> 13 -> 5 -> 3 -> 10 classes.

    Batch normalization sits on the two deeper layers only: on the widest, first feature map
    it cost the most time for no gain in accuracy (docs/decisions.md, chapter 3).
    With ``augment``, the augmentation layers come first (they are part of the model, so the
    same code runs on every Keras backend, and they switch off by themselves at inference).
    """
    if augment and config is None:
        raise ValueError("build_cnn(augment=True) needs a config with the augmentation ranges")
    model = keras.Sequential([keras.Input(IMAGE_SHAPE)], name="cnn_augmented" if augment else "cnn")
    if augment:
        model.add(build_augmenter(config))
    for layer in [
        layers.Conv2D(32, 3, activation="relu", name="conv1"),  # 28 -> 26
        layers.MaxPooling2D(2, name="pool1"),  # 26 -> 13
        *conv_bn_relu(64, index=2),  # 13 -> 11
        layers.MaxPooling2D(2, name="pool2"),  # 11 -> 5
        *conv_bn_relu(128, index=3),  # 5 -> 3
        layers.Flatten(name="flatten"),
        layers.Dropout(0.3, name="dropout"),
        layers.Dense(NUM_CLASSES, activation="softmax", name="classifier"),
    ]:
        model.add(layer)
    return model
