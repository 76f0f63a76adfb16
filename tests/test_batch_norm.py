"""gan_tf's fused BatchNormalization against float64 closed forms and Keras's own layer."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from gan_tf.networks.batch_norm import BatchNormalization
from gan_tf.networks.dcgan import dcgan_generator


def closed_form(x, dy, gamma, beta, epsilon):
    """Training-mode batch norm over all axes but the last, in float64: y, dx, dgamma, dbeta, mean, biased var."""
    x, dy = x.astype(np.float64), dy.astype(np.float64)
    axes = tuple(range(x.ndim - 1))
    mean, var = x.mean(axes), x.var(axes)
    inv_std = 1.0 / np.sqrt(var + epsilon)
    x_hat = (x - mean) * inv_std
    y = gamma * x_hat + beta
    dx_hat = dy * gamma
    dx = inv_std * (dx_hat - dx_hat.mean(axes) - x_hat * (dx_hat * x_hat).mean(axes))
    return y, dx, (dy * x_hat).sum(axes), dy.sum(axes), mean, var


def train_call(layer, x, dy, jit_compile=False):
    @tf.function(jit_compile=jit_compile)
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
        dx, dgamma, dbeta = tape.gradient(y, [x, layer.gamma, layer.beta], output_gradients=dy)
        return y, dx, dgamma, dbeta
    return [np.asarray(tf.cast(t, tf.float32)) for t in step(x)], step


def op_types(step, x):
    return {op.type for op in step.get_concrete_function(x).graph.get_operations()}


def random_inputs(shape, seed=0):
    rng = np.random.default_rng(seed)
    x = (rng.normal(size=shape) * 3.0 + 1.5).astype(np.float32)
    dy = rng.normal(size=shape).astype(np.float32)
    return x, dy


def built_layer(shape, **kwargs):
    layer = BatchNormalization(momentum=0.9, **kwargs)
    layer.build(shape)
    rng = np.random.default_rng(1)
    layer.gamma.assign(rng.uniform(0.5, 2.0, shape[-1]).astype(np.float32))
    layer.beta.assign(rng.normal(size=shape[-1]).astype(np.float32))
    layer.moving_mean.assign(rng.normal(size=shape[-1]).astype(np.float32))
    layer.moving_variance.assign(rng.uniform(0.5, 2.0, shape[-1]).astype(np.float32))
    return layer


@pytest.mark.parametrize("shape", [(16, 5, 5, 6), (32, 7)])
@pytest.mark.parametrize("jit_compile", [False, True])
def test_training_pass_and_moving_statistics_equal_the_closed_form(shape, jit_compile):
    x, dy = random_inputs(shape)
    layer = built_layer(shape)
    gamma, beta = layer.gamma.numpy(), layer.beta.numpy()
    moving_mean, moving_var = layer.moving_mean.numpy(), layer.moving_variance.numpy()
    (y, dx, dgamma, dbeta), step = train_call(layer, tf.constant(x), tf.constant(dy), jit_compile)
    want_y, want_dx, want_dgamma, want_dbeta, mean, var = closed_form(x, dy, gamma, beta, layer.epsilon)
    np.testing.assert_allclose(y, want_y, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(dx, want_dx, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(dgamma, want_dgamma, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(dbeta, want_dbeta, rtol=1e-4, atol=1e-3)
    # Biased variance, as Keras's moving statistics take it (the kernel's own output is unbiased).
    np.testing.assert_allclose(layer.moving_mean.numpy(), 0.9 * moving_mean + 0.1 * mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layer.moving_variance.numpy(), 0.9 * moving_var + 0.1 * var, rtol=1e-5)
    assert "FusedBatchNormV3" in op_types(step, tf.constant(x))


def test_one_value_per_channel_gives_zero_variance():
    layer = built_layer((1, 4))
    moving_var = layer.moving_variance.numpy()
    layer(tf.constant(np.arange(4, dtype=np.float32)[None]), training=True)
    np.testing.assert_allclose(layer.moving_variance.numpy(), 0.9 * moving_var, rtol=1e-6)


def test_mixed_bfloat16_reads_and_returns_bfloat16_and_accumulates_in_float32():
    shape = (64, 4, 4, 8)
    x, dy = random_inputs(shape)
    x = np.asarray(tf.cast(tf.cast(x, tf.bfloat16), tf.float32))  # exactly representable inputs
    layer = BatchNormalization(dtype="mixed_bfloat16")
    layer.build(shape)
    y = layer(tf.cast(x, tf.bfloat16), training=True)
    assert y.dtype == tf.bfloat16 and layer.moving_mean.dtype == "float32"
    want_y, *_, mean, var = closed_form(x, dy, np.ones(8), np.zeros(8), layer.epsilon)
    # One bfloat16 rounding of the output (8 bits of mantissa), statistics in float32.
    np.testing.assert_allclose(np.asarray(tf.cast(y, tf.float32)), want_y, rtol=2**-8, atol=2**-8)
    np.testing.assert_allclose(layer.moving_mean.numpy(), 0.01 * mean, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(layer.moving_variance.numpy(), 0.99 + 0.01 * var, rtol=1e-5)


def test_inference_mode_uses_the_moving_statistics():
    shape = (8, 3, 3, 4)
    x, _ = random_inputs(shape)
    layer = built_layer(shape)
    want = (layer.gamma.numpy() * (x - layer.moving_mean.numpy())
            / np.sqrt(layer.moving_variance.numpy() + layer.epsilon) + layer.beta.numpy())
    np.testing.assert_allclose(layer(tf.constant(x), training=False).numpy(), want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kwargs, shape", [
    ({"synchronized": True}, (8, 3, 3, 4)),
    ({"renorm": True}, (8, 3, 3, 4)),
    ({"axis": 1}, (8, 4, 3, 3)),
    ({"epsilon": 1e-6}, (8, 3, 3, 4)),
    ({}, (8, 5, 4)),  # rank 3
])
def test_what_the_kernel_cannot_do_is_left_to_keras_and_gives_keras_results(kwargs, shape):
    x, dy = random_inputs(shape)
    ours, stock = BatchNormalization(**kwargs), keras.layers.BatchNormalization(**kwargs)
    ours.build(shape)
    stock.build(shape)
    (y, dx, *_), step = train_call(ours, tf.constant(x), tf.constant(dy))
    (want_y, want_dx, *_), _ = train_call(stock, tf.constant(x), tf.constant(dy))
    np.testing.assert_array_equal(y, want_y)
    np.testing.assert_array_equal(dx, want_dx)
    np.testing.assert_array_equal(ours.moving_variance.numpy(), stock.moving_variance.numpy())
    assert "FusedBatchNormV3" not in op_types(step, tf.constant(x))


def test_a_mask_is_left_to_keras():
    x, _ = random_inputs((4, 6, 3))
    mask = tf.constant(np.arange(24).reshape(4, 6) % 3 != 0)
    ours, stock = BatchNormalization(), keras.layers.BatchNormalization()
    np.testing.assert_array_equal(ours(x, training=True, mask=mask).numpy(),
                                  stock(x, training=True, mask=mask).numpy())


def test_the_generator_uses_it_and_loads_back_from_a_keras_file(tmp_path):
    generator = dcgan_generator(8, (16, 16, 1), width=4)
    norms = [layer for layer in generator.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert len(norms) == 3 and all(type(layer) is BatchNormalization for layer in norms)
    generator(tf.random.normal([5, 8]), training=True)  # moving statistics move away from 0 / 1
    path = tmp_path / "generator.keras"
    generator.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded.get_layer("up0_bn")) is BatchNormalization
    noise = tf.random.normal([3, 8])
    np.testing.assert_array_equal(loaded(noise).numpy(), generator(noise).numpy())


def test_with_keras_batch_norm_swaps_the_layers_of_nested_models_and_keeps_the_outputs():
    from gan_tf.networks.batch_norm import with_keras_batch_norm
    from gan_tf.networks.conditional import LabelInput, conditional_generator
    from gan_tf.networks.mlp import mlp_generator

    generator = conditional_generator(8, (16, 16, 1), LabelInput(3), width=4)  # the DCGAN body is a nested model
    for _ in range(3):  # moving statistics away from 0 / 1, so that copying them is checked
        generator([tf.random.normal([6, 8]), tf.constant([0, 1, 2, 0, 1, 2])], training=True)
    copy = with_keras_batch_norm(generator)

    def norms(model):
        return [layer for layer in model._flatten_layers(include_self=False)
                if isinstance(layer, keras.layers.BatchNormalization)]

    assert len(norms(generator)) == 3 and all(type(layer) is BatchNormalization for layer in norms(generator))
    assert len(norms(copy)) == 3 and all(type(layer) is keras.layers.BatchNormalization for layer in norms(copy))
    inputs = [tf.random.normal([4, 8]), tf.constant([2, 1, 0, 2])]
    np.testing.assert_array_equal(copy(inputs).numpy(), generator(inputs).numpy())
    plain = mlp_generator(8, (4, 4, 1), hidden=(16,))
    assert with_keras_batch_norm(plain) is plain
