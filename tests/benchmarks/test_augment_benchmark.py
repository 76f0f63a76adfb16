"""experiments/benchmarks/augment_benchmark.py: the translation it replaced computes what gan_tf's does,
and the script writes a row for each case."""
import json

import numpy as np
import pytest
import tensorflow as tf


def shifted(x, axis, offsets, shift, fill):
    """out[b, ..., i, ...] = x[b, ..., i + offset_b - shift, ...] along `axis`, `fill` outside (numpy)."""
    out = np.full_like(x, fill)
    side = x.shape[axis]
    for b, offset in enumerate(offsets):
        for i in range(side):
            source = i + offset - shift
            if 0 <= source < side:
                index = [b, slice(None), slice(None), slice(None)]
                index[axis] = i
                source_index = list(index)
                source_index[axis] = source
                out[tuple(index)] = x[tuple(source_index)]
    return out


@pytest.mark.parametrize("axis", [1, 2])
def test_the_replaced_barrel_shifter_translates_as_gan_tf_does(axis, benchmarks):
    from gan_tf import augment

    module = benchmarks.load("augment_benchmark")
    shift = 2
    offsets = np.array([0, 1, 2, 3, 4], np.int32)  # every offset in [0, 2 * shift]
    x = np.random.default_rng(0).uniform(-1, 1, (5, 6, 7, 3)).astype(np.float32)
    weights = tf.constant(np.random.default_rng(1).normal(size=x.shape).astype(np.float32))
    expected = shifted(x, axis, offsets, shift, augment.FILL)
    results = []
    for shift_along in (module.barrel_shift_along, augment._shift_along):
        images = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(images)
            out = shift_along(images, axis, tf.constant(offsets), shift)
            total = tf.reduce_sum(out * weights)
        np.testing.assert_array_equal(out.numpy(), expected)
        results.append(tape.gradient(total, images).numpy())
    # The gradient of a shift is the opposite shift of the weights: both versions give it exactly.
    np.testing.assert_array_equal(results[0], shifted(weights.numpy(), axis, 2 * shift - offsets, shift, 0.0))
    np.testing.assert_array_equal(results[0], results[1])


def test_the_barrel_shifter_is_swapped_in_only_within_its_block(benchmarks):
    from gan_tf import augment

    module = benchmarks.load("augment_benchmark")
    current = augment._shift_along
    with module.barrel_shifter():
        assert augment._shift_along is module.barrel_shift_along
    assert augment._shift_along is current


@pytest.mark.slow
def test_one_repeat_writes_a_row_per_shape_dtype_and_version_and_the_whole_step(tmp_path, benchmarks):
    benchmarks.run("augment_benchmark.py", "--repeats", "1", "--step_rounds", "1", "--step_steps", "1",
                   "--out_dir", str(tmp_path))
    (path,) = tmp_path.glob("augment_*.json")
    report = json.loads(path.read_text())
    module = benchmarks.load("augment_benchmark")
    assert report["policy"] == "translation,cutout"  # the default recipe's
    assert len(report["rows"]) == len(module.VERSIONS) * 2 * len(module.SHAPES)
    assert all(r["same_values_and_gradients"] for r in report["rows"])
    assert {r["version"] for r in report["step_rows"]} == set(module.VERSIONS)
    for rows, key in ((report["rows"], "ms_per_repeat"), (report["step_rows"], "ms_per_round")):
        for row in rows:
            assert row["ms"] > 0 and len(row[key]) == 1
            if row["version"] == module.VERSIONS[0]:
                assert row["speedup_vs_barrel"] == 1.0  # paired with itself
    assert report["versions"]["gan_tf"] and report["command"].startswith("python experiments/benchmarks/")
