"""The VAE baseline through the runner: `run(config)` with `model="vae"` on tiny data the test writes,
its record, exact resume, and `generate` / `evaluate` on its run directory."""
import glob
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from gan_tf import evaluate as evaluate_cli
from gan_tf import generate as generate_cli
from gan_tf.experiments import recipes
from gan_tf.experiments.config import ExperimentConfig
from gan_tf.experiments.runner import restore_gan, run
from gan_tf.vae import VAE


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """A tiny MNIST-like mnist.npz: 40 train and 10 test images of bars."""
    directory = tmp_path_factory.mktemp("mnist")
    images = np.zeros((50, 28, 28), np.uint8)
    for i, image in enumerate(images):
        image[4 + i % 20 : 8 + i % 20, 6:22] = 255
    labels = (np.arange(50) % 10).astype(np.uint8)
    np.savez(directory / "mnist.npz", x_train=images[:40], y_train=labels[:40],
             x_test=images[40:], y_test=labels[40:])
    return str(directory)


def _tiny(data_dir, out_dir, **changes):
    config = recipes.resolve("vae", dataset="mnist", out_dir=str(out_dir), epochs=2, steps_per_epoch=2,
                             batch_size=8, latent_dim=4, width=4, sample_grid=4, data_dir=data_dir, verbose=0,
                             seed=3)
    return config.replace(**changes)


@pytest.fixture(scope="module")
def vae_run(data_dir, tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("vae") / "run"
    summary = run(_tiny(data_dir, out_dir))
    return str(out_dir), summary


def _records(out_dir):
    return [json.loads(line) for line in open(os.path.join(out_dir, "metrics.jsonl"))]


def _checkpoint(out_dir, name=None):
    path = name and os.path.join(out_dir, "checkpoints", name) or sorted(
        glob.glob(os.path.join(out_dir, "checkpoints", "ckpt-*.npz")))[-1]
    with np.load(path, allow_pickle=False) as stored:
        return {key: stored[key] for key in stored.files}


def test_the_vae_experiment_resolves_to_a_vae_config_without_gan_techniques():
    config = recipes.resolve("vae")
    assert config.model == "vae" and config.out_dir == "runs/vae_mnist"
    # The default recipe's EMA and augmentation are GAN techniques: put back to "off".
    assert (config.ema_kimg, config.augment, config.ada_target) == (0.0, "none", 0.0)
    assert recipes.resolve("vae", dataset="fashion_mnist").out_dir == "runs/vae_fashion_mnist"


@pytest.mark.parametrize("changes, message", [
    (dict(model="vae", loss="hinge"), "--loss='hinge' with --model=vae: a VAE has no discriminator"),
    (dict(model="vae", ema_kimg=10.0), "--ema_kimg=10.0 with --model=vae"),
    (dict(model="vae", conditional="projection"), "--conditional='projection' with --model=vae"),
    (dict(kl_weight=4.0), "--kl_weight=4.0 with --model=gan: it is a VAE option"),
    (dict(model="vae", reconstruction="laplace"), "--reconstruction='laplace': expected one of bernoulli, gaussian"),
])
def test_options_of_the_other_model_are_refused_by_name(changes, message):
    with pytest.raises(ValueError, match=None) as error:
        ExperimentConfig(**changes).validate()
    assert message in str(error.value)


def test_a_vae_run_leaves_the_runs_record(vae_run, event_tags):
    out_dir, summary = vae_run
    assert isinstance(summary["gan"], VAE)
    record = json.load(open(os.path.join(out_dir, "config.json")))
    assert record["flags"]["model"] == "vae" and record["flags"]["kl_weight"] == 1.0
    # --mixed_precision=auto keeps the VAE in float32 on every CPU (bfloat16 was measured with the GAN only).
    assert record["flags"]["mixed_precision"] == "none" and record["resolved"]["precision"] == "float32"
    records = _records(out_dir)
    assert [(r["epoch"], r["step"]) for r in records] == [(1, 2), (2, 4)]
    for r in records:
        assert {"loss", "reconstruction", "kl", "val_loss", "val_psnr", "val_ssim", "images_per_second"} <= set(r)
        assert r["loss"] == pytest.approx(r["reconstruction"] + r["kl"], rel=1e-5)  # beta = 1
    for name in ("final.png", "progress.gif", "losses.png", "epoch_0001.png", "epoch_0002.png"):
        assert os.path.getsize(os.path.join(out_dir, "samples", name)) > 0
    tags = event_tags(os.path.join(out_dir, "logs"))
    assert {"loss/reconstruction", "loss/kl", "held_out/psnr", "held_out/ssim", "optimizer/lr", "samples"} <= tags
    stored = _checkpoint(out_dir)
    groups = {key.split("/")[0] for key in stored if not key.startswith("__")}
    assert groups == {"encoder", "decoder", "noise_seed", "optimizer"}
    assert int(stored["optimizer/0000"]) == 4  # the optimizer's iteration count: 2 epochs x 2 steps


def test_held_out_psnr_and_ssim_are_those_of_the_posterior_mean_reconstructions(vae_run, data_dir):
    out_dir, _ = vae_run
    vae, _ = restore_gan(out_dir)  # the weights after the last epoch, which its val_* were measured on
    with np.load(os.path.join(data_dir, "mnist.npz")) as stored:
        held_out = stored["x_test"][..., None].astype(np.float32) / 127.5 - 1.0
    reconstructions = vae.reconstruct(held_out).numpy()
    a, b = (held_out + 1) / 2, np.clip((reconstructions + 1) / 2, 0, 1)
    psnr = np.mean(10 * np.log10(1.0 / np.mean((a - b) ** 2, axis=(1, 2, 3))))  # per image, then averaged
    last = _records(out_dir)[-1]
    assert last["val_psnr"] == pytest.approx(psnr, rel=1e-4)
    ssim = tf.image.ssim(tf.constant(a), tf.constant(b), max_val=1.0).numpy().mean()
    assert last["val_ssim"] == pytest.approx(float(ssim), rel=1e-4, abs=1e-6)




def test_a_resumed_vae_run_ends_like_an_uninterrupted_one(data_dir, tmp_path, deterministic_ops):
    run(_tiny(data_dir, tmp_path / "straight", epochs=3))
    interrupted = _tiny(data_dir, tmp_path / "interrupted", epochs=1)
    run(interrupted)
    assert run(interrupted.replace(epochs=3))["start_epoch"] == 1
    a, b = _checkpoint(str(tmp_path / "straight")), _checkpoint(str(tmp_path / "interrupted"))
    assert a.keys() == b.keys()
    for key in a.keys() - {"__paths__", "__meta__"}:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    straight, resumed = _records(str(tmp_path / "straight")), _records(str(tmp_path / "interrupted"))
    for key in ("loss", "kl", "val_psnr", "val_ssim"):
        assert [r[key] for r in resumed] == [r[key] for r in straight], key


def test_a_budget_stop_mid_epoch_records_held_out_quality_and_resumes_exactly(data_dir, tmp_path, monkeypatch,
                                                                              deterministic_ops):
    from gan_tf import time_budget

    run(_tiny(data_dir, tmp_path / "straight", epochs=2, steps_per_epoch=3))
    # A fake clock that advances 1 s per reading (once at the start, once per step): a 1.5 s budget
    # stops after step 2 of epoch 1's 3.
    ticks = iter(range(10**6))
    monkeypatch.setattr(time_budget, "clock", lambda: float(next(ticks)))
    stopped = run(_tiny(data_dir, tmp_path / "budget", epochs=2, steps_per_epoch=3, time_budget=1.5 / 60))
    assert (stopped["stopped"]["epoch"], stopped["stopped"]["steps_into_epoch"]) == (0, 2)
    assert "val_psnr" in _records(str(tmp_path / "budget"))[-1]
    monkeypatch.undo()
    run(_tiny(data_dir, tmp_path / "budget", epochs=2, steps_per_epoch=3, time_budget=0.0))
    a, b = _checkpoint(str(tmp_path / "straight")), _checkpoint(str(tmp_path / "budget"), "ckpt-000002.npz")
    for key in a.keys() - {"__paths__", "__meta__"}:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def test_generate_draws_the_vaes_samples_and_interpolations(vae_run, tmp_path):
    out_dir, _ = vae_run
    images = generate_cli.generate(out_dir, n=4, out=str(tmp_path / "g.png"), seed=7)
    vae, _ = restore_gan(out_dir)
    np.testing.assert_allclose(images, vae.generate(4, seed=7).numpy(), atol=1e-6)
    assert os.path.getsize(tmp_path / "g.png") > 0
    walk, columns = generate_cli.interpolate(out_dir, 3, out=str(tmp_path / "w.png"), rows=2, seed=1, linear=True)
    assert walk.shape == (6, 28, 28, 1) and columns == 3
    # Linear interpolation: the middle image decodes the midpoint of the two endpoints' codes.
    from gan_tf import latent

    ends = latent.endpoint_noise(vae.latent_dim, 2, seed=1)
    middle = vae.decode(((ends[0][0:1] + ends[1][0:1]) / 2).astype(np.float32)).numpy()
    np.testing.assert_allclose(walk[1:2], middle, atol=1e-5)
    assert generate_cli.main(["--run_dir", out_dir, "--raw", "--out", str(tmp_path / "r.png")]) == 1


def test_evaluate_scores_the_vaes_samples(vae_run, tmp_path):
    out_dir, _ = vae_run
    record = evaluate_cli.evaluate(out_dir, num_samples=20, inception=False, batch_size=10,
                                   cache_dir=str(tmp_path / "cache"), output=str(tmp_path / "eval.json"),
                                   verbose=False)
    assert record["model"] == "vae" and record["generator"] == "decoder"
    assert np.isfinite(record["metrics"]["fd_mnist_classifier"])
    assert {"precision_mnist_classifier", "recall_mnist_classifier", "is_mnist_classifier"} <= set(record["metrics"])
    with pytest.raises(evaluate_cli.EvaluateError, match="is a VAE"):
        evaluate_cli.evaluate(out_dir, raw=True, verbose=False)


def test_a_vae_on_data_without_a_test_split_trains_without_held_out_scores(tmp_path):
    from PIL import Image

    folder = tmp_path / "pictures"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(16):
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    config = ExperimentConfig(model="vae", dataset="images", data_dir=str(folder), image_size=16, channels=3,
                              reconstruction="gaussian", out_dir=str(tmp_path / "run"), epochs=1, steps_per_epoch=1,
                              batch_size=8, latent_dim=4, width=4, sample_grid=4, verbose=0).validate()
    run(config)
    (record,) = _records(str(tmp_path / "run"))
    assert "loss" in record and not any(key.startswith("val_") for key in record)
