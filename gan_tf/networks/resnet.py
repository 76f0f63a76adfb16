"""Residual GAN networks without normalisation, sized for a CPU (issue 12).

In the spirit of SNGAN's ResNets (Miyato et al. 2018, after Gulrajani et al. 2017: pre-activation
residual blocks with 1x1 shortcuts, nearest-neighbour upsampling and average pooling on the
shortcuts, a residual block at the lowest resolution) and of R3GAN (Huang et al. 2024,
github.com/brownvc/R3GAN `R3GAN/Networks.py`: no normalisation layer in either network, the last
convolution of every residual branch initialised to zero so that each block starts as its
shortcut, leaky ReLU 0.2). Where they differ:

- SNGAN's generator has BatchNorm; here neither network has any normalisation (R3GAN's choice),
  so an EMA generator needs no batch statistics and replicas are independent.
- The residual branches resample with learned stride-2 convolutions (a transposed 4x4 in the
  generator, a 4x4 in the discriminator, next to one 3x3 convolution at the higher resolution)
  where SNGAN resamples inside the branch and convolves twice at the higher resolution, and
  R3GAN uses grouped-convolution bottlenecks (1x1, grouped 3x3, 1x1) with low-pass [1, 2, 1]
  resampling. Stride-1 3x3 convolutions are the slowest kind per operation on a CPU, so each
  block has only one.
- The skeleton is `gan_tf.networks.dcgan`'s: a Dense projection of the noise (R3GAN: a learned
  4x4 constant scaled per channel), the same channel counts (`width` at half the image side,
  doubled per lower stage), a transposed stride-2 5x5 convolution to the image with a tanh
  output in [-1, 1] (R3GAN's output is linear), a stride-2 convolution from the image and a
  Dense logit over the flattened last feature map (SNGAN sums over positions; R3GAN uses a
  depthwise 4x4 basis). R3GAN's fix-up scaling of the other initialisers is replaced by
  Keras's defaults; there is one block per stage.
- Spectral normalisation (SNGAN's) is optional in the discriminator; with it, every kernel is
  normalised and the branches keep their default initialisation (a zero kernel has no
  singular value to normalise by).
"""
import keras
from keras import layers

from gan_tf.networks.dcgan import _check_positive, _num_stages
from gan_tf.networks.spectral_norm import SpectralNormalization

_SLOPE = 0.2  # leaky ReLU, as R3GAN and DCGAN


def _conv(filters, kernel_size, name, spectral_norm=False, zero_init=False, strides=1, transpose=False):
    kind = layers.Conv2DTranspose if transpose else layers.Conv2D
    options = dict(strides=strides, padding="same")
    if spectral_norm:
        return SpectralNormalization(kind(filters, kernel_size, name=f"{name}_conv", **options), name=name)
    initializer = "zeros" if zero_init else "glorot_uniform"
    return kind(filters, kernel_size, kernel_initializer=initializer, name=name, **options)


def _block(x, name, spectral_norm=False):
    """Pre-activation residual block at one resolution: x + conv(lrelu(conv(lrelu(x))))."""
    h = layers.LeakyReLU(_SLOPE, name=f"{name}_lrelu1")(x)
    h = _conv(x.shape[-1], 3, f"{name}_conv1", spectral_norm)(h)
    h = layers.LeakyReLU(_SLOPE, name=f"{name}_lrelu2")(h)
    h = _conv(x.shape[-1], 3, f"{name}_conv2", spectral_norm, zero_init=True)(h)
    return layers.Add(name=f"{name}_add")([x, h])


def _up_block(x, filters, name):
    """Pre-activation residual block, x2: transposed 4x4 stride-2 conv, then a 3x3 conv."""
    h = layers.LeakyReLU(_SLOPE, name=f"{name}_lrelu1")(x)
    h = _conv(filters, 4, f"{name}_conv1", strides=2, transpose=True)(h)
    h = layers.LeakyReLU(_SLOPE, name=f"{name}_lrelu2")(h)
    h = _conv(filters, 3, f"{name}_conv2", zero_init=True)(h)
    # 1x1 before upsampling: the same map as after it (nearest), at a quarter of the cost.
    shortcut = _conv(filters, 1, f"{name}_shortcut")(x)
    shortcut = layers.UpSampling2D(2, name=f"{name}_shortcut_up")(shortcut)
    return layers.Add(name=f"{name}_add")([shortcut, h])


def _down_block(x, filters, name, spectral_norm):
    """Pre-activation residual block, /2: a 3x3 conv, then a 4x4 stride-2 conv."""
    h = layers.LeakyReLU(_SLOPE, name=f"{name}_lrelu1")(x)
    h = _conv(x.shape[-1], 3, f"{name}_conv1", spectral_norm)(h)
    h = layers.LeakyReLU(_SLOPE, name=f"{name}_lrelu2")(h)
    h = _conv(filters, 4, f"{name}_conv2", spectral_norm, zero_init=True, strides=2)(h)
    shortcut = layers.AveragePooling2D(2, name=f"{name}_shortcut_pool")(x)
    shortcut = _conv(filters, 1, f"{name}_shortcut", spectral_norm)(shortcut)
    return layers.Add(name=f"{name}_add")([shortcut, h])


def resnet_generator(latent_dim=100, image_shape=(28, 28, 1), width=32, name="generator"):
    """Residual generator: Dense projection → residual block → one up-block per further x2
    stage → transposed stride-2 conv to the image → tanh.

    Args:
      latent_dim: size of the noise vector.
      image_shape: (height, width, channels); square, side = start x 2^stages with start <= 7
        (28 = 7 x 4, 32 = 4 x 8, 64 = 4 x 16).
      width: channels of the last hidden layer (at half the image side), doubled per lower
        stage (28x28, width 32: 7x7x64 → block → 14x14x32 → 28x28 image), as in `dcgan`.
      name: model name.

    Returns:
      A functional `keras.Model` mapping [batch, latent_dim] to float32 images in [-1, 1].

    Example:
      >>> generator = resnet_generator(64, (28, 28, 1), width=32)
      >>> generator.get_layer("reshape").output.shape
      (None, 7, 7, 64)
    """
    _check_positive(latent_dim=latent_dim, width=width)
    stages, start = _num_stages(image_shape)
    channels = width * 2 ** (stages - 1)
    noise = keras.Input((latent_dim,), name="noise")
    x = layers.Dense(start * start * channels, name="project")(noise)
    x = layers.Reshape((start, start, channels), name="reshape")(x)
    x = _block(x, "block")
    for i in range(stages - 1):
        x = _up_block(x, width * 2 ** (stages - 2 - i), f"up{i}")
    x = layers.LeakyReLU(_SLOPE, name="out_lrelu")(x)
    x = layers.Conv2DTranspose(image_shape[-1], 5, strides=2, padding="same", name="to_image")(x)
    # tanh in float32: mixed precision must still hand back float32 images.
    images = layers.Activation("tanh", dtype="float32", name="tanh")(x)
    return keras.Model(noise, images, name=name)


def resnet_discriminator(image_shape=(28, 28, 1), width=32, spectral_norm=False, name="discriminator"):
    """Residual discriminator without normalisation layers: stride-2 conv → one down-block per
    further /2 stage → residual block → leaky ReLU → Dense logit.

    Args:
      image_shape: (height, width, channels) of the input images (as `resnet_generator`).
      width: channels of the first convolution (at half the image side), doubled per stage
        (28x28, width 32: 14x14x32 → 7x7x64 → block → logit), as in `dcgan`.
      spectral_norm: spectrally normalise every convolution and the logit layer (Miyato et
        al. 2018, `gan_tf.networks.spectral_norm`); layer names stay, the wrapped layers get
        the suffix "_conv" / "_dense".
      name: model name.

    Returns:
      A functional `keras.Model` mapping images to [batch, 1] float32 logits.
    """
    _check_positive(width=width)
    stages, _ = _num_stages(image_shape)
    images = keras.Input(image_shape, name="images")
    x = _conv(width, 4, "from_image", spectral_norm, strides=2)(images)
    for i in range(stages - 1):
        x = _down_block(x, width * 2 ** (i + 1), f"down{i}", spectral_norm)
    x = _block(x, "block", spectral_norm)
    x = layers.LeakyReLU(_SLOPE, name="out_lrelu")(x)
    x = layers.Flatten(name="flatten")(x)
    dense = layers.Dense(1, dtype="float32", name="logit_dense" if spectral_norm else "logit")
    logits = (SpectralNormalization(dense, name="logit") if spectral_norm else dense)(x)
    return keras.Model(images, logits, name=name)
