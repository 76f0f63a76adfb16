"""`python -m gan_tf.experiments.<name>` as a user runs it: `--help` and bad input answer without
TensorFlow, bad input fails cleanly, a tiny run trains and resumes."""
import gzip
import json
import os
import struct
import subprocess
import sys

import numpy as np
import pytest

from gan_tf import cpu


def _cli(*args, cwd, experiment="mnist", env=None):
    env = dict(os.environ if env is None else env, GAN_TF_OFFLINE="1")
    return subprocess.run(
        [sys.executable, "-m", f"gan_tf.experiments.{experiment}", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
    )


# Each experiment's own defaults, written out from the experiment modules' docstrings and history.
@pytest.mark.parametrize("experiment, expected", [
    ("mnist", ["--epochs=60", "--batch_size=64", "--width=32", "--out_dir=runs/mnist"]),
    ("fashion_mnist", ["--epochs=5", "--batch_size=64", "--out_dir=runs/fashion_mnist"]),
    ("celeba", ["--epochs=5", "--batch_size=128", "--width=64", "--image_size=64", "--channels=3"]),
    ("images", ["--epochs=100", "--batch_size=64", "--width=64", "--image_size=64", "--channels=3"]),
    ("text_to_image", ["--epochs=25", "--conditional=projection", "--[no]text (default: true)",
                       "--dataset=mnist  (mnist|fashion_mnist)", "--out_dir=runs/text_to_image_{dataset}"]),
])
def test_help_lists_the_experiments_own_defaults_without_tensorflow(tmp_path, no_tensorflow, experiment, expected):
    env, seen = no_tensorflow
    result = _cli("--help", cwd=tmp_path, experiment=experiment, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    for text in expected + ["--recipe=modern  (modern|dcgan2016)", "--time_budget=0.0", "--[no]spectral_norm"]:
        assert any(line.strip().startswith(text) for line in lines), text
    for absl_flag in ("--logtostderr", "--verbosity", "--flagfile", "--run_with_pdb", "--only_check_args"):
        assert absl_flag not in result.stdout
    assert ("--dataset=" in result.stdout) == (experiment == "text_to_image")
    assert not seen.exists()  # TensorFlow was never imported


def test_help_of_another_recipe_shows_that_recipes_defaults(tmp_path, no_tensorflow):
    env, _ = no_tensorflow
    modern = _cli("--help", cwd=tmp_path, env=env).stdout.splitlines()
    old = _cli("--recipe", "dcgan2016", "--help", cwd=tmp_path, env=env).stdout.splitlines()
    assert "  --ema_kimg=0.0" in old and "  --augment=none" in old and "  --ema_kimg=0.0" not in modern
    assert "  --epochs=60" in old and "  --epochs=60" in modern


@pytest.mark.parametrize("args, message", [
    (["--batch_size=0"], "flag --batch_size=0: expected a positive integer"),
    (["--d_lr=inf"], "flag --d_lr=inf: expected a positive, finite learning rate"),
    (["--r1_gamma=nan"], "flag --r1_gamma=nan: expected a finite value >= 0"),
    (["--time_budget=-1"], "flag --time_budget=-1.0: expected a finite number of minutes >= 0"),
    (["--seed=-3"], "flag --seed=-3: expected an integer >= 0"),
    (["--latent_dim=1000000000"], "flag --latent_dim=1000000000: expected a positive integer <= 4,096 (the "
                                  "documented cap"),  # refused before a 1e9-row kernel is allocated
    (["--width=100000"], "flag --width=100000: expected a positive integer <= 512 (the documented cap"),
    (["--batch_size=6400000"], "flag --batch_size=6400000: expected a positive integer <= 16,384 (the documented "
                               "cap"),
    (["--augment=translation,blur"], "expected \"none\" or a comma-separated subset of color, translation, cutout"),
    (["--recipe=fancy"], "flag --recipe=fancy: expected one of modern, dcgan2016"),
    (["--conditional=acgan", "--text"], "error: --text with --conditional=acgan"),  # a combination
])
def test_bad_flags_fail_without_tensorflow(tmp_path, no_tensorflow, args, message):
    env, seen = no_tensorflow
    result = _cli(*args, f"--out_dir={tmp_path / 'run'}", cwd=tmp_path, env=env)
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr and "the command imported it" not in result.stderr
    assert not seen.exists() and not (tmp_path / "run").exists()


@pytest.mark.parametrize("user_value", [None, "0", "1"])
def test_onednn_is_chosen_before_tensorflow_is_imported_and_the_users_value_wins(tmp_path, no_tensorflow,
                                                                                   user_value):
    env, seen = no_tensorflow
    if user_value is not None:
        env["TF_ENABLE_ONEDNN_OPTS"] = user_value
    result = _cli(f"--out_dir={tmp_path / 'run'}", cwd=tmp_path, env=env)
    assert "the command imported it" in result.stderr  # good flags: it went on to import TensorFlow
    chosen, _ = cpu.choose_onednn(environ={}, flags=cpu.cpu_flags())
    expected = user_value or chosen or "<unset>"
    assert seen.read_text() == expected
    if user_value is None and "avx2" in cpu.cpu_flags() and not any(
            flag in cpu.cpu_flags() for flag in cpu.ONEDNN_DEFAULT_ON_FLAGS):
        assert seen.read_text() == "1"  # an AVX2 machine like the AMD EPYC ones: oneDNN turned on


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


def test_tiny_cli_run_trains_and_resumes(tmp_path, tiny_mnist):
    data = tiny_mnist(train=16, test=4, seed=0)
    args = [f"--data_dir={data}", "--recipe=dcgan2016", "--out_dir=run", "--epochs=1", "--steps_per_epoch=1",
            "--batch_size=8", "--width=4", "--latent_dim=8", "--sample_grid=4", "--verbose=0"]
    env = {key: value for key, value in os.environ.items() if key != "TF_ENABLE_ONEDNN_OPTS"}
    first = _cli(*args, cwd=tmp_path, env=env)
    assert first.returncode == 0, first.stderr[-2000:]
    assert (tmp_path / "run" / "samples" / "final.png").exists()
    resolved = json.loads((tmp_path / "run" / "config.json").read_text())["resolved"]
    assert resolved["recipe"] == "dcgan2016" and resolved["precision"] == "float32"  # the tutorial's, everywhere
    assert resolved["precision_reason"] == "the dcgan2016 recipe's precision (none)"
    chosen, reason = cpu.choose_onednn(environ={})
    assert resolved["onednn"]["TF_ENABLE_ONEDNN_OPTS"] == chosen and resolved["onednn"]["reason"] == reason
    if chosen == "1":  # set by the CLI before TensorFlow started, and in effect
        assert resolved["onednn"]["chosen_by"] == "gan_tf" and resolved["onednn"]["enabled"] is True
    second = _cli(*args[:-1], "--epochs=2", "--verbose=2", cwd=tmp_path)
    assert second.returncode == 0, second.stderr[-2000:]
    assert "Resumed from" in second.stderr and "ckpt-000001.npz" in second.stderr
    assert "epoch 2/2  d_loss" in second.stdout and "Finished 2 epochs" in second.stdout


def test_vae_help_lists_its_own_flags_and_none_of_the_gans_without_tensorflow(tmp_path, no_tensorflow):
    env, seen = no_tensorflow
    result = _cli("--help", cwd=tmp_path, experiment="vae", env=env)
    assert result.returncode == 0, result.stderr
    lines = [line.strip() for line in result.stdout.splitlines()]
    for text in ("--dataset=mnist  (mnist|fashion_mnist)", "--out_dir=runs/vae_{dataset}", "--latent_dim=32",
                 "--beta_1=0.9", "--kl_weight=1.0", "--reconstruction=bernoulli  (bernoulli|gaussian)",
                 "--vae_lr=0.001", "--time_budget=0.0", "--eval_every=0"):
        assert any(line.startswith(text) for line in lines), text
    for gan_only in ("--loss=", "--d_lr=", "--g_lr=", "--ema_kimg=", "--augment=", "--recipe=", "--conditional=",
                     "--architecture=", "--model="):
        assert not any(line.startswith(gan_only) for line in lines), gan_only
    assert not seen.exists()


@pytest.mark.parametrize("experiment, args, message", [
    ("vae", ["--loss=hinge"], "--loss does not apply to the vae experiment: a VAE has no discriminator"),
    ("vae", ["--augment=translation"], "--augment does not apply"),
    ("vae", ["--recipe=dcgan2016"], "--recipe does not apply to the vae experiment"),
    ("vae", ["--g_lr=0.001"], "its one optimizer takes --vae_lr"),
    ("mnist", ["--kl_weight=2"], "--kl_weight does not apply to the mnist experiment"),
    ("vae", ["--vae_lr=0"], "flag --vae_lr=0.0: expected a positive, finite learning rate"),
])
def test_flags_of_the_other_model_are_refused_by_name_without_tensorflow(tmp_path, no_tensorflow, experiment, args,
                                                                          message):
    env, seen = no_tensorflow
    result = _cli(*args, f"--out_dir={tmp_path / 'run'}", cwd=tmp_path, experiment=experiment, env=env)
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr and not seen.exists() and not (tmp_path / "run").exists()
