"""InceptionV3 extractor: weights resolution offline, preprocessing, output shapes."""
import numpy as np
import pytest
import tensorflow as tf

from gan_tf.data import network
from gan_tf.metrics import inception
from gan_tf.metrics.evaluation import build_extractors


def test_missing_weights_file_is_a_clear_value_error(tmp_path):
    missing = tmp_path / "nope.h5"
    with pytest.raises(inception.InceptionWeightsUnavailableError) as info:
        inception.resolve_weights(str(missing))
    assert isinstance(info.value, ValueError)
    message = str(info.value)
    assert str(missing) in message and "--inception_weights" in message and inception.WEIGHTS_URL in message


def test_offline_without_cached_file_fails_fast_with_instructions(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty_keras_home"))
    monkeypatch.setattr(network, "is_online", lambda host, port=443, timeout=None: (False, "no answer"))
    with pytest.raises(inception.InceptionWeightsUnavailableError, match="no download was tried"):
        inception.InceptionExtractor()


def test_offline_setting_is_honoured_without_touching_the_network(tmp_path, monkeypatch):
    # One probe for data and weights: GAN_TF_OFFLINE=1 means no connection is even attempted.
    import socket

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty_keras_home"))
    monkeypatch.setenv("GAN_TF_OFFLINE", "1")
    monkeypatch.setattr(socket, "create_connection",
                        lambda *args, **kwargs: pytest.fail("opened a connection although GAN_TF_OFFLINE=1"))
    with pytest.raises(inception.InceptionWeightsUnavailableError, match="GAN_TF_OFFLINE is set"):
        inception.resolve_weights()


def test_cached_file_is_found_without_network(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    (tmp_path / "models").mkdir()
    cached = tmp_path / "models" / inception.WEIGHTS_FILENAME
    cached.write_bytes(b"x")
    monkeypatch.setattr(network, "is_online", lambda *args, **kwargs: pytest.fail("probed the network"))
    assert inception.resolve_weights() == str(cached)


def test_evaluator_skips_unavailable_inception_unless_a_path_was_given(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(network, "is_online", lambda host, port=443, timeout=None: (False, "no answer"))
    extractors, skipped = build_extractors("mnist", inception_weights=None)
    assert [e.name for e in extractors] == ["mnist_classifier"]
    assert "no download was tried (no answer)" in skipped
    with pytest.raises(inception.InceptionWeightsUnavailableError):
        build_extractors("mnist", inception_weights=str(tmp_path / "missing.h5"))
    with pytest.raises(ValueError, match="No feature extractor for dataset 'celeba'"):
        build_extractors("celeba", inception_weights=False)


def test_preprocess_tiles_grey_and_resizes_bilinearly():
    images = np.linspace(-1, 1, 2 * 28 * 28, dtype=np.float32).reshape(2, 28, 28, 1)
    out = inception.preprocess(images).numpy()
    assert out.shape == (2, 299, 299, 3)
    np.testing.assert_array_equal(out[..., 0], out[..., 2])
    expected = tf.image.resize(images, (299, 299), method="bilinear").numpy()[..., 0]
    np.testing.assert_allclose(out[..., 1], expected, atol=1e-6)
    assert out.min() >= -1.0 and out.max() <= 1.0
    with pytest.raises(ValueError, match="1 or 3"):
        inception.preprocess(np.zeros((1, 8, 8, 2), np.float32))


@pytest.mark.slow
def test_inception_extractor_outputs_pool_features_and_probabilities(tmp_path, monkeypatch):
    # Random weights (weights=None needs no download): checks the wiring only —
    # 2048-d pool features, a 1000-way softmax, and chunking of large batches — and that
    # it computes in float32 even when built under a run's mixed-precision policy.
    import keras

    dummy = tmp_path / "dummy.h5"
    dummy.write_bytes(b"stands in for the weights file, which is only hashed here")
    build = inception.build_inception
    monkeypatch.setattr(inception, "resolve_weights", lambda *args: str(dummy))
    monkeypatch.setattr(inception, "build_inception", lambda weights_file: build(None))
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        extractor = inception.InceptionExtractor(chunk_size=2)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert {layer.compute_dtype for layer in extractor._model.layers} == {"float32"}
    images = np.random.default_rng(0).uniform(-1, 1, (3, 28, 28, 1)).astype(np.float32)
    features, probabilities = extractor(images)
    assert features.shape == (3, inception.FEATURE_DIM)
    assert probabilities.shape == (3, inception.NUM_CLASSES)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    alone, _ = extractor(images[2:])
    np.testing.assert_allclose(alone[0], features[2], rtol=1e-4, atol=1e-5)  # chunks are independent
