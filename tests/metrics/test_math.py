"""Metric math against closed forms and independent computations."""
import itertools

import numpy as np
import pytest

from gan_tf.metrics import classifier_score, frechet, manifold, mmd


# --- Fréchet distance -------------------------------------------------------


def test_frechet_distance_of_a_set_with_itself_is_zero():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(500, 16)) @ rng.normal(size=(16, 16))
    mu, sigma = frechet.feature_statistics(features)
    assert frechet.frechet_distance(mu, sigma, mu, sigma) == pytest.approx(0.0, abs=1e-8)


def test_frechet_distance_matches_closed_form_for_diagonal_gaussians():
    # For diagonal covariances: ||mu1-mu2||² + Σ (sqrt(a_i) - sqrt(b_i))².
    mu1 = np.array([0.0, 1.0, -2.0, 3.0])
    mu2 = np.array([1.0, 1.0, 0.5, -1.0])
    a = np.array([1.0, 4.0, 0.25, 9.0])
    b = np.array([4.0, 1.0, 1.0, 9.0])
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    got = frechet.frechet_distance(mu1, np.diag(a), mu2, np.diag(b))
    assert got == pytest.approx(expected, rel=1e-10)


def test_frechet_distance_does_not_depend_on_sample_order():
    rng = np.random.default_rng(1)
    real = rng.normal(size=(400, 8))
    fake = rng.normal(0.3, 1.5, size=(400, 8))
    d1 = frechet.frechet_distance(*frechet.feature_statistics(real), *frechet.feature_statistics(fake))
    d2 = frechet.frechet_distance(
        *frechet.feature_statistics(rng.permutation(real)),
        *frechet.feature_statistics(rng.permutation(fake)),
    )
    assert d1 == pytest.approx(d2, rel=1e-10)


def test_frechet_distance_handles_singular_covariances():
    # Rank-deficient features (more dims than examples): sqrtm is singular.
    rng = np.random.default_rng(2)
    x = rng.normal(size=(5, 20))
    mu, sigma = frechet.feature_statistics(x)
    value = frechet.frechet_distance(mu, sigma, mu + 1.0, sigma)
    assert np.isfinite(value)
    assert value == pytest.approx(20.0, abs=1e-2)


@pytest.mark.parametrize("dim", [64, 128])
def test_frechet_distance_of_rank_deficient_features_with_themselves_is_zero(dim):
    # Half the units dead (always 0), as in the shipped classifiers' features: scipy warns
    # that the product is singular, but its root is accurate. pytorch-fid adds eps*I only
    # when the root is not finite; adding it on the warning gave about -2*eps*dim instead.
    rng = np.random.default_rng(5)
    features = np.maximum(rng.normal(size=(500, 30)) @ rng.normal(size=(30, dim)), 0.0)
    features[:, dim // 2:] = 0.0
    mu, sigma = frechet.feature_statistics(features)
    assert np.linalg.matrix_rank(sigma) < dim
    value = frechet.frechet_distance(mu, sigma, mu, sigma)
    assert abs(value) <= 1e-8 * np.trace(sigma)


def test_frechet_distance_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="Shapes do not match"):
        frechet.frechet_distance(np.zeros(3), np.eye(3), np.zeros(2), np.eye(2))


def test_batch_accumulation_equals_one_shot_statistics():
    rng = np.random.default_rng(3)
    # A large offset makes the naive E[xx^T] - mu mu^T lose digits in float32.
    features = (rng.normal(size=(1003, 6)) + 1e3).astype(np.float32)
    stats = frechet.FeatureStatistics()
    for start in range(0, len(features), 128):
        stats.update(features[start : start + 128])
    expected = features.astype(np.float64)
    assert stats.count == 1003
    np.testing.assert_allclose(stats.mean, expected.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(stats.covariance, np.cov(expected, rowvar=False), rtol=1e-9, atol=1e-12)


def test_feature_statistics_needs_two_examples():
    with pytest.raises(ValueError, match="at least 2"):
        frechet.FeatureStatistics().update(np.zeros((1, 3))).covariance


# --- KID --------------------------------------------------------------------


def _mmd2_double_loop(x, y):
    d = x.shape[1]
    k = lambda a, b: (float(np.dot(a, b)) / d + 1.0) ** 3  # noqa: E731
    m = len(x)
    xx = sum(k(x[i], x[j]) for i, j in itertools.permutations(range(m), 2))
    yy = sum(k(y[i], y[j]) for i, j in itertools.permutations(range(m), 2))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m))
    return xx / (m * (m - 1)) + yy / (m * (m - 1)) - 2 * xy / (m * m)


def test_mmd2_unbiased_agrees_with_direct_double_loop():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(7, 3))
    y = rng.normal(0.5, 2.0, size=(7, 3))
    assert mmd.mmd2_unbiased(x, y) == pytest.approx(_mmd2_double_loop(x, y), rel=1e-12)


def test_kid_with_full_subsets_agrees_with_double_loop():
    # subset_size == n: every subset is the whole set, so mean = the loop, std = 0.
    rng = np.random.default_rng(5)
    x = rng.normal(size=(6, 4))
    y = rng.normal(1.0, 1.0, size=(6, 4))
    mean, std = mmd.kid(x, y, num_subsets=3, subset_size=6)
    assert mean == pytest.approx(_mmd2_double_loop(x, y), rel=1e-12)
    assert std == pytest.approx(0.0, abs=1e-12)


def test_kid_is_near_zero_for_one_distribution_and_positive_otherwise():
    rng = np.random.default_rng(6)
    a = rng.normal(size=(2000, 16))
    b = rng.normal(size=(2000, 16))
    c = rng.normal(0.5, 1.0, size=(2000, 16))
    same, same_std = mmd.kid(a, b, num_subsets=20, subset_size=500, seed=0)
    different, _ = mmd.kid(a, c, num_subsets=20, subset_size=500, seed=0)
    assert abs(same) < 3 * same_std + 1e-3
    assert different > 10 * abs(same)


def test_kid_rejects_too_large_subsets():
    with pytest.raises(ValueError, match="subset_size"):
        mmd.kid(np.zeros((10, 2)), np.zeros((20, 2)), subset_size=11)


# --- Inception Score ---------------------------------------------------------


def test_inception_score_is_number_of_classes_for_confident_uniform_predictions():
    num_classes = 10
    probabilities = np.tile(np.eye(num_classes), (20, 1))  # 200 rows, 20 per class
    mean, std = classifier_score.inception_score(probabilities, splits=4)
    assert mean == pytest.approx(num_classes, rel=1e-12)
    assert std == pytest.approx(0.0, abs=1e-12)


def test_inception_score_is_one_for_identical_predictions():
    rng = np.random.default_rng(7)
    row = rng.dirichlet(np.ones(10))
    mean, std = classifier_score.inception_score(np.tile(row, (100, 1)), splits=5)
    assert mean == pytest.approx(1.0, abs=1e-12)
    assert std == pytest.approx(0.0, abs=1e-12)


def test_inception_score_matches_independent_kl_computation():
    rng = np.random.default_rng(8)
    p = rng.dirichlet(np.full(5, 0.3), size=60)
    marginal = p.mean(axis=0)
    kl = np.sum(p * (np.log(p) - np.log(marginal)), axis=1)
    mean, _ = classifier_score.inception_score(p, splits=1)
    assert mean == pytest.approx(np.exp(kl.mean()), rel=1e-10)


def test_inception_score_rejects_logits():
    with pytest.raises(ValueError, match="sum to 1"):
        classifier_score.inception_score(np.full((10, 3), 2.0), splits=1)


# --- Precision / recall --------------------------------------------------------


def test_precision_recall_are_one_for_identical_clouds():
    rng = np.random.default_rng(9)
    x = rng.normal(size=(300, 5))
    assert manifold.precision_recall(x, x.copy(), k=3, batch_size=64) == (1.0, 1.0)


def test_precision_recall_are_zero_for_far_apart_clouds():
    rng = np.random.default_rng(10)
    real = rng.normal(size=(200, 5))
    fake = rng.normal(size=(200, 5)) + 100.0
    assert manifold.precision_recall(real, fake, k=3, batch_size=50) == (0.0, 0.0)


def test_precision_recall_small_hand_checked_case():
    # Real points 0,1,2,3 on a line: with k=1 every real radius is 1.
    # Fake 0.5 lies inside, fake 10 outside -> precision 1/2.
    # Fake radii (k=1) are both 9.5; every real point is within 9.5 of 0.5 -> recall 1.
    real = np.array([[0.0], [1.0], [2.0], [3.0]])
    fake = np.array([[0.5], [10.0]])
    precision, recall = manifold.precision_recall(real, fake, k=1, batch_size=3)
    assert precision == 0.5
    assert recall == 1.0
    # Move the fake cloud so that only real points 0 and 1 are within its radius.
    fake = np.array([[-1.0], [-0.5]])  # fake radii 0.5: covers real 0 only
    precision, recall = manifold.precision_recall(real, fake, k=1)
    assert precision == 1.0  # -1 and -0.5 are within 1 of real point 0
    assert recall == 0.25


def test_knn_radii_match_brute_force():
    rng = np.random.default_rng(11)
    x = rng.normal(size=(57, 4))
    d2 = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    expected = np.sort(d2, axis=1)[:, 3]  # column 0 is the point itself
    np.testing.assert_allclose(manifold.knn_radii(x, k=3, batch_size=10), expected, rtol=1e-9, atol=1e-12)
