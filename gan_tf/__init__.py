"""gan_tf: a reference GAN implementation in Keras 3 / TensorFlow.

    import gan_tf
    gan = gan_tf.GAN(generator, discriminator, latent_dim=100)
    gan_tf.losses, gan_tf.networks, gan_tf.data, gan_tf.metrics, gan_tf.callbacks
"""
__version__ = "0.1.0"

from gan_tf import callbacks, data, losses, metrics, networks  # noqa: E402
from gan_tf.gan import GAN  # noqa: E402

__all__ = ["GAN", "callbacks", "data", "losses", "metrics", "networks", "__version__"]
