"""Kernel Inception Distance (KID): the unbiased MMD² with a cubic polynomial kernel.

Bińkowski, Sutherland, Arbel & Gretton 2018, "Demystifying MMD GANs"
(https://arxiv.org/abs/1801.01401). Like the Fréchet distance, the name of the
metric says which features it ran on (`kid_inception`, `kid_mnist_classifier`).
"""
import numpy as np

from gan_tf.metrics.arrays import feature_pair


def polynomial_kernel(x, y):
    """k(x, y) = (x·y / d + 1)³, the kernel of Bińkowski et al. 2018."""
    dim = x.shape[1]
    k = x @ y.T
    k /= dim
    k += 1.0
    return k * k * k  # in place and multiplied: numpy's ** 3 is a slow generic pow


def mmd2_unbiased(real_features, fake_features):
    """Unbiased estimate of MMD² between two equally sized samples.

    MMD²_u = 1/(m(m-1)) Σ_{i≠j} [k(x_i,x_j) + k(y_i,y_j)] - 2/m² Σ_{i,j} k(x_i,y_j)

    Args:
      real_features, fake_features: float arrays of shape (m, dim), m >= 2.

    Returns:
      The estimate as a Python float (it can be slightly negative).
    """
    x = np.asarray(real_features, np.float64)
    y = np.asarray(fake_features, np.float64)
    m = x.shape[0]
    if y.shape[0] != m or m < 2:
        raise ValueError(
            f"mmd2_unbiased needs two samples of equal size >= 2; got {x.shape[0]} "
            f"and {y.shape[0]}."
        )
    k_xx = polynomial_kernel(x, x)
    k_yy = polynomial_kernel(y, y)
    k_xy = polynomial_kernel(x, y)
    within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
    return float(within - 2.0 * k_xy.sum() / (m * m))


def kid(real_features, fake_features, num_subsets=100, subset_size=1000, seed=0):
    """Kernel Inception Distance between two feature sets, with its spread.

    Bińkowski et al. 2018 (https://arxiv.org/abs/1801.01401): the unbiased MMD²
    with k(x, y) = (x·y/d + 1)³, averaged over `num_subsets` random subsets of
    `subset_size` examples drawn without replacement from each set (as in the
    authors' code), which keeps the cost at O(num_subsets · subset_size²).

    Args:
      real_features: array (n_real, dim).
      fake_features: array (n_fake, dim).
      num_subsets: number of subset pairs to average over.
      subset_size: examples per subset; must not exceed n_real or n_fake.
      seed: seed of the subset draw, so that a result can be reproduced.

    Returns:
      (mean, std) over the subsets, as Python floats.
    """
    real, fake = feature_pair(real_features, fake_features)
    if num_subsets < 1:
        raise ValueError(f"num_subsets must be >= 1; got {num_subsets}.")
    if not 2 <= subset_size <= min(len(real), len(fake)):
        raise ValueError(
            f"subset_size must be in [2, min(n_real, n_fake)] = [2, "
            f"{min(len(real), len(fake))}]; got {subset_size}."
        )
    rng = np.random.default_rng(seed)
    estimates = np.empty(num_subsets, np.float64)
    for i in range(num_subsets):
        x = real[rng.choice(len(real), subset_size, replace=False)]
        y = fake[rng.choice(len(fake), subset_size, replace=False)]
        estimates[i] = mmd2_unbiased(x, y)
    return float(estimates.mean()), float(estimates.std())
