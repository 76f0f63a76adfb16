"""Fault injection: NaN losses, failed and interrupted saves, locks, unwritable directories."""
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from gan_tf import GAN, networks
from gan_tf.callbacks import Checkpoint, NonFiniteGuard, NonFiniteLossError
from gan_tf.checkpoints import CheckpointManager
from gan_tf.experiments.config import ExperimentConfig
from gan_tf.experiments.runner import run
from gan_tf.run_lock import RunLock, RunLockedError


def _gan():
    keras.utils.set_random_seed(0)
    gan = GAN(networks.dcgan_generator(4, (8, 8, 1), width=4),
              networks.dcgan_discriminator((8, 8, 1), width=4), 4, seed=0)
    gan.compile(d_optimizer=keras.optimizers.Adam(), g_optimizer=keras.optimizers.Adam())
    return gan


def _batches(values):
    return tf.data.Dataset.from_tensor_slices(np.asarray(values, np.float32)).batch(4, drop_remainder=True)


def test_nan_stops_training_at_once_and_keeps_the_last_good_checkpoint(tmp_path):
    gan = _gan()
    manager = CheckpointManager(gan, str(tmp_path))
    callbacks = [NonFiniteGuard(), Checkpoint(manager)]
    gan.fit(_batches(np.zeros((8, 8, 8, 1))), epochs=1, callbacks=callbacks, verbose=0)
    poisoned = np.zeros((8, 8, 8, 1))
    poisoned[1, 3, 3, 0] = np.nan
    with pytest.raises(NonFiniteLossError, match=r"d_loss is nan at training step 3"):
        gan.fit(_batches(poisoned), epochs=2, initial_epoch=1, callbacks=callbacks, verbose=0)
    assert [epoch for epoch, _ in manager.checkpoints()] == [1]
    with np.load(manager.checkpoints()[0][1]) as stored:
        assert all(np.all(np.isfinite(stored[k])) for k in stored.files if stored[k].dtype.kind == "f")


def test_failed_save_keeps_previous_checkpoint(tmp_path, monkeypatch):
    gan = _gan()
    manager = CheckpointManager(gan, str(tmp_path))
    manager.save(1)

    def disk_full(file, **arrays):
        file.write(b"half a checkpoint")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", disk_full)
    with pytest.raises(OSError, match="ckpt-000002.npz.*No space left.*earlier checkpoints are intact"):
        manager.save(2)
    monkeypatch.undo()
    assert sorted(os.listdir(tmp_path)) == ["ckpt-000001.npz"]
    assert CheckpointManager(_gan(), str(tmp_path)).restore_latest() == 1


def test_write_interrupted_by_a_kill_is_never_taken_as_complete(tmp_path):
    gan = _gan()
    manager = CheckpointManager(gan, str(tmp_path))
    manager.save(1)
    # What a SIGKILL during save leaves behind: the temporary file, never the final name.
    (tmp_path / "ckpt-000002.npz.partial").write_bytes(b"PK\x03\x04 truncated")
    assert [epoch for epoch, _ in manager.checkpoints()] == [1]
    assert manager.restore_latest() == 1


def test_all_checkpoints_unreadable_stops_instead_of_starting_afresh(tmp_path):
    (tmp_path / "ckpt-000001.npz").write_bytes(b"garbage")
    from gan_tf.checkpoints import CheckpointError

    with pytest.raises(CheckpointError, match="ckpt-000001.npz"):
        CheckpointManager(_gan(), str(tmp_path)).restore_latest()


def test_checkpoint_of_another_model_is_rejected_by_shape(tmp_path):
    CheckpointManager(_gan(), str(tmp_path)).save(1)
    other = GAN(networks.dcgan_generator(4, (8, 8, 1), width=8),
                networks.dcgan_discriminator((8, 8, 1), width=8), 4)
    other.compile(d_optimizer=keras.optimizers.Adam(), g_optimizer=keras.optimizers.Adam())
    with pytest.raises(ValueError, match="shape"):
        CheckpointManager(other, str(tmp_path)).restore(str(tmp_path / "ckpt-000001.npz"))


def test_second_run_on_a_directory_is_refused_and_stale_lock_taken_over(tmp_path):
    with RunLock(str(tmp_path)):
        with pytest.raises(RunLockedError, match=f"in use by pid {os.getpid()}"):
            RunLock(str(tmp_path)).acquire()
    assert not (tmp_path / ".lock").exists()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    import json
    import socket

    (tmp_path / ".lock").write_text(json.dumps({"host": socket.gethostname(), "pid": dead.pid, "since": "then"}))
    with RunLock(str(tmp_path)):  # stale: its process is gone
        assert json.loads((tmp_path / ".lock").read_text())["pid"] == os.getpid()


def test_unwritable_out_dir_fails_before_training(tmp_path, tiny_mnist):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    data = tiny_mnist(train=16, test=4)
    config = ExperimentConfig(out_dir=str(blocker / "run"), data_dir=data, epochs=1, batch_size=8,
                              width=4, latent_dim=4, verbose=0)
    with pytest.raises(OSError, match="a_file/run"):
        run(config)


# The lock module alone, so that helper processes start without importing TensorFlow.
_LOCK_SCRIPT = """
import importlib.util, os, sys, time
spec = importlib.util.spec_from_file_location("run_lock", {module!r})
run_lock = importlib.util.module_from_spec(spec)
spec.loader.exec_module(run_lock)
directory, go, release = sys.argv[1:4]
while not os.path.exists(go):
    time.sleep(0.01)
try:
    lock = run_lock.RunLock(directory).acquire()
except run_lock.RunLockedError:
    print("refused", flush=True)
    sys.exit(0)
print("got", flush=True)
while not os.path.exists(release):
    time.sleep(0.01)
lock.release()
"""


def _lock_processes(tmp_path, count):
    import gan_tf.run_lock

    script = _LOCK_SCRIPT.format(module=gan_tf.run_lock.__file__)
    args = [str(tmp_path / "run"), str(tmp_path / "go"), str(tmp_path / "release")]
    (tmp_path / "run").mkdir(exist_ok=True)
    return [subprocess.Popen([sys.executable, "-c", script, *args], stdout=subprocess.PIPE, text=True)
            for _ in range(count)]


def test_racing_processes_get_the_lock_exactly_once_and_a_killed_holder_frees_it(tmp_path):
    processes = _lock_processes(tmp_path, 6)
    (tmp_path / "go").touch()
    outcomes = [process.stdout.readline().strip() for process in processes]
    assert sorted(outcomes) == ["got"] + ["refused"] * 5
    holder = processes[outcomes.index("got")]
    with pytest.raises(RunLockedError, match=f"in use by pid {holder.pid}"):
        RunLock(str(tmp_path / "run")).acquire()
    holder.kill()  # SIGKILL: no clean-up runs; the kernel drops the flock
    for process in processes:
        process.wait()
    assert (tmp_path / "run" / ".lock").exists()
    with RunLock(str(tmp_path / "run")):
        pass
    assert not (tmp_path / "run" / ".lock").exists()


@pytest.mark.parametrize("content", [b"", b"{garbled", b'{"host": "elsewhere", "pid": 1}'])
def test_an_empty_or_garbled_or_foreign_lock_file_is_no_obstacle(tmp_path, content):
    (tmp_path / ".lock").write_bytes(content)  # e.g. a kill between creating and writing it
    with RunLock(str(tmp_path)):
        import json

        assert json.loads((tmp_path / ".lock").read_text())["pid"] == os.getpid()


def test_a_symlinked_lock_is_refused_and_its_target_untouched(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious")
    (tmp_path / "run").mkdir()
    os.symlink(victim, tmp_path / "run" / ".lock")
    with pytest.raises(OSError, match="is a symlink"):
        RunLock(str(tmp_path / "run")).acquire()
    assert victim.read_text() == "precious"
