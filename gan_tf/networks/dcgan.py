"""DCGAN networks (Radford et al. 2016), shaped as in TensorFlow's DCGAN tutorial.

At 28×28×1 and width 64 both networks are exactly the tutorial's, so benchmarks
against it compare identical networks (gan_tf's BatchNorm and Dropout layers compute what
Keras's do, faster: `batch_norm`, `layers`); larger images get more up/down-sampling
stages (64×64: 4×4×1024 → 512 → 256 → 128 → 64 → 3, as in the paper).
"""
import keras
from keras import layers

from gan_tf.networks import layers as gan_layers
from gan_tf.networks.batch_norm import BatchNormalization
from gan_tf.networks.spectral_norm import SpectralNormalization


def _num_stages(image_shape):
    """Number of ×2 stages from the smallest feature map (≤ 7 pixels) up to the image."""
    height, width, channels = _check_image_shape(image_shape)
    if height != width:
        raise ValueError(f"image_shape={image_shape!r}: DCGAN needs square images.")
    stages, size = 0, height
    while size % 2 == 0 and size > 7:
        size //= 2
        stages += 1
    if stages == 0:
        raise ValueError(
            f"image_shape={image_shape!r}: the side must be divisible by 2 at least once "
            "(e.g. 28, 32, 64)."
        )
    return stages, size


def _check_image_shape(image_shape):
    if len(image_shape) != 3 or any(int(d) <= 0 for d in image_shape):
        raise ValueError(f"image_shape={image_shape!r}: expected (height, width, channels) > 0.")
    return tuple(int(d) for d in image_shape)


def _check_positive(**values):
    for key, value in values.items():
        if int(value) <= 0:
            raise ValueError(f"{key}={value!r}: expected a positive integer.")


def dcgan_generator(
    latent_dim=100, image_shape=(28, 28, 1), width=64, synchronized_batchnorm=False, name="generator"
):
    """DCGAN generator: Dense → BatchNorm → LeakyReLU → Conv2DTranspose stack → tanh.

    Args:
      latent_dim: size of the noise vector.
      image_shape: (height, width, channels) of the output; square, side divisible by 2.
      width: channels of the last hidden layer; earlier layers double it per stage.
      synchronized_batchnorm: compute BatchNorm statistics over the global batch across
        replicas, so that N replicas train exactly like one device with the same batch.
      name: model name.

    Returns:
      A functional `keras.Model` mapping [batch, latent_dim] to images in [-1, 1].

    Example:
      >>> generator = dcgan_generator(100, (28, 28, 1))
      >>> generator.output_shape
      (None, 28, 28, 1)
    """
    _check_positive(latent_dim=latent_dim, width=width)
    noise = keras.Input((latent_dim,), name="noise")
    x = upsampling_stack(noise, image_shape, width, synchronized_batchnorm)
    x = layers.Conv2DTranspose(image_shape[-1], 5, strides=2, padding="same", use_bias=False, name="to_image")(x)
    # tanh in float32: mixed precision must still hand back float32 images.
    images = layers.Activation("tanh", dtype="float32", name="tanh")(x)
    return keras.Model(noise, images, name=name)


def upsampling_stack(inputs, image_shape, width, synchronized_batchnorm=False):
    """The generator's body: Dense → BatchNorm → LeakyReLU → reshape, then Conv2DTranspose stages
    up to half the image side; the caller adds the last ×2 stage to its own output (tanh images for
    the GAN, pixel logits for `gan_tf.networks.vae`)."""
    stages, start = _num_stages(image_shape)
    x = layers.Dense(start * start * width * 2**stages, use_bias=False, name="project")(inputs)
    x = BatchNormalization(synchronized=synchronized_batchnorm, name="project_bn")(x)
    x = layers.LeakyReLU(0.2, name="project_lrelu")(x)
    x = layers.Reshape((start, start, width * 2**stages), name="reshape")(x)
    # One stride-1 block at the smallest size, as in the tutorial, then ×2 per stage.
    strides = [1] + [2] * (stages - 1)
    filters = [width * 2 ** (stages - 1 - i) for i in range(stages)]
    for i, (f, s) in enumerate(zip(filters, strides)):
        x = layers.Conv2DTranspose(f, 5, strides=s, padding="same", use_bias=False, name=f"up{i}")(x)
        x = BatchNormalization(synchronized=synchronized_batchnorm, name=f"up{i}_bn")(x)
        x = layers.LeakyReLU(0.2, name=f"up{i}_lrelu")(x)
    return x


def dcgan_discriminator(image_shape=(28, 28, 1), width=64, dropout=0.3, spectral_norm=False, name="discriminator"):
    """DCGAN discriminator: strided Conv2D → LeakyReLU → Dropout stack, then one logit.

    No BatchNorm, as in the tutorial: per-example outputs keep gradient penalties
    exact and replicas independent.

    Args:
      image_shape: (height, width, channels) of the input images.
      width: channels of the first convolution; doubled per stage.
      dropout: dropout rate after each convolution (0 disables it).
      spectral_norm: divide every convolution's and the logit layer's kernel by its largest
        singular value (Miyato et al. 2018, `gan_tf.networks.spectral_norm`), as SNGAN's
        discriminators do. The layers keep their names ("down0", ..., "logit"); the wrapped
        ones are "down0_conv", ..., "logit_dense". Dropout stays as asked (SNGAN has none:
        pass dropout=0 for SNGAN's recipe).
      name: model name.

    Returns:
      A functional `keras.Model` mapping images to [batch, 1] float32 logits.
    """
    _check_positive(width=width)
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout={dropout!r}: expected a rate in [0, 1).")
    stages, _ = _num_stages(image_shape)
    images = keras.Input(image_shape, name="images")
    x = images
    for i in range(stages):
        conv = lambda name: layers.Conv2D(width * 2**i, 5, strides=2, padding="same", name=name)  # noqa: E731
        x = _maybe_spectral_norm(conv, f"down{i}", "conv", spectral_norm)(x)
        x = layers.LeakyReLU(0.2, name=f"down{i}_lrelu")(x)
        if dropout:
            x = gan_layers.Dropout(dropout, name=f"down{i}_dropout")(x)
    x = layers.Flatten(name="flatten")(x)
    dense = lambda name: layers.Dense(1, dtype="float32", name=name)  # noqa: E731
    logits = _maybe_spectral_norm(dense, "logit", "dense", spectral_norm)(x)
    return keras.Model(images, logits, name=name)


def _maybe_spectral_norm(make_layer, name, kind, spectral_norm):
    """`make_layer(name)`, or it spectrally normalised under that name (the layer as name_kind)."""
    if not spectral_norm:
        return make_layer(name)
    return SpectralNormalization(make_layer(f"{name}_{kind}"), name=name)
