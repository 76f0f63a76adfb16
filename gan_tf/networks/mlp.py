"""A fully connected GAN after Goodfellow et al. 2014, for comparison.

It is not the paper's network. There (the authors' pylearn2 `mnist.yaml`) the
generator maps 100-d noise through two ReLU layers of 1,200 units to a sigmoid output,
and the discriminator has two maxout layers (240 units, 5 pieces each) trained with
dropout and a sigmoid output. Here both networks use Dense + LeakyReLU(0.2) layers of
256-1024 units; the generator ends in tanh (images in [-1, 1]) and the discriminator,
with dropout 0.3 after each hidden layer, in a logit.
"""
import math

import keras
from keras import layers

from gan_tf.networks import layers as gan_layers
from gan_tf.networks.dcgan import _check_image_shape, _check_positive


def mlp_generator(latent_dim=100, image_shape=(28, 28, 1), hidden=(256, 512, 1024), name="generator"):
    """MLP generator: Dense + LeakyReLU layers, then a tanh image.

    Args:
      latent_dim: size of the noise vector.
      image_shape: (height, width, channels) of the output.
      hidden: sizes of the hidden layers.
      name: model name.
    """
    _check_positive(latent_dim=latent_dim)
    image_shape = _check_image_shape(image_shape)
    noise = keras.Input((latent_dim,), name="noise")
    x = noise
    for i, units in enumerate(hidden):
        x = layers.Dense(units, name=f"dense{i}")(x)
        x = layers.LeakyReLU(0.2, name=f"dense{i}_lrelu")(x)
    x = layers.Dense(math.prod(image_shape), name="to_pixels")(x)
    x = layers.Activation("tanh", dtype="float32", name="tanh")(x)
    images = layers.Reshape(image_shape, name="to_image")(x)
    return keras.Model(noise, images, name=name)


def mlp_discriminator(image_shape=(28, 28, 1), hidden=(1024, 512, 256), dropout=0.3, name="discriminator"):
    """MLP discriminator: Flatten, Dense + LeakyReLU + Dropout layers, one logit.

    Args:
      image_shape: (height, width, channels) of the input images.
      hidden: sizes of the hidden layers.
      dropout: dropout rate after each hidden layer (0 disables it).
      name: model name.
    """
    image_shape = _check_image_shape(image_shape)
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout={dropout!r}: expected a rate in [0, 1).")
    images = keras.Input(image_shape, name="images")
    x = layers.Flatten(name="flatten")(images)
    for i, units in enumerate(hidden):
        x = layers.Dense(units, name=f"dense{i}")(x)
        x = layers.LeakyReLU(0.2, name=f"dense{i}_lrelu")(x)
        if dropout:
            x = gan_layers.Dropout(dropout, name=f"dense{i}_dropout")(x)
    logits = layers.Dense(1, dtype="float32", name="logit")(x)
    return keras.Model(images, logits, name=name)
