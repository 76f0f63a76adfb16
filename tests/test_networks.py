import numpy as np
import pytest
import tensorflow as tf

from gan_tf import networks


@pytest.mark.parametrize("shape", [(28, 28, 1), (32, 32, 3), (64, 64, 3)])
@pytest.mark.parametrize("architecture", ["dcgan", "mlp", "resnet"])
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
    with pytest.raises(ValueError, match="Unknown architecture 'vgg'"):
        networks.build("vgg", 8, (28, 28, 1))


def _philox_sixteen_bit_draws(size, seed):
    """The draws in [0, 1) the dropout mask must compare, in numpy from TensorFlow's raw Philox bits:
    each uint32 split into its low and high 16 bits (little-endian), scaled by 2^-16."""
    key = np.array([seed[0]], np.int64).view(np.uint64)
    counter = np.array([0, seed[1]], np.int64).view(np.uint64)
    bits = tf.raw_ops.StatelessRandomUniformFullIntV2(
        shape=[(size + 1) // 2], key=key, counter=counter, alg=1, dtype=tf.uint32).numpy()
    halves = np.stack([bits & 0xFFFF, bits >> 16], axis=-1).ravel()[:size]
    return halves.astype(np.float64) / 2**16


@pytest.mark.parametrize("shape", [(64, 5, 7), (3, 5, 7)])  # an even and an odd number of draws
@pytest.mark.parametrize("rate", [0.3, 0.5, 1e-9, 0.999999, 1 - 2**-26])
def test_dropout_mask_is_sixteen_bit_draw_against_rate(rate, shape):
    from gan_tf.networks.layers import keep_mask

    seed = (12345, -678)
    size = int(np.prod(shape))
    expected = (_philox_sixteen_bit_draws(size, seed) >= np.float64(np.float32(rate))).reshape(shape)
    for jit_compile in (False, True):
        mask = tf.function(lambda: keep_mask(shape, tf.constant(seed, tf.int64), rate), jit_compile=jit_compile)()
        np.testing.assert_array_equal(mask.numpy(), expected)
    if rate == 1 - 2**-26:  # rounds to 1.0 in float32: nothing is kept
        assert not expected.any()


def test_dropout_keeps_a_draw_equal_to_the_rate():
    # The rate set to the first and second draws themselves (d · 2^-16 is exact in float32): both are kept.
    from gan_tf.networks.layers import keep_mask

    seed = (3, 4)
    draws = _philox_sixteen_bit_draws(2, seed)
    for i in (0, 1):
        mask = keep_mask((2,), tf.constant(seed, tf.int64), float(draws[i])).numpy()
        np.testing.assert_array_equal(mask, draws >= draws[i])


def test_dropout_mask_uses_both_halves_of_each_random_word():
    from gan_tf.networks.layers import keep_mask

    mask = keep_mask((200_000,), tf.constant([5, 9], tf.int64), 0.5).numpy()
    low, high = mask[0::2], mask[1::2]
    # Independent halves: each keeps half, and they agree about half the time (not always, not never).
    for kept in (low, high, low == high):
        assert abs(kept.mean() - 0.5) < 5 * np.sqrt(0.25 / kept.size)


@pytest.mark.parametrize("rate", [0.3, 0.5, 0.1, 1e-9, 2**-16, 2**-17, 0.999999, 1 - 2**-17, 1 - 2**-26])
def test_dropout_threshold_is_the_smallest_kept_draw(rate):
    # keep ⇔ d · 2^-16 >= rate (float32 rate, exact comparison); the threshold on the 16-bit
    # draws d must be the smallest kept d.
    from gan_tf.networks.layers import keep_threshold

    draws = np.arange(2**16, dtype=np.float64) / 2**16  # every possible draw, exactly
    kept = np.flatnonzero(draws >= np.float64(np.float32(rate)))
    threshold = keep_threshold(rate)
    if kept.size == 0:
        assert threshold is None
    else:
        assert threshold == int(kept[0])


def test_dropout_layer_drops_at_its_rate_and_rescales_the_rest():
    from gan_tf.networks.layers import Dropout

    layer = Dropout(0.3, seed=5)
    x = tf.random.stateless_normal([400, 500], seed=[1, 2])
    y = layer(x, training=True).numpy()
    kept = y != 0
    n = kept.size
    # Kept with probability 1 - ceil(0.3 · 2^16) / 2^16 (16-bit draws), within 5 standard errors.
    keep_probability = 1 - np.ceil(np.float32(0.3) * 2**16) / 2**16
    assert abs(kept.mean() - keep_probability) < 5 * np.sqrt(keep_probability * (1 - keep_probability) / n)
    np.testing.assert_array_equal(y[kept], x.numpy()[kept] * np.float32(1 / 0.7))
    np.testing.assert_array_equal(layer(x, training=False).numpy(), x.numpy())


# --- residual networks -----------------------------------------------------------------------------

def test_resnet_layer_sizes_at_28_and_64():
    generator = networks.resnet_generator(100, (28, 28, 1), width=32)
    assert generator.get_layer("reshape").output.shape[1:] == (7, 7, 64)
    assert generator.get_layer("up0_add").output.shape[1:] == (14, 14, 32)
    discriminator = networks.resnet_discriminator((28, 28, 1), width=32)
    assert discriminator.get_layer("from_image").output.shape[1:] == (14, 14, 32)
    assert discriminator.get_layer("block_add").output.shape[1:] == (7, 7, 64)
    generator = networks.resnet_generator(100, (64, 64, 3), width=32)
    assert [generator.get_layer(f"up{i}_add").output.shape[1:] for i in range(3)] == [
        (8, 8, 128), (16, 16, 64), (32, 32, 32)]
    discriminator = networks.resnet_discriminator((64, 64, 3), width=32)
    assert discriminator.get_layer("block_add").output.shape[1:] == (4, 4, 256)


def test_resnet_has_no_normalisation_and_starts_as_its_shortcuts():
    import keras

    generator, discriminator = networks.build("resnet", 8, (28, 28, 1))
    for model in (generator, discriminator):
        assert not any(isinstance(l, (keras.layers.BatchNormalization, keras.layers.LayerNormalization))
                       for l in model.layers)
        # R3GAN's initialisation: the last convolution of every residual branch is zero.
        last = [l for l in model.layers if l.name.endswith("_conv2")]
        assert last and all(not np.any(l.kernel.numpy()) for l in last)


@pytest.mark.parametrize("architecture", ["dcgan", "resnet"])
def test_every_layer_is_named(architecture):
    # Keras numbers the names it makes up (conv2d, conv2d_1, ...): two builds would differ.
    def names():
        _, discriminator = networks.build(architecture, 8, (32, 32, 3), spectral_norm=True)
        generator, _ = networks.build(architecture, 8, (32, 32, 3))
        return [l.name for m in (generator, discriminator) for l in m.layers] + [
            l.layer.name for l in discriminator.layers if hasattr(l, "layer")]

    assert names() == names()


@pytest.mark.parametrize("spectral_norm", [False, True])
def test_resnet_config_round_trip(spectral_norm, tmp_path):
    import keras

    generator, discriminator = networks.build("resnet", 8, (28, 28, 1), spectral_norm=spectral_norm)
    noise = tf.random.stateless_normal([3, 8], [1, 2])
    for model, x in ((generator, noise), (discriminator, generator(noise))):
        clone = keras.Model.from_config(model.get_config())
        clone.set_weights(model.get_weights())
        np.testing.assert_allclose(clone(x).numpy(), model(x).numpy(), atol=1e-6)
    path = str(tmp_path / "discriminator.keras")
    discriminator.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded(generator(noise)).numpy(), discriminator(generator(noise)).numpy(), atol=1e-6)


@pytest.mark.parametrize("architecture", ["dcgan", "resnet"])
def test_outputs_are_float32_under_mixed_precision(architecture):
    import keras

    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        generator, discriminator = networks.build(architecture, 8, (28, 28, 1), spectral_norm=True)
        images = generator(tf.random.normal([2, 8]), training=True)
        logits = discriminator(images, training=True)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert images.dtype == tf.float32 and logits.dtype == tf.float32 and logits.shape == (2, 1)


def test_bad_resnet_arguments():
    with pytest.raises(ValueError, match="square"):
        networks.resnet_generator(8, (28, 32, 1))
    with pytest.raises(ValueError, match="width=0"):
        networks.resnet_discriminator((28, 28, 1), width=0)
    with pytest.raises(ValueError, match="takes neither width nor spectral_norm"):
        networks.build("mlp", 8, (28, 28, 1), spectral_norm=True)


def _mirrored():
    # The process-wide one: a second MirroredStrategy in a process collides on collective keys.
    from gan_tf import distribute

    return distribute.make_strategy("mirrored")


# --- spectral normalisation ------------------------------------------------------------------------

def _effective_dense_kernel(wrapper):
    """The kernel a spectrally normalised Dense computes with, probed from outside."""
    fan_in = wrapper.layer.kernel.shape[0]
    zero = wrapper(tf.zeros([1, fan_in]), training=False)
    return (wrapper(tf.eye(fan_in), training=False) - zero).numpy()


def _effective_conv_kernel(wrapper, channels):
    """Same for a 'same'-padded stride-2 5x5 Conv2D: the centre output of one-hot 5x5 patches."""
    k = wrapper.layer.kernel.shape[0]
    basis = np.eye(k * k * channels, dtype=np.float32).reshape(-1, k, k, channels)
    centre = (k - 1) // 4  # output pixel whose receptive field is the whole patch
    out = wrapper(basis, training=False) - wrapper(np.zeros_like(basis[:1]), training=False)
    return out.numpy()[:, centre, centre, :]


def test_spectral_norm_kernels_have_unit_singular_value_after_training():
    import keras

    from gan_tf.networks.spectral_norm import largest_singular_value

    keras.utils.set_random_seed(0)
    discriminator = networks.dcgan_discriminator((16, 16, 1), width=8, dropout=0.0, spectral_norm=True)
    wrappers = [discriminator.get_layer(n) for n in ("down0", "down1", "logit")]
    for w in wrappers:  # raw kernels far from unit norm, so that the check can fail
        w.layer.kernel.assign(3.0 * w.layer.kernel)
    optimizer = keras.optimizers.Adam(1e-2)
    images = tf.random.stateless_uniform([32, 16, 16, 1], [0, 1], -1, 1)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.nn.softplus(-discriminator(images, training=True)))
        grads = tape.gradient(loss, discriminator.trainable_variables)
        optimizer.apply_gradients(zip(grads, discriminator.trainable_variables))

    for _ in range(40):
        step()
    effective = [_effective_conv_kernel(wrappers[0], 1), _effective_conv_kernel(wrappers[1], 8),
                 _effective_dense_kernel(wrappers[2])]
    for w, kernel in zip(wrappers, effective):
        np.testing.assert_allclose(kernel, w.layer.kernel.numpy().reshape(kernel.shape) * (
            np.linalg.norm(kernel) / np.linalg.norm(w.layer.kernel.numpy())), rtol=1e-3, atol=1e-6)
        assert largest_singular_value(kernel) == pytest.approx(1.0, abs=0.02)
        assert largest_singular_value(w.layer.kernel.numpy()) > 1.5  # the raw kernel is kept
    names = {v.path for v in discriminator.variables}
    assert {"down0/vector_u", "down1/vector_u", "logit/vector_u"} <= names
    assert not any("vector_u" in v.path for v in discriminator.trainable_variables)


def test_spectral_norm_gradient_flows_through_sigma():
    # With u the exact top singular vector, the layer computes x W / sigma(W) and its gradient
    # must be that of W -> x W / sigma(W), sigma differentiated (Miyato et al.).
    from gan_tf.networks.spectral_norm import SpectralNormalization
    import keras

    rng = np.random.default_rng(0)
    layer = SpectralNormalization(keras.layers.Dense(3, use_bias=False))
    x = rng.normal(size=(4, 5)).astype(np.float32)
    layer(x)
    kernel = rng.normal(size=(5, 3))
    layer.layer.kernel.assign(kernel.astype(np.float32))
    layer.vector_u.assign(np.linalg.svd(kernel)[2][:1].astype(np.float32))  # top right vector
    weights = rng.normal(size=(4, 3))

    def loss(k):
        return np.sum(weights * (x @ (k / np.linalg.svd(k, compute_uv=False)[0])))

    with tf.GradientTape() as tape:
        value = tf.reduce_sum(weights.astype(np.float32) * layer(x, training=False))
    grad = tape.gradient(value, layer.layer.kernel).numpy()
    eps = 1e-6
    numeric = np.zeros_like(kernel)
    for i in np.ndindex(kernel.shape):
        d = np.zeros_like(kernel)
        d[i] = eps
        numeric[i] = (loss(kernel + d) - loss(kernel - d)) / (2 * eps)
    assert value.numpy() == pytest.approx(loss(kernel), rel=1e-5)
    np.testing.assert_allclose(grad, numeric, atol=1e-4)
    # and not the gradient with sigma held fixed (what a projection-style wrapper would give)
    assert np.abs(grad - x.T @ weights / np.linalg.svd(kernel, compute_uv=False)[0]).max() > 1e-2


def test_spectral_norm_keeps_the_float32_kernel_under_mixed_precision():
    # keras.layers.SpectralNormalization rounds it to bfloat16 on every training call.
    import keras

    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        discriminator = networks.dcgan_discriminator((16, 16, 1), width=8, spectral_norm=True)
        kernel = discriminator.get_layer("down0").layer.kernel
        before = kernel.numpy()
        discriminator(tf.random.uniform([2, 16, 16, 1]), training=True)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    np.testing.assert_array_equal(kernel.numpy(), before)
    assert not np.array_equal(before, before.astype(tf.bfloat16.as_numpy_dtype).astype(np.float32))


@pytest.mark.parametrize("architecture", ["dcgan", "resnet"])
def test_spectral_norm_trains_identically_on_two_replicas_and_one(architecture):
    import keras

    def train(strategy, steps=3):
        with strategy.scope():
            keras.utils.set_random_seed(1)
            # No dropout in the DCGAN: its masks depend on the replica by design.
            options = dict(dropout=0.0) if architecture == "dcgan" else {}
            make = networks.dcgan_discriminator if architecture == "dcgan" else networks.resnet_discriminator
            discriminator = make((16, 16, 1), width=4, spectral_norm=True, **options)
            optimizer = keras.optimizers.Adam(1e-2)
            optimizer.build(discriminator.trainable_variables)
        images = tf.random.stateless_uniform([8, 16, 16, 1], [0, 1], -1, 1)
        dataset = strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensors(images).repeat(steps))

        @tf.function
        def step(batch):
            def replica_step(x):
                with tf.GradientTape() as tape:
                    logits = discriminator(x, training=True)
                    loss = tf.reduce_sum(tf.nn.softplus(-logits)) / 8  # global-batch mean
                grads = tape.gradient(loss, discriminator.trainable_variables)
                optimizer.apply_gradients(zip(grads, discriminator.trainable_variables))
            strategy.run(replica_step, (batch,))

        for batch in dataset:
            step(batch)
        return discriminator

    two = train(_mirrored())
    one = train(tf.distribute.OneDeviceStrategy("CPU:0"))
    for a, b in zip(two.variables, one.variables):
        assert a.path == b.path
        if "vector_u" in a.path:
            replicas = [v.numpy() for v in a.value.values]
            np.testing.assert_array_equal(replicas[0], replicas[1])
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=2e-5)  # float tolerance (summation order)
    assert any("vector_u" in v.path for v in two.variables)
