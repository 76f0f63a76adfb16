"""`gan_tf.experiments.celeba`: a couple of training steps on generated faces in an img_align_celeba.zip,
read in place."""
import json
import zipfile

import numpy as np
import pytest
from PIL import Image

from gan_tf.experiments import celeba
from gan_tf.experiments.config import ExperimentConfig
from gan_tf.experiments.runner import run

TINY = dict(epochs=1, steps_per_epoch=2, batch_size=8, width=4, latent_dim=8, sample_grid=4, verbose=0)


@pytest.mark.slow
def test_celeba_smoke_from_zip(tmp_path):
    data_dir = tmp_path / "celeba"
    data_dir.mkdir()
    rng = np.random.default_rng(0)
    with zipfile.ZipFile(data_dir / "img_align_celeba.zip", "w") as zf:
        for n in range(1, 11):  # 000001-000010: all in the official train split
            image = Image.fromarray(rng.integers(0, 256, (218, 178, 3), dtype=np.uint8))
            path = tmp_path / f"{n:06d}.jpg"
            image.save(path)
            zf.write(path, f"img_align_celeba/{n:06d}.jpg")
    config = ExperimentConfig(**{**celeba.DEFAULTS, **TINY, "out_dir": str(tmp_path / "run"),
                                 "data_dir": str(data_dir), "image_size": 16})
    run(config)
    with open(tmp_path / "run" / "config.json") as f:
        recorded = json.load(f)["data"]
    assert recorded["source"] == "files" and "zip archive" in recorded["note"] and "108x108" in recorded["note"]
    assert recorded["num_examples"] == 10 and recorded["image_shape"] == [16, 16, 3]
    assert (tmp_path / "run" / "samples" / "final.png").exists()
