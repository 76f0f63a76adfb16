"""SIGKILL a training process at random points; rerunning the same command must end
exactly where an uninterrupted run ends (bitwise, with deterministic ops)."""
import glob
import json
import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

ARGS = ["--out_dir=run", "--epochs=12", "--steps_per_epoch=3", "--batch_size=8", "--width=4",
        "--latent_dim=8", "--sample_grid=4", "--verbose=0", "--seed=11"]


def _command(data_dir):
    return [sys.executable, "-m", "gan_tf.experiments.mnist", f"--data_dir={data_dir}", *ARGS]


def _env():
    return dict(os.environ, GAN_TF_OFFLINE="1", TF_DETERMINISTIC_OPS="1")


def _final_state(run_dir):
    path = os.path.join(run_dir, "checkpoints", "ckpt-000012.npz")
    with np.load(path, allow_pickle=False) as stored:
        # __paths__ holds auto-numbered layer names, __meta__ wall-clock training time.
        return {key: stored[key] for key in stored.files if key not in ("__paths__", "__meta__")}


def _epochs_done(pattern):
    # The newest checkpoint's number, not the file count: only the newest 3 are kept.
    return max((int(os.path.basename(p)[5:11]) for p in glob.glob(pattern)), default=0)


@pytest.fixture(scope="module")
def data_dir(tiny_mnist):
    return tiny_mnist(train=40, test=10, seed=0)


@pytest.fixture(scope="module")
def uninterrupted(data_dir, tmp_path_factory):
    cwd = tmp_path_factory.mktemp("uninterrupted")
    subprocess.run(_command(data_dir), cwd=cwd, env=_env(), check=True, capture_output=True, timeout=600)
    return _final_state(str(cwd / "run"))


@pytest.mark.slow
@pytest.mark.parametrize("trial", range(3))
def test_sigkill_then_rerun_matches_uninterrupted_run(data_dir, uninterrupted, tmp_path, trial):
    rng = random.Random(trial)
    # A random epoch, then a random moment inside the next one; at least eight epochs
    # remain, so the run cannot finish before the kill even on a loaded machine.
    kill_after_checkpoints = rng.randint(1, 4)
    process = subprocess.Popen(_command(data_dir), cwd=tmp_path, env=_env(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        pattern = str(tmp_path / "run" / "checkpoints" / "ckpt-*.npz")
        while _epochs_done(pattern) < kill_after_checkpoints and process.poll() is None:
            assert time.monotonic() < deadline, "training never reached the kill point"
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 0.02))
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert not glob.glob(str(tmp_path / "run" / "checkpoints" / "ckpt-000012.npz"))

    # The same command again: stale lock taken over, newest checkpoint restored.
    subprocess.run(_command(data_dir), cwd=tmp_path, env=_env(), check=True, capture_output=True, timeout=600)
    resumed = _final_state(str(tmp_path / "run"))
    assert resumed.keys() == uninterrupted.keys()
    for key in uninterrupted:
        np.testing.assert_array_equal(resumed[key], uninterrupted[key], err_msg=key)
    assert int(resumed["g_optimizer/0000"]) == 36  # exact step count: 12 epochs × 3 steps
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == list(range(1, 13))
    assert not (tmp_path / "run" / ".lock").exists()
