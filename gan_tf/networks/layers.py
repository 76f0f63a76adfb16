"""Layers the stock Keras ones get wrong for GAN training under tf.distribute."""
import keras
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


def stateless_uniform(shape, seed):
    """float32 values in [0, 1) from a [2] int64 seed, the same with and without XLA.

    `tf.random.stateless_uniform`/`stateless_normal` give other values under XLA (they
    scramble seeds of 2^31 and more differently and turn bits into floats differently),
    so a `jit_compile=True` run would draw other noise and dropout masks than a
    `jit_compile=False` one. Philox's raw bits agree for the same key and counter, so the
    seed is used as they are (key = seed[0], counter = (0, seed[1])) and the bits are
    turned into floats here: the top 24 bits of each uint32, scaled by 2^-24.
    """
    seed = tf.bitcast(tf.cast(seed, tf.int64), tf.uint64)
    key = seed[:1]
    counter = tf.stack([tf.zeros([], tf.uint64), seed[1]])  # the op counts in counter[0]
    bits = tf.raw_ops.StatelessRandomUniformFullIntV2(
        shape=shape, key=key, counter=counter, alg=_PHILOX, dtype=tf.uint32
    )
    return tf.cast(tf.bitwise.right_shift(bits, 8), tf.float32) * (1.0 / 2**24)


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
        keep = stateless_uniform(tf.shape(inputs), seed=replica_seed(self.seed_generator)) >= self.rate
        scale = tf.cast(1.0 / (1.0 - self.rate), inputs.dtype)
        return tf.where(keep, inputs * scale, tf.zeros_like(inputs))
