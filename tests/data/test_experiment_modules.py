"""Smoke runs of the fashion_mnist, celeba and images experiment modules on tiny generated data: a couple
of training steps through the real `run(config)`, and the command line failing cleanly on bad input."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

TINY = dict(epochs=1, steps_per_epoch=2, batch_size=4, width=8, latent_dim=8, sample_grid=4, verbose=0)


def _faces(folder, count=10, size=(218, 178)):
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(1, count + 1):
        image = rng.integers(0, 256, size + (3,), dtype=np.uint8)
        Image.fromarray(image).save(folder / f"{i:06d}.jpg")


def _run(module, **overrides):
    from gan_tf.experiments.config import ExperimentConfig
    from gan_tf.experiments.runner import run

    config = ExperimentConfig(**{**module.DEFAULTS, **TINY, **overrides})
    result = run(config)
    with open(os.path.join(config.out_dir, "config.json")) as f:
        return result, json.load(f)


@pytest.mark.slow
def test_images_module(tmp_path):
    from gan_tf.experiments import images

    _faces(tmp_path / "photos" / "nested", size=(40, 30))
    (tmp_path / "photos" / "notes.txt").write_text("not an image")
    result, config = _run(images, out_dir=str(tmp_path / "run"), data_dir=str(tmp_path / "photos"), image_size=16)
    assert config["data"]["source"] == "files" and config["data"]["image_shape"] == [16, 16, 3]
    assert "1 unusable file(s) skipped" in config["data"]["note"]
    assert os.path.exists(tmp_path / "run" / "samples" / "final.png")


@pytest.mark.slow
def test_celeba_module_from_zip(tmp_path):
    import zipfile

    from gan_tf.experiments import celeba

    _faces(tmp_path / "img_align_celeba")
    with zipfile.ZipFile(tmp_path / "img_align_celeba.zip", "w") as zf:
        for path in sorted((tmp_path / "img_align_celeba").iterdir()):
            zf.write(path, f"img_align_celeba/{path.name}")
    zip_dir = tmp_path / "zipped"
    zip_dir.mkdir()
    os.replace(tmp_path / "img_align_celeba.zip", zip_dir / "img_align_celeba.zip")
    result, config = _run(celeba, out_dir=str(tmp_path / "run"), data_dir=str(zip_dir), image_size=16)
    assert config["data"]["source"] == "files" and "zip archive" in config["data"]["note"]
    assert config["data"]["num_examples"] == 10 and config["data"]["image_shape"] == [16, 16, 3]


@pytest.mark.slow
def test_fashion_mnist_module(tmp_path, helpers):
    from gan_tf.experiments import fashion_mnist

    data_dir = tmp_path / "fashion"
    data_dir.mkdir()
    helpers.write_mnist_dir(data_dir, n_train=12, n_test=4, rows=28, cols=28)
    result, config = _run(fashion_mnist, out_dir=str(tmp_path / "run"), data_dir=str(data_dir))
    assert config["data"]["source"] == "files" and config["data"]["num_examples"] == 12
    assert config["data"]["image_shape"] == [28, 28, 1]


def test_images_cli_rejects_a_missing_folder(tmp_path):
    missing = tmp_path / "nope"
    done = subprocess.run(
        [sys.executable, "-m", "gan_tf.experiments.images", f"--data_dir={missing}", f"--out_dir={tmp_path / 'run'}"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    assert done.returncode != 0
    assert "data_dir" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "run").exists()
