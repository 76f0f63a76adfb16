"""`gan_tf.experiments.images`: a couple of training steps on a generated, slightly messy folder, and the
command line rejecting a folder that does not exist before anything is written."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from gan_tf.experiments import images
from gan_tf.experiments.config import ExperimentConfig
from gan_tf.experiments.runner import run

TINY = dict(epochs=1, steps_per_epoch=2, batch_size=8, width=4, latent_dim=8, sample_grid=4, verbose=0)


@pytest.mark.slow
def test_images_smoke(tmp_path):
    photos = tmp_path / "photos" / "nested"
    photos.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(10):
        Image.fromarray(rng.integers(0, 256, (40, 30, 3), dtype=np.uint8)).save(photos / f"{i}.jpg")
    Image.fromarray(rng.integers(0, 256, (20, 20), dtype=np.uint8)).save(photos / "gray.png")
    (tmp_path / "photos" / "notes.txt").write_text("not an image")
    config = ExperimentConfig(**{**images.DEFAULTS, **TINY, "out_dir": str(tmp_path / "run"),
                                 "data_dir": str(tmp_path / "photos"), "image_size": 16})
    run(config)
    with open(tmp_path / "run" / "config.json") as f:
        recorded = json.load(f)["data"]
    assert recorded["source"] == "files" and recorded["image_shape"] == [16, 16, 3]
    assert recorded["num_examples"] == 11 and "1 unusable file(s) skipped" in recorded["note"]
    assert os.path.exists(tmp_path / "run" / "samples" / "final.png")


def test_images_cli_rejects_a_missing_folder(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "gan_tf.experiments.images", f"--data_dir={tmp_path / 'nope'}",
         f"--out_dir={tmp_path / 'run'}"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    assert done.returncode != 0
    assert "data_dir" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "run").exists()


def test_images_cli_rejects_an_empty_folder_before_any_model(tmp_path):
    (tmp_path / "empty").mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "gan_tf.experiments.images", f"--data_dir={tmp_path / 'empty'}",
         f"--out_dir={tmp_path / 'run'}"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    assert done.returncode == 1
    assert "empty: no usable image" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "run").exists()
