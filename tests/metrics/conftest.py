"""Fixtures for the evaluation tests: tiny IDX data sets and a tiny GAN stand-in."""
import gzip
import struct

import numpy as np
import pytest


def _write_idx(path, array):
    # IDX: two zero bytes, type code 0x08 (ubyte), number of dims, big-endian dims, data.
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(
        f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + np.ascontiguousarray(array, np.uint8).tobytes())


def write_mnist_like(directory, num_train=60, num_test=30, seed=0):
    """Writes the four MNIST IDX .gz files of random blobs into `directory`."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", num_train), ("t10k", num_test)):
        images = (rng.random((n, 28, 28)) ** 3 * 255).astype(np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        _write_idx(directory / f"{prefix}-images-idx3-ubyte.gz", images)
        _write_idx(directory / f"{prefix}-labels-idx1-ubyte.gz", labels)
    return directory


@pytest.fixture
def mnist_dir(tmp_path):
    """A data_dir with 60 train and 30 test random 28×28 images in MNIST's IDX format."""
    return write_mnist_like(tmp_path / "mnist_data")


@pytest.fixture
def tiny_gan_class():
    """A keras.Model with the GAN's `generate(n, seed, batch_size)` and a no-op train step."""
    import keras
    import tensorflow as tf

    class TinyGAN(keras.Model):
        def __init__(self, latent_dim=8):
            super().__init__()
            self.latent_dim = latent_dim
            self.generator = keras.Sequential(
                [keras.Input((latent_dim,)), keras.layers.Dense(28 * 28, activation="tanh"),
                 keras.layers.Reshape((28, 28, 1))])
            self.g_optimizer = keras.optimizers.SGD(0.01)
            self.calls = []

        def train_step(self, data):
            return {"g_loss": tf.constant(0.0)}

        def generate(self, n, seed=None, batch_size=None):
            self.calls.append((n, seed, batch_size))
            noise = tf.random.stateless_normal((n, self.latent_dim), seed=[seed or 0, 0])
            return self.generator(noise, training=False)

    return TinyGAN


class FakeExtractor:
    """A cheap stand-in extractor: fixed random projections of the pixels."""

    def __init__(self, name="fake", weights_hash="0" * 64, dim=8, num_classes=4):
        rng = np.random.default_rng(0)
        self.name = name
        self.weights_hash = weights_hash
        self.weights_file = f"/nonexistent/{name}.weights.h5"
        self._features = rng.normal(size=(28 * 28, dim)) / 28.0
        self._logits = rng.normal(size=(28 * 28, num_classes)) / 28.0
        self.calls = 0

    def __call__(self, images):
        self.calls += 1
        x = np.asarray(images, np.float64).reshape(len(images), -1)
        logits = x @ self._logits
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        return (x @ self._features).astype(np.float32), (p / p.sum(axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture
def fake_extractor():
    return FakeExtractor


class ShapeRecordingExtractor:
    """An extractor for images of any shape (a few pixel statistics) that records the shapes it saw."""

    def __init__(self, name="shapes", weights_hash="0" * 64):
        self.name = name
        self.weights_hash = weights_hash
        self.weights_file = f"/nonexistent/{name}.weights.h5"
        self.shapes = set()

    def __call__(self, images):
        x = np.asarray(images, np.float64)
        self.shapes.add(x.shape[1:])
        flat = x.reshape(len(x), -1)
        features = np.stack([flat.mean(1), flat.std(1), flat[:, : flat.shape[1] // 2].mean(1), flat.max(1)], 1)
        p = np.exp(features[:, :2] - features[:, :2].max(axis=1, keepdims=True))
        return features.astype(np.float32), (p / p.sum(axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture
def shape_extractor():
    return ShapeRecordingExtractor
