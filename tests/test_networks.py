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


def _philox_uniform(shape, seed):
    """The float32 draw the dropout mask must match, in numpy from TensorFlow's raw Philox bits."""
    key = np.array([seed[0]], np.int64).view(np.uint64)
    counter = np.array([0, seed[1]], np.int64).view(np.uint64)
    bits = tf.raw_ops.StatelessRandomUniformFullIntV2(
        shape=shape, key=key, counter=counter, alg=1, dtype=tf.uint32).numpy()
    return (bits >> 8).astype(np.float64) / 2**24


@pytest.mark.parametrize("rate", [0.3, 0.5, 1e-9, 0.999999, 1 - 2**-26])
def test_dropout_mask_is_uniform_draw_against_rate(rate):
    from gan_tf.networks.layers import keep_mask

    shape, seed = (64, 5, 7), (12345, -678)
    expected = _philox_uniform(shape, seed) >= np.float64(np.float32(rate))
    for jit_compile in (False, True):
        mask = tf.function(lambda: keep_mask(shape, tf.constant(seed, tf.int64), rate), jit_compile=jit_compile)()
        np.testing.assert_array_equal(mask.numpy(), expected)
    if rate == 1 - 2**-26:  # rounds to 1.0 in float32: nothing is kept
        assert not expected.any()


@pytest.mark.parametrize("rate", [0.3, 0.5, 0.1, 1e-9, 2**-24, 0.999999, 1 - 2**-26])
def test_dropout_threshold_is_the_smallest_kept_draw(rate):
    # keep ⇔ (bits >> 8) · 2^-24 >= rate in float32; the threshold on bits must be the
    # smallest kept value of (bits >> 8), times 2^8.
    from gan_tf.networks.layers import keep_threshold

    r = np.float32(rate)
    draws = np.arange(2**24, dtype=np.float32) * np.float32(2**-24)  # every possible draw
    kept = np.flatnonzero(draws >= r)
    threshold = keep_threshold(rate)
    if kept.size == 0:
        assert threshold is None
    else:
        assert threshold == int(kept[0]) * 2**8


def test_dropout_layer_drops_at_its_rate_and_rescales_the_rest():
    from gan_tf.networks.layers import Dropout

    layer = Dropout(0.3, seed=5)
    x = tf.random.stateless_normal([400, 500], seed=[1, 2])
    y = layer(x, training=True).numpy()
    kept = y != 0
    n = kept.size
    assert abs((1 - kept.mean()) - 0.3) < 5 * np.sqrt(0.3 * 0.7 / n)  # within 5 standard errors
    np.testing.assert_array_equal(y[kept], x.numpy()[kept] * np.float32(1 / 0.7))
    np.testing.assert_array_equal(layer(x, training=False).numpy(), x.numpy())
