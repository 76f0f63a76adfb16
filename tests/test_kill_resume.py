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

from gan_tf import cpu

ARGS = ["--out_dir=run", "--epochs=12", "--steps_per_epoch=3", "--batch_size=8", "--width=4",
        "--latent_dim=8", "--sample_grid=4", "--verbose=0", "--seed=11"]


def _command(data_dir, experiment="mnist"):
    return [sys.executable, "-m", f"gan_tf.experiments.{experiment}", f"--data_dir={data_dir}", *ARGS]


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


def _kill_and_rerun(data_dir, run_dir, trial, experiment="mnist"):
    """Starts the run, SIGKILLs it at a random moment, reruns the same command; returns the final state."""
    rng = random.Random(trial)
    # A random epoch, then a random moment inside the next one; at least eight epochs
    # remain, so the run cannot finish before the kill even on a loaded machine.
    kill_after_checkpoints = rng.randint(1, 4)
    process = subprocess.Popen(_command(data_dir, experiment), cwd=run_dir, env=_env(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        pattern = str(run_dir / "run" / "checkpoints" / "ckpt-*.npz")
        while _epochs_done(pattern) < kill_after_checkpoints and process.poll() is None:
            assert time.monotonic() < deadline, "training never reached the kill point"
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 0.02))
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert not glob.glob(str(run_dir / "run" / "checkpoints" / "ckpt-000012.npz"))

    # The same command again: stale lock taken over, newest checkpoint restored.
    subprocess.run(_command(data_dir, experiment), cwd=run_dir, env=_env(), check=True, capture_output=True,
                   timeout=600)
    lines = (run_dir / "run" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == list(range(1, 13))
    assert not (run_dir / "run" / ".lock").exists()
    return _final_state(str(run_dir / "run"))


@pytest.mark.slow
@pytest.mark.parametrize("trial", range(3))
def test_sigkill_then_rerun_matches_uninterrupted_run(data_dir, uninterrupted, tmp_path, trial):
    resumed = _kill_and_rerun(data_dir, tmp_path, trial)
    assert resumed.keys() == uninterrupted.keys()
    for key in uninterrupted:
        np.testing.assert_array_equal(resumed[key], uninterrupted[key], err_msg=key)
    assert int(resumed["g_optimizer/0000"]) == 36  # exact step count: 12 epochs × 3 steps
    # Under the precision the CLI chooses on this machine (--mixed_precision=auto: bfloat16 where the
    # CPU has it natively), like every run its users start.
    resolved = json.loads((tmp_path / "run" / "config.json").read_text())["resolved"]
    policy = cpu.choose_precision()[0]
    assert resolved["precision"] == {"none": "float32"}.get(policy, policy)


@pytest.mark.slow
def test_a_killed_vae_run_reruns_to_the_uninterrupted_runs_end(data_dir, tmp_path_factory, tmp_path):
    # The VAE baseline through the same runner: its encoder, decoder, noise seed and optimizer.
    straight = tmp_path_factory.mktemp("uninterrupted_vae")
    subprocess.run(_command(data_dir, "vae"), cwd=straight, env=_env(), check=True, capture_output=True, timeout=600)
    uninterrupted = _final_state(str(straight / "run"))
    resumed = _kill_and_rerun(data_dir, tmp_path, trial=0, experiment="vae")
    assert resumed.keys() == uninterrupted.keys()
    assert {key.split("/")[0] for key in resumed if not key.startswith("__")} == {"encoder", "decoder", "noise_seed",
                                                                                  "optimizer"}
    for key in uninterrupted:
        np.testing.assert_array_equal(resumed[key], uninterrupted[key], err_msg=key)
    assert int(resumed["optimizer/0000"]) == 36
    metrics = [json.loads(line) for line in (straight / "run" / "metrics.jsonl").read_text().splitlines()]
    rerun = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["val_psnr"] for r in rerun] == [r["val_psnr"] for r in metrics]
