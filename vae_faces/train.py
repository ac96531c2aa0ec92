"""Training of the CNN and the DB-VAE (with per-epoch resampling), resumable from checkpoints."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from course.checkpoint import fit_resumable, runs_root, save_final_model, shuffled_batches
from course.progress import TqdmProgress
from vae_faces.config import RESAMPLING_MODES, FacesConfig
from vae_faces.data import FaceSplits, make_dataset, scale_images
from vae_faces.model import DebiasingVAE
from vae_faces.resampling import effective_sample_size, group_balanced_weights, sampling_weights


def run_dir(config: FacesConfig) -> Path:
    """Where this profile's models, histories and figures go (one folder per profile)."""
    return runs_root() / "vae_faces" / config.profile


def compile_model(model: keras.Model, config: FacesConfig, total_steps: int = 0) -> keras.Model:
    """Adam, its rate decaying along a half cosine to 0 over ``total_steps`` (constant when 0);
    the CNN gets cross-entropy on its logit, the DB-VAE brings its own loss."""
    learning_rate = config.learning_rate
    if total_steps:
        # A constant rate left the last epoch's weights noisy: one of three CNN runs on the
        # same data ended with 25 points less recall on lighter faces (docs/decisions.md).
        learning_rate = keras.optimizers.schedules.CosineDecay(learning_rate, total_steps)
    optimizer = keras.optimizers.Adam(learning_rate)
    if isinstance(model, DebiasingVAE):
        model.compile(optimizer=optimizer)
    else:
        model.compile(
            optimizer=optimizer,
            loss=keras.losses.BinaryCrossentropy(from_logits=True),
            metrics=[keras.metrics.BinaryAccuracy(threshold=0.0, name="accuracy")],
        )
    return model


def predict_outputs(model: keras.Model, images, batch_size: int = 500):
    """Face logits (n,), and for the DB-VAE also latent means (n, k); None for the CNN."""
    x = scale_images(images)
    if isinstance(model, DebiasingVAE):
        logits, means = [], []
        for start in range(0, len(x), batch_size):
            logit, mean, _ = model.encode(x[start : start + batch_size], training=False)
            logits.append(keras.ops.convert_to_numpy(logit))
            means.append(keras.ops.convert_to_numpy(mean))
        return np.concatenate(logits), np.concatenate(means)
    logits = model.predict(x, batch_size=batch_size, verbose=0)
    return np.asarray(logits).reshape(-1), None


def face_probabilities(model: keras.Model, images) -> np.ndarray:
    """p(face | image) for each image, from either model."""
    logits, _ = predict_outputs(model, images)
    return 1.0 / (1.0 + np.exp(-logits))


def latent_means(model: DebiasingVAE, images) -> np.ndarray:
    """The encoder's latent means mu(x), (n, k)."""
    return predict_outputs(model, images)[1]


def reconstruct(model: DebiasingVAE, images) -> np.ndarray:
    """Decoded latent means: the VAE's reconstruction without sampling noise, in [0, 1]."""
    means = latent_means(model, images)
    return keras.ops.convert_to_numpy(model.decoder(means, training=False))


class FaceSampler:
    """Training batches with faces drawn by probability ``p`` (with replacement) and every
    non-face once per epoch. ``dataset()`` re-draws each time it is iterated (every epoch)."""

    def __init__(self, faces, nonfaces, batch_size: int, seed: int):
        self.faces, self.nonfaces = scale_images(faces), scale_images(nonfaces)
        self.batch_size, self.seed = batch_size, seed
        self.probabilities = np.full(len(faces), 1.0 / len(faces))
        self.epoch = 0
        self.drawn_epochs: list[int] = []  # which epoch's probabilities each iteration used

    @property
    def steps_per_epoch(self) -> int:
        return (len(self.faces) + len(self.nonfaces)) // self.batch_size

    def draw(self) -> np.ndarray:
        """This epoch's face indices; seeded by (seed, epoch), so a resumed run redraws them."""
        rng = np.random.default_rng([self.seed, self.epoch])
        return rng.choice(len(self.faces), size=len(self.faces), p=self.probabilities)

    def batches(self):
        self.drawn_epochs.append(self.epoch)
        rng = np.random.default_rng([self.seed, self.epoch, 1])
        face_index = self.draw()
        images = np.concatenate([self.faces[face_index], self.nonfaces])
        labels = np.concatenate([np.ones(len(face_index)), np.zeros(len(self.nonfaces))])
        order = rng.permutation(len(images))
        for step in range(self.steps_per_epoch):
            chosen = order[step * self.batch_size : (step + 1) * self.batch_size]
            yield images[chosen], labels[chosen].astype("float32")

    def dataset(self):
        import tensorflow as tf

        size = self.faces.shape[1]
        signature = (
            tf.TensorSpec((self.batch_size, size, size, 3), tf.float32),
            tf.TensorSpec((self.batch_size,), tf.float32),
        )
        dataset = tf.data.Dataset.from_generator(self.batches, output_signature=signature)
        return dataset.apply(tf.data.experimental.assert_cardinality(self.steps_per_epoch))


class Resample(keras.callbacks.Callback):
    """At the start of each epoch, set the faces' sampling probabilities (``config.resampling``:
    from the current encoder's latent space, uniform, or the group oracle), and log how
    concentrated they are and each group's share of the draws (``share_<group>``, for every
    skin-tone and race group)."""

    def __init__(self, sampler: FaceSampler, face_tone: np.ndarray, face_race: np.ndarray,
                 config: FacesConfig):
        super().__init__()
        if config.resampling not in RESAMPLING_MODES:  # before any training, not at epoch 1
            raise ValueError(
                f"resampling must be one of {RESAMPLING_MODES}, not {config.resampling!r}."
            )
        self.sampler, self.config = sampler, config
        self.groups = {name: labels == name for labels in (face_tone, face_race)
                       for name in np.unique(labels) if name}
        if config.resampling == "group":  # fixed weights; "uniform" keeps the sampler's own
            sampler.probabilities = group_balanced_weights(face_tone)

    def on_epoch_begin(self, epoch, logs=None):
        if self.config.resampling == "latent":
            means = latent_means(self.model, self.sampler.faces)
            self.sampler.probabilities = sampling_weights(
                means, self.config.num_bins, self.config.smoothing_alpha,
                self.config.resampling_aggregate,
            )
        self.sampler.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        probabilities = self.sampler.probabilities
        logs["effective_sample_size"] = effective_sample_size(probabilities)
        for name, members in self.groups.items():
            logs[f"share_{name}"] = float(probabilities[members].sum())


def train(
    model: keras.Model, splits: FaceSplits, config: FacesConfig, folder: Path | None = None,
    callbacks: list | tuple = (), validate: bool = True,
) -> dict[str, list[float]]:
    """Fit ``model`` (CNN or DB-VAE) on the skewed training set; checkpoint, resume, reload.

    The CNN sees every training image once per epoch. The DB-VAE sees as many faces per epoch,
    drawn with the resampler's probabilities, which are recomputed before every epoch.
    The balanced evaluation set only serves as fit()'s validation data: no choice (epochs,
    thresholds) is made from it; ``validate=False`` skips it (the benchmark's timed runs).
    """
    folder = Path(folder or run_dir(config) / model.name)
    val_data = make_dataset(splits.x_eval, splits.y_eval, 500, shuffle=False) if validate else None
    is_dbvae = isinstance(model, DebiasingVAE)
    num_epochs = config.dbvae_epochs if is_dbvae else config.cnn_epochs
    extra = []
    if is_dbvae:
        faces = splits.y_train == 1
        sampler = FaceSampler(
            splits.x_train[faces], splits.x_train[~faces], config.batch_size, config.seed
        )
        train_data = sampler.dataset()
        extra.append(
            Resample(sampler, splits.tone_train[faces], splits.race_train[faces], config)
        )
    else:
        # Each epoch's order comes from (seed, epoch), as the sampler's draws do, so a resumed
        # run trains as an unbroken one.
        train_data = shuffled_batches(
            (splits.x_train, splits.y_train), config.batch_size, config.seed,
            transform=lambda images, labels: (scale_images(images), labels.astype("float32")),
        )
    steps_per_epoch = sampler.steps_per_epoch if is_dbvae else train_data.num_batches
    compile_model(model, config, total_steps=num_epochs * steps_per_epoch)
    fingerprint = {**config.as_dict(), "model": model.name, "num_epochs": num_epochs,
                   "learning_rate_schedule": "cosine"}
    history = fit_resumable(
        model, train_data, num_epochs=num_epochs, folder=folder, config=fingerprint,
        validation_data=val_data, callbacks=[TqdmProgress(model.name), *extra, *callbacks],
    )
    save_final_model(model, folder)
    return history


def interpolate(model: DebiasingVAE, first, second, num_steps: int = 8) -> np.ndarray:
    """The two faces at the ends and, between them, decoded points of the straight line
    mu(first) + t (mu(second) - mu(first)) for t evenly spaced in [0, 1]."""
    pair = np.stack([np.asarray(first), np.asarray(second)])
    means = latent_means(model, pair)
    weights = np.linspace(0.0, 1.0, num_steps)[:, None]
    path = (1 - weights) * means[0] + weights * means[1]
    decoded = keras.ops.convert_to_numpy(model.decoder(path.astype("float32"), training=False))
    ends = scale_images(pair)
    return np.concatenate([ends[:1], decoded, ends[1:]])
