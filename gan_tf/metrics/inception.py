"""InceptionV3 feature extractor: 2048-d pool features and ImageNet probabilities.

Preprocessing follows the FID protocol of Heusel et al. 2017
(https://arxiv.org/abs/1706.08500): images in [-1, 1] (the input range of
Keras's InceptionV3), grey images tiled to 3 channels, resized to 299×299 with
bilinear interpolation, features from the 2048-d global average pool.

Caveat, stated wherever the numbers are reported: these are the ImageNet
weights of `keras.applications.InceptionV3`, not the 2015 TensorFlow graph
(`pt_inception-2015-12-05`) used by the original FID/IS code, so `fid_inception`
and `is_inception` follow the protocol but can differ from published values
computed with that graph.

Weights come from, in order: the file given by argument (`--inception_weights`),
the Keras cache (`$KERAS_HOME/models/`), or a download when the network answers
within a few seconds (`gan_tf.data.network.is_online`, which `GAN_TF_OFFLINE=1`
turns off). Offline without a file the extractor raises
`InceptionWeightsUnavailableError` saying how to provide one.
"""
import os

import keras
import numpy as np
import tensorflow as tf

from gan_tf.data import network
from gan_tf.metrics.classifier import file_sha256, load_weights_strictly
from gan_tf.metrics.features import float32_networks

WEIGHTS_URL = (
    "https://storage.googleapis.com/tensorflow/keras-applications/"
    "inception_v3/inception_v3_weights_tf_dim_ordering_tf_kernels.h5"
)
WEIGHTS_HOST = "storage.googleapis.com"
WEIGHTS_FILENAME = "inception_v3_weights_tf_dim_ordering_tf_kernels.h5"
WEIGHTS_MD5 = "9a0d58056eeedaa3f26cb7ebd46da564"  # keras.applications' own check
IMAGE_SIZE = 299
FEATURE_DIM = 2048
NUM_CLASSES = 1000


class InceptionWeightsUnavailableError(ValueError):
    """No InceptionV3 ImageNet weights file was given, cached or downloadable."""


def cached_weights_path():
    """Where `keras.applications.InceptionV3(weights="imagenet")` caches its file."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return os.path.join(home, "models", WEIGHTS_FILENAME)


def _unavailable_message(reason):
    return (
        f"InceptionV3 ImageNet weights are not available: {reason}. On a machine with "
        f"network access download\n  {WEIGHTS_URL}\n(92 MB, md5 {WEIGHTS_MD5}) and pass "
        f"its path with --inception_weights PATH (inception_weights=PATH in Python), "
        f"or put it at {cached_weights_path()}. The classifier metrics "
        f"(fd_<dataset>_classifier, ...) need no download."
    )


def resolve_weights(weights=None, allow_download=True, probe_timeout=3.0):
    """Path of an InceptionV3 ImageNet weights file (with the classification top).

    Args:
      weights: a local `.h5` path, or None to look in the Keras cache and then
        download.
      allow_download: whether to try the network at all.
      probe_timeout: seconds the network probe may take before giving up.

    Returns:
      The path of the weights file.

    Raises:
      InceptionWeightsUnavailableError: no file given or cached, and no network.
    """
    if weights is not None:
        weights = os.path.expanduser(str(weights))
        if not os.path.isfile(weights):
            raise InceptionWeightsUnavailableError(
                _unavailable_message(f"the file {weights!r} does not exist")
            )
        return weights
    cached = cached_weights_path()
    if os.path.isfile(cached):
        return cached
    if not allow_download:
        raise InceptionWeightsUnavailableError(
            _unavailable_message("no file was given and none is cached")
        )
    online, why = network.is_online(WEIGHTS_HOST, timeout=probe_timeout)
    if not online:
        raise InceptionWeightsUnavailableError(
            _unavailable_message(f"no file was given, none is cached and no download was tried ({why})")
        )
    return keras.utils.get_file(
        WEIGHTS_FILENAME, WEIGHTS_URL, cache_subdir="models", file_hash=WEIGHTS_MD5
    )


def preprocess(images):
    """[-1, 1] images of any size, 1 or 3 channels -> (n, 299, 299, 3) in [-1, 1]."""
    images = tf.convert_to_tensor(images, tf.float32)
    if images.shape.rank != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(
            f"Inception expects images (n, H, W, 1 or 3) in [-1, 1]; got shape "
            f"{tuple(images.shape)}."
        )
    if images.shape[-1] == 1:
        images = tf.tile(images, [1, 1, 1, 3])
    # Bilinear without antialiasing, as the TensorFlow FID code resizes.
    images = tf.image.resize(images, (IMAGE_SIZE, IMAGE_SIZE), method="bilinear")
    return tf.clip_by_value(images, -1.0, 1.0)


def build_inception(weights_file=None):
    """InceptionV3 with two outputs: pool features (n, 2048) and probabilities (n, 1000).

    Args:
      weights_file: path of the ImageNet weights with top; None leaves the
        network randomly initialised (tests only: the features then mean nothing).
    """
    base = keras.applications.InceptionV3(
        include_top=True, weights=None, classifier_activation="softmax"
    )
    if weights_file is not None:
        try:
            load_weights_strictly(base, weights_file, InceptionWeightsUnavailableError)
        except InceptionWeightsUnavailableError as error:
            raise InceptionWeightsUnavailableError(
                _unavailable_message(
                    f"{error}. The file must hold InceptionV3 with its classification top "
                    "(the '_notop' file lacks the logits that is_inception needs)"
                )
            ) from error
    pool = base.get_layer("avg_pool").output
    return keras.Model(base.inputs, [pool, base.output], name="inception_v3_features")


class InceptionExtractor:
    """InceptionV3 pool features and ImageNet class probabilities.

    Args:
      weights: local weights file; None to use the Keras cache or download.
      allow_download: whether the network may be tried.
      probe_timeout: seconds for the network probe.
      chunk_size: images per network call (memory bound at 299×299).

    Attributes:
      name: "inception", the suffix of `fid_inception`, `kid_inception`, ...
      weights_hash: SHA-256 of the weights file (cache key of reference statistics).
    """

    name = "inception"

    def __init__(self, weights=None, allow_download=True, probe_timeout=3.0, chunk_size=64):
        self.chunk_size = int(chunk_size)
        self.weights_file = resolve_weights(weights, allow_download, probe_timeout)
        self.weights_hash = file_sha256(self.weights_file)
        with float32_networks():
            self._model = build_inception(self.weights_file)
        self._predict = tf.function(
            lambda x: self._model(preprocess(x), training=False), reduce_retracing=True
        )

    def __call__(self, images):
        """(features (n, 2048), probabilities (n, 1000)) as float32 numpy arrays."""
        images = tf.convert_to_tensor(images, tf.float32)
        # At 299×299 a 500-image batch would need ~0.5 GB of input alone and
        # several GB of activations: run the network on small chunks.
        outputs = [self._predict(images[i : i + self.chunk_size])
                   for i in range(0, int(images.shape[0]), self.chunk_size)]
        features = np.concatenate([f.numpy() for f, _ in outputs])
        probabilities = np.concatenate([p.numpy() for _, p in outputs])
        return features, probabilities
