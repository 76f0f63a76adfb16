"""Memorisation and class coverage: is the generator copying its training set, and does
it draw every class?

Pure numpy functions over vectors (pixels or a classifier's features) and class
probabilities:

  nearest_neighbours   exact k nearest reference rows by Euclidean distance (batched).
  memorisation_score   the share of generated samples closer to their nearest training
                       image than the `percentile`-th percentile of held-out real images'
                       nearest-training distances. Held-out reals are the reference: for
                       them the share is `percentile`/100 by construction (0.05), a
                       generator that copies training images scores up to 1.0, and the
                       number compares across runs of one data set. (A nearest-neighbour
                       memorisation test in the spirit of Webster et al. 2019, "Detecting
                       Overfitting of Deep Generative Networks via Latent Recovery", and
                       Meehan et al. 2020, "A Non-Parametric Test to Detect Data-Copying".)
  class_coverage       the class histogram of samples by a classifier's argmax, and the
                       largest and smallest class shares (mode collapse shows as a class
                       with a share near 0).
"""
import numpy as np

MEMORISATION_PERCENTILE = 5.0


def nearest_neighbours(queries, references, k=1, batch_size=256):
    """The k nearest reference rows of every query row, by Euclidean distance.

    Candidates come from a float32 distance matrix (|q|² + |r|² - 2 q·r: one matrix
    product, so 1,000 samples against 60,000 MNIST images take seconds); the k chosen
    distances are then recomputed exactly in float64 from the differences.

    Args:
      queries: (n, ...) array; rows are flattened to float32 vectors.
      references: (m, ...) array of the same row size, m >= k.
      k: neighbours per query.
      batch_size: queries per distance-matrix block (memory: batch_size × m floats).

    Returns:
      (distances (n, k) float64 ascending, indices (n, k) int64 into `references`).
    """
    queries = np.asarray(queries, np.float32).reshape(len(queries), -1)
    references = np.asarray(references, np.float32).reshape(len(references), -1)
    if queries.shape[1] != references.shape[1]:
        raise ValueError(f"queries of {queries.shape[1]} values per row, references of {references.shape[1]}: "
                         "expected the same size.")
    if int(k) != k or not 1 <= k <= len(references):
        raise ValueError(f"k={k!r}: expected an integer in [1, {len(references)}] (the number of references).")
    k = int(k)
    reference_norms = np.sum(references.astype(np.float64) ** 2, axis=1).astype(np.float32)
    distances = np.empty((len(queries), k))
    indices = np.empty((len(queries), k), np.int64)
    for start in range(0, len(queries), batch_size):
        block = queries[start : start + batch_size]
        squared = reference_norms[None] - 2.0 * (block @ references.T)  # + |q|², the same along a row
        if k < len(references):
            candidates = np.argpartition(squared, k - 1, axis=1)[:, :k]
        else:
            candidates = np.tile(np.arange(len(references)), (len(block), 1))
        exact = np.linalg.norm(block[:, None].astype(np.float64) - references[candidates].astype(np.float64), axis=2)
        order = np.argsort(exact, axis=1, kind="stable")
        indices[start : start + len(block)] = np.take_along_axis(candidates, order, axis=1)
        distances[start : start + len(block)] = np.take_along_axis(exact, order, axis=1)
    return distances, indices


def memorisation_score(sample_distances, held_out_distances, percentile=MEMORISATION_PERCENTILE):
    """Share of samples nearer to the training set than most held-out real images are.

    Args:
      sample_distances: (n,) each generated sample's distance to its nearest training image.
      held_out_distances: (m,) each held-out real image's distance to its nearest training image.
      percentile: the threshold is this percentile of `held_out_distances` (5: a share
        of ~0.05 means "as close to the training set as unseen real images").

    Returns:
      dict: "score" (the share), "threshold" (the distance), "percentile",
      "num_samples", "num_held_out".
    """
    sample_distances = np.asarray(sample_distances, np.float64).ravel()
    held_out_distances = np.asarray(held_out_distances, np.float64).ravel()
    if not len(sample_distances) or not len(held_out_distances):
        raise ValueError("memorisation_score needs at least one sample and one held-out distance.")
    if not 0.0 < percentile < 100.0:
        raise ValueError(f"percentile={percentile!r}: expected a value in (0, 100).")
    threshold = float(np.percentile(held_out_distances, percentile))
    return {
        "score": float(np.mean(sample_distances < threshold)),
        "threshold": threshold,
        "percentile": float(percentile),
        "num_samples": int(len(sample_distances)),
        "num_held_out": int(len(held_out_distances)),
    }


def class_coverage(probabilities, num_classes=None):
    """The class histogram of samples by their most probable class.

    Args:
      probabilities: (n, num_classes) classifier probabilities (or logits).
      num_classes: default: the number of columns.

    Returns:
      dict: "counts" (list), "shares" (list, summing to 1), "largest_share",
      "smallest_share", "missing_classes" (classes no sample was assigned to).
    """
    probabilities = np.asarray(probabilities)
    if probabilities.ndim != 2 or not len(probabilities):
        raise ValueError(f"probabilities of shape {probabilities.shape}: expected (n, num_classes), n >= 1.")
    num_classes = int(num_classes or probabilities.shape[1])
    counts = np.bincount(np.argmax(probabilities, axis=1), minlength=num_classes)
    shares = counts / counts.sum()
    return {
        "counts": [int(c) for c in counts],
        "shares": [float(s) for s in shares],
        "largest_share": float(shares.max()),
        "smallest_share": float(shares.min()),
        "missing_classes": [int(c) for c in np.flatnonzero(counts == 0)],
    }
