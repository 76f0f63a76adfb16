"""Cost of gan_tf's dropout masks: the integer-threshold mask against the float draw it replaced.

gan_tf's `Dropout` draws its masks from raw Philox bits, so that `jit_compile=True` drops what
`False` drops. Its first version turned the bits into floats (`stateless_uniform`: shift,
int-to-float conversion, scaling) and compared them with the rate; `keep_mask` compares the bits
with an integer threshold instead, which gives the same masks bit for bit (the script checks it)
without three passes over the activation tensor. A third version, measured and not adopted, halves
the random bits: two 16-bit draws from each uint32, compared with a 16-bit threshold (the keep
probability moves by less than 2^-16, but every mask differs from gan_tf's, so every recorded run
would draw different masks). This script times one forward and backward
pass of the layer alone, on the activation shapes of the DCGAN discriminators of
`experiments/benchmarks/throughput.py`, in float32 and bfloat16, the versions interleaved, one
call each per repeat; medians and paired ratios.

Prints a Markdown table and writes experiments/benchmarks/dropout_<device>.json.

    python experiments/benchmarks/dropout_benchmark.py --repeats 30
"""
import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import records  # noqa: E402  (this folder)
from machine import cpu_info, device_name  # noqa: E402  (this folder)

HERE = os.path.dirname(os.path.abspath(__file__))
RATE = 0.3  # the tutorial's, and gan_tf's DCGAN default
# (image, batch): the discriminator's activations after each strided convolution, width 64.
SHAPES = {
    "28x28x1, 256": [(256, 14, 14, 64), (256, 7, 7, 128)],
    "64x64x3, 128": [(128, 32, 32, 64), (128, 16, 16, 128), (128, 8, 8, 256), (128, 4, 4, 512)],
}


def float_draw_dropout(inputs, seed, rate):
    """The replaced version: compare float draws in [0, 1) with the rate."""
    import tensorflow as tf

    from gan_tf.networks.layers import stateless_uniform

    keep = stateless_uniform(tf.shape(inputs), seed) >= rate
    scale = tf.cast(1.0 / (1.0 - rate), inputs.dtype)
    return tf.where(keep, inputs * scale, tf.zeros_like(inputs))


def sixteen_bit_dropout(inputs, seed, rate):
    """The variant not adopted: half the Philox bits, each uint32 split into two 16-bit draws."""
    import math

    import numpy as np
    import tensorflow as tf

    from gan_tf.networks.layers import _philox_bits

    shape = tf.shape(inputs)
    size = tf.reduce_prod(shape)
    bits = _philox_bits(tf.reshape((size + 1) // 2, [1]), seed)
    draws = tf.reshape(tf.bitcast(bits, tf.uint16), [-1])[:size]
    threshold = math.ceil(float(np.float32(rate)) * 2**16)
    keep = tf.reshape(draws >= tf.constant(threshold, tf.uint16), shape)
    scale = tf.cast(1.0 / (1.0 - rate), inputs.dtype)
    return tf.where(keep, inputs * scale, tf.zeros([], inputs.dtype))


def forward_backward(dropout, shapes, dtype):
    """A tf.function running `dropout` forward and backward on every tensor of `shapes`."""
    import tensorflow as tf

    inputs = [tf.Variable(tf.cast(tf.random.stateless_normal(s, [i, 0]), dtype)) for i, s in enumerate(shapes)]

    @tf.function
    def step(seed):
        with tf.GradientTape() as tape:
            total = 0.0
            for i, x in enumerate(inputs):
                total += tf.reduce_sum(tf.cast(dropout(x, seed + i, RATE), tf.float32))
        return tape.gradient(total, inputs)

    return step


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--out_dir", default=HERE)
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"--repeats={args.repeats}; expected >= 1")

    import keras
    import numpy as np
    import tensorflow as tf

    from gan_tf.networks.layers import dropout  # what gan_tf's Dropout layer runs

    versions = {"float draw (before)": float_draw_dropout, "integer threshold (now)": dropout,
                "16-bit threshold (not adopted)": sixteen_bit_dropout}
    seed = tf.constant([7, 11], tf.int64)
    rows = []
    for shape_name, shapes in SHAPES.items():
        for dtype in ("float32", "bfloat16"):
            # Same masks, bit for bit, before anything is timed.
            x = tf.cast(tf.random.stateless_normal(shapes[0], [1, 2]), dtype)
            before, now, sixteen_bit = (np.asarray(f(x, seed, RATE), np.float32) for f in versions.values())
            np.testing.assert_array_equal(before, now)
            # The 16-bit masks keep about 1 - rate (5 binomial standard deviations) and scale alike.
            kept = np.mean(sixteen_bit != 0)
            assert abs(kept - (1 - RATE)) < 5 * np.sqrt(RATE * (1 - RATE) / x.shape.num_elements()), kept
            steps = {name: forward_backward(f, shapes, dtype) for name, f in versions.items()}
            times = {name: [] for name in steps}
            for step in steps.values():
                step(seed)  # trace
            for _ in range(args.repeats):
                for name, step in steps.items():
                    start = time.perf_counter()
                    step(seed)
                    times[name].append(time.perf_counter() - start)
            base = times["float draw (before)"]
            for name, values in times.items():
                rows.append({
                    "shapes": shape_name, "dtype": dtype, "version": name,
                    "ms": 1000 * statistics.median(values),
                    "speedup_vs_before": statistics.median(b / v for b, v in zip(base, values)),
                    "ms_per_repeat": [1000 * v for v in values],
                })
                print(f"  {shape_name} {dtype:8s} {name:30s} {rows[-1]['ms']:7.1f} ms", file=sys.stderr, flush=True)

    device = device_name()
    lines = [f"Device: {device} ({cpu_info()['model']}); TensorFlow {tf.__version__}, Keras {keras.__version__}. "
             f"Dropout rate {RATE}, forward + backward over every dropout activation of one discriminator pass; "
             f"median of {args.repeats} interleaved repeats.",
             "",
             "| image, batch | dtype | masks | ms | speed-up vs before (paired) |",
             "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['shapes']} | {r['dtype']} | {r['version']} | {r['ms']:.1f} | {r['speedup_vs_before']:.2f}x |")
    text = "\n".join(lines) + "\n"
    records.write_json({"device": device, "machine": cpu_info(), "rate": RATE, "repeats": args.repeats,
                        "command": records.command("dropout_benchmark.py", argv or None),
                        "versions": records.versions(), "rows": rows, "markdown": text}, args.out_dir, "dropout", text)


if __name__ == "__main__":
    main()
