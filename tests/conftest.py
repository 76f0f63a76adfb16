"""Test-wide set-up that must happen before TensorFlow initialises.

Two logical CPU devices let MirroredStrategy tests run without GPUs; they can only
be configured before the first op runs, hence here and not in a fixture.
"""
import os
import tempfile

_home = tempfile.mkdtemp(prefix="gan_tf_tests_")
os.environ.setdefault("KERAS_HOME", os.path.join(_home, "keras"))
os.environ.setdefault("MPLCONFIGDIR", os.path.join(_home, "mpl"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")
# Tests never touch the network, nor data or caches a developer has prepared.
os.environ["GAN_TF_OFFLINE"] = "1"
os.environ["TFDS_DATA_DIR"] = os.path.join(_home, "tensorflow_datasets")
os.environ["GAN_TF_CACHE"] = os.path.join(_home, "gan_tf_cache")

import tensorflow as tf  # noqa: E402

_cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    _cpu, [tf.config.LogicalDeviceConfiguration()] * 2
)
