"""experiments/benchmarks/batch_norm_benchmark.py: it compares what it names, and writes a row for each."""
import json

import pytest


def test_the_comparison_model_has_keras_batch_norm_and_gan_tfs_dropout(benchmarks):
    import keras

    from gan_tf.networks import dcgan_discriminator, dcgan_generator
    from gan_tf.networks.batch_norm import BatchNormalization
    from gan_tf.networks.layers import Dropout

    throughput = benchmarks.load("throughput")
    with throughput.keras_layers(dropout=False):
        generator, discriminator = dcgan_generator(8, (16, 16, 1), width=4), dcgan_discriminator((16, 16, 1), width=4)
    layers = generator.layers + discriminator.layers
    assert {type(l) for l in layers if isinstance(l, keras.layers.BatchNormalization)} == {
        keras.layers.BatchNormalization}
    assert {type(l) for l in layers if isinstance(l, keras.layers.Dropout)} == {Dropout}
    # Outside the block the builders are gan_tf's again.
    assert {type(l) for l in dcgan_generator(8, (16, 16, 1), width=4).layers
            if isinstance(l, keras.layers.BatchNormalization)} == {BatchNormalization}


@pytest.mark.slow
def test_one_repeat_writes_a_row_per_layer_shape_and_dtype_and_the_whole_step(tmp_path, benchmarks):
    benchmarks.run("batch_norm_benchmark.py", "--repeats", "1", "--step_rounds", "1", "--step_steps", "1",
                   "--out_dir", str(tmp_path))
    (path,) = tmp_path.glob("batch_norm_*.json")
    report = json.loads(path.read_text())
    # A record of TensorFlow's own kernels is not named like (and does not overwrite) one of oneDNN's.
    assert path.name.startswith("batch_norm_onednn-off_") == (not report["onednn"])
    module = benchmarks.load("batch_norm_benchmark")
    assert len(report["rows"]) == len(module.VERSIONS) * 2 * len(module.SHAPES)
    assert {r["version"] for r in report["step_rows"]} == set(module.VERSIONS)
    for rows, key in ((report["rows"], "ms_per_repeat"), (report["step_rows"], "ms_per_round")):
        for row in rows:
            assert row["ms"] > 0 and len(row[key]) == 1
            if row["version"] == module.VERSIONS[0]:
                assert row["speedup_vs_keras"] == 1.0  # paired with itself
    assert report["versions"]["gan_tf"] and report["command"].startswith("python experiments/benchmarks/")
