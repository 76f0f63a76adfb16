"""Generated images against real data: every metric, named after its features.

An `Evaluator` owns the extractors of one data set (its classifier, and
InceptionV3 when weights are at hand) and their cached reference statistics
of the training split. It turns a set of images (or a GAN's samples) into a
flat dict of floats such as

    fd_mnist_classifier, kid_mnist_classifier, kid_mnist_classifier_std,
    is_mnist_classifier, is_mnist_classifier_std,
    precision_mnist_classifier, recall_mnist_classifier,
    fid_inception, kid_inception, ..., recall_inception

so that a Fréchet distance on classifier features is never mistaken for the
Inception FID. `real_data_floor` scores held-out real images the same way.
"""
import time

import numpy as np
from absl import logging

from gan_tf.metrics import classifier as classifier_lib
from gan_tf.metrics import features as features_lib
from gan_tf.metrics import reference
from gan_tf.metrics.classifier_score import inception_score
from gan_tf.metrics.frechet import feature_statistics, frechet_distance
from gan_tf.metrics.manifold import precision_recall
from gan_tf.metrics.mmd import kid

KID_NUM_SUBSETS = 100
KID_SUBSET_SIZE = 1000  # Bińkowski et al.'s default
IS_SPLITS = 10  # Salimans et al.'s default
PR_K = 3  # Kynkäänniemi et al.'s default
MIN_SAMPLES = 10  # one per Inception Score split; also > PR_K for the k-NN radii


def metric_names(extractor_name):
    """Names of the metrics computed on `extractor_name`'s features, in table order."""
    fd = "fid_inception" if extractor_name == "inception" else f"fd_{extractor_name}"
    return [
        fd,
        f"kid_{extractor_name}",
        f"kid_{extractor_name}_std",
        f"is_{extractor_name}",
        f"is_{extractor_name}_std",
        f"precision_{extractor_name}",
        f"recall_{extractor_name}",
    ]


def compare(real, fake, extractor_name, seed=0, pr_batch_size=1000):
    """All metrics of `fake` against `real`, two `FeatureSet`s of one extractor.

    Fréchet distance uses the full statistics of both sets; KID uses
    min(1000, n_real, n_fake)-sized subsets of the kept features; precision and
    recall use the first n = min(n_real_kept, n_fake_kept) kept rows of each
    (equal sizes, since the k-NN radii depend on the number of points); the
    Inception Score uses the fake probabilities only.

    Returns:
      dict name -> float, keys as in `metric_names(extractor_name)`.
    """
    names = metric_names(extractor_name)
    fd = frechet_distance(fake.mean, fake.covariance, real.mean, real.covariance)
    subset_size = min(KID_SUBSET_SIZE, len(real.features), len(fake.features))
    kid_mean, kid_std = kid(real.features, fake.features, num_subsets=KID_NUM_SUBSETS,
                            subset_size=subset_size, seed=seed)
    is_mean, is_std = inception_score(fake.probabilities,
                                      splits=min(IS_SPLITS, len(fake.probabilities)))
    n = min(len(real.features), len(fake.features))
    precision, recall = precision_recall(real.features[:n], fake.features[:n], k=PR_K,
                                         batch_size=pr_batch_size)
    return dict(zip(names, (fd, kid_mean, kid_std, is_mean, is_std, precision, recall)))


def _requested_shape(image_size, channels):
    """(height, width, channels) asked for, with None where the dataset's own applies."""
    size = (image_size, image_size) if isinstance(image_size, int) else image_size
    height, width = size if size else (None, None)
    return height, width, channels


EXTREME = 0.01  # precision or recall within this of 0 or 1 counts as extreme
FAR_FROM_FLOOR = 10.0  # a Fréchet distance this many times the floor's is far from it


def implausible_scores(metrics, floor):
    """Warnings for feature sets whose precision/recall cannot be trusted.

    Kynkäänniemi et al.'s k-NN precision and recall break down where the feature
    space collapses: grey noise, for one, can score precision 1.0 on the small
    classifiers' features. Both values at an extreme (<= EXTREME or >= 1 - EXTREME)
    while the Fréchet distance is more than FAR_FROM_FLOOR times the real-data
    floor's is such a case.

    Args:
      metrics: metrics of generated images, keys as in `metric_names`.
      floor: the same metrics of held-out real images.

    Returns:
      A list of one-line warnings (empty when nothing looks wrong).
    """
    found = []
    for name in metrics:
        if not name.startswith("precision_"):
            continue
        features = name[len("precision_"):]
        fd_name = metric_names(features)[0]
        precision, recall = metrics[name], metrics.get(f"recall_{features}")
        fd, fd_floor = metrics.get(fd_name), floor.get(fd_name)
        if recall is None or fd is None or fd_floor is None:
            continue
        extreme = all(v <= EXTREME or v >= 1 - EXTREME for v in (precision, recall))
        if extreme and fd > FAR_FROM_FLOOR * max(fd_floor, 0.0) and fd > 0:
            found.append(
                f"{name}={precision:.3g} and recall_{features}={recall:.3g} are both extreme while "
                f"{fd_name}={fd:.4g} is far from the real-data floor ({fd_floor:.4g}): the "
                f"{features} feature space has probably collapsed for these images; do not read "
                "precision/recall here.")
    return found


def build_extractors(dataset, inception_weights=None, classifier_weights=None, image_size=None,
                     channels=None):
    """The extractors to evaluate `dataset` with, and why Inception was skipped (or None).

    Args:
      dataset: data set name; "mnist" and "fashion_mnist" have a shipped classifier.
      inception_weights: a path to use InceptionV3 with; None to use it when its
        weights are cached or downloadable; False to never use it.
      classifier_weights: override of the shipped classifier weights file.
      image_size, channels: the images' shape when not the dataset's own; the
        shipped classifiers read 28×28×1 only and are left out for other shapes.

    Returns:
      (list of extractors, reason string or None).
    """
    from gan_tf.metrics import inception  # imports keras.applications lazily

    extractors = []
    unfit = None
    if dataset in classifier_lib.CLASSIFIER_DATASETS:
        wanted = _requested_shape(image_size, channels)
        native = classifier_lib.ClassifierExtractor.input_shape
        if all(w is None or w == n for w, n in zip(wanted, native)):
            extractors.append(classifier_lib.ClassifierExtractor(dataset, classifier_weights))
        else:
            unfit = (f"the shipped {dataset} classifier reads {native[0]}x{native[1]}x{native[2]} "
                     f"images, not image_size={image_size}, channels={channels}")
            logging.warning("No classifier metrics: %s.", unfit)
    skipped = None
    if inception_weights is False:
        skipped = "disabled"
    else:
        try:
            extractors.append(inception.InceptionExtractor(inception_weights))
        except inception.InceptionWeightsUnavailableError as error:
            if inception_weights is not None:
                raise  # asked for by path: a missing file is an error
            skipped = str(error)
            logging.info("Skipping the Inception metrics: no InceptionV3 weights given, cached "
                         "or downloadable (see --inception_weights).")
    if not extractors:
        classifier_why = unfit or (f"it has no shipped classifier (those exist for "
                                   f"{', '.join(classifier_lib.CLASSIFIER_DATASETS)})")
        raise ValueError(
            f"No feature extractor for dataset {dataset!r}: {classifier_why} and "
            f"Inception is unavailable ({skipped})."
        )
    return extractors, skipped


class Evaluator:
    """Scores images of one data set against its real training split.

    Args:
      dataset: `gan_tf.data` dataset name.
      data_source, data_dir: where the real data comes from (`gan_tf.data.load`).
      inception_weights: path, None (use if available) or False (never).
      cache_dir: reference statistics cache (default `reference.default_cache_dir()`).
      batch_size: images per extractor call.
      max_kept: real/fake feature rows kept for KID, precision/recall and IS.
      seed: seed of subset choices.
      verbose: progress bars.
      extractors: ready extractors (tests); overrides `inception_weights`.
      image_size, channels: the shape of the images to score, when not the
        dataset's own (a run's `--image_size`, `--channels`): the real images are
        loaded at that shape, so both sets are compared at one resolution.
    """

    def __init__(self, dataset, data_source="auto", data_dir=None, inception_weights=None,
                 cache_dir=None, batch_size=500, max_kept=10000, seed=0, verbose=True,
                 extractors=None, image_size=None, channels=None):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1; got {batch_size}.")
        self.dataset = dataset
        self.data_source = data_source
        self.data_dir = data_dir
        self.cache_dir = cache_dir
        self.batch_size = batch_size
        self.max_kept = max_kept
        self.seed = seed
        self.verbose = verbose
        self.image_size = image_size
        self.channels = channels
        if extractors is None:
            extractors, self.inception_skipped = build_extractors(
                dataset, inception_weights, image_size=image_size, channels=channels)
        else:
            self.inception_skipped = None
        self.extractors = list(extractors)
        self._references = {}
        self.reference_info = {}
        self.last_fake = {}  # extractor name -> FeatureSet of the last evaluated images

    def metric_names(self):
        return [name for e in self.extractors for name in metric_names(e.name)]

    def real_features(self, extractor, split="train"):
        """Cached `FeatureSet` of a real split under `extractor`."""
        if (extractor.name, split) not in self._references:
            feature_set, key, path = reference.reference_statistics(
                self.dataset, extractor, split=split, data_source=self.data_source,
                data_dir=self.data_dir, cache_dir=self.cache_dir, max_kept=self.max_kept,
                batch_size=self.batch_size, seed=self.seed, verbose=self.verbose,
                image_size=self.image_size, channels=self.channels)
            self._references[(extractor.name, split)] = feature_set
            self.reference_info[f"{extractor.name}/{split}"] = {
                "source": key["source"], "num_examples": key["num_examples"],
                "image_shape": key["image_shape"],
                "extractor_weights_sha256": key["extractor_weights_sha256"], "cache": path}
        return self._references[(extractor.name, split)]

    def prepare(self):
        """Loads or computes the training-split reference of every extractor."""
        for extractor in self.extractors:
            self.real_features(extractor, "train")
        return self

    def evaluate_images(self, images):
        """Metrics of an array/tensor of images (n, H, W, C) in [-1, 1]."""
        results = {}
        for extractor in self.extractors:
            real = self.real_features(extractor, "train")
            real_shape = tuple(self.reference_info[f"{extractor.name}/train"]["image_shape"])
            if tuple(images.shape[1:]) != real_shape:
                # Inception would resize both to 299x299 and compare them anyway, which
                # inflates the distance: refuse instead of scoring two resolutions.
                raise ValueError(
                    f"Images of shape {tuple(images.shape[1:])} cannot be scored against real "
                    f"{self.dataset} images of shape {real_shape}: give the Evaluator the run's "
                    "image_size and channels.")
            progress = None
            if self.verbose:
                import keras

                progress = keras.utils.Progbar(len(images), unit_name="image")
            fake = features_lib.extract(
                extractor, features_lib.batched(images, self.batch_size), len(images),
                max_kept=self.max_kept, seed=self.seed, progress=progress,
                description=f"{extractor.name} features of generated images")
            started = time.perf_counter()
            self.last_fake[extractor.name] = fake
            results.update(compare(real, fake, extractor.name, seed=self.seed))
            logging.info("%s metrics in %.1f s.", extractor.name, time.perf_counter() - started)
        return results

    def evaluate_generator(self, gan, num_samples, use_ema=True):
        """Generates `num_samples` images with a fixed seed and scores them.

        The seed is the same at every call, so successive evaluations during
        training score the same latent points. `use_ema=False` scores a GAN's raw
        generator instead of its EMA generator (where it has one).
        """
        if num_samples < MIN_SAMPLES:
            raise ValueError(f"num_samples must be >= {MIN_SAMPLES}; got {num_samples}.")
        started = time.perf_counter()
        options = {} if use_ema else {"use_ema": False}
        images = gan.generate(num_samples, seed=self.seed, batch_size=self.batch_size, **options)
        logging.info("Generated %d images in %.1f s.", num_samples, time.perf_counter() - started)
        return self.evaluate_images(images)

    def evaluate_last_subset(self, n):
        """Metrics of the first n of the last evaluated images (a random subset).

        Lets generated images be scored with as few images as the real-data
        floor had (the offline MNIST test split has 500), since the Fréchet
        distance, KID's subsets and the k-NN radii all depend on n.
        """
        if not self.last_fake:
            raise ValueError("evaluate_last_subset needs an evaluation first.")
        results = {}
        for extractor in self.extractors:
            real = self.real_features(extractor, "train")
            results.update(compare(real, subset(self.last_fake[extractor.name], n),
                                   extractor.name, seed=self.seed))
        return results

    def floor(self, num_samples=10000):
        """The same metrics for held-out real images (test split) against the training split.

        Uses n = min(num_samples, test split size, max_kept) test images, so that
        the floor is computed with as many images as an evaluation of
        `num_samples` generated ones, when the test split allows it.

        Returns:
          (dict of metrics, n).
        """
        results = {}
        n_used = None
        for extractor in self.extractors:
            real = self.real_features(extractor, "train")
            test = self.real_features(extractor, "test")
            n = min(num_samples, len(test.features))
            results.update(compare(real, subset(test, n), extractor.name, seed=self.seed))
            n_used = n if n_used is None else min(n_used, n)
        return results, n_used


def subset(feature_set, n):
    """The first n kept rows of a `FeatureSet` (a random subset) with their own statistics."""
    if n >= feature_set.count:
        return feature_set
    if n > len(feature_set.features):
        raise ValueError(f"Only {len(feature_set.features)} rows are kept; asked for n={n}.")
    mean, covariance = feature_statistics(feature_set.features[:n])
    return features_lib.FeatureSet(mean, covariance, feature_set.features[:n],
                                   feature_set.probabilities[:n], n)


def real_data_floor(dataset, num_samples=10000, data_source="auto", data_dir=None,
                    inception_weights=None, cache_dir=None, batch_size=500, seed=0,
                    verbose=True, evaluator=None):
    """Metrics of real held-out (test split) images against the training split.

    The floor that generated images are read against: a perfect generator
    scores about this (for the Fréchet distance, the same number of samples
    matters: it is biased upwards for small n).

    Args:
      dataset: data set name with a "test" split.
      num_samples: at most this many test images are used.
      data_source, data_dir, inception_weights, cache_dir, batch_size, seed,
        verbose: as for `Evaluator`.
      evaluator: an existing `Evaluator` to reuse (its extractors and caches).

    Returns:
      (dict of metrics, number of test images used).
    """
    evaluator = evaluator or Evaluator(
        dataset, data_source=data_source, data_dir=data_dir,
        inception_weights=inception_weights, cache_dir=cache_dir, batch_size=batch_size,
        seed=seed, verbose=verbose)
    return evaluator.floor(num_samples)
