"""Strategy, device, precision and XLA choices from flag values.

`tf.distribute` is the engine: `MirroredStrategy` for several GPUs of one machine (or
several logical CPU devices, to try it without GPUs), `MultiWorkerMirroredStrategy`
for several machines, configured by the `TF_CONFIG` environment variable.

`configure_cpu_devices` must run before TensorFlow initialises its devices (before the
first op); `make_strategy("multi_worker")` before any other op as well. The rest may
run any time before the models are built.
"""
import json
import os
import subprocess
import sys

import keras
import tensorflow as tf
from absl import logging

from gan_tf import startup_watchdog
from gan_tf.choices import JIT_CHOICES, PRECISIONS, STRATEGIES  # noqa: F401 (re-exported)
# CPU features are read without TensorFlow (the CLI decides oneDNN before importing it).
from gan_tf.cpu import NATIVE_BF16_FLAGS as _NATIVE_BF16_FLAGS
from gan_tf.cpu import cpu_flags, has_native_bfloat16  # noqa: F401 (re-exported)


def configure_cpu_devices(count):
    """Splits the CPU into `count` logical devices, so `mirrored` can run without GPUs.

    The replicas then share the machine's cores: this is for trying and testing
    distributed code, not for speed.

    Args:
      count: number of logical CPU devices (1 leaves TensorFlow's default).

    Raises:
      RuntimeError: TensorFlow's devices are already initialised with another split.
    """
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


_TF_CONFIG_EXAMPLE = (
    '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
    '"task": {"type": "worker", "index": 0}}'
)


def check_tf_config(raw=None):
    """Parses and checks TF_CONFIG, the cluster description `multi_worker` needs.

    Args:
      raw: the JSON text (default: the `TF_CONFIG` environment variable).

    Returns:
      The parsed dict.

    Raises:
      ValueError: TF_CONFIG is missing, not JSON, or its task is not in its cluster.
    """
    raw = os.environ.get("TF_CONFIG") if raw is None else raw
    if not raw:
        raise ValueError(
            "strategy=multi_worker needs the TF_CONFIG environment variable, set on every "
            f"machine with its own task index, e.g. TF_CONFIG='{_TF_CONFIG_EXAMPLE}'."
        )
    try:
        config = json.loads(raw)
        cluster = config["cluster"]
        task_type = config["task"]["type"]
        index = int(config["task"]["index"])
        tasks = cluster[task_type]
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(
            f"TF_CONFIG={raw!r} is not a valid cluster description ({type(error).__name__}: "
            f"{error}); expected e.g. {_TF_CONFIG_EXAMPLE}."
        ) from error
    if task_type not in ("worker", "chief"):
        raise ValueError(
            f"TF_CONFIG task type {task_type!r}: MultiWorkerMirroredStrategy expects 'worker' or 'chief'."
        )
    if not 0 <= index < len(tasks):
        raise ValueError(
            f"TF_CONFIG task index {index} is outside the {len(tasks)} {task_type} "
            f"address(es) listed: {tasks}."
        )
    return config


# How long a multi-worker task waits at start-up for every task TF_CONFIG lists to join, in seconds.
# Machines of one run are usually started within a minute or two of each other; without a bound a
# task whose peer never comes waits forever inside TensorFlow's coordination service, which also
# catches SIGTERM (its preemption notifier) and so cannot be stopped politely either.
WORKER_TIMEOUT_ENV = startup_watchdog.TIMEOUT_ENV
DEFAULT_WORKER_TIMEOUT = 300.0


def worker_timeout(environ=None):
    """The start-up wait for the other workers, in seconds ($GAN_TF_WORKER_TIMEOUT, default 300)."""
    raw = (os.environ if environ is None else environ).get(WORKER_TIMEOUT_ENV, "")
    try:
        value = float(raw) if raw.strip() else DEFAULT_WORKER_TIMEOUT
    except ValueError:
        value = float("nan")
    if not 0 < value < float("inf"):
        raise ValueError(f"{WORKER_TIMEOUT_ENV}={raw!r}: expected a finite number of seconds > 0.")
    return value


def peers(config):
    """`[task name, address]` of every task of the TF_CONFIG dict `config` other than this one."""
    task_type, index = config["task"]["type"], int(config["task"]["index"])
    return [[f"{job} {i}", address] for job, addresses in config["cluster"].items()
            for i, address in enumerate(addresses) if (job, i) != (task_type, index)]


def _join_cluster(make, others, timeout):
    """`make()`, which blocks until every task has joined, ended after `timeout` seconds.

    TensorFlow waits holding the GIL and catching SIGTERM, so the watchdog is a separate small
    process (`gan_tf/startup_watchdog.py`): it names the peers that did not join and kills this
    one, unless its stdin closes first (when `make` returns, or this process ends).
    """
    watchdog = subprocess.Popen([sys.executable, startup_watchdog.__file__, str(os.getpid()), repr(timeout),
                                 json.dumps(others)], stdin=subprocess.PIPE)
    try:
        return make()
    except tf.errors.OpError as error:  # e.g. DeadlineExceeded on a task whose leader never came
        raise ValueError(f"{startup_watchdog.message(others, timeout)} ({type(error).__name__}: "
                         f"{error.message})") from None
    finally:
        watchdog.stdin.close()
        watchdog.wait()


def worker_subdirectory(raw=None):
    """Where this multi-worker task writes, relative to `--out_dir`: None for the chief.

    Every machine runs the same command, so on a shared filesystem all would write the
    same run directory (and the run lock would stop all but one). The chief (the
    `chief` task, else worker 0) owns `--out_dir`; any other task writes its own copy
    of the run (identical weights: they train in lockstep) to `--out_dir/<type>_<index>`.

    Args:
      raw: TF_CONFIG text (default: the environment variable).
    """
    config = check_tf_config(raw)
    task_type, index = config["task"]["type"], int(config["task"]["index"])
    if task_type == "chief" or ("chief" not in config["cluster"] and index == 0):
        return None
    return f"{task_type}_{index}"


def resolve_strategy_name(name, num_gpus):
    """The concrete strategy a `--strategy` value means on a machine with `num_gpus` GPUs.

    auto: `mirrored` when more than one GPU is visible, else `one_device`.
    """
    if name not in STRATEGIES:
        raise ValueError(f"strategy={name!r}: expected one of {', '.join(STRATEGIES)}.")
    if name == "auto":
        return "mirrored" if num_gpus > 1 else "one_device"
    return name


# Strategies made so far, reused by later calls in the same process: every new
# MirroredStrategy numbers its collective ops from the same start, so a second one
# (e.g. a second `run` in a notebook) collides with the first one's synchronized
# BatchNorm ops ("Shape mismatch in the collective instance 100").
_STRATEGIES = {}


def make_strategy(name="auto"):
    """Returns the `tf.distribute.Strategy` for a `--strategy` value.

    Args:
      name: one of `STRATEGIES`:
        auto: mirrored over all GPUs when more than one is visible, else one device.
        one_device: TensorFlow's default strategy (the first GPU, else the CPU).
        mirrored: all GPUs, or all logical CPU devices when there is no GPU
          (see `configure_cpu_devices`).
        multi_worker: MultiWorkerMirroredStrategy over the machines TF_CONFIG lists;
          every machine runs the same command with its own TF_CONFIG task index. A task
          whose peers have not all joined within $GAN_TF_WORKER_TIMEOUT seconds (300)
          prints which of them did not and is ended (by SIGKILL: TensorFlow catches
          SIGTERM while it waits).

    A process gets one strategy object per kind and device list: later calls return it.

    Raises:
      ValueError: an unknown name, or `multi_worker` without a valid TF_CONFIG (or a bad
        $GAN_TF_WORKER_TIMEOUT).
    """
    if name not in STRATEGIES:
        raise ValueError(f"strategy={name!r}: expected one of {', '.join(STRATEGIES)}.")
    if name == "multi_worker":
        # Checked before any device is touched, so a missing TF_CONFIG fails at once.
        config = check_tf_config()
        timeout = worker_timeout()
        if "multi_worker" not in _STRATEGIES:
            _STRATEGIES["multi_worker"] = _join_cluster(tf.distribute.MultiWorkerMirroredStrategy, peers(config),
                                                        timeout)
        return _STRATEGIES["multi_worker"]
    gpus = tf.config.list_logical_devices("GPU")
    name = resolve_strategy_name(name, len(gpus))
    if name == "one_device":
        return tf.distribute.get_strategy()
    devices = tuple(d.name for d in gpus) or tuple(d.name for d in tf.config.list_logical_devices("CPU"))
    key = ("mirrored", devices)
    if key not in _STRATEGIES:
        _STRATEGIES[key] = tf.distribute.MirroredStrategy(list(devices))
    return _STRATEGIES[key]


def strategy_name(strategy):
    """The public name of a strategy, for records and messages.

    `type(strategy).__name__` is an internal class name for two of them:
    MultiWorkerMirroredStrategy is a `CollectiveAllReduceStrategy`, and the one-device
    default is `_DefaultDistributionStrategy`.
    """
    public_names = (
        (tf.distribute.MultiWorkerMirroredStrategy, "MultiWorkerMirroredStrategy"),
        (tf.distribute.MirroredStrategy, "MirroredStrategy"),
        (tf.distribute.OneDeviceStrategy, "OneDeviceStrategy"),
    )
    for cls, public in public_names:
        if isinstance(strategy, cls):
            return public
    if strategy is tf.distribute.get_strategy() and not tf.distribute.has_strategy():
        return "default (one device)"
    return type(strategy).__name__


def check_global_batch(batch_size, strategy):
    """Raises ValueError unless the global batch splits evenly across the replicas.

    Each replica computes on batch_size / replicas examples; an uneven split would
    give replicas different batch sizes, and the averages would no longer be over the
    global batch.
    """
    replicas = strategy.num_replicas_in_sync
    if batch_size % replicas:
        lower = batch_size // replicas * replicas
        suggestions = " or ".join(str(b) for b in (lower, lower + replicas) if b > 0)
        raise ValueError(
            f"batch_size={batch_size} (the global batch) cannot be split evenly across the "
            f"{replicas} replicas of {strategy_name(strategy)}: use a multiple of {replicas} "
            f"(e.g. {suggestions})."
        )


def _on_cpu_only(strategy):
    devices = getattr(strategy.extended, "worker_devices", ())
    return all("GPU" not in d.upper() for d in devices)


def resolve_jit_compile(value, strategy):
    """`--jit_compile` to a bool.

    auto: XLA on GPUs only. On CPU, XLA:CPU does not use oneDNN and is slower than
    TensorFlow's own kernels (figures: experiments/benchmarks/README.md); under
    MirroredStrategy over logical CPU devices it fails.

    Raises:
      ValueError: a bad value, or `true` with MirroredStrategy over several CPU devices
        (TensorFlow then fails inside the first step with `Trying to access resource ...
        located in device CPU:1 from device CPU:0`).
    """
    if value not in JIT_CHOICES:
        raise ValueError(f"jit_compile={value!r}: expected one of {', '.join(JIT_CHOICES)}.")
    replicas = strategy.num_replicas_in_sync
    if value == "auto":
        return bool(tf.config.list_logical_devices("GPU")) and replicas == 1
    if (
        value == "true"
        and isinstance(strategy, tf.distribute.MirroredStrategy)
        and replicas > 1
        and _on_cpu_only(strategy)
    ):
        raise ValueError(
            f"jit_compile=true does not work with MirroredStrategy over {replicas} logical CPU "
            "devices (XLA cannot reach the other devices' variables): use --jit_compile=false "
            "or auto."
        )
    return value == "true"


def set_precision(policy):
    """Sets Keras's global dtype policy from a `--mixed_precision` value.

    mixed_float16 and mixed_bfloat16 compute in 16 bits and keep float32 variables;
    `GAN.compile` wraps both optimizers in loss scaling for float16, and the DCGAN
    networks return float32 images and logits, so losses are computed in float32.
    Warns when the policy will be slow on this machine (no GPU; no native bfloat16).

    Args:
      policy: one of `PRECISIONS` ("none" = float32).
    """
    if policy not in PRECISIONS:
        raise ValueError(f"mixed_precision={policy!r}: expected one of {', '.join(PRECISIONS)}.")
    keras.mixed_precision.set_global_policy("float32" if policy == "none" else policy)
    if policy != "none" and not tf.config.list_physical_devices("GPU"):
        if policy == "mixed_float16":
            logging.warning(
                "mixed_precision=mixed_float16 on a CPU: float16 convolutions are emulated "
                "and several times slower than float32; it is meant for GPUs."
            )
        elif not has_native_bfloat16():
            logging.warning(
                "mixed_precision=mixed_bfloat16 on a CPU without %s: bfloat16 convolutions "
                "are emulated and much slower than float32.",
                " or ".join(_NATIVE_BF16_FLAGS),
            )
