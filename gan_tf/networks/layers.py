"""Layers the stock Keras ones get wrong for GAN training under tf.distribute."""
import math

import keras
import numpy as np
import tensorflow as tf


def replica_seed(seed_generator):
    """Next [2] seed of `seed_generator`, made distinct per replica.

    Under MirroredStrategy a `keras.random.SeedGenerator` yields the same seed on
    every replica, so every replica would draw identical noise and dropout masks.
    Folding in the replica id keeps one reproducible stream per replica.
    """
    seed = tf.cast(seed_generator.next(), tf.int64)
    replica_id = tf.distribute.get_replica_context()
    replica_id = 0 if replica_id is None else replica_id.replica_id_in_sync_group
    # Philox named explicitly: "auto_select" picks another algorithm under XLA, and
    # jit_compile=True must draw the same masks as False.
    return tf.random.experimental.stateless_fold_in(seed, tf.cast(replica_id, tf.int64), alg="philox")


_PHILOX = 1  # RNG_ALG_PHILOX


def _philox_bits(shape, seed):
    """uint32 Philox bits from a [2] int64 seed: key = seed[0], counter = (0, seed[1]).

    Philox's raw bits agree with and without XLA for the same key and counter, which
    `tf.random.stateless_uniform`/`stateless_normal` do not (they scramble seeds of 2^31
    and more differently and turn bits into floats differently).
    """
    seed = tf.bitcast(tf.cast(seed, tf.int64), tf.uint64)
    key = seed[:1]
    counter = tf.stack([tf.zeros([], tf.uint64), seed[1]])  # the op counts in counter[0]
    return tf.raw_ops.StatelessRandomUniformFullIntV2(
        shape=shape, key=key, counter=counter, alg=_PHILOX, dtype=tf.uint32
    )


def stateless_uniform(shape, seed):
    """float32 values in [0, 1) from a [2] int64 seed, the same with and without XLA.

    The top 24 bits of each uint32 of `_philox_bits`, scaled by 2^-24: every value is
    exact in float32, so a `jit_compile=True` run draws exactly what a `False` one does.
    """
    bits = _philox_bits(shape, seed)
    return tf.cast(tf.bitwise.right_shift(bits, 8), tf.float32) * (1.0 / 2**24)


def keep_mask(shape, seed, rate):
    """Boolean dropout mask, True with probability 1 - rate, from 16-bit draws.

    Each uint32 of `_philox_bits` gives two draws, its low and its high 16 bits (the
    order of `tf.bitcast`, the same with and without XLA). A draw d is kept when
    d · 2^-16 >= r, r the float32 rate, i.e. d >= ceil(r · 2^16) (`keep_threshold`): the
    mask a float draw on a 2^-16 grid would give, compared with integers. Two draws per
    word halve the random-number generation, the layer's largest cost: forward and
    backward 1.6-1.7x cheaper than one 32-bit word per draw (gan_tf 0.1.0's masks;
    experiments/benchmarks/dropout_benchmark.py). The keep probability
    1 - ceil(r · 2^16) / 2^16 is within 2^-16 of 1 - r.
    """
    threshold = keep_threshold(rate)
    if threshold is None:
        return tf.zeros(shape, tf.bool)
    shape = tf.convert_to_tensor(shape, tf.int32)
    size = tf.reduce_prod(shape)
    bits = _philox_bits(tf.reshape((size + 1) // 2, [1]), seed)
    draws = tf.reshape(tf.bitcast(bits, tf.uint16), [-1])[:size]  # an odd size leaves one draw unused
    return tf.reshape(draws >= tf.constant(threshold, tf.uint16), shape)


def keep_threshold(rate):
    """The 16-bit threshold of `keep_mask`, ceil(r · 2^16) for the float32 rate r
    (see there); None if nothing is kept (a rate of which the threshold exceeds every draw)."""
    threshold = math.ceil(float(np.float32(rate)) * 2**16)
    return None if threshold >= 2**16 else threshold


def stateless_normal(shape, seed):
    """float32 standard normal values (Box-Muller), the same with and without XLA.

    See `stateless_uniform`; |values| stay below 5.8 (u1 >= 2^-24).
    """
    shape = tf.convert_to_tensor(shape, tf.int32)
    u = stateless_uniform(tf.concat([[2], shape], axis=0), seed)
    radius = tf.sqrt(-2.0 * tf.math.log(1.0 - u[0]))  # 1 - u in (0, 1]
    return radius * tf.cos((2.0 * 3.141592653589793) * u[1])


@keras.saving.register_keras_serializable(package="gan_tf")
class Dropout(keras.layers.Dropout):
    """`keras.layers.Dropout` with masks that differ across replicas (see `replica_seed`)."""

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        return dropout(inputs, replica_seed(self.seed_generator), self.rate)


def dropout(inputs, seed, rate):
    """Inputs with a fraction `rate` zeroed (`keep_mask`) and the rest scaled by 1 / (1 - rate)."""
    keep = keep_mask(tf.shape(inputs), seed, rate)
    scale = tf.cast(1.0 / (1.0 - rate), inputs.dtype)
    # A scalar zero: tf.where broadcasts it, no zero tensor is filled.
    return tf.where(keep, inputs * scale, tf.zeros([], inputs.dtype))


def replica_slice(sample, batch_size, shape, seed):
    """This replica's rows of one draw `sample((global batch, *shape), seed)`.

    Every replica draws the whole global batch's values from the same [2] int64 `seed`
    and keeps its own rows, so replicas get distinct values and N replicas see exactly
    the values one device would: training does not depend on the replica count.
    (`GAN._replica_slice` draws its noise this way; the VAE uses this function.)

    Args:
      sample: `stateless_normal` or `stateless_uniform` (any `f(shape, seed)`).
      batch_size: this replica's (local) batch size, a scalar tensor or int.
      shape: the shape of one example's values.
      seed: [2] int64 seed, the same on every replica (e.g. a `SeedGenerator`'s next).
    """
    context = tf.distribute.get_replica_context()
    replicas = 1 if context is None else context.num_replicas_in_sync
    replica_id = 0 if context is None else context.replica_id_in_sync_group
    values = sample((batch_size * replicas, *shape), seed=seed)
    return values[replica_id * batch_size : (replica_id + 1) * batch_size]
