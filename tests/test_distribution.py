"""The gpu profile's data parallelism, tried on two virtual CPU devices of JAX.

XLA_FLAGS must be set before JAX starts, so the run happens in a fresh interpreter: chapter 3's
smoke run for one epoch on one device, then again with every batch split over two.
"""

import json
import os
import subprocess
import sys

import keras
import pytest

from course.distribution import use_all_devices

SCRIPT = """
import json, sys
from pathlib import Path

import keras

from cnn_digits.config import get_config
from cnn_digits.data import load_mnist
from cnn_digits.model import build_cnn
from cnn_digits.train import train
from course.distribution import use_all_devices

config = get_config("smoke")
splits = load_mnist(config.num_validation, config.num_train, config.num_test, profile="smoke")
result = {"visible": len(keras.distribution.list_devices())}
for name in ("one device", "two devices"):
    if name == "two devices":
        result["devices"] = use_all_devices()
    keras.utils.set_random_seed(0)
    model = build_cnn(config)  # built after the distribution is set: its weights replicated
    history = train(model, splits, config, num_epochs=1, folder=Path(sys.argv[1]) / name)
    result[name] = {"loss": history["loss"], "val_loss": history["val_loss"],
                    "weight_copies": len(model.weights[0].value.sharding.device_set)}
print(json.dumps(result))
"""
# Two devices sum the gradient's halves in another order: float32 rounding, compounded over
# the epoch's steps.
RELATIVE_TOLERANCE = 1e-3


def test_other_backends_and_a_single_device_train_as_before():
    assert use_all_devices(devices=["the only device"]) == 1
    assert keras.distribution.distribution() is None


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="data parallelism runs on JAX only")
def test_two_devices_split_each_batch_and_train_as_one(tmp_path):
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
           "DL_PROFILE": "smoke", "DL_CHECKPOINT_DIR": str(tmp_path)}
    env.pop("DL_DATA_DIR", None)
    finished = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], env=env,
                              capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr[-3000:]
    result = json.loads(finished.stdout.splitlines()[-1])
    assert result["visible"] == 2 and result["devices"] == 2
    one, two = result["one device"], result["two devices"]
    assert one["weight_copies"] == 1 and two["weight_copies"] == 2
    for key in ("loss", "val_loss"):
        assert two[key] == pytest.approx(one[key], rel=RELATIVE_TOLERANCE)
