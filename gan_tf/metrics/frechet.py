"""Fréchet distance between two Gaussians fitted to feature sets.

Heusel et al. 2017, "GANs Trained by a Two Time-Scale Update Rule Converge to a
Local Nash Equilibrium" (https://arxiv.org/abs/1706.08500). With Inception pool
features this is the FID; with any other features it is a Fréchet distance on
those features, and the metric name must say which (`gan_tf.metrics.evaluation.metric_names`).

Pure numpy/scipy, float64 throughout.
"""
import warnings

import numpy as np
import scipy.linalg


class FrechetDistanceError(ValueError):
    """The matrix square root could not be made real and finite."""


def _as_2d_float64(features, name="features"):
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2:
        raise ValueError(
            f"{name} must have shape (num_examples, dim); got shape {features.shape}."
        )
    return features


class FeatureStatistics:
    """Running mean and covariance of feature vectors, batch by batch.

    Chan, Golub & LeVeque's pairwise update (1979): each batch's own mean and
    centred scatter matrix are merged into the running ones in float64, which
    avoids the cancellation of the naive `E[x x^T] - mu mu^T` in float32 over
    tens of thousands of examples.

    Args:
      dim: feature dimension; inferred from the first batch when None.

    Example:
      >>> stats = FeatureStatistics()
      >>> for batch in batches:
      ...     stats.update(batch)
      >>> mu, sigma = stats.mean, stats.covariance
    """

    def __init__(self, dim=None):
        self.dim = dim
        self.count = 0
        self._mean = None if dim is None else np.zeros(dim, np.float64)
        self._scatter = None if dim is None else np.zeros((dim, dim), np.float64)

    def update(self, batch):
        """Adds a batch of shape (n, dim) to the statistics."""
        batch = _as_2d_float64(batch, "batch")
        if self.dim is None:
            self.dim = batch.shape[1]
            self._mean = np.zeros(self.dim, np.float64)
            self._scatter = np.zeros((self.dim, self.dim), np.float64)
        if batch.shape[1] != self.dim:
            raise ValueError(
                f"batch has feature dimension {batch.shape[1]}; expected {self.dim}."
            )
        n_b = batch.shape[0]
        if n_b == 0:
            return self
        batch_mean = batch.mean(axis=0)
        centred = batch - batch_mean
        batch_scatter = centred.T @ centred
        n_a = self.count
        n = n_a + n_b
        delta = batch_mean - self._mean
        self._mean = self._mean + delta * (n_b / n)
        self._scatter = self._scatter + batch_scatter + np.outer(delta, delta) * (
            n_a * n_b / n
        )
        self.count = n
        return self

    @property
    def mean(self):
        if self.count == 0:
            raise ValueError("FeatureStatistics has seen no examples yet.")
        return self._mean.copy()

    @property
    def covariance(self):
        """Unbiased sample covariance (divides by n - 1, as `np.cov` does)."""
        if self.count < 2:
            raise ValueError(
                f"A covariance needs at least 2 examples; got {self.count}."
            )
        return self._scatter / (self.count - 1)


def feature_statistics(features):
    """Mean and unbiased covariance of a feature matrix, in float64.

    Args:
      features: array of shape (num_examples, dim).

    Returns:
      (mu, sigma): arrays of shape (dim,) and (dim, dim).
    """
    stats = FeatureStatistics().update(features)
    return stats.mean, stats.covariance


def frechet_distance(mu1, sigma1, mu2, sigma2, eps=1e-6, imag_tol=1e-3):
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2).

    d² = ||mu1 - mu2||² + Tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^{1/2})

    Heusel et al. 2017 (https://arxiv.org/abs/1706.08500). The matrix square
    root follows pytorch-fid (`pytorch_fid/fid_score.py`): scipy's `sqrtm`, and
    only when that root is not finite is `eps * I` added to both covariances
    (which moves the result by O(eps · dim)). A singular product alone (scipy
    warns, e.g. for features with dead units) keeps the plain root, so that
    identical sets score 0. A complex root whose diagonal has imaginary parts
    below `imag_tol` is rounding noise and its real part is kept.

    Args:
      mu1, mu2: mean vectors of shape (dim,).
      sigma1, sigma2: covariance matrices of shape (dim, dim).
      eps: diagonal offset used when the square root of the product is not finite.
      imag_tol: largest imaginary part on the root's diagonal treated as noise.

    Returns:
      The squared Fréchet distance as a Python float.

    Raises:
      FrechetDistanceError: if the root stays non-finite or clearly complex.
    """
    mu1 = np.atleast_1d(np.asarray(mu1, np.float64))
    mu2 = np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1 = np.atleast_2d(np.asarray(sigma1, np.float64))
    sigma2 = np.atleast_2d(np.asarray(sigma2, np.float64))
    dim = mu1.shape[0]
    if mu2.shape != (dim,) or sigma1.shape != (dim, dim) or sigma2.shape != (dim, dim):
        raise ValueError(
            "Shapes do not match: mu1 %s, sigma1 %s, mu2 %s, sigma2 %s; expected "
            "(d,), (d, d), (d,), (d, d)."
            % (mu1.shape, sigma1.shape, mu2.shape, sigma2.shape)
        )
    diff = mu1 - mu2
    covmean = _sqrtm(sigma1 @ sigma2)
    if not np.isfinite(covmean).all():
        offset = np.eye(dim) * eps
        covmean = _sqrtm((sigma1 + offset) @ (sigma2 + offset))
        if not np.isfinite(covmean).all():
            raise FrechetDistanceError(
                f"sqrtm(sigma1 @ sigma2) is not finite even with eps={eps} added "
                "to the diagonals; are the features finite?"
            )
    if np.iscomplexobj(covmean):
        max_imag = float(np.max(np.abs(np.diagonal(covmean).imag)))
        if max_imag > imag_tol:
            raise FrechetDistanceError(
                f"sqrtm(sigma1 @ sigma2) has imaginary parts up to {max_imag:.3g} "
                f"on its diagonal (tolerance {imag_tol}); the covariances are not "
                "positive semi-definite or badly conditioned."
            )
        covmean = covmean.real
    return float(
        diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean)
    )


def _sqrtm(matrix):
    """scipy's matrix square root, without its warning for singular inputs."""
    # A singular product (rank-deficient features) is common and harmless here: the
    # root is still accurate, and only a non-finite one calls for the eps offset.
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        return scipy.linalg.sqrtm(matrix)
