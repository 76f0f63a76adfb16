"""Walks through a generator's inputs: interpolation of noise and of conditions.

    from gan_tf import latent
    noise = latent.interpolation_noise(latent_dim=100, pairs=8, steps=10, seed=0)   # [8*10, 100]
    images, columns = latent.interpolation_grid(gan, steps=10, pairs=8, seed=0)

Gaussian noise lives near a sphere of radius √d: the straight line between two
noise vectors passes through points of norm down to ~√(d/2), which the generator
rarely saw in training, so interpolation is spherical by default (slerp, Shoemake
1985; White 2016, "Sampling Generative Networks"), linear on request. A conditional
generator's class embedding (or caption encoding) has no such distribution and is
interpolated linearly.

The pure functions need numpy only; the grid functions call the generator network
(the EMA generator when the GAN has one).
"""
import numpy as np

NOISE_SEED_OFFSET = 1  # endpoints of pair i: seeds from (seed, i); the GAN's own draws use (seed, 0)


def lerp(a, b, t):
    """Linear interpolation (1 - t)·a + t·b of vectors a, b [..., d] at fractions t (scalar or [k]).

    Returns an array [k, ..., d] for a vector t (one row per fraction), [..., d] for a scalar.
    """
    a, b, t = np.asarray(a, np.float64), np.asarray(b, np.float64), np.asarray(t, np.float64)
    t = t.reshape(t.shape + (1,) * a.ndim)
    return (1.0 - t) * a + t * b


def slerp(a, b, t):
    """Spherical linear interpolation of vectors a, b [..., d] (Shoemake 1985).

    Moves along the great circle between the directions of a and b at constant angular
    speed, scaling the norm linearly from |a| to |b|:
    sin((1-t)Ω)/sin Ω · a + sin(tΩ)/sin Ω · b with Ω the angle between them. Between
    two unit vectors every point has unit norm. (Nearly) parallel vectors fall back to
    linear interpolation, where slerp's formula divides by sin Ω ≈ 0.

    Returns an array [k, ..., d] for a vector t of k fractions, [..., d] for a scalar t.
    """
    a, b, t = np.asarray(a, np.float64), np.asarray(b, np.float64), np.asarray(t, np.float64)
    if a.shape != b.shape:
        raise ValueError(f"slerp between shapes {a.shape} and {b.shape}: expected one shape.")
    t = t.reshape(t.shape + (1,) * a.ndim)
    norm_a = np.linalg.norm(a, axis=-1, keepdims=True)
    norm_b = np.linalg.norm(b, axis=-1, keepdims=True)
    unit_a = a / np.maximum(norm_a, 1e-12)
    unit_b = b / np.maximum(norm_b, 1e-12)
    cosine = np.clip(np.sum(unit_a * unit_b, axis=-1, keepdims=True), -1.0, 1.0)
    omega = np.arccos(cosine)
    sin_omega = np.sin(omega)
    parallel = sin_omega < 1e-6
    safe = np.where(parallel, 1.0, sin_omega)
    weight_a = np.where(parallel, 1.0 - t, np.sin((1.0 - t) * omega) / safe)
    weight_b = np.where(parallel, t, np.sin(t * omega) / safe)
    direction = weight_a * unit_a + weight_b * unit_b
    return direction * ((1.0 - t) * norm_a + t * norm_b)


def fractions(steps):
    """`steps` evenly spaced fractions from 0 to 1, both ends included."""
    if int(steps) != steps or steps < 2:
        raise ValueError(f"steps={steps!r}: expected an integer >= 2 (both endpoints).")
    return np.linspace(0.0, 1.0, int(steps))


def endpoint_noise(latent_dim, pairs, seed=0):
    """Two [pairs, latent_dim] standard normal arrays: the start and end of each path."""
    rng = np.random.default_rng([int(seed), NOISE_SEED_OFFSET])
    return rng.standard_normal((2, int(pairs), int(latent_dim)))


def interpolation_noise(latent_dim, pairs, steps, seed=0, spherical=True):
    """Noise [pairs*steps, latent_dim]: row-major, path i's `steps` points from start to end.

    Args:
      latent_dim: size of a noise vector.
      pairs: number of random (start, end) pairs: the rows of a grid.
      steps: points per path, endpoints included: the columns.
      seed: seed of the endpoints.
      spherical: slerp (default) or linear interpolation.
    """
    start, end = endpoint_noise(latent_dim, pairs, seed)
    path = (slerp if spherical else lerp)(start, end, fractions(steps))  # [steps, pairs, d]
    return np.ascontiguousarray(path.transpose(1, 0, 2).reshape(-1, int(latent_dim)), np.float32)


def ping_pong(frames):
    """Frames 0..k-1 then k-2..1: a latent walk that loops without a jump."""
    frames = list(frames)
    return frames + frames[-2:0:-1]


# ------------------------------------------------------------------ with a generator
def generator_network(gan):
    """The network to sample from: the EMA generator when the GAN keeps one."""
    return getattr(gan, "ema_generator", None) or gan.generator


def condition_parts(generator):
    """(embedding layer, body) of a conditional generator from `gan_tf.networks.conditional`.

    Its images are body(concat(noise, embedding(condition))); interpolating between two
    conditions' embeddings needs the two parts separately.

    Raises:
      ValueError: the generator is not built that way (another architecture).
    """
    names = {layer.name for layer in generator.layers}
    missing = [name for name in ("condition_embedding", "noise_and_condition", "generator_body") if name not in names]
    if missing:
        raise ValueError(
            f"generator {generator.name!r} has no layer(s) {', '.join(missing)}: cannot interpolate between "
            "conditions' embeddings (expected a generator from gan_tf.networks.conditional); interpolate the "
            "noise with the condition fixed instead."
        )
    return generator.get_layer("condition_embedding"), generator.get_layer("generator_body")


def _images(network, inputs):
    return np.asarray(network(inputs, training=False), np.float32)


def sample(gan, noise, condition=None):
    """Images [n, H, W, C] in [-1, 1] from noise [n, d] and an optional condition [n, ...]."""
    generator = generator_network(gan)
    noise = np.asarray(noise, np.float32)
    if condition is None:
        return _images(generator, noise)
    return _images(generator, [noise, np.asarray(condition)])


def condition_embeddings(gan, condition):
    """The generator's embedding [n, e] of a condition batch (int labels [n] or token ids [n, L])."""
    embedding, _ = condition_parts(generator_network(gan))
    return np.asarray(embedding(np.asarray(condition), training=False), np.float32)


def sample_from_embeddings(gan, noise, embeddings):
    """Images from noise [n, d] and condition embeddings [n, e], bypassing the embedding layer."""
    _, body = condition_parts(generator_network(gan))
    inputs = np.concatenate([np.asarray(noise, np.float32), np.asarray(embeddings, np.float32)], axis=1)
    return _images(body, inputs)


def interpolation_grid(gan, steps, pairs=8, seed=0, spherical=True, condition=None):
    """(images [pairs*steps, H, W, C], columns=steps): each row walks from one random noise
    vector to another; for a conditional GAN `condition` (one label or one prompt's token
    ids, the same for every image) holds the condition fixed.
    """
    noise = interpolation_noise(gan.latent_dim, pairs, steps, seed, spherical)
    if condition is not None:
        condition = np.repeat(np.asarray(condition)[None], len(noise), axis=0)
    return sample(gan, noise, condition), int(steps)


def class_interpolation_grid(gan, steps, classes=None, seed=0, spherical=True):
    """(images [classes*steps, H, W, C], columns=steps): one row per class, each row the same
    walk between two noise vectors: the class is all that changes down a column.
    """
    classes = list(range(gan.conditioning.num_classes)) if classes is None else list(classes)
    path = interpolation_noise(gan.latent_dim, 1, steps, seed, spherical)  # [steps, d]
    noise = np.tile(path, (len(classes), 1))
    labels = np.repeat(np.asarray(classes, np.int32), int(steps))
    return sample(gan, noise, labels), int(steps)


def condition_interpolation_grid(gan, start, end, steps, rows=8, seed=0):
    """(images [rows*steps, H, W, C], columns=steps): each row holds one noise vector fixed
    and moves the condition's embedding linearly from `start`'s to `end`'s.

    Args:
      start, end: the two conditions, as the generator takes them: int labels (class
        runs) or token-id arrays [L] (text runs, `conditioning.encode([prompt])[0]`).
      rows: number of noise vectors.
    """
    embeddings = condition_embeddings(gan, np.stack([np.asarray(start), np.asarray(end)]))
    path = lerp(embeddings[0], embeddings[1], fractions(steps))  # [steps, e]
    noise = endpoint_noise(gan.latent_dim, rows, seed)[0]  # [rows, d]
    noise = np.repeat(noise, int(steps), axis=0)
    return sample_from_embeddings(gan, noise, np.tile(path, (int(rows), 1))), int(steps)


def walk_frames(images, columns):
    """Frames of a latent walk from an interpolation grid: frame t holds every row's t-th
    image, one image per row, laid out as a square grid; played back and forth."""
    images = np.asarray(images)
    steps = int(columns)
    paths = images.reshape((-1, steps) + images.shape[1:])  # [rows, steps, H, W, C]
    return ping_pong([paths[:, t] for t in range(steps)])
