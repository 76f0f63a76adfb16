"""Running a feature extractor over many images: statistics plus a kept subset.

The Fréchet distance needs only the mean and covariance of all features (kept
in float64 by `FeatureStatistics`); KID, precision/recall and the Inception
Score need the features or probabilities themselves, of which a fixed random
subset of at most `max_kept` rows is kept so that memory stays bounded.
"""
import contextlib
import dataclasses
import time

import keras
import numpy as np
from absl import logging

from gan_tf.metrics.frechet import FeatureStatistics


@dataclasses.dataclass
class FeatureSet:
    """Features of one image set, as one extractor saw it.

    Attributes:
      mean, covariance: float64 statistics over all `count` examples.
      features: float32 (k, dim), a random subset (k <= max_kept) in random order,
        so that any prefix is itself a random subset.
      probabilities: float32 (k, num_classes), the same rows.
      count: number of examples behind `mean` and `covariance`.
    """

    mean: np.ndarray
    covariance: np.ndarray
    features: np.ndarray
    probabilities: np.ndarray
    count: int


@contextlib.contextmanager
def float32_networks():
    """Builds the networks made inside it in float32, whatever Keras's global policy is.

    Evaluating (or training with --eval_every) a run made with --mixed_precision sets that
    policy; a feature extractor built under it would compute in 16 bits, so its features,
    and every metric and cached real-data statistic computed from them, would depend on the
    precision the GAN was trained in.
    """
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float32")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def extract(extractor, batches, num_examples, max_kept=10000, seed=0, progress=None,
            description="features"):
    """Runs `extractor` over an iterable of image batches.

    Args:
      extractor: callable images -> (features, probabilities) numpy arrays.
      batches: iterable of image batches (numpy arrays or tensors); together they
        must hold exactly `num_examples` images.
      num_examples: the total number of images (chooses the kept subset up front).
      max_kept: at most this many rows of features/probabilities are kept.
      seed: seed of the kept subset's choice and order.
      progress: a `keras.utils.Progbar`-like object with `update(count)`, or None.
      description: what is extracted, for the log line.

    Returns:
      A `FeatureSet`.
    """
    rng = np.random.default_rng(seed)
    num_kept = min(max_kept, num_examples)
    chosen = rng.permutation(num_examples)[:num_kept]  # random subset, random order
    # slot_of[i] = where example i goes in the kept arrays, or -1.
    slot_of = np.full(num_examples, -1, np.int64)
    slot_of[chosen] = np.arange(num_kept)
    stats = FeatureStatistics()
    kept_features = kept_probabilities = None
    seen = 0
    started = time.perf_counter()
    for images in batches:
        features, probabilities = extractor(images)
        n = len(features)
        if seen + n > num_examples:
            raise ValueError(
                f"The image batches hold more than num_examples={num_examples} images."
            )
        stats.update(features)
        if kept_features is None:
            kept_features = np.zeros((num_kept, features.shape[1]), np.float32)
            kept_probabilities = np.zeros((num_kept, probabilities.shape[1]), np.float32)
        slots = slot_of[seen : seen + n]
        keep = slots >= 0
        kept_features[slots[keep]] = features[keep]
        kept_probabilities[slots[keep]] = probabilities[keep]
        seen += n
        if progress is not None:
            progress.update(seen)
    if seen != num_examples:
        raise ValueError(
            f"The image batches held {seen} images; expected num_examples={num_examples}."
        )
    logging.info(
        "Extracted %s of %d images in %.1f s.", description, seen, time.perf_counter() - started
    )
    return FeatureSet(
        mean=stats.mean,
        covariance=stats.covariance,
        features=kept_features,
        probabilities=kept_probabilities,
        count=seen,
    )


def batched(images, batch_size):
    """Consecutive slices of an array or tensor of images."""
    for start in range(0, len(images), batch_size):
        yield images[start : start + batch_size]
