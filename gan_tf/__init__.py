"""gan_tf: a reference GAN implementation in Keras 3 / TensorFlow."""
from gan_tf import losses, networks
from gan_tf.gan import GAN

__version__ = "0.1.0"
__all__ = ["GAN", "losses", "networks", "__version__"]
