"""Sources shared by the 28x28 grayscale datasets in IDX format (MNIST, Fashion-MNIST).

Each source returns uint8 arrays; `to_loaded` turns them into the common pipeline. The sources:

- "files": the four IDX files (gzipped or not) or a keras-style `.npz` in `data_dir` (or a few
  customary subfolders of it); without `data_dir`, the dataset's default locations (Debian's
  package folder, the keras.datasets cache).
- "tfds": TFDS data already prepared on disk.
- "download": TFDS, then keras.datasets, only when the network answers within a few seconds.
"""
import dataclasses
import os
from typing import Callable, Tuple

import numpy as np

from gan_tf.data import idx, network, pipeline, tfds_source
from gan_tf.data.base import Loaded, SourceUnavailable


@dataclasses.dataclass(frozen=True)
class IdxDatasetSpec:
    """What differs between MNIST and Fashion-MNIST.

    Attributes:
      name: gan_tf dataset name.
      title: display name.
      tfds_name: TFDS name.
      keras_name: module of keras.datasets.
      npz_names: preferred .npz file names.
      subdirs: subfolders of `data_dir` also searched (torchvision and other customary layouts).
      default_dirs: callable returning `(folder, description)` pairs searched when no `data_dir` is given.
      probe_host: host whose reachability decides whether a download is attempted.
    """

    name: str
    title: str
    tfds_name: str
    keras_name: str
    npz_names: Tuple[str, ...]
    subdirs: Tuple[str, ...]
    default_dirs: Callable
    probe_host: str = "storage.googleapis.com"


IMAGE_SHAPE = (28, 28, 1)
NUM_CLASSES = 10
SPLITS = ("train", "test")


def keras_home():
    """Keras's cache folder ($KERAS_HOME or ~/.keras), without importing keras."""
    return os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")


def load_files(spec, split, data_dir):
    """Reads `split` from IDX or .npz files. Returns `(images, labels, note)`; raises SourceUnavailable."""
    if data_dir:
        folders = [(data_dir, data_dir)] + [(os.path.join(data_dir, s), os.path.join(data_dir, s))
                                            for s in spec.subdirs]
    else:
        folders = list(spec.default_dirs())
    looked = []
    for folder, description in folders:
        if not os.path.isdir(folder):
            if folder == data_dir or not data_dir:
                looked.append(f"{folder} is a file, not a folder of IDX or .npz files" if os.path.isfile(folder)
                              else f"{folder} does not exist")
            continue
        pair = idx.find_idx_files(folder, split)
        if pair is not None:
            images, labels = idx.read_idx_pair(*pair)
            names = ", ".join(os.path.basename(p) for p in pair)
            return images, labels, f"{spec.title} {split} IDX files ({names}) in {description}"
        npz = idx.find_npz(folder, spec.npz_names)
        if npz is not None:
            images, labels = idx.read_npz(npz, split)
            return images, labels, f"{spec.title} {split} from {npz}"
        looked.append(f"no {idx.expected_idx_names(split)} and no .npz with x_{split}/y_{split} in {folder}")
    if not data_dir:
        looked.insert(0, "no data_dir given")
    raise SourceUnavailable("; ".join(looked))


def _tfds_arrays(ds):
    import tensorflow_datasets as tfds

    images, labels = tfds.as_numpy(ds)
    return np.asarray(images, np.uint8), np.asarray(labels, np.int32)


def load_tfds(spec, split, data_dir):
    """Reads prepared TFDS data. Returns `(images, labels, note)`; raises SourceUnavailable."""
    ds, _, note = tfds_source.load_prepared(spec.tfds_name, split, data_dir, batch_size=-1, as_supervised=True)
    images, labels = _tfds_arrays(ds)
    return images, labels, note


def load_download(spec, split, data_dir):
    """Downloads with TFDS, then keras.datasets, when the network answers. Returns `(images, labels, note)`."""
    ok, why = network.is_online(spec.probe_host)
    if not ok:
        raise SourceUnavailable(f"network unavailable ({why}); no download attempted")
    reasons = []
    try:
        ds, _, note = tfds_source.download(spec.tfds_name, split, data_dir, spec.probe_host,
                                           batch_size=-1, as_supervised=True)
        images, labels = _tfds_arrays(ds)
        return images, labels, note
    except SourceUnavailable as e:
        reasons.append(f"TFDS: {e}")
    try:
        import keras

        (x_train, y_train), (x_test, y_test) = getattr(keras.datasets, spec.keras_name).load_data()
    except Exception as e:  # keras raises plain Exception("URL fetch failure ...")
        reasons.append(f"keras.datasets: download failed ({type(e).__name__}: {e})")
        raise SourceUnavailable("; ".join(reasons)) from e
    images, labels = (x_train, y_train) if split == "train" else (x_test, y_test)
    return (np.asarray(images, np.uint8)[..., None], np.asarray(labels, np.int32),
            f"{spec.title} {split} downloaded by keras.datasets.{spec.keras_name} into {keras_home()}/datasets")


def to_loaded(images, labels, note, image_size, channels):
    """Wraps uint8 arrays (N, 28, 28, 1) into the common pipeline, resized/converted as asked."""
    images = np.asarray(images, np.uint8)
    if images.ndim == 3:
        images = images[..., None]
    shape = (image_size or images.shape[1:3]) + ((channels or images.shape[3]),)
    ds = pipeline.from_arrays(images, labels, image_size, channels)
    return Loaded(dataset=ds, num_examples=int(images.shape[0]), image_shape=tuple(int(s) for s in shape),
                  num_classes=NUM_CLASSES, note=note, has_labels=labels is not None)


def load_source(spec, source, split, data_dir):
    """Dispatches one of "files", "tfds", "download". Returns `(images, labels, note)`."""
    if source == "files":
        return load_files(spec, split, data_dir)
    if source == "tfds":
        return load_tfds(spec, split, data_dir)
    if source == "download":
        return load_download(spec, split, data_dir)
    raise AssertionError(source)
