"""BatchNormalization whose training pass runs TensorFlow's fused kernel.

Keras 3 computes BatchNorm from elementary ops (moments, then a multiply-add; under
mixed precision with casts to float32 and back), forward and backward. TensorFlow's
`FusedBatchNormV3` does the same in one kernel each way (oneDNN's where oneDNN is on),
reading bfloat16 or float16 inputs and accumulating in float32, as Keras's upcast does.
For the DCGAN generator's three BatchNorms at 28x28, batch 256, forward and backward take
25.9 ms in Keras's ops and 8.4 ms fused under mixed_bfloat16, 23.4 and 11.1 ms in float32,
and the CLI's default training step is 1.09x faster (AMD Zen 5, 2 cores:
experiments/benchmarks/batch_norm_cpu2-amd-avx512.json).

Same layer otherwise: the same variables and config, inference mode and the moving
statistics as Keras computes them (the fused kernel's variance is Bessel-corrected; the
moving variance gets the biased one, as Keras's). What the fused kernel cannot do is left
to Keras: synchronized statistics, renorm, masks, a channel axis other than the last,
inputs of rank other than 2 and 4, and backends other than TensorFlow. `with_keras_batch_norm`
gives a model back its Keras layers, for a file that loads without gan_tf.
"""
import keras
import tensorflow as tf

# TensorFlow's fused kernel refuses epsilon below this (cuDNN's minimum).
_MIN_FUSED_EPSILON = 1.001e-5
_FUSED_DTYPES = (tf.float32, tf.bfloat16, tf.float16)


@keras.saving.register_keras_serializable(package="gan_tf")
class BatchNormalization(keras.layers.BatchNormalization):
    """`keras.layers.BatchNormalization`, fused in training mode (see the module doc)."""

    def call(self, inputs, training=None, mask=None):
        if not (training and self.trainable) or not self._fusable(inputs, mask):
            return super().call(inputs, training=training, mask=mask)
        channels = inputs.shape[-1]
        x = inputs if inputs.shape.rank == 4 else tf.reshape(inputs, [-1, 1, 1, channels])
        gamma = tf.cast(self.gamma, tf.float32) if self.scale else tf.ones([channels])
        beta = tf.cast(self.beta, tf.float32) if self.center else tf.zeros([channels])
        outputs, mean, unbiased_variance, *_ = tf.raw_ops.FusedBatchNormV3(
            x=x, scale=gamma, offset=beta, mean=tf.zeros([0]), variance=tf.zeros([0]),
            epsilon=self.epsilon, exponential_avg_factor=1.0, data_format="NHWC", is_training=True,
        )
        # Values per channel: the kernel scaled the variance by n / (n - 1) (n > 1).
        count = tf.cast(tf.size(x) // channels, tf.float32)
        variance = unbiased_variance * ((count - 1.0) / tf.maximum(count, 1.0))
        mean, variance = tf.stop_gradient(mean), tf.stop_gradient(variance)
        self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
        self.moving_variance.assign(self.moving_variance * self.momentum + variance * (1.0 - self.momentum))
        return tf.cast(tf.reshape(outputs, tf.shape(inputs)), self.compute_dtype)

    def _fusable(self, inputs, mask):
        rank = inputs.shape.rank
        return (
            keras.backend.backend() == "tensorflow"
            and mask is None
            and not self.synchronized
            and not self.renorm
            and rank in (2, 4)
            and self.axis in (-1, rank - 1)
            and inputs.shape[-1] is not None
            and inputs.dtype in _FUSED_DTYPES
            and self.epsilon >= _MIN_FUSED_EPSILON
        )


def with_keras_batch_norm(model):
    """`model` (a functional model, nested ones included) with Keras's own BatchNormalization in place
    of gan_tf's, the same weights; `model` itself if it has none of gan_tf's. What a saved model needs
    to load without gan_tf (`gan_tf.export`): both layers compute the same in inference mode, where
    gan_tf's runs Keras's code."""
    if not any(isinstance(layer, BatchNormalization) for layer in model._flatten_layers(include_self=False)):
        return model

    def clone(layer):
        layer_class = keras.layers.BatchNormalization if isinstance(layer, BatchNormalization) else type(layer)
        return layer_class.from_config(layer.get_config())

    copy = keras.models.clone_model(model, clone_function=clone, recursive=True)
    copy.set_weights(model.get_weights())
    return copy
