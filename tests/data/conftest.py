"""Fixtures for the data tests: writers for tiny IDX files, an offline environment.

Helpers are handed to tests through the `helpers` fixture (with --import-mode=importlib test modules
cannot import a sibling module).
"""
import gzip
import struct
import sys
import types

import numpy as np
import pytest


def idx_bytes(array, magic=None):
    """IDX bytes of a uint8 array: magic 0x0803 for 3-D images, 0x0801 for 1-D labels."""
    array = np.asarray(array, np.uint8)
    if magic is None:
        magic = 0x0800 | array.ndim
    return struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in array.shape) + array.tobytes()


def write_idx(path, array, gz=False, magic=None, cut=0):
    """Writes `array` as an IDX file (optionally gzipped, with a wrong magic, or `cut` bytes short)."""
    data = idx_bytes(array, magic)
    if cut:
        data = data[:-cut]
    opener = gzip.open if gz else open
    with opener(path, "wb") as f:
        f.write(data)
    return path


def random_digits(n, rows=4, cols=3, seed=0):
    """n uint8 images (covering 0 and 255) and labels 0..9."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, rows, cols), dtype=np.uint8)
    images[0, 0, 0] = 0
    images[0, 0, 1] = 255
    labels = (np.arange(n) % 10).astype(np.uint8)
    return images, labels


def write_mnist_dir(directory, n_train=12, n_test=7, gz=True, rows=4, cols=3):
    """The four standard IDX files in `directory`; returns {split: (images, labels)}."""
    out = {}
    suffix = ".gz" if gz else ""
    for split, prefix, n, seed in (("train", "train", n_train, 0), ("test", "t10k", n_test, 1)):
        images, labels = random_digits(n, rows, cols, seed)
        write_idx(directory / f"{prefix}-images-idx3-ubyte{suffix}", images, gz)
        write_idx(directory / f"{prefix}-labels-idx1-ubyte{suffix}", labels, gz)
        out[split] = (images, labels)
    return out


def expected_unit_range(images_uint8):
    """The [-1, 1] mapping computed independently in numpy (float64, then float32)."""
    return (np.asarray(images_uint8, np.float64) / 255.0 * 2.0 - 1.0).astype(np.float32)


@pytest.fixture
def helpers():
    """This module's writer functions."""
    module = sys.modules[__name__]
    return types.SimpleNamespace(**{n: getattr(module, n) for n in (
        "idx_bytes", "write_idx", "random_digits", "write_mnist_dir", "expected_unit_range")})


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No network (the probe is mocked "down"), empty TFDS and Keras folders, no real downloads."""
    from gan_tf.data import network

    calls = []

    def down(host, port=443, timeout=None):
        calls.append(host)
        return False, "mocked: network down"

    monkeypatch.setattr(network, "is_online", down)
    tfds_dir = tmp_path / "tfds_empty"
    keras_dir = tmp_path / "keras_empty"
    tfds_dir.mkdir()
    keras_dir.mkdir()
    monkeypatch.setenv("TFDS_DATA_DIR", str(tfds_dir))
    monkeypatch.setenv("KERAS_HOME", str(keras_dir))
    return types.SimpleNamespace(probe_calls=calls, tfds_dir=tfds_dir, keras_dir=keras_dir)
