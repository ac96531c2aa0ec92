"""The chapter's models: a standard CNN face classifier and the debiasing VAE (DB-VAE).

Notation: an encoder maps an image x to a Gaussian q(z|x) = N(mu, diag(sigma^2)) over k latent
variables; it outputs mu and log(sigma^2) (the log-variance: any real number is a valid one).
"""

from __future__ import annotations

import keras
from keras import layers, ops

from vae_faces.config import FacesConfig


def kl_divergence(mean, log_variance):
    """KL( N(mu, diag(sigma^2)) || N(0, I) ) per example, in closed form.

    L_KL = 1/2 * sum_j ( sigma_j^2 + mu_j^2 - 1 - log sigma_j^2 ),  with sigma_j^2 = exp(logvar_j).
    (The notes print sigma_j where sigma_j^2 belongs: see ERRATA.md.)
    """
    return 0.5 * ops.sum(ops.exp(log_variance) + ops.square(mean) - 1.0 - log_variance, axis=-1)


def reconstruction_loss(images, reconstructions):
    """L1 distance per example, averaged over pixels: ||x - x_hat||_1 / (number of pixels).

    Averaging instead of summing only rescales the loss; the KL weight c absorbs the factor.
    """
    difference = ops.abs(ops.subtract(images, reconstructions))
    return ops.mean(ops.reshape(difference, (ops.shape(difference)[0], -1)), axis=-1)


def vae_loss(images, reconstructions, mean, log_variance, kl_weight: float):
    """L_VAE = c * L_KL + L_x(x, x_hat), per example."""
    return kl_weight * kl_divergence(mean, log_variance) + reconstruction_loss(
        images, reconstructions
    )


def debiasing_loss(is_face, face_logit, images, reconstructions, mean, log_variance, kl_weight):
    """L_total = L_y(y, y_hat) + [y = 1] * L_VAE, per example.

    The indicator switches the VAE term off for non-faces: they train only the classifier, so
    the latent space (and the resampler that reads it) describes faces alone.
    """
    is_face = ops.reshape(ops.cast(is_face, "float32"), (-1,))
    face_logit = ops.reshape(face_logit, (-1,))
    classification = ops.binary_crossentropy(is_face, face_logit, from_logits=True)
    return classification + is_face * vae_loss(
        images, reconstructions, mean, log_variance, kl_weight
    )


@keras.saving.register_keras_serializable(package="vae_faces")
class Reparameterize(layers.Layer):
    """z = mu + exp(logvar / 2) * eps,  eps ~ N(0, I).

    The randomness sits in eps, which does not depend on the weights, so gradients reach mu and
    logvar through an ordinary product and sum.
    """

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, mean, log_variance):
        epsilon = keras.random.normal(ops.shape(mean), seed=self.seed_generator)
        return mean + ops.exp(0.5 * log_variance) * epsilon

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


def interpolation_matrices(source, size: int):
    """(n, size, size) matrices whose row i reads a 1-D signal at position ``source[:, i]``.

    Bilinear: two weights per row, summing to 1. Indices past the border are reflected as by
    ``fill_mode="reflect"`` (d c b a | a b c d | d c b a), so the fill needs no extra step.
    """
    source = ops.convert_to_tensor(source, "float32")
    lower = ops.floor(source)
    upper_weight = ops.expand_dims(source - lower, -1)

    def one_hot_reflected(index):  # period 2 * size; the border pixel is repeated
        index = ops.mod(ops.cast(index, "int32"), 2 * size)
        return ops.one_hot(ops.minimum(index, 2 * size - 1 - index), size)

    return (one_hot_reflected(lower) * (1.0 - upper_weight)
            + one_hot_reflected(lower + 1.0) * upper_weight)


def shift_zoom(images, zoom, shift_y, shift_x):
    """Each image (n, h, w, c) zoomed about its centre, then shifted; arguments of shape (n,).

    As RandomZoom's ``height_factor``, a positive ``zoom`` zooms out: the output spans
    ``1 + zoom`` times as many input pixels. Shifts are in pixels, positive moving the content
    down / right. Pixel i sits at coordinate i (the centre is (size - 1) / 2), as in
    ``keras.ops.image.affine_transform``, which this matches with bilinear interpolation and
    reflect fill.
    """
    scale = 1.0 + ops.convert_to_tensor(zoom, "float32")[:, None]

    def matrices(size, shift):
        centre = (size - 1) / 2
        output = ops.arange(size, dtype="float32")
        shift = ops.convert_to_tensor(shift, "float32")[:, None]
        return interpolation_matrices(centre + scale * (output - shift - centre), size)

    # Separable: output rows read input rows only, columns columns only, so two small matrix
    # products per image replace the general resampler, which is slow on JAX and PyTorch.
    rows, columns = matrices(images.shape[1], shift_y), matrices(images.shape[2], shift_x)
    return ops.einsum("nih,nhwc,njw->nijc", rows, images, columns)


@keras.saving.register_keras_serializable(package="vae_faces")
class RandomShiftZoom(layers.Layer):
    """RandomZoom((-zoom_fraction, zoom_fraction)) then RandomTranslation(shift_fraction,
    shift_fraction), both with ``fill_mode="reflect"``, as ONE resampling (``shift_zoom``).

    One interpolation blurs once, not twice; and the reflected border mirrors the input image,
    where the stock pair mirrors the zoomed one. Identity at prediction.
    """

    def __init__(self, shift_fraction, zoom_fraction, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.shift_fraction, self.zoom_fraction, self.seed = shift_fraction, zoom_fraction, seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, images, training=False):
        if not training:
            return images
        count, height, width = ops.shape(images)[:3]

        def uniform(half_width):
            return keras.random.uniform((count,), -half_width, half_width,
                                        seed=self.seed_generator)

        zoom = uniform(self.zoom_fraction)
        shift_y, shift_x = uniform(self.shift_fraction), uniform(self.shift_fraction)
        return shift_zoom(images, zoom, shift_y * height, shift_x * width)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "shift_fraction": self.shift_fraction,
                "zoom_fraction": self.zoom_fraction, "seed": self.seed}


def build_augmenter(shift_fraction: float, zoom_fraction: float, seed=None) -> list:
    """Training-only: each face moved (up to ``shift_fraction`` of the frame each way) and
    scaled (in or out by up to ``zoom_fraction``), the border filled by reflection; identity at
    prediction. Empty when both are 0."""
    if not (shift_fraction or zoom_fraction):
        return []
    # A seed of its own: generators seeded alike draw alike, which would tie the shifts and
    # zooms to the DB-VAE's sampling noise, seeded with ``seed``.
    return [RandomShiftZoom(shift_fraction, zoom_fraction, seed=None if seed is None else seed + 1,
                            name="random_shift_zoom")]


def build_encoder(image_size: int, base_filters: int, num_outputs: int, name: str,
                  augmenter: list | tuple = ()) -> keras.Model:
    """Three stride-2 convolutions (size / 8 per side), a dense layer, ``num_outputs`` numbers,
    after the (training-only) ``augmenter`` layers.

    The same body serves the CNN (one face logit) and the DB-VAE (logit, k means, k log-variances),
    so the two detectors have nearly the same size.
    """
    inputs = keras.Input((image_size, image_size, 3))
    x = inputs
    for layer in augmenter:
        x = layer(x)
    for index, filters in enumerate((base_filters, 2 * base_filters, 4 * base_filters), 1):
        x = layers.Conv2D(filters, 3, strides=2, padding="same", use_bias=False,
                          name=f"conv{index}")(x)
        x = layers.BatchNormalization(momentum=0.9, name=f"batchnorm{index}")(x)
        x = layers.ReLU(name=f"relu{index}")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(128, activation="relu", name="dense")(x)
    outputs = layers.Dense(num_outputs, name="outputs")(x)
    return keras.Model(inputs, outputs, name=name)


def build_decoder(image_size: int, base_filters: int, latent_dim: int) -> keras.Model:
    """Latent vector -> image: a dense layer, then three stride-2 transposed convolutions."""
    side = image_size // 8
    inputs = keras.Input((latent_dim,))
    x = layers.Dense(side * side * 4 * base_filters, activation="relu", name="dense")(inputs)
    x = layers.Reshape((side, side, 4 * base_filters), name="reshape")(x)
    x = layers.Conv2DTranspose(2 * base_filters, 4, strides=2, padding="same",
                               activation="relu", name="deconv1")(x)
    x = layers.Conv2DTranspose(base_filters, 4, strides=2, padding="same",
                               activation="relu", name="deconv2")(x)
    # Kernel 4 = 2 x stride: every output pixel gets the same number of contributions, which
    # avoids the checkerboard a 3x3 kernel leaves. Sigmoid: pixels live in [0, 1] like inputs.
    outputs = layers.Conv2DTranspose(3, 4, strides=2, padding="same", activation="sigmoid",
                                     name="deconv3")(x)
    return keras.Model(inputs, outputs, name="decoder")


def build_cnn(config: FacesConfig) -> keras.Model:
    """The standard classifier: the encoder body with a single output, the face logit, behind
    the training-only shifts and zooms of ``config``."""
    augmenter = build_augmenter(config.shift_fraction, config.zoom_fraction, config.seed)
    return build_encoder(config.image_size, config.base_filters, 1, "cnn", augmenter)


@keras.saving.register_keras_serializable(package="vae_faces")
class DebiasingVAE(keras.Model):
    """Encoder -> (face logit, mu, logvar); z by reparameterization; decoder -> reconstruction.

    ``call`` returns a dict with all four and the image the encoder saw (``"inputs"``: in
    training, the shifted and zoomed one, which is what the decoder must reconstruct);
    ``compute_loss`` implements ``debiasing_loss`` in keras.ops, so the stock ``fit`` works on
    every Keras backend.
    """

    def __init__(self, image_size=32, latent_dim=32, base_filters=16, kl_weight=0.0005,
                 seed=None, shift_fraction=0.0, zoom_fraction=0.0, **kwargs):
        super().__init__(**kwargs)
        self.image_size, self.latent_dim = image_size, latent_dim
        self.base_filters, self.kl_weight, self.seed = base_filters, kl_weight, seed
        self.shift_fraction, self.zoom_fraction = shift_fraction, zoom_fraction
        self.augmenter = build_augmenter(shift_fraction, zoom_fraction, seed)
        self.encoder = build_encoder(image_size, base_filters, 2 * latent_dim + 1, "encoder")
        self.decoder = build_decoder(image_size, base_filters, latent_dim)
        self.sampler = Reparameterize(seed=seed, name="reparameterize")
        self.classification_tracker = keras.metrics.Mean(name="classification_loss")
        self.vae_tracker = keras.metrics.Mean(name="vae_loss")
        self.accuracy_tracker = keras.metrics.Mean(name="accuracy")

    def encode(self, images, training=False):
        """Face logit (n,), latent means (n, k) and log-variances (n, k)."""
        outputs = self.encoder(images, training=training)
        k = self.latent_dim
        return outputs[:, 0], outputs[:, 1 : k + 1], outputs[:, k + 1 :]

    def call(self, images, training=False):
        for layer in self.augmenter:  # outside the encoder: the decoder's target moves too
            images = layer(images, training=training)
        face_logit, mean, log_variance = self.encode(images, training=training)
        z = self.sampler(mean, log_variance)
        reconstruction = self.decoder(z, training=training)
        return {"face_logit": face_logit, "mean": mean, "log_variance": log_variance,
                "reconstruction": reconstruction, "inputs": images}

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        per_example = debiasing_loss(
            y, y_pred["face_logit"], y_pred["inputs"], y_pred["reconstruction"], y_pred["mean"],
            y_pred["log_variance"], self.kl_weight,
        )
        is_face = ops.reshape(ops.cast(y, "float32"), (-1,))
        logit = y_pred["face_logit"]
        classification = ops.binary_crossentropy(is_face, logit, from_logits=True)
        self.classification_tracker.update_state(classification)
        # The VAE term averaged over the faces of the batch only (the others contribute 0).
        self.vae_tracker.update_state(per_example - classification, sample_weight=is_face)
        correct = ops.cast(ops.equal(ops.cast(logit > 0, "float32"), is_face), "float32")
        self.accuracy_tracker.update_state(correct)
        return ops.mean(per_example)

    def get_config(self):
        return {
            **super().get_config(), "image_size": self.image_size, "latent_dim": self.latent_dim,
            "base_filters": self.base_filters, "kl_weight": self.kl_weight, "seed": self.seed,
            "shift_fraction": self.shift_fraction, "zoom_fraction": self.zoom_fraction,
        }


def build_dbvae(config: FacesConfig) -> DebiasingVAE:
    """The DB-VAE of ``config``, built (weights created) on its image size."""
    model = DebiasingVAE(config.image_size, config.latent_dim, config.base_filters,
                         config.kl_weight, seed=config.seed, shift_fraction=config.shift_fraction,
                         zoom_fraction=config.zoom_fraction, name="dbvae")
    model(ops.zeros((1, config.image_size, config.image_size, 3)))
    return model
