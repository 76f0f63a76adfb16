"""`gan_tf.experiments.fashion_mnist`: a couple of training steps on tiny IDX files written here."""
import gzip
import json
import struct

import numpy as np
import pytest

from gan_tf.experiments import fashion_mnist
from gan_tf.experiments.config import ExperimentConfig
from gan_tf.experiments.runner import run

TINY = dict(epochs=1, steps_per_epoch=2, batch_size=8, width=4, latent_dim=8, sample_grid=4, verbose=0)


def _write_idx(path, array):
    header = struct.pack(">I", 0x0800 | array.ndim) + b"".join(struct.pack(">I", d) for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


@pytest.mark.slow
def test_fashion_mnist_smoke(tmp_path):
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 20), ("t10k", 5)):
        _write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)))
        _write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", np.arange(n) % 10)
    config = ExperimentConfig(**{**fashion_mnist.DEFAULTS, **TINY, "out_dir": str(tmp_path / "run"),
                                 "data_dir": str(tmp_path)})
    run(config)
    with open(tmp_path / "run" / "config.json") as f:
        recorded = json.load(f)["data"]
    assert recorded["source"] == "files" and recorded["num_examples"] == 20
    assert recorded["image_shape"] == [28, 28, 1]
    assert (tmp_path / "run" / "samples" / "final.png").exists()
