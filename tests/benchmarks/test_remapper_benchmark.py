"""experiments/benchmarks/remapper_benchmark.py: the variant it times is the same discriminator."""
import numpy as np
import pytest


def test_max_leaky_relu_variant_has_the_same_logits_and_gradients(benchmarks):
    import keras
    import tensorflow as tf

    from gan_tf import networks

    module = benchmarks.load("remapper_benchmark")
    keras.utils.set_random_seed(3)
    discriminator = networks.dcgan_discriminator((28, 28, 1), width=8, dropout=0.0)
    variant = module.with_max_leaky_relu(discriminator)
    assert any(isinstance(layer, keras.layers.LeakyReLU) for layer in discriminator.layers)
    assert not any(isinstance(layer, keras.layers.LeakyReLU) for layer in variant.layers)

    images = tf.random.stateless_uniform([4, 28, 28, 1], [1, 2], minval=-1.0, maxval=1.0)
    grads = []
    for model in (discriminator, variant):
        with tf.GradientTape() as tape:
            tape.watch(images)
            logits = model(images, training=True)
        grads.append((logits.numpy(), tape.gradient(logits, images).numpy()))
    np.testing.assert_array_equal(grads[0][0], grads[1][0])
    np.testing.assert_allclose(grads[0][1], grads[1][1], rtol=1e-6, atol=1e-7)


@pytest.mark.slow
def test_one_round_writes_its_record(tmp_path, benchmarks):
    import json

    benchmarks.run("remapper_benchmark.py", "--rounds", "1", "--steps", "1", "--out_dir", str(tmp_path))
    (path,) = tmp_path.glob("remapper_*.json")
    report = json.loads(path.read_text())
    as_built, variant = report["rows"]
    assert as_built["ms_per_step"] > 0 and variant["ms_per_step"] > 0
    # One round: the paired ratio is the as-built step time over the variant's.
    (base,), (other,) = as_built["ms_per_step_per_round"], variant["ms_per_step_per_round"]
    assert variant["speed_vs_as_built"] == pytest.approx(base / other)
    assert report["onednn"] in (True, False) and report["rounds"] == 1
