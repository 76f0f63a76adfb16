"""gan_tf: a reference GAN implementation in Keras 3 / TensorFlow.

    import gan_tf
    gan = gan_tf.GAN(generator, discriminator, latent_dim=100)
    gan_tf.losses, gan_tf.networks, gan_tf.data, gan_tf.metrics, gan_tf.callbacks

The names are imported on first use (PEP 562), so that `import gan_tf.experiments.config` and the
experiments' `--help` do not pay for importing TensorFlow.
"""
import importlib

__version__ = "0.4.0"

_SUBMODULES = ("callbacks", "data", "losses", "metrics", "networks")
__all__ = ["GAN", *_SUBMODULES, "__version__"]


def __getattr__(name):
    if name == "GAN":
        from gan_tf.gan import GAN

        return GAN
    if name in _SUBMODULES:
        return importlib.import_module(f"gan_tf.{name}")
    raise AttributeError(f"module 'gan_tf' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
