"""Network builders returning functional `keras.Model`s."""
from gan_tf.networks.dcgan import dcgan_discriminator, dcgan_generator
from gan_tf.networks.mlp import mlp_discriminator, mlp_generator

ARCHITECTURES = {
    "dcgan": (dcgan_generator, dcgan_discriminator),
    "mlp": (mlp_generator, mlp_discriminator),
}


def build(architecture, latent_dim, image_shape):
    """Returns (generator, discriminator) for an architecture name in `ARCHITECTURES`."""
    if architecture not in ARCHITECTURES:
        raise ValueError(
            f"Unknown architecture {architecture!r}: expected one of {', '.join(ARCHITECTURES)}."
        )
    make_generator, make_discriminator = ARCHITECTURES[architecture]
    return make_generator(latent_dim, image_shape), make_discriminator(image_shape)
