"""`python -m gan_tf.experiments.mnist` as a user runs it: bad input fails cleanly."""
import gzip
import os
import struct
import subprocess
import sys

import numpy as np
import pytest


def _cli(*args, cwd):
    env = dict(os.environ, GAN_TF_OFFLINE="1")
    return subprocess.run(
        [sys.executable, "-m", "gan_tf.experiments.mnist", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
    )


@pytest.mark.parametrize("flag, message", [
    ("--batch_size=0", "flag --batch_size=0: expected a positive integer"),
    ("--latent_dim=-1", "flag --latent_dim=-1: expected a positive integer"),
    ("--loss=nonsense", "flag --loss=nonsense: expected one of minimax, non_saturating"),
    ("--data_dir=/does/not/exist", "flag --data_dir=/does/not/exist: expected an existing directory or .zip file"),
    ("--data_source=floppy", "flag --data_source=floppy: expected one of auto, files"),
])
def test_bad_flags_fail_at_parse_time(tmp_path, flag, message):
    result = _cli(flag, f"--out_dir={tmp_path / 'run'}", cwd=tmp_path)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "run").exists()  # nothing created


def _write_idx(path, magic, dims, payload):
    with gzip.open(path, "wb") as f:
        f.write(struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in dims) + payload)


def test_broken_idx_file_is_named_and_nothing_is_written(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    images = np.zeros((10, 28, 28), np.uint8).tobytes()
    _write_idx(data / "train-images-idx3-ubyte.gz", 0x00000999, (10, 28, 28), images)  # bad magic
    _write_idx(data / "train-labels-idx1-ubyte.gz", 0x00000801, (10,), bytes(10))
    result = _cli(f"--data_dir={data}", f"--out_dir={tmp_path / 'run'}", cwd=tmp_path)
    assert result.returncode == 1
    assert "error:" in result.stderr and "train-images-idx3-ubyte.gz" in result.stderr
    assert "magic" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "run").exists()


def test_tiny_cli_run_trains_and_resumes(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    rng = np.random.RandomState(0)
    np.savez(data / "mnist.npz", x_train=rng.randint(0, 256, (16, 28, 28)).astype(np.uint8),
             y_train=np.arange(16) % 10, x_test=np.zeros((4, 28, 28), np.uint8), y_test=np.arange(4))
    args = [f"--data_dir={data}", "--out_dir=run", "--epochs=1", "--steps_per_epoch=1",
            "--batch_size=8", "--width=4", "--latent_dim=8", "--sample_grid=4", "--verbose=0"]
    first = _cli(*args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    assert (tmp_path / "run" / "samples" / "final.png").exists()
    second = _cli(*args[:-1], "--epochs=2", "--verbose=2", cwd=tmp_path)
    assert second.returncode == 0, second.stderr[-2000:]
    assert "Resumed from" in second.stderr and "ckpt-000001.npz" in second.stderr
    assert "epoch 2/2  d_loss" in second.stdout and "Finished 2 epochs" in second.stdout
