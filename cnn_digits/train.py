"""Training and evaluation of the digit classifiers, resumable from checkpoints."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from cnn_digits.config import DigitsConfig
from cnn_digits.data import DigitSplits, make_dataset, scale_images
from course.checkpoint import fit_and_save, runs_root, shuffled_batches


def training_batches(splits: DigitSplits, batch_size: int, seed: int):
    """Scaled training batches in an order drawn from (seed, epoch) (``shuffled_batches``).

    A resumed run trains as an unbroken one; scaling per batch keeps the images uint8 in memory.
    """
    return shuffled_batches(
        (splits.x_train, splits.y_train), batch_size, seed,
        transform=lambda images, labels: (scale_images(images), labels),
    )


def run_dir(config: DigitsConfig) -> Path:
    """Where this profile's models, histories and figures go (one folder per profile)."""
    return runs_root() / "cnn_digits" / config.profile


def compile_model(model: keras.Model, config: DigitsConfig, total_steps: int) -> keras.Model:
    """Adam with a short warm-up, then a cosine decay of the learning rate to zero.

    Warm-up keeps the first steps (with freshly initialised batch-norm statistics) from
    overshooting; the decay lets the last epochs settle into a minimum. With
    ``config.weight_averaging_momentum``, Adam also keeps a moving average of the weights
    (Polyak averaging, Keras's ``use_ema``): ``fit`` copies it into the model when training
    ends, and ``train`` validates with it.
    """
    warmup_steps = max(1, total_steps // 20)
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=config.learning_rate / 10,
        warmup_target=config.learning_rate,
        warmup_steps=warmup_steps,
        decay_steps=max(1, total_steps - warmup_steps),
    )
    model.compile(
        optimizer=keras.optimizers.Adam(
            schedule,
            use_ema=config.weight_averaging_momentum is not None,
            ema_momentum=config.weight_averaging_momentum or 0.99,
        ),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def train(
    model: keras.Model,
    splits: DigitSplits,
    config: DigitsConfig,
    num_epochs: int,
    folder: Path | None = None,
    callbacks: list | tuple = (),
) -> dict[str, list[float]]:
    """Fit ``model`` on the training split, validating on the held-out split.

    Checkpoints every epoch in ``folder`` (default: ``run_dir(config) / model.name``), resumes
    an interrupted run, loads a finished one, and saves the final model as ``model.keras``.
    """
    folder = Path(folder or run_dir(config) / model.name)
    steps_per_epoch = len(splits.x_train) // config.batch_size  # the last partial batch is dropped
    compile_model(model, config, total_steps=steps_per_epoch * num_epochs)
    train_data = training_batches(splits, config.batch_size, config.seed)
    val_data = make_dataset(splits.x_val, splits.y_val, 1000, shuffle=False)
    if config.weight_averaging_momentum is not None:
        # Validate the averaged weights, the ones the finished model will have.
        callbacks = [keras.callbacks.SwapEMAWeights(), *callbacks]
    return fit_and_save(
        model, train_data, num_epochs=num_epochs, folder=folder, config=config.as_dict(),
        validation_data=val_data, callbacks=callbacks,
    )


def predict_probabilities(model: keras.Model, images: np.ndarray) -> np.ndarray:
    """Class probabilities (n, 10) for uint8 (n, 28, 28) or float (n, 28, 28[, 1]) images."""
    images = np.asarray(images)
    x = scale_images(images) if images.dtype == np.uint8 else images.astype("float32")
    if x.ndim == 3:
        x = x[..., None]
    return np.asarray(model.predict(x, batch_size=1000, verbose=0))


def accuracy(model: keras.Model, images: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of ``images`` whose most probable class is the label."""
    return float(np.mean(predict_probabilities(model, images).argmax(axis=1) == labels))
