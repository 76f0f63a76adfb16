"""Strategy, device, precision and XLA choices from flag values.

`configure_cpu_devices` must run before TensorFlow initialises its devices (before
the first op); everything else may run any time before the models are built.
"""
import json
import os

import keras
import tensorflow as tf

STRATEGIES = ("auto", "one_device", "mirrored", "multi_worker")
PRECISIONS = ("none", "mixed_float16", "mixed_bfloat16")
JIT_CHOICES = ("auto", "true", "false")


def configure_cpu_devices(count):
    """Splits the CPU into `count` logical devices, so `mirrored` can run without GPUs."""
    if count <= 1:
        return
    cpu = tf.config.list_physical_devices("CPU")[0]
    existing = tf.config.get_logical_device_configuration(cpu)
    if existing and len(existing) == count:
        return
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * count
        )
    except RuntimeError as error:  # devices already initialised
        raise RuntimeError(
            f"cpu_devices={count}: TensorFlow's devices were already initialised; "
            "configure logical CPUs before any TensorFlow op runs."
        ) from error


def check_tf_config():
    """Raises ValueError unless TF_CONFIG describes a cluster (needed by `multi_worker`)."""
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        raise ValueError(
            "strategy=multi_worker needs the TF_CONFIG environment variable, e.g. "
            '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker", "index": 0}}.'
        )
    try:
        config = json.loads(raw)
        workers = config["cluster"]["worker"]
        index = config["task"]["index"]
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"TF_CONFIG={raw!r} is not a valid cluster description: {error}") from error
    if not 0 <= int(index) < len(workers):
        raise ValueError(f"TF_CONFIG task index {index} is outside the {len(workers)} workers listed.")
    return config


def make_strategy(name="auto"):
    """Returns the `tf.distribute.Strategy` for a `--strategy` value.

    auto: mirrored over all GPUs when more than one is visible, else one device.
    one_device: TensorFlow's default strategy (first GPU, else the CPU).
    mirrored: all GPUs, or all logical CPU devices when there is no GPU.
    multi_worker: MultiWorkerMirroredStrategy configured by TF_CONFIG.
    """
    if name not in STRATEGIES:
        raise ValueError(f"strategy={name!r}: expected one of {', '.join(STRATEGIES)}.")
    gpus = tf.config.list_logical_devices("GPU")
    if name == "auto":
        name = "mirrored" if len(gpus) > 1 else "one_device"
    if name == "one_device":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices)
    check_tf_config()
    return tf.distribute.MultiWorkerMirroredStrategy()


def check_global_batch(batch_size, strategy):
    """The global batch must split evenly: each replica gets batch_size / replicas."""
    replicas = strategy.num_replicas_in_sync
    if batch_size % replicas:
        raise ValueError(
            f"batch_size={batch_size} cannot be split evenly across {replicas} replicas: "
            f"use a multiple of {replicas}."
        )


def resolve_jit_compile(value, strategy):
    """`--jit_compile` to a bool: auto = XLA only on a single GPU (slower on CPU, and it
    fails under MirroredStrategy over logical CPUs)."""
    if value not in JIT_CHOICES:
        raise ValueError(f"jit_compile={value!r}: expected one of {', '.join(JIT_CHOICES)}.")
    if value == "auto":
        return bool(tf.config.list_logical_devices("GPU")) and strategy.num_replicas_in_sync == 1
    return value == "true"


def set_precision(policy):
    """Sets Keras's global dtype policy from a `--mixed_precision` value."""
    if policy not in PRECISIONS:
        raise ValueError(f"mixed_precision={policy!r}: expected one of {', '.join(PRECISIONS)}.")
    keras.mixed_precision.set_global_policy("float32" if policy == "none" else policy)
