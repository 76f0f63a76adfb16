"""Reference statistics of real data, computed once and cached on disk.

A cache file is named by a hash of everything that defines its contents: the
data set, split, the source actually used (and its description, which names
the files), the number of examples, the image shape, a fingerprint of the
first images (so that other files at the same path are noticed), the
extractor's name and the SHA-256 of its weights file, the preprocessing
version, and the size and seed of the kept feature subset. Changing any of these gives a different file,
so stale statistics cannot be reused. The full key is also stored inside the
file and compared on load.

Files are `.npz` (read with `allow_pickle=False`), written to a temporary file
and renamed, so a killed run never leaves a half-written cache entry.
"""
import hashlib
import json
import os
import zipfile

import numpy as np
from absl import logging

from gan_tf import atomic
from gan_tf.metrics.features import FeatureSet, extract

# Bump when anything that changes features for the same data and weights
# changes: image scaling, resizing, the layer read, the subset choice.
PREPROCESSING_VERSION = 1
CACHE_ENV = "GAN_TF_CACHE"


def default_cache_dir():
    """`$GAN_TF_CACHE/reference_stats`, else `~/.cache/gan_tf/reference_stats`."""
    root = os.environ.get(CACHE_ENV) or os.path.join(os.path.expanduser("~"), ".cache", "gan_tf")
    return os.path.join(root, "reference_stats")


def data_fingerprint(ds, num_images=256):
    """SHA-256 of the first `num_images` images of a dataset (cheap: one batch)."""
    digest = hashlib.sha256()
    for images in ds.take(num_images).batch(num_images).as_numpy_iterator():
        digest.update(np.ascontiguousarray(images, np.float32).tobytes())
    return digest.hexdigest()


def cache_key(dataset, split, info, extractor, max_kept, seed, fingerprint=None):
    """The dict that identifies a set of reference statistics.

    Args:
      dataset, split: what was loaded.
      info: the `DataInfo` (or any object with source, num_examples, image_shape,
        note) returned by `gan_tf.data.load(..., return_info=True)`.
      extractor: an object with `name` and `weights_hash`.
      max_kept, seed: size and seed of the kept feature subset.
      fingerprint: `data_fingerprint` of the data, or None.
    """
    return {
        "preprocessing_version": PREPROCESSING_VERSION,
        "dataset": dataset,
        "split": split,
        "source": info.source,
        "source_note": info.note,
        "num_examples": int(info.num_examples),
        "image_shape": [int(s) for s in info.image_shape],
        "data_fingerprint": fingerprint,
        "extractor": extractor.name,
        "extractor_weights_sha256": extractor.weights_hash,
        "max_kept": int(max_kept),
        "seed": int(seed),
    }


def cache_path(key, cache_dir=None):
    """File of the statistics identified by `key` (a dict from `cache_key`)."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]
    name = f"{key['dataset']}-{key['split']}-{key['extractor']}-{digest}.npz"
    return os.path.join(cache_dir or default_cache_dir(), name)


def save(path, key, feature_set):
    """Writes a `FeatureSet` and its key atomically (temporary file + rename)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with atomic.replace_atomically(path, "wb") as f:
        np.savez(
            f,
            key=np.array(json.dumps(key, sort_keys=True)),
            mean=feature_set.mean,
            covariance=feature_set.covariance,
            features=feature_set.features,
            probabilities=feature_set.probabilities,
            count=np.array(feature_set.count, np.int64),
        )


def load(path, key):
    """Reads a cached `FeatureSet`; None if absent, unreadable or for another key."""
    if not os.path.isfile(path):
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            if str(data["key"]) != json.dumps(key, sort_keys=True):
                logging.warning("Cache file %s holds another key; recomputing.", path)
                return None
            return FeatureSet(
                mean=data["mean"],
                covariance=data["covariance"],
                features=data["features"],
                probabilities=data["probabilities"],
                count=int(data["count"]),
            )
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
        logging.warning("Cache file %s is unreadable (%s); recomputing.", path, error)
        return None


def reference_statistics(dataset, extractor, split="train", data_source="auto", data_dir=None,
                         cache_dir=None, max_kept=10000, batch_size=500, seed=0, verbose=True,
                         image_size=None, channels=None):
    """Features of a real split under `extractor`, from the cache or computed and cached.

    Args:
      dataset: a `gan_tf.data` dataset name ("mnist", "fashion_mnist", ...).
      extractor: a feature extractor (`ClassifierExtractor`, `InceptionExtractor`).
      split: "train" for the reference, "test" for the real-data floor.
      data_source, data_dir: passed to `gan_tf.data.load`.
      cache_dir: where cache files live (default `default_cache_dir()`).
      max_kept: rows of features/probabilities kept for KID, precision/recall, IS.
      batch_size: images per extractor call.
      seed: seed of the kept subset.
      verbose: show a progress bar while extracting.
      image_size, channels: the shape the real images are loaded at, as for
        `gan_tf.data.load` (None: the dataset's own); must be the generated
        images' shape. The loaded shape is part of the cache key.

    Returns:
      (FeatureSet, key dict, cache path).
    """
    from gan_tf import data as gan_data  # TensorFlow-heavy; imported when needed

    ds, info = gan_data.load(dataset, split=split, source=data_source, data_dir=data_dir,
                             return_info=True, image_size=image_size, channels=channels)
    key = cache_key(dataset, split, info, extractor, max_kept, seed, data_fingerprint(ds))
    path = cache_path(key, cache_dir)
    cached = load(path, key)
    if cached is not None:
        logging.info("Reference statistics %s/%s/%s from cache %s.", dataset, split,
                     extractor.name, path)
        return cached, key, path
    logging.info("Computing reference statistics %s/%s (%s, %d images) with %s; cache %s.",
                 dataset, split, info.source, info.num_examples, extractor.name, path)
    progress = None
    if verbose:
        import keras

        progress = keras.utils.Progbar(info.num_examples, unit_name="image")
    feature_set = extract(
        extractor,
        ds.batch(batch_size).prefetch(2).as_numpy_iterator(),
        info.num_examples,
        max_kept=max_kept,
        seed=seed,
        progress=progress,
        description=f"{extractor.name} features of {dataset}/{split}",
    )
    save(path, key, feature_set)
    return feature_set, key, path
