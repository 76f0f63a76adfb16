"""Input checks shared by the metric functions that compare two feature sets."""
import numpy as np


def feature_pair(real_features, fake_features):
    """Both feature sets as float64 (n, dim) arrays of one dim; raises ValueError otherwise."""
    real = np.asarray(real_features, np.float64)
    fake = np.asarray(fake_features, np.float64)
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
        raise ValueError(
            f"Features must be (n, dim) arrays of one dim; got {real.shape} and {fake.shape}."
        )
    return real, fake
