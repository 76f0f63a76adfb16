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
    return tf.random.experimental.stateless_fold_in(seed, tf.cast(replica_id, tf.int64))


@keras.saving.register_keras_serializable(package="gan_tf")
class Dropout(keras.layers.Dropout):
    """`keras.layers.Dropout` with masks that differ across replicas (see `replica_seed`)."""

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        keep = tf.random.stateless_uniform(
            tf.shape(inputs), seed=replica_seed(self.seed_generator)
        ) >= self.rate
        scale = tf.cast(1.0 / (1.0 - self.rate), inputs.dtype)
        return tf.where(keep, inputs * scale, tf.zeros_like(inputs))
