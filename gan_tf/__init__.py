"""gan_tf: a reference GAN implementation in Keras 3 / TensorFlow.

    import gan_tf
    gan = gan_tf.GAN(generator, discriminator, latent_dim=100)
    gan_tf.losses, gan_tf.networks, gan_tf.data, gan_tf.metrics, gan_tf.callbacks
"""
import importlib

__version__ = "0.1.0"

# Loaded on first access: `python -m gan_tf.<command> --help` imports this package
# first, and must answer without importing TensorFlow.
_LAZY_MODULES = ("callbacks", "data", "losses", "metrics", "networks")

__all__ = ["GAN", "callbacks", "data", "losses", "metrics", "networks", "__version__"]


def __getattr__(name):
    if name == "GAN":
        from gan_tf.gan import GAN

        return GAN
    if name in _LAZY_MODULES:
        return importlib.import_module(f"gan_tf.{name}")
    raise AttributeError(f"module 'gan_tf' has no attribute {name!r}")
