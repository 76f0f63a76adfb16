"""Network builders returning functional `keras.Model`s."""
from gan_tf.networks.dcgan import dcgan_discriminator, dcgan_generator
from gan_tf.networks.mlp import mlp_discriminator, mlp_generator
from gan_tf.networks.resnet import resnet_discriminator, resnet_generator
from gan_tf.networks.spectral_norm import SpectralNormalization

ARCHITECTURES = {
    "dcgan": (dcgan_generator, dcgan_discriminator),
    "mlp": (mlp_generator, mlp_discriminator),
    "resnet": (resnet_generator, resnet_discriminator),
}
# Architectures whose builders take `width` and whose discriminator takes `spectral_norm`.
CONVOLUTIONAL = ("dcgan", "resnet")


def build(architecture, latent_dim, image_shape, width=None, spectral_norm=False):
    """Returns (generator, discriminator) for an architecture name in `ARCHITECTURES`.

    Args:
      width: the builders' `width` (None: each builder's default); convolutional ones only.
      spectral_norm: spectrally normalised discriminator; convolutional ones only.
    """
    if architecture not in ARCHITECTURES:
        raise ValueError(
            f"Unknown architecture {architecture!r}: expected one of {', '.join(ARCHITECTURES)}."
        )
    options = {} if width is None else {"width": width}
    if (options or spectral_norm) and architecture not in CONVOLUTIONAL:
        raise ValueError(
            f"architecture={architecture!r} takes neither width nor spectral_norm: "
            f"they apply to {' and '.join(CONVOLUTIONAL)}."
        )
    make_generator, make_discriminator = ARCHITECTURES[architecture]
    d_options = {**options, "spectral_norm": True} if spectral_norm else options
    return make_generator(latent_dim, image_shape, **options), make_discriminator(image_shape, **d_options)
