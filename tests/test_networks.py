import numpy as np
import pytest
import tensorflow as tf

from gan_tf import networks


@pytest.mark.parametrize("shape", [(28, 28, 1), (32, 32, 3), (64, 64, 3)])
@pytest.mark.parametrize("architecture", ["dcgan", "mlp"])
def test_networks_build_and_connect(shape, architecture):
    generator, discriminator = networks.build(architecture, 16, shape)
    images = generator(tf.random.normal([2, 16]), training=False)
    assert images.shape == (2, *shape) and images.dtype == tf.float32
    assert np.all(np.abs(images.numpy()) <= 1.0)  # tanh output
    assert discriminator(images).shape == (2, 1)


def test_dcgan_layer_sizes_at_64():
    generator = networks.dcgan_generator(100, (64, 64, 3), width=64)
    # 4×4×1024 projection, then 512 at 4×4, 256 at 8×8, 128 at 16×16, 64 at 32×32, 3 at 64×64.
    assert generator.get_layer("reshape").output.shape[1:] == (4, 4, 1024)
    assert [generator.get_layer(f"up{i}").output.shape[1:] for i in range(4)] == [
        (4, 4, 512), (8, 8, 256), (16, 16, 128), (32, 32, 64)]
    discriminator = networks.dcgan_discriminator((64, 64, 3))
    assert discriminator.get_layer("down3").output.shape[1:] == (4, 4, 512)


def test_dcgan_28_matches_tutorial_sizes():
    generator = networks.dcgan_generator(100, (28, 28, 1))
    assert generator.get_layer("reshape").output.shape[1:] == (7, 7, 256)
    assert generator.get_layer("up0").output.shape[1:] == (7, 7, 128)
    assert generator.get_layer("up1").output.shape[1:] == (14, 14, 64)


@pytest.mark.parametrize("kwargs, message", [
    (dict(image_shape=(28, 32, 1)), "square"),
    (dict(image_shape=(7, 7, 1)), "divisible by 2"),
    (dict(image_shape=(28, 28)), "height, width, channels"),
    (dict(latent_dim=0), "latent_dim=0"),
])
def test_bad_generator_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        networks.dcgan_generator(**kwargs)


def test_unknown_architecture():
    with pytest.raises(ValueError, match="Unknown architecture 'resnet'"):
        networks.build("resnet", 8, (28, 28, 1))
