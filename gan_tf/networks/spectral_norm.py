"""Spectral normalisation (Miyato et al. 2018, "Spectral Normalization for Generative Adversarial
Networks") as a layer wrapper that trains correctly under mixed precision and tf.distribute.

`keras.layers.SpectralNormalization` (Keras 3.15) was tried first and is not used, for two reasons:
- under a `mixed_bfloat16` (or `mixed_float16`) policy it computes the normalised kernel inside
  the layer's autocast scope and writes it back into the float32 kernel variable, so every
  training call rounds the kernel to bfloat16 (8 significant bits) and Adam's small updates are
  lost;
- it overwrites the kernel with W / sigma(W) (a projection after each step) with no gradient
  through sigma, where Miyato et al. (and SNGAN's and PyTorch's `spectral_norm`) keep W and
  compute with W / sigma(W), sigma differentiated with u and v held fixed.
This wrapper keeps the kernel as trained and feeds W / sigma(W) to the wrapped layer through a
`keras.StatelessScope`, computing sigma in float32 under any dtype policy.
"""
import keras
from keras import ops

_EPSILON = 1e-12


def _l2_normalize(x):
    return x * ops.rsqrt(ops.maximum(ops.sum(ops.square(x)), _EPSILON))


@keras.saving.register_keras_serializable(package="gan_tf")
class SpectralNormalization(keras.layers.Wrapper):
    """Computes the wrapped layer with its kernel divided by its largest singular value.

    sigma is estimated by power iteration on the kernel reshaped to [fan_in, units]: `vector_u`
    ([1, units], non-trainable, in checkpoints) takes `power_iterations` steps in every training
    call; inference calls use it as it is. u and v are constants for the gradient (Miyato et al.,
    Algorithm 1). Under tf.distribute the replicas compute the same u; it is assigned with
    `only_first_replica` aggregation so that they hold it bit for bit regardless.

    Args:
      layer: a built or unbuilt layer with a `kernel` (Dense, Conv2D, Conv2DTranspose...).
      power_iterations: power-iteration steps per training call.
      **kwargs: Wrapper/Layer arguments (name, ...). The wrapper itself computes in float32;
        the wrapped layer's dtype policy decides the output's dtype.

    Example:
      >>> conv = SpectralNormalization(keras.layers.Conv2D(8, 3), name="conv_sn")
      >>> conv(np.zeros((1, 6, 6, 3), "float32")).shape
      (1, 4, 4, 8)
    """

    def __init__(self, layer, power_iterations=1, **kwargs):
        # float32 and no autocast in the wrapper itself: sigma is computed from the float32
        # kernel, inputs pass through uncast, and the wrapped layer keeps its own dtype policy
        # (it casts inputs and the normalised kernel to its compute dtype).
        kwargs["dtype"] = "float32"
        kwargs["autocast"] = False
        super().__init__(layer, **kwargs)
        if int(power_iterations) != power_iterations or power_iterations < 1:
            raise ValueError(f"power_iterations={power_iterations!r}: expected a positive integer.")
        self.power_iterations = int(power_iterations)

    def build(self, input_shape):
        if not self.layer.built:
            self.layer.build(input_shape)
        if not hasattr(self.layer, "kernel"):
            raise ValueError(
                f"SpectralNormalization wraps layers with a `kernel`; {type(self.layer).__name__} "
                f"{self.layer.name!r} has none."
            )
        units = self.layer.kernel.shape[-1]
        self.vector_u = self.add_weight(
            shape=(1, units), initializer=keras.initializers.TruncatedNormal(stddev=1.0),
            trainable=False, dtype="float32", aggregation="only_first_replica", name="vector_u",
        )
        self.built = True

    def _sigma(self, kernel, training):
        weights = ops.reshape(kernel, [-1, kernel.shape[-1]])  # [fan_in, units]
        u = ops.convert_to_tensor(self.vector_u)
        iterations = self.power_iterations if training else 0
        for _ in range(iterations):
            v = _l2_normalize(ops.matmul(u, ops.transpose(weights)))
            u_next = _l2_normalize(ops.matmul(v, weights))
            # An all-zero kernel (e.g. zero-initialised) gives u = 0, from which power iteration
            # never recovers: keep the previous u then.
            u = ops.where(ops.any(ops.not_equal(u_next, 0.0)), u_next, u)
        u = ops.stop_gradient(u)
        v = ops.stop_gradient(_l2_normalize(ops.matmul(u, ops.transpose(weights))))
        if training:
            self.vector_u.assign(u)
        sigma = ops.sum(ops.matmul(v, weights) * u)
        return ops.maximum(sigma, _EPSILON)

    def call(self, inputs, training=None):
        training = bool(training)  # Keras passes None or a Python bool
        kernel_variable = self.layer.kernel
        kernel = ops.cast(ops.convert_to_tensor(kernel_variable), "float32")
        normalized = ops.cast(kernel / self._sigma(kernel, training), kernel_variable.dtype)
        with keras.StatelessScope(state_mapping=[(kernel_variable, normalized)]):
            return self.layer(inputs, training=training) if _takes_training(self.layer) else self.layer(inputs)

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def get_config(self):
        return {**super().get_config(), "power_iterations": self.power_iterations}


def _takes_training(layer):
    return "training" in getattr(layer, "_call_signature_parameters", ())


def largest_singular_value(kernel):
    """The largest singular value of a kernel reshaped to [fan_in, units] (numpy, for checks)."""
    import numpy as np

    kernel = np.asarray(kernel, np.float64)
    return float(np.linalg.svd(kernel.reshape(-1, kernel.shape[-1]), compute_uv=False)[0])
