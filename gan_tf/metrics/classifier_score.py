"""Inception Score from class probabilities (any classifier's: hence the module name).

Salimans et al. 2016, "Improved Techniques for Training GANs"
(https://arxiv.org/abs/1606.03498): IS = exp(E_x KL(p(y|x) || p(y))). With the
ImageNet InceptionV3 it is the published IS (`is_inception`); with a data set's
own classifier it is a different number (`is_mnist_classifier`), bounded by the
number of classes.
"""
import numpy as np
import scipy.special


def inception_score(probabilities, splits=10):
    """Inception Score of a set of predicted class distributions.

    Follows the reference code of Salimans et al. 2016
    (https://arxiv.org/abs/1606.03498): the examples are cut into `splits`
    consecutive parts, each part's score is exp(mean KL(p(y|x) || p(y))) with
    p(y) that part's marginal, and the mean and standard deviation over the
    parts are returned.

    Args:
      probabilities: array (num_examples, num_classes), rows summing to 1.
      splits: number of parts; each must hold at least one example.

    Returns:
      (mean, std) as Python floats.
    """
    p = np.asarray(probabilities, np.float64)
    if p.ndim != 2:
        raise ValueError(
            f"probabilities must be (num_examples, num_classes); got shape {p.shape}."
        )
    if not 1 <= splits <= len(p):
        raise ValueError(
            f"splits must be in [1, num_examples={len(p)}]; got {splits}."
        )
    if np.any(p < 0) or not np.allclose(p.sum(axis=1), 1.0, atol=1e-3):
        raise ValueError(
            "probabilities must be non-negative rows that sum to 1 (a softmax "
            "output), not logits."
        )
    scores = []
    for part in np.array_split(p, splits):
        marginal = part.mean(axis=0, keepdims=True)
        # xlogy gives 0·log 0 = 0, so confident one-hot rows need no epsilon.
        kl = scipy.special.xlogy(part, part) - scipy.special.xlogy(part, marginal)
        scores.append(np.exp(kl.sum(axis=1).mean()))
    return float(np.mean(scores)), float(np.std(scores))
