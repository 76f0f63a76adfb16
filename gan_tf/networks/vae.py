"""Convolutional VAE encoder and decoder with the DCGAN networks' stages and widths.

The encoder is `dcgan_discriminator`'s convolution stack (strided 5×5 Conv2D →
LeakyReLU, `width` channels doubled per stage) ending in two Dense heads, the mean
and the log-variance of q(z|x); the decoder is `dcgan_generator`'s stack (Dense →
BatchNorm → LeakyReLU → Conv2DTranspose stages) ending in per-pixel logits instead of
tanh. So at 28×28×1 and width 64 a VAE and a GAN compared in `experiments/baselines/`
have convolutions of the same sizes.
"""
import keras
from keras import layers

from gan_tf.networks.dcgan import _check_positive, _num_stages, upsampling_stack


def vae_encoder(image_shape=(28, 28, 1), latent_dim=32, width=64, name="encoder"):
    """Encoder q(z|x): images in [-1, 1] → [mean, log_variance] of a diagonal Gaussian.

    Args:
      image_shape: (height, width, channels); square, side divisible by 2.
      latent_dim: size of z.
      width: channels of the first convolution; doubled per stage (DCGAN discriminator).
      name: model name.

    Returns:
      A functional `keras.Model` mapping [batch, H, W, C] to two float32 [batch, latent_dim]
      tensors, `mean` and `log_variance`. No dropout and no BatchNorm: every example's
      posterior depends on that example only, and the only randomness is the VAE's noise.

    Example:
      >>> encoder = vae_encoder((28, 28, 1), latent_dim=32)
      >>> [shape for shape in encoder.output_shape]
      [(None, 32), (None, 32)]
    """
    _check_positive(latent_dim=latent_dim, width=width)
    stages, _ = _num_stages(image_shape)
    images = keras.Input(image_shape, name="images")
    x = images
    for i in range(stages):
        x = layers.Conv2D(width * 2**i, 5, strides=2, padding="same", name=f"down{i}")(x)
        x = layers.LeakyReLU(0.2, name=f"down{i}_lrelu")(x)
    x = layers.Flatten(name="flatten")(x)
    # float32 heads: exp(log_variance) and the KL term must not be computed in 16 bits.
    mean = layers.Dense(latent_dim, dtype="float32", name="mean")(x)
    log_variance = layers.Dense(latent_dim, dtype="float32", name="log_variance")(x)
    return keras.Model(images, [mean, log_variance], name=name)


def vae_decoder(latent_dim=32, image_shape=(28, 28, 1), width=64, synchronized_batchnorm=False, name="decoder"):
    """Decoder p(x|z): z → per-pixel logits, shaped like `dcgan_generator`.

    Args:
      latent_dim: size of z.
      image_shape: (height, width, channels) of the output; square, side divisible by 2.
      width: channels of the last hidden layer; earlier layers double it per stage.
      synchronized_batchnorm: BatchNorm statistics over the global batch across replicas,
        so that N replicas train exactly like one device with the same global batch.
      name: model name.

    Returns:
      A functional `keras.Model` mapping [batch, latent_dim] to float32 logits
      [batch, H, W, C]; sigmoid(logits) are pixel values in [0, 1] (Bernoulli means, or
      Gaussian means), and `gan_tf.vae.VAE` maps them to images in [-1, 1].
    """
    _check_positive(latent_dim=latent_dim, width=width)
    z = keras.Input((latent_dim,), name="z")
    x = upsampling_stack(z, image_shape, width, synchronized_batchnorm)  # the DCGAN generator's body
    channels = image_shape[-1]
    # A bias here (the generator has none before its tanh): it learns each pixel's base rate.
    logits = layers.Conv2DTranspose(channels, 5, strides=2, padding="same", dtype="float32", name="logits")(x)
    return keras.Model(z, logits, name=name)
