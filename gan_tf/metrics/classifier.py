"""Small CNN classifiers for MNIST and Fashion-MNIST, used as feature extractors.

No ImageNet Inception weights can be downloaded on an offline machine, and
Inception features say little about 28×28 grey digits anyway. These classifiers
are trained by `python -m gan_tf.metrics.train_classifier --dataset ...` and
shipped as weights in `gan_tf/metrics/weights/`. Their penultimate layer (64
units after ReLU) gives the features of `fd_<dataset>_classifier`,
`kid_<dataset>_classifier` and precision/recall; their softmax gives the class
probabilities of `is_<dataset>_classifier`. None of these numbers is comparable
with a published Inception FID or IS.

The architecture is built in code and only weights are loaded (`load_weights`
on an HDF5 file), so loading a shipped file runs no unpickling.
"""
import hashlib
import json
import os
import warnings

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from gan_tf.metrics.features import float32_networks

WEIGHTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "weights")
CLASSIFIER_DATASETS = ("mnist", "fashion_mnist")
IMAGE_SHAPE = (28, 28, 1)
NUM_CLASSES = 10
FEATURE_DIM = 64


class ClassifierWeightsError(ValueError):
    """A classifier's weights file is missing or does not fit the architecture."""


def _check_dataset(dataset):
    if dataset not in CLASSIFIER_DATASETS:
        raise ValueError(
            f"No classifier for dataset {dataset!r}; expected one of "
            f"{', '.join(CLASSIFIER_DATASETS)}."
        )


def weights_path(dataset):
    """Path of the shipped weights file of `dataset`'s classifier."""
    _check_dataset(dataset)
    return os.path.join(WEIGHTS_DIR, f"{dataset}_classifier.weights.h5")


def record_path(dataset):
    """Path of the JSON record (accuracy, data source, command) of the classifier."""
    _check_dataset(dataset)
    return os.path.join(WEIGHTS_DIR, f"{dataset}_classifier.json")


def file_sha256(path):
    """Hex SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def build_classifier(name="classifier", dropout=0.3):
    """The classifier network: 28×28×1 images in [-1, 1] -> 10 class probabilities.

    Two 3×3 conv layers (32 and 64 filters, each followed by 2×2 max pooling),
    a 64-unit ReLU layer named "features", dropout and a softmax layer named
    "probabilities": about 220k parameters (0.9 MB of float32), small enough to
    ship and to train in minutes on a CPU.

    Args:
      name: model name.
      dropout: dropout rate before the softmax layer (active in training only).

    Returns:
      A functional `keras.Model` with one output, the probabilities.
    """
    images = keras.Input(IMAGE_SHAPE, name="images")
    x = layers.Conv2D(32, 3, padding="same", activation="relu", name="conv1")(images)
    x = layers.MaxPooling2D(name="pool1")(x)  # 14×14×32
    x = layers.Conv2D(64, 3, padding="same", activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D(name="pool2")(x)  # 7×7×64
    x = layers.Flatten(name="flatten")(x)  # 3136
    features = layers.Dense(FEATURE_DIM, activation="relu", name="features")(x)
    x = layers.Dropout(dropout, name="dropout")(features)
    probabilities = layers.Dense(NUM_CLASSES, activation="softmax", name="probabilities")(x)
    return keras.Model(images, probabilities, name=name)


def feature_model(classifier):
    """Two-output view of a classifier: (features, probabilities)."""
    return keras.Model(
        classifier.inputs,
        [classifier.get_layer("features").output, classifier.output],
        name=f"{classifier.name}_features",
    )


def load_classifier(dataset, path=None):
    """Builds the classifier and loads its weights (the shipped file by default).

    Args:
      dataset: "mnist" or "fashion_mnist".
      path: a `.weights.h5` file; None for the shipped one.

    Returns:
      The classifier `keras.Model` (probabilities output).
    """
    _check_dataset(dataset)
    path = path or weights_path(dataset)
    if not os.path.isfile(path):
        raise ClassifierWeightsError(
            f"Classifier weights {path!r} not found. Train them with "
            f"`python -m gan_tf.metrics.train_classifier --dataset {dataset}`."
        )
    classifier = build_classifier(name=f"{dataset}_classifier")
    load_weights_strictly(classifier, path)
    return classifier


def load_weights_strictly(model, path, error_class=ClassifierWeightsError):
    """`model.load_weights(path)`, raising `error_class` for any weight not loaded.

    Keras only warns ("Skipping ...") when a file does not match the
    architecture and leaves those layers randomly initialised; features from
    such a model would be silently meaningless.
    """
    before = [w.copy() for w in model.get_weights()]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model.load_weights(path)
        except (ValueError, OSError, KeyError) as error:
            raise error_class(f"Could not load {path!r} into {model.name}: {error}") from error
    skipped = [str(w.message) for w in caught if "skip" in str(w.message).lower()]
    unchanged = sum(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    if skipped or unchanged:
        raise error_class(
            f"Could not load {path!r} into {model.name}: {unchanged} of {len(before)} weight "
            f"arrays were not loaded ({'; '.join(skipped) or 'unchanged after loading'}). "
            "Is it a weights file of this architecture?")


class ClassifierExtractor:
    """Features and class probabilities from a data set's shipped classifier.

    Args:
      dataset: "mnist" or "fashion_mnist".
      weights: a `.weights.h5` file; None for the shipped one.

    Attributes:
      name: "<dataset>_classifier", the suffix of the metric names.
      weights_hash: SHA-256 of the weights file, part of the reference-statistics
        cache key.

    Example:
      >>> extractor = ClassifierExtractor("mnist")
      >>> features, probabilities = extractor(images)  # images (n, 28, 28, 1) in [-1, 1]
    """

    input_shape = IMAGE_SHAPE

    def __init__(self, dataset, weights=None):
        self.dataset = dataset
        self.name = f"{dataset}_classifier"
        self.weights_file = weights or weights_path(dataset)
        with float32_networks():
            self._model = feature_model(load_classifier(dataset, self.weights_file))
        self.weights_hash = file_sha256(self.weights_file)
        self._predict = tf.function(
            lambda x: self._model(x, training=False),
            input_signature=[tf.TensorSpec((None,) + IMAGE_SHAPE, tf.float32)],
            reduce_retracing=True,
        )

    def __call__(self, images):
        """(features (n, 64), probabilities (n, 10)) as float32 numpy arrays."""
        images = tf.convert_to_tensor(images, tf.float32)
        if tuple(images.shape[1:]) != IMAGE_SHAPE:
            raise ValueError(
                f"{self.name} expects images of shape (n, 28, 28, 1) in [-1, 1]; "
                f"got shape {tuple(images.shape)}."
            )
        features, probabilities = self._predict(images)
        return features.numpy(), probabilities.numpy()

    def record(self):
        """The classifier's JSON record (accuracy, data source, command), if shipped."""
        path = record_path(self.dataset)
        if not os.path.isfile(path):
            return {}
        with open(path) as f:
            return json.load(f)


def accuracy(classifier, images, labels, batch_size=500):
    """Top-1 accuracy of `classifier` on numpy images and integer labels."""
    probabilities = classifier.predict(images, batch_size=batch_size, verbose=0)
    return float(np.mean(np.argmax(probabilities, axis=1) == np.asarray(labels)))
