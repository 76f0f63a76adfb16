"""Evaluation of generated images: metric math, feature extractors, callback.

Metric math (pure numpy/scipy functions, float64):
  frechet_distance, feature_statistics, FeatureStatistics   Heusel et al. 2017
  kid                                                       Bińkowski et al. 2018
  inception_score                                           Salimans et al. 2016
  precision_recall                                          Kynkäänniemi et al. 2019

Feature extractors (Keras models; their modules load on first use):
  ClassifierExtractor("mnist" | "fashion_mnist")  shipped small CNNs -> *_<dataset>_classifier
  InceptionExtractor(weights=PATH)                ImageNet InceptionV3 -> *_inception

Running it:
  Evaluator, real_data_floor, EvaluationCallback, reference_statistics
  and the command `python -m gan_tf.evaluate --run_dir runs/mnist`.

Metric names always say which features they used: `fd_mnist_classifier` is a
Fréchet distance on the MNIST classifier's features, `fid_inception` the FID.
"""
import importlib

from gan_tf.metrics.classifier_score import inception_score
from gan_tf.metrics.frechet import (
    FeatureStatistics,
    FrechetDistanceError,
    feature_statistics,
    frechet_distance,
)
from gan_tf.metrics.manifold import precision_recall
from gan_tf.metrics.mmd import kid

_LAZY = {
    "EvaluationCallback": "gan_tf.metrics.callback",
    "Evaluator": "gan_tf.metrics.evaluation",
    "real_data_floor": "gan_tf.metrics.evaluation",
    "metric_names": "gan_tf.metrics.evaluation",
    "ClassifierExtractor": "gan_tf.metrics.classifier",
    "ClassifierWeightsError": "gan_tf.metrics.classifier",
    "InceptionExtractor": "gan_tf.metrics.inception",
    "InceptionWeightsUnavailableError": "gan_tf.metrics.inception",
    "reference_statistics": "gan_tf.metrics.reference",
}

__all__ = [
    "FeatureStatistics",
    "FrechetDistanceError",
    "feature_statistics",
    "frechet_distance",
    "inception_score",
    "kid",
    "precision_recall",
    *_LAZY,
]


def __getattr__(name):
    # Extractor and callback modules (keras.applications, ...) load on first access.
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'gan_tf.metrics' has no attribute {name!r}")
