"""Training on several accelerators at once, through Keras's own data parallelism (JAX backend).

``keras.distribution.DataParallel`` keeps a full copy of the weights on every device, gives each
device an equal slice of every batch, and averages the gradients over the devices, so a step
makes the same update as one device would make with the whole batch, only sooner. Models must
be built after the distribution is set (their variables are created replicated), so the course
sets it where every run starts: ``course.env.environment_report`` on the ``gpu`` profile.
"""

from __future__ import annotations


def use_all_devices(devices: list | None = None) -> int:
    """Split every batch over ``devices`` (default: every accelerator Keras lists); return how
    many devices train.

    Only on the JAX backend and with two devices or more; otherwise nothing changes and the
    answer is 1. (TensorFlow and PyTorch spread a model over GPUs with their own mechanisms,
    ``tf.distribute`` and ``DistributedDataParallel``, which the course does not use.)
    Every batch size must be a multiple of the number of devices; chapter 5, whose agent acts on
    a few states at a time, is meant to run on one device (README, "Running on a GPU").
    """
    import keras

    if keras.backend.backend() != "jax":
        return 1
    devices = list(devices or keras.distribution.list_devices())
    if len(devices) < 2:
        return 1
    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
    return len(devices)
