"""Improved precision and recall, from k-nearest-neighbour estimates of the data manifolds.

Kynkäänniemi, Karras, Laine, Lehtinen & Aila 2019, "Improved Precision and
Recall Metric for Assessing Generative Models" (https://arxiv.org/abs/1904.06991).
Each feature set's manifold is the union of balls around its points, the radius
of each ball being the distance to the point's k-th nearest neighbour in its own
set. Precision is the share of fake points inside the real manifold (quality);
recall is the share of real points inside the fake manifold (coverage).

Distances are computed block by block (`batch_size` rows at a time), so 10,000
× 10,000 needs about `batch_size × 10,000 × 8` bytes at once, not 800 MB.
"""
import numpy as np

from gan_tf.metrics.arrays import feature_pair


def _squared_norms(x):
    return np.einsum("ij,ij->i", x, x)


def _squared_distances(a, b, a_sq, b_sq):
    # ||a - b||² = ||a||² - 2 a·b + ||b||²; rounding can make it slightly < 0.
    return np.maximum(a_sq[:, None] - 2.0 * (a @ b.T) + b_sq[None, :], 0.0)


def knn_radii(features, k=3, batch_size=1000):
    """Squared distance from each point to its k-th nearest other point.

    The point itself (distance 0) is not counted, as in the authors' code, which
    takes entry k of each sorted distance row.

    Args:
      features: array (n, dim) with n > k.
      k: neighbourhood size.
      batch_size: rows per distance block.

    Returns:
      Array (n,) of squared radii, float64.
    """
    x = np.asarray(features, np.float64)
    if x.ndim != 2:
        raise ValueError(f"features must be (n, dim); got shape {x.shape}.")
    if not 1 <= k < len(x):
        raise ValueError(f"k must be in [1, n - 1] = [1, {len(x) - 1}]; got {k}.")
    sq = _squared_norms(x)
    radii = np.empty(len(x), np.float64)
    for start in range(0, len(x), batch_size):
        block = _squared_distances(x[start : start + batch_size], x, sq[start : start + batch_size], sq)
        radii[start : start + batch_size] = np.partition(block, k, axis=1)[:, k]
    return radii


def _coverage(manifold, manifold_radii, queries, batch_size):
    """Share of `queries` within the radius of at least one manifold point."""
    m_sq = _squared_norms(manifold)
    q_sq = _squared_norms(queries)
    inside = np.zeros(len(queries), bool)
    for start in range(0, len(queries), batch_size):
        block = _squared_distances(
            queries[start : start + batch_size], manifold, q_sq[start : start + batch_size], m_sq
        )
        inside[start : start + batch_size] = np.any(block <= manifold_radii[None, :], axis=1)
    return float(inside.mean())


def precision_recall(real_features, fake_features, k=3, batch_size=1000):
    """k-NN precision and recall of fake features against real ones.

    Kynkäänniemi et al. 2019 (https://arxiv.org/abs/1904.06991), k = 3 as in
    the paper. The estimate depends on the number of points (more points give
    smaller balls), so compare values computed with equal set sizes.

    Args:
      real_features: array (n_real, dim), n_real > k.
      fake_features: array (n_fake, dim), n_fake > k.
      k: neighbourhood size.
      batch_size: rows per distance block; memory is about
        batch_size × max(n_real, n_fake) × 8 bytes.

    Returns:
      (precision, recall) as Python floats in [0, 1].
    """
    real, fake = feature_pair(real_features, fake_features)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1; got {batch_size}.")
    real_radii = knn_radii(real, k, batch_size)
    fake_radii = knn_radii(fake, k, batch_size)
    precision = _coverage(real, real_radii, fake, batch_size)
    recall = _coverage(fake, fake_radii, real, batch_size)
    return precision, recall
