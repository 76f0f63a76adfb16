"""The shipped MNIST / Fashion-MNIST classifiers: size, loading, recorded accuracy."""
import json
import os

import numpy as np
import pytest

from gan_tf.metrics import classifier


def _record(dataset):
    with open(classifier.record_path(dataset)) as f:
        return json.load(f)


@pytest.mark.parametrize("dataset", classifier.CLASSIFIER_DATASETS)
def test_shipped_weights_are_small_and_match_their_record(dataset):
    path = classifier.weights_path(dataset)
    assert os.path.getsize(path) < 1.5 * 2**20
    record = _record(dataset)
    assert record["weights_sha256"] == classifier.file_sha256(path)
    assert record["command"].startswith("python -m gan_tf.metrics.train_classifier")
    assert 0.0 < record["test_accuracy"] <= 1.0


def test_extractor_gives_features_and_probabilities():
    extractor = classifier.ClassifierExtractor("mnist")
    assert extractor.name == "mnist_classifier"
    images = np.random.default_rng(0).uniform(-1, 1, (3, 28, 28, 1)).astype(np.float32)
    features, probabilities = extractor(images)
    assert features.shape == (3, classifier.FEATURE_DIM) and features.dtype == np.float32
    assert (features >= 0).all()  # post-ReLU
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    with pytest.raises(ValueError, match=r"\(n, 28, 28, 1\)"):
        extractor(np.zeros((2, 32, 32, 3), np.float32))


def test_mismatched_weights_file_is_a_clear_error(tmp_path):
    import keras

    other = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    path = str(tmp_path / "other.weights.h5")
    other.save_weights(path)
    with pytest.raises(classifier.ClassifierWeightsError, match="Could not load"):
        classifier.load_classifier("mnist", path)
    with pytest.raises(classifier.ClassifierWeightsError, match="train_classifier --dataset mnist"):
        classifier.load_classifier("mnist", str(tmp_path / "missing.weights.h5"))
    with pytest.raises(ValueError, match="No classifier for dataset 'cifar10'"):
        classifier.weights_path("cifar10")


def _held_out(dataset, source):
    from gan_tf import data
    from gan_tf.metrics import train_classifier

    try:
        images, labels, info = train_classifier.load_arrays(dataset, "test", data_source=source)
    except data.DataError as error:
        pytest.skip(f"held-out {dataset} data ({source}) is not available here: {error}")
    return images, labels, info


@pytest.mark.parametrize("dataset", classifier.CLASSIFIER_DATASETS)
def test_classifier_reaches_its_recorded_accuracy_on_held_out_data(dataset):
    record = _record(dataset)
    # The record's own source: accuracy on other data would not check the record.
    images, labels, info = _held_out(dataset, record["data_source"])
    assert len(images) == record["num_test"]
    accuracy = classifier.accuracy(classifier.load_classifier(dataset), images, labels)
    assert accuracy == pytest.approx(record["test_accuracy"], abs=2e-3)
    if dataset == "fashion_mnist":
        assert accuracy >= 0.91  # the bar on the full 10k test set


def test_extractor_computes_in_float32_under_a_mixed_precision_policy():
    # Evaluating a run trained with --mixed_precision mixed_bfloat16 sets that global policy;
    # the metric networks must still compute in float32, or the features (and the cached
    # real-data statistics they are compared with) would depend on the training precision.
    import keras

    images = np.random.default_rng(1).uniform(-1, 1, (16, 28, 28, 1)).astype(np.float32)
    features32, probabilities32 = classifier.ClassifierExtractor("mnist")(images)
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        extractor = classifier.ClassifierExtractor("mnist")
        features, probabilities = extractor(images)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert {layer.compute_dtype for layer in extractor._model.layers} == {"float32"}
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(features, features32, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(probabilities, probabilities32, rtol=1e-6, atol=1e-7)
