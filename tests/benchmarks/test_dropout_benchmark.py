"""experiments/benchmarks/dropout_benchmark.py: the versions it times are dropout at the rate it names."""
import numpy as np
import pytest


@pytest.mark.parametrize("version", ["float_draw_dropout", "integer_threshold_dropout"])
def test_replaced_versions_drop_where_the_top_24_bits_fall_below_the_rate(version, benchmarks):
    import tensorflow as tf

    module = benchmarks.load("dropout_benchmark")
    rate, seed = 0.3, (5, 9)
    inputs = tf.fill([40, 10, 10], 2.0)
    outputs = getattr(module, version)(inputs, tf.constant(seed, tf.int64), rate).numpy()
    # The closed form, in numpy from the raw Philox bits: keep where (bits >> 8) / 2^24 >= rate.
    bits = tf.raw_ops.StatelessRandomUniformFullIntV2(
        shape=inputs.shape, key=np.array([seed[0]], np.uint64), counter=np.array([0, seed[1]], np.uint64),
        alg=1, dtype=tf.uint32).numpy()
    keep = (bits >> 8).astype(np.float64) / 2**24 >= np.float64(np.float32(rate))
    np.testing.assert_array_equal(outputs, np.where(keep, np.float32(2.0) * np.float32(1 / (1 - rate)), 0.0))


def test_inside_the_block_gan_tf_layers_draw_the_second_versions_masks(benchmarks):
    import contextlib

    import tensorflow as tf

    from gan_tf.networks.layers import Dropout, dropout, replica_seed

    module = benchmarks.load("dropout_benchmark")
    layer = Dropout(0.3, seed=3)
    inputs = tf.fill([8, 50], 1.0)
    start = layer.seed_generator.state.numpy()
    seed = replica_seed(layer.seed_generator)  # the seed the layer's next call uses
    expected = {"24-bit": module.integer_threshold_dropout(inputs, seed, 0.3).numpy(),
                "16-bit": dropout(inputs, seed, 0.3).numpy()}
    assert not np.array_equal(expected["24-bit"], expected["16-bit"])  # other masks at the same rate
    for name, block in (("24-bit", module.twenty_four_bit_masks), ("16-bit", contextlib.nullcontext)):
        layer.seed_generator.state.assign(start)
        with block():  # traced inside the block, as the benchmark's models are
            outputs = tf.function(lambda: layer(inputs, training=True))().numpy()
        np.testing.assert_array_equal(outputs, expected[name])


def test_keras_version_is_what_keras_dropout_layer_computes(benchmarks):
    import keras
    import tensorflow as tf

    module = benchmarks.load("dropout_benchmark")
    layer = keras.layers.Dropout(0.3, seed=5)
    inputs = tf.random.stateless_normal([16, 40], [1, 2])
    start = layer.seed_generator.state.numpy()
    seed = layer.seed_generator.next()  # the seed the layer's next call draws
    layer.seed_generator.state.assign(start)
    np.testing.assert_array_equal(module.keras_dropout(inputs, seed, 0.3).numpy(),
                                  layer(inputs, training=True).numpy())


@pytest.mark.parametrize("dtype, keep_probability", [("float32", 0.7), ("bfloat16", 89 / 128)])
def test_keras_version_resolves_its_rate_in_the_inputs_dtype(dtype, keep_probability, benchmarks):
    # What the benchmark's record reports: Keras draws uniforms in the input's dtype; bfloat16's draws
    # are multiples of 2^-7, and u >= 0.3 keeps 128 - ceil(0.3 * 128) = 89 of the 128.
    import tensorflow as tf

    module = benchmarks.load("dropout_benchmark")
    inputs = tf.ones([1000, 1000], dtype)
    kept = np.mean(module.keras_dropout(inputs, tf.constant([7, 11], tf.int64), 0.3).numpy() != 0)
    standard_error = np.sqrt(keep_probability * (1 - keep_probability) / inputs.shape.num_elements())
    assert abs(kept - keep_probability) < 5 * standard_error


@pytest.mark.slow
def test_one_repeat_writes_a_row_per_version_shape_and_dtype_and_the_whole_step(tmp_path, benchmarks):
    import json

    benchmarks.run("dropout_benchmark.py", "--repeats", "1", "--step_rounds", "1", "--step_steps", "1",
                   "--out_dir", str(tmp_path))
    (path,) = tmp_path.glob("dropout_*.json")
    report = json.loads(path.read_text())
    module = benchmarks.load("dropout_benchmark")
    assert len(report["rows"]) == 4 * 2 * len(module.SHAPES)
    for row in report["rows"]:
        assert row["ms"] > 0 and len(row["ms_per_repeat"]) == 1
        if row["version"] == "float draw (first)":
            assert row["speedup_vs_first"] == 1.0
    assert "| 16-bit threshold (gan_tf) |" in report["markdown"]
    # The whole step: both mask versions at each peer size, one timed step per round, paired.
    steps = report["step_rows"]
    assert [(r["shapes"], r["version"]) for r in steps] == [
        (shape, version) for shape in ("28x28x1, 256", "64x64x3, 128")
        for version in ("24-bit integer threshold (second)", "16-bit threshold (gan_tf)")]
    for second, gan_tf in zip(steps[0::2], steps[1::2]):
        assert len(gan_tf["ms_per_round"]) == 1 and gan_tf["ms"] > 0
        assert gan_tf["speedup_vs_second"] == pytest.approx(second["ms"] / gan_tf["ms"])
