"""experiments/benchmarks/dropout_benchmark.py: the versions it times are dropout at the rate it names."""
import math

import numpy as np
import pytest


def test_sixteen_bit_variant_keeps_its_closed_form_fraction_and_scales_what_it_keeps(benchmarks):
    import tensorflow as tf

    module = benchmarks.load("dropout_benchmark")
    rate, size = 0.3, 400_000
    inputs = tf.fill([size // 100, 10, 10], 2.0)
    outputs = module.sixteen_bit_dropout(inputs, tf.constant([5, 9], tf.int64), rate).numpy().ravel()
    kept = outputs != 0
    # A 16-bit draw d is kept when d >= ceil(0.3 * 2^16) = 19661: probability 1 - 19661 / 65536.
    keep_probability = 1 - math.ceil(0.3 * 2**16) / 2**16
    assert abs(kept.mean() - keep_probability) < 4 * math.sqrt(keep_probability * (1 - keep_probability) / size)
    np.testing.assert_allclose(outputs[kept], 2.0 / (1 - rate), rtol=1e-6)
    # Both halves of each uint32 are used: even and odd positions keep alike (no half is wasted or repeated).
    assert abs(kept[0::2].mean() - kept[1::2].mean()) < 0.01
    assert not np.array_equal(kept[0::2], kept[1::2])


@pytest.mark.slow
def test_one_repeat_writes_a_row_per_version_shape_and_dtype(tmp_path, benchmarks):
    import json

    benchmarks.run("dropout_benchmark.py", "--repeats", "1", "--out_dir", str(tmp_path))
    (path,) = tmp_path.glob("dropout_*.json")
    report = json.loads(path.read_text())
    module = benchmarks.load("dropout_benchmark")
    assert len(report["rows"]) == 3 * 2 * len(module.SHAPES)
    for row in report["rows"]:
        assert row["ms"] > 0 and len(row["ms_per_repeat"]) == 1
        if row["version"] == "float draw (before)":
            assert row["speedup_vs_before"] == 1.0
    assert "| 16-bit threshold (not adopted) |" in report["markdown"]
