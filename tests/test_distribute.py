"""Strategies, XLA and mixed precision: flag resolution, clear refusals, and runs that
agree across one device, two replicas, two worker processes and XLA."""
import json
import os
import socket
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from gan_tf import GAN, distribute, networks
from gan_tf.experiments.config import ExperimentConfig
from gan_tf.experiments.runner import run
from gan_tf.networks.layers import stateless_normal, stateless_uniform

LATENT = 4


# ------------------------------------------------------------------ helpers
@pytest.fixture(scope="module")
def data_dir(tiny_mnist):
    """A tiny MNIST-like mnist.npz: 32 train and 8 test images of bars at varying rows."""
    return tiny_mnist(train=32, test=8, pattern="bars")


def _config(data_dir, out_dir, **changes):
    config = ExperimentConfig(
        dataset="mnist", out_dir=str(out_dir), epochs=1, steps_per_epoch=3, batch_size=8,
        latent_dim=8, width=4, sample_grid=4, data_dir=data_dir, verbose=0, seed=5,
    )
    return config.replace(**changes)


def _cli_args(config):
    """Command-line flags equal to `config` (the fields _config sets)."""
    names = ("out_dir", "epochs", "steps_per_epoch", "batch_size", "latent_dim", "width",
             "sample_grid", "data_dir", "verbose", "seed", "strategy")
    return [f"--{name}={getattr(config, name)}" for name in names]


def _cli_env(**extra):
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    env.update(GAN_TF_OFFLINE="1", TF_CPP_MIN_LOG_LEVEL="2", **extra)
    return env


def _checkpoint(out_dir, epoch=1):
    with np.load(os.path.join(out_dir, "checkpoints", f"ckpt-{epoch:06d}.npz")) as stored:
        return {key: stored[key] for key in stored.files if key != "__paths__"}


def _tiny_gan(dropout=0.3, **compile_kwargs):
    keras.utils.set_random_seed(1)
    generator = networks.dcgan_generator(LATENT, (8, 8, 1), width=4)
    discriminator = networks.dcgan_discriminator((8, 8, 1), width=4, dropout=dropout)
    gan = GAN(generator, discriminator, LATENT, seed=3)
    gan.compile(
        d_optimizer=keras.optimizers.Adam(1e-2, beta_1=0.5),
        g_optimizer=keras.optimizers.Adam(1e-2, beta_1=0.5),
        **compile_kwargs,
    )
    return gan


def _images(n=24, seed=0):
    return np.random.RandomState(seed).uniform(-1, 1, (n, 8, 8, 1)).astype(np.float32)


def _weights(gan):
    return [v.numpy() for v in gan.generator.weights + gan.discriminator.weights]


def _mirrored():
    # The process-wide one: a second MirroredStrategy in a process collides on collective keys.
    return distribute.make_strategy("mirrored")


# ------------------------------------------------------- --strategy resolution
@pytest.mark.parametrize("name, gpus, expected", [
    ("auto", 0, "one_device"), ("auto", 1, "one_device"), ("auto", 2, "mirrored"),
    ("auto", 8, "mirrored"), ("one_device", 4, "one_device"), ("mirrored", 0, "mirrored"),
    ("multi_worker", 0, "multi_worker"),
])
def test_strategy_names_resolve(name, gpus, expected):
    assert distribute.resolve_strategy_name(name, gpus) == expected


def test_unknown_strategy_is_named():
    with pytest.raises(ValueError, match="strategy='tpu': expected one of auto, one_device, mirrored, multi_worker"):
        distribute.make_strategy("tpu")


def test_strategies_on_this_cpu():
    # No GPU: auto is TensorFlow's default (one device); mirrored spans the 2 logical
    # CPUs conftest.py configures.
    assert distribute.make_strategy("auto") is tf.distribute.get_strategy()
    assert distribute.make_strategy("one_device").num_replicas_in_sync == 1
    mirrored = distribute.make_strategy("mirrored")
    assert isinstance(mirrored, tf.distribute.MirroredStrategy)
    assert mirrored.num_replicas_in_sync == 2
    # Reused: a second MirroredStrategy in one process would collide with the first
    # one's collective ops (synchronized BatchNorm) in a second run.
    assert distribute.make_strategy("mirrored") is mirrored
    # Records and messages use the public names, not TensorFlow's internal class names.
    assert distribute.strategy_name(mirrored) == "MirroredStrategy"
    assert distribute.strategy_name(tf.distribute.get_strategy()) == "default (one device)"


def test_auto_mirrors_over_all_gpus_when_there_are_several(monkeypatch):
    fake_gpus = [tf.config.LogicalDevice(f"/device:GPU:{i}", "GPU") for i in range(3)]
    real_list = tf.config.list_logical_devices
    monkeypatch.setattr(
        tf.config, "list_logical_devices",
        lambda kind=None: fake_gpus if kind == "GPU" else real_list(kind),
    )
    created = []
    monkeypatch.setattr(tf.distribute, "MirroredStrategy", lambda devices: created.append(devices) or "mirrored")
    monkeypatch.setattr(distribute, "_STRATEGIES", {})
    assert distribute.make_strategy("auto") == "mirrored"
    assert created == [["/device:GPU:0", "/device:GPU:1", "/device:GPU:2"]]


# ------------------------------------------------------------ the global batch
def test_uneven_batch_split_is_refused_with_a_clear_message():
    strategy = _mirrored()
    distribute.check_global_batch(8, strategy)  # 4 per replica: fine
    with pytest.raises(ValueError) as error:
        distribute.check_global_batch(7, strategy)
    assert str(error.value) == (
        "batch_size=7 (the global batch) cannot be split evenly across the 2 replicas of "
        "MirroredStrategy: use a multiple of 2 (e.g. 6 or 8)."
    )


def test_run_refuses_an_uneven_split_before_any_work(data_dir, tmp_path):
    with pytest.raises(ValueError, match="batch_size=7 .* 2 replicas"):
        run(_config(data_dir, tmp_path / "run", strategy="mirrored", batch_size=7))
    assert not (tmp_path / "run").exists()


# ------------------------------------------------------------------ TF_CONFIG
def test_multi_worker_without_tf_config_fails_before_touching_tensorflow(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    # Must raise before MultiWorkerMirroredStrategy is created (it would reconfigure
    # this process's TensorFlow context).
    monkeypatch.setattr(tf.distribute, "MultiWorkerMirroredStrategy", lambda: pytest.fail("created"))
    with pytest.raises(ValueError, match="strategy=multi_worker needs the TF_CONFIG environment variable"):
        distribute.make_strategy("multi_worker")


@pytest.mark.parametrize("raw, message", [
    ("not json", "is not a valid cluster description"),
    ('{"cluster": {"worker": ["a:1"]}}', "is not a valid cluster description .*KeyError"),
    ('{"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 2}}',
     r"task index 2 is outside the 2 worker address\(es\) listed"),
    ('{"cluster": {"ps": ["a:1"]}, "task": {"type": "ps", "index": 0}}', "task type 'ps'"),
])
def test_bad_tf_config_is_explained(raw, message):
    with pytest.raises(ValueError, match=message):
        distribute.check_tf_config(raw)


@pytest.mark.parametrize("cluster, task, expected", [
    ({"worker": ["a:1", "b:1"]}, {"type": "worker", "index": 0}, None),
    ({"worker": ["a:1", "b:1"]}, {"type": "worker", "index": 1}, "worker_1"),
    ({"chief": ["c:1"], "worker": ["a:1"]}, {"type": "chief", "index": 0}, None),
    ({"chief": ["c:1"], "worker": ["a:1"]}, {"type": "worker", "index": 0}, "worker_0"),
])
def test_only_the_chief_writes_the_out_dir_itself(cluster, task, expected):
    raw = json.dumps({"cluster": cluster, "task": task})
    assert distribute.worker_subdirectory(raw) == expected


def test_good_tf_config_is_returned():
    raw = '{"cluster": {"chief": ["a:1"], "worker": ["b:2"]}, "task": {"type": "chief", "index": 0}}'
    assert distribute.check_tf_config(raw)["cluster"]["worker"] == ["b:2"]


@pytest.mark.slow
@pytest.mark.parametrize("flags, message", [
    (["--strategy=multi_worker"], "error: strategy=multi_worker needs the TF_CONFIG environment variable"),
    (["--strategy=mirrored", "--cpu_devices=2", "--batch_size=7"],
     "error: batch_size=7 (the global batch) cannot be split evenly across the 2 replicas"),
])
def test_cli_refuses_bad_distribution_settings_without_a_traceback(data_dir, tmp_path, flags, message):
    args = [f"--data_dir={data_dir}", f"--out_dir={tmp_path / 'run'}", *flags]
    result = subprocess.run([sys.executable, "-m", "gan_tf.experiments.mnist", *args],
                            cwd=tmp_path, env=_cli_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stderr[-2000:]
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "run").exists()


# ------------------------------------------------- two worker processes (MWMS)
def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


@pytest.mark.slow
def test_two_worker_processes_end_with_identical_weights(data_dir, tmp_path):
    # Two processes on 127.0.0.1, one CPU replica each, run the real CLI under
    # MultiWorkerMirroredStrategy. They must end with identical weights, optimizer
    # states and RNG states, equal to those of a 2-replica MirroredStrategy run of the
    # same flags over 2 logical CPUs (same global batch, synchronized BatchNorm). Each
    # run gets its own process: TensorFlow's distributed state is per process.
    workers = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    commands = []
    for index in range(2):
        # The same --out_dir, as on machines sharing a filesystem: worker 0 (the chief)
        # owns it, worker 1 writes its copy of the run to <out_dir>/worker_1.
        config = _config(data_dir, tmp_path / "cluster", strategy="multi_worker")
        tf_config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        commands.append((_cli_args(config), _cli_env(TF_CONFIG=json.dumps(tf_config))))
    config = _config(data_dir, tmp_path / "mirrored", strategy="mirrored")
    commands.append((_cli_args(config) + ["--cpu_devices=2"], _cli_env()))
    processes, logs = [], []
    try:
        for index, (args, env) in enumerate(commands):
            log = open(tmp_path / f"process{index}.log", "w+")
            logs.append(log)
            processes.append(subprocess.Popen(
                [sys.executable, "-m", "gan_tf.experiments.mnist", *args],
                cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT,
            ))
        deadline = time.monotonic() + 240  # a bound for a loaded machine; ~20 s when idle
        for process in processes:
            process.wait(timeout=max(1.0, deadline - time.monotonic()))
        for index, (process, log) in enumerate(zip(processes, logs)):
            log.seek(0)
            assert process.returncode == 0, f"process {index}:\n{log.read()[-3000:]}"
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
        for log in logs:
            log.close()

    first, second = _checkpoint(tmp_path / "cluster"), _checkpoint(tmp_path / "cluster" / "worker_1")
    assert first.keys() == second.keys() and len(first) > 10
    for key in first.keys() - {"__meta__"}:  # __meta__ holds each worker's own wall-clock seconds
        np.testing.assert_array_equal(first[key], second[key], err_msg=key)
    assert first["g_optimizer/0000"] == 3  # iterations: 3 steps were taken
    mirrored = _checkpoint(tmp_path / "mirrored")
    assert mirrored.keys() == first.keys()
    for key in first.keys() - {"__meta__"}:
        if first[key].dtype.kind in "US":  # the variables' paths: equal as text
            np.testing.assert_array_equal(first[key], mirrored[key], err_msg=key)
        else:
            np.testing.assert_allclose(first[key], mirrored[key], rtol=1e-5, atol=1e-6, err_msg=key)
    resolved = {name: json.loads((tmp_path / name / "config.json").read_text())["resolved"]
                for name in ("cluster", "cluster/worker_1", "mirrored")}
    assert all(r["replicas"] == 2 for r in resolved.values())
    # Recorded by its public name, not its class name CollectiveAllReduceStrategy.
    assert resolved["cluster"]["strategy"] == "MultiWorkerMirroredStrategy"
    assert resolved["mirrored"]["strategy"] == "MirroredStrategy"


# -------------------------------------------------------------------- XLA
def test_jit_compile_resolution_on_this_cpu():
    one, mirrored = tf.distribute.get_strategy(), _mirrored()
    assert distribute.resolve_jit_compile("auto", one) is False  # no GPU: XLA is slower here
    assert distribute.resolve_jit_compile("auto", mirrored) is False
    assert distribute.resolve_jit_compile("true", one) is True
    assert distribute.resolve_jit_compile("false", mirrored) is False
    with pytest.raises(ValueError, match="jit_compile=true does not work with MirroredStrategy over 2 logical CPU"):
        distribute.resolve_jit_compile("true", mirrored)
    with pytest.raises(ValueError, match="jit_compile='yes': expected one of auto, true, false"):
        distribute.resolve_jit_compile("yes", one)


def test_random_draws_are_the_same_with_and_without_xla():
    # tf.random.stateless_normal/uniform give other values under XLA; ours must not.
    def draws(seed):
        return stateless_normal((1000, 3), seed), stateless_uniform((500,), seed)

    # Small seeds, and large ones (XLA scrambles seeds >= 2^31 differently).
    for seed in ([7, 11], [2**40 + 3, -5]):
        seed = tf.constant(seed, tf.int64)
        plain, compiled = tf.function(draws)(seed), tf.function(draws, jit_compile=True)(seed)
        np.testing.assert_allclose(plain[0].numpy(), compiled[0].numpy(), rtol=1e-6, atol=1e-6)
        np.testing.assert_array_equal(plain[1].numpy(), compiled[1].numpy())


def test_random_draws_have_the_right_distribution():
    n = 200_000
    normal = stateless_normal((n,), tf.constant([1, 2], tf.int64)).numpy().astype(np.float64)
    uniform = stateless_uniform((n,), tf.constant([3, 4], tf.int64)).numpy().astype(np.float64)
    # Moments against their closed forms, within 5 standard errors.
    assert abs(normal.mean()) < 5 / np.sqrt(n)
    assert abs(normal.var() - 1.0) < 5 * np.sqrt(2.0 / n)
    assert abs(np.mean(normal**4) - 3.0) < 5 * np.sqrt(96.0 / n)
    assert abs(np.mean(np.abs(normal) < 1.0) - 0.682689492) < 5 * np.sqrt(0.2166 / n)
    assert uniform.min() >= 0.0 and uniform.max() < 1.0
    assert abs(uniform.mean() - 0.5) < 5 * np.sqrt(1 / 12 / n)
    assert abs(uniform.var() - 1 / 12) < 5 * np.sqrt(1 / 180 / n)
    # Different seeds, different streams.
    other = stateless_normal((n,), tf.constant([1, 3], tf.int64)).numpy()
    assert abs(np.corrcoef(normal, other)[0, 1]) < 5 / np.sqrt(n)


def test_jit_compile_true_trains_like_false_on_one_cpu_device():
    # Same seeds, same data, dropout on: XLA must give the same losses and weights
    # (kernels differ, so equal within float tolerance, not bit for bit).
    dataset = tf.data.Dataset.from_tensor_slices(_images()).batch(8, drop_remainder=True)
    histories, weights = [], []
    for jit_compile in (False, True):
        gan = _tiny_gan(jit_compile=jit_compile)
        histories.append(gan.fit(dataset, epochs=1, verbose=0).history)
        weights.append(_weights(gan))
        assert gan.g_optimizer.iterations.numpy() == 3
    for key in ("d_loss", "g_loss", "d_real", "d_fake"):
        np.testing.assert_allclose(histories[0][key], histories[1][key], rtol=1e-4, atol=1e-5, err_msg=key)
    for a, b in zip(*weights):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5)


# ---------------------------------------------------------- mixed precision
@pytest.fixture
def precision():
    """Sets a global dtype policy for one test and always restores float32."""
    yield distribute.set_precision
    keras.mixed_precision.set_global_policy("float32")


def _one_step_logs(gan):
    return {key: value.numpy() for key, value in gan.train_step(tf.constant(_images(8))).items()}


def test_mixed_bfloat16_builds_trains_and_returns_float32(precision):
    precision("mixed_bfloat16")
    gan = _tiny_gan()
    convolutions = [layer for layer in gan.generator.layers + gan.discriminator.layers
                    if isinstance(layer, (keras.layers.Conv2D, keras.layers.Conv2DTranspose))]
    assert convolutions and all(layer.compute_dtype == "bfloat16" for layer in convolutions)
    assert all(v.dtype == "float32" for v in gan.generator.trainable_variables)
    assert not isinstance(gan.d_optimizer, keras.optimizers.LossScaleOptimizer)  # bf16 needs none
    before = _weights(gan)
    logs = _one_step_logs(gan)
    for key, value in logs.items():
        assert value.dtype == np.float32 and np.isfinite(value).all(), key
    assert any(not np.array_equal(a, b) for a, b in zip(before, _weights(gan)))
    images = gan.generate(4, seed=0)
    assert images.dtype == tf.float32 and np.abs(images.numpy()).max() <= 1.0
    assert gan.discriminator(images).dtype == tf.float32


def test_mixed_float16_scales_both_losses_and_trains_a_step_on_cpu(precision):
    precision("mixed_float16")
    gan = _tiny_gan()
    for optimizer in (gan.d_optimizer, gan.g_optimizer):
        assert isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
        assert optimizer.built
    assert gan.d_optimizer is not gan.g_optimizer
    logs = _one_step_logs(gan)  # float16 kernels exist on CPU, if slow
    for key, value in logs.items():
        assert value.dtype == np.float32 and np.isfinite(value).all(), key
    for optimizer in (gan.d_optimizer, gan.g_optimizer):
        # Finite scaled gradients: the step was applied and the scale kept (2^15).
        assert optimizer.iterations.numpy() == 1
        assert optimizer.dynamic_scale.numpy() == 2.0**15
    assert gan.generate(2, seed=0).dtype == tf.float32


def test_unknown_precision_is_named(precision):
    with pytest.raises(ValueError, match="mixed_precision='fp8': expected one of none, mixed_float16, mixed_bfloat16"):
        precision("fp8")
    precision("none")
    assert keras.mixed_precision.global_policy().name == "float32"


@pytest.mark.parametrize("value", ["0", "-5", "inf", "nan", "soon"])
def test_a_bad_worker_timeout_is_named(value):
    with pytest.raises(ValueError, match=rf"GAN_TF_WORKER_TIMEOUT='{value}': expected a finite number of seconds > 0"):
        distribute.worker_timeout({"GAN_TF_WORKER_TIMEOUT": value})
    assert distribute.worker_timeout({}) == distribute.DEFAULT_WORKER_TIMEOUT


@pytest.mark.slow
def test_a_multi_worker_run_whose_peer_is_absent_stops_after_the_start_up_timeout(data_dir, tmp_path):
    # Nobody listens on the peer's port: TensorFlow's coordination service would wait for it for
    # ever (and swallow SIGTERM); the watchdog names the peer and ends the run once the wait is over.
    own, absent = _free_ports(2)
    tf_config = {"cluster": {"worker": [f"127.0.0.1:{own}", f"127.0.0.1:{absent}"]},
                 "task": {"type": "worker", "index": 0}}
    config = _config(data_dir, tmp_path / "run", strategy="multi_worker")
    result = subprocess.run(
        [sys.executable, "-m", "gan_tf.experiments.mnist", *_cli_args(config)], cwd=tmp_path,
        env=_cli_env(TF_CONFIG=json.dumps(tf_config), GAN_TF_WORKER_TIMEOUT="5"),
        capture_output=True, text=True, timeout=240)
    assert result.returncode == -9, result.stderr[-3000:]  # SIGKILL: TensorFlow catches SIGTERM while it waits
    assert (f"error: strategy=multi_worker: worker 1 at 127.0.0.1:{absent} (TF_CONFIG) did not join within 5 s "
            "of start-up (nothing answers on its port)") in result.stderr, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "run" / "checkpoints").exists()
