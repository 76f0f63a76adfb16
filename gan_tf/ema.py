"""An exponential moving average of the generator's weights (Karras et al. 2018;
Yazıcı et al. 2019), with StyleGAN2-ADA's half-life in images and its warm-up.

After each generator step, every trainable weight of the average moves towards the
generator's: θ_ema ← θ + β·(θ_ema − θ), with β = 0.5 ** (global_batch / ema_nimg), so
that a weight's past values lose half their influence every `ema_nimg` images
(`ema_kimg` thousand). With `ema_rampup` r the half-life grows with the images seen
so far, ema_nimg = min(ema_nimg, images_seen · r): the average starts as a copy of
the generator and forgets its early, poor weights quickly (StyleGAN2-ADA's
`training/training_loop.py`, where r = 0.05).

BatchNorm statistics (and any other non-trainable state, e.g. dropout seeds) are
*copied* from the generator at every update, as StyleGAN2-ADA copies its buffers: the
moving mean and variance are already running averages, and only copies keep them
matched to the activations that the generator's current weights produce — averaged
statistics would lag behind the averaged weights by a second time constant.
"""
import keras
import tensorflow as tf


def check_options(ema_kimg, ema_rampup):
    """Raises ValueError naming a bad `ema_kimg` / `ema_rampup`."""
    if not ema_kimg >= 0:
        raise ValueError(f"ema_kimg={ema_kimg!r}: expected a half-life in thousands of images >= 0 (0 = off).")
    if ema_rampup is not None and not ema_rampup > 0:
        raise ValueError(f"ema_rampup={ema_rampup!r}: expected a positive ramp-up coefficient (e.g. 0.05) or None.")


def beta(global_batch, images_seen, ema_kimg, ema_rampup=None):
    """The decay β of one update (float32 tensor), as StyleGAN2-ADA computes it.

    Args:
      global_batch: images per step over all replicas.
      images_seen: images trained on before this step (0 at the first step).
      ema_kimg: half-life in thousands of images.
      ema_rampup: None, or r in ema_nimg = min(ema_kimg·1000, images_seen·r).
    """
    ema_nimg = tf.constant(ema_kimg * 1000.0, tf.float32)
    if ema_rampup is not None:
        ema_nimg = tf.minimum(ema_nimg, tf.cast(images_seen, tf.float32) * ema_rampup)
    return tf.pow(0.5, tf.cast(global_batch, tf.float32) / tf.maximum(ema_nimg, 1e-8))


def clone(generator):
    """A copy of `generator` with its own variables, holding the same values."""
    average = keras.models.clone_model(generator)
    average.set_weights(generator.get_weights())
    average.trainable = False  # updated by `update`, never by an optimizer
    return average


def _tf_variable(variable):
    return variable.value if isinstance(variable, keras.Variable) else variable


def update(average, generator, decay):
    """average ← generator + decay·(average − generator) for trainable weights; the rest copied.

    Called inside the replica context of the training step. Every replica holds the
    same generator weights after `apply_gradients`, so each device updates its own copy
    of the average in the same way (the same `extended.update` path Keras's optimizers
    take); nothing is aggregated across replicas.
    """
    # Paired by position (clone() keeps the order); the generator says which are trainable.
    pairs = [(a, g) for a, g in zip(average.variables, generator.variables) if g.trainable]
    copies = [(a, g) for a, g in zip(average.variables, generator.variables) if not g.trainable]

    def apply(strategy, decay):
        for mean, value in pairs:
            strategy.extended.update(
                _tf_variable(mean), lambda m, v, b: m.assign(v + b * (m - v)),
                args=(_tf_variable(value), decay), group=False,
            )
        for copy, value in copies:
            strategy.extended.update(_tf_variable(copy), lambda c, v: c.assign(v), args=(_tf_variable(value),),
                                     group=False)

    tf.__internal__.distribute.interim.maybe_merge_call(apply, tf.distribute.get_strategy(), decay)
