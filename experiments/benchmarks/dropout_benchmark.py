"""Cost of gan_tf's dropout masks against the two versions it replaced.

gan_tf's `Dropout` draws its masks from raw Philox bits, so that `jit_compile=True` drops what
`False` drops. Its first version turned the bits into floats (`stateless_uniform`: shift,
int-to-float conversion, scaling) and compared them with the rate; the second compared the bits
with an integer threshold instead, which gives the same masks bit for bit (the script checks it)
without three passes over the activation tensor. The third, gan_tf's `keep_mask` now, halves the
random bits: two 16-bit draws from each uint32, compared with a 16-bit threshold (the keep
probability moves by less than 2^-16; the masks differ from the first two versions'). This script
times one forward and backward pass of the layer alone, on the activation shapes of the DCGAN
discriminators of `experiments/benchmarks/throughput.py`, in float32 and bfloat16, the versions
interleaved, one call each per repeat; then the whole training step of `peers.py`'s gan_tf loop
(the CLI default) with the second version's masks and with gan_tf's, in turn in one process.
Keras's own `Dropout` (what the TensorFlow tutorial's published code uses; the benchmarks' peer
loops run gan_tf's layer, so that their networks are identical) is timed beside the layer versions.
Medians and paired ratios.

Prints a Markdown table and writes experiments/benchmarks/dropout_<device>.json.

    python experiments/benchmarks/dropout_benchmark.py --repeats 30 --step_rounds 15
"""
import contextlib
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import records  # noqa: E402  (this folder)
from machine import cpu_info, device_name  # noqa: E402  (this folder)

RATE = 0.3  # the tutorial's, and gan_tf's DCGAN default
# (image, batch): the discriminator's activations after each strided convolution, width 64.
SHAPES = {
    "28x28x1, 256": [(256, 14, 14, 64), (256, 7, 7, 128)],
    "64x64x3, 128": [(128, 32, 32, 64), (128, 16, 16, 128), (128, 8, 8, 256), (128, 4, 4, 512)],
}


def float_draw_dropout(inputs, seed, rate):
    """The first version: compare float draws in [0, 1) with the rate."""
    import tensorflow as tf

    from gan_tf.networks.layers import stateless_uniform

    keep = stateless_uniform(tf.shape(inputs), seed) >= rate
    scale = tf.cast(1.0 / (1.0 - rate), inputs.dtype)
    return tf.where(keep, inputs * scale, tf.zeros_like(inputs))


def integer_threshold_keep_mask(shape, seed, rate):
    """The second version's mask: the first one's, compared on the uint32 bits.

    u = (bits >> 8) / 2^24 >= r  <=>  bits >= ceil(r * 2^24) * 2^8 (rates below float32's 1).
    """
    import math

    import numpy as np
    import tensorflow as tf

    from gan_tf.networks.layers import _philox_bits

    threshold = math.ceil(float(np.float32(rate)) * 2**24) * 2**8
    return _philox_bits(shape, seed) >= tf.constant(threshold, tf.uint32)


def integer_threshold_dropout(inputs, seed, rate):
    """The second version of the layer: gan_tf's `dropout` with `integer_threshold_keep_mask`."""
    from gan_tf.networks.layers import dropout

    with twenty_four_bit_masks():
        return dropout(inputs, seed, rate)


def keras_dropout(inputs, seed, rate):
    """What `keras.layers.Dropout` runs on TensorFlow for each call (the TensorFlow tutorial's
    published discriminator uses it): `tf.nn.experimental.stateless_dropout`, float draws inside
    the kernel; the layer's seed generator passes it an int32 seed."""
    import tensorflow as tf

    return tf.nn.experimental.stateless_dropout(inputs, rate=rate, seed=tf.cast(seed, tf.int32))


@contextlib.contextmanager
def twenty_four_bit_masks():
    """gan_tf's layers trace with the second version's masks inside this block."""
    from gan_tf.networks import layers

    sixteen_bit = layers.keep_mask
    layers.keep_mask = integer_threshold_keep_mask
    try:
        yield
    finally:
        layers.keep_mask = sixteen_bit


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


def layer_rows(repeats):
    """Forward and backward of the dropout layer alone, gan_tf's three versions and Keras's interleaved."""
    import numpy as np
    import tensorflow as tf

    from gan_tf.networks.layers import dropout  # what gan_tf's Dropout layer runs: 16-bit draws

    versions = {"float draw (first)": float_draw_dropout,
                "24-bit integer threshold (second)": integer_threshold_dropout,
                "16-bit threshold (gan_tf)": dropout, "Keras's Dropout": keras_dropout}
    seed = tf.constant([7, 11], tf.int64)
    rows = []
    for shape_name, shapes in SHAPES.items():
        for dtype in ("float32", "bfloat16"):
            # The first two versions' masks agree bit for bit, before anything is timed.
            x = tf.cast(tf.random.stateless_normal(shapes[0], [1, 2]), dtype)
            outputs = {name: np.asarray(f(x, seed, RATE), np.float32) for name, f in versions.items()}
            np.testing.assert_array_equal(outputs["float draw (first)"], outputs["24-bit integer threshold (second)"])
            kept = {name: float(np.mean(values != 0)) for name, values in outputs.items()}
            # gan_tf's 16-bit masks keep 1 - rate within 5 binomial standard deviations. Keras's draws its
            # uniforms in the input's dtype, so in bfloat16 its rate is resolved to 2^-7 (measured, recorded).
            sixteen_bit = kept["16-bit threshold (gan_tf)"]
            assert abs(sixteen_bit - (1 - RATE)) < 5 * np.sqrt(RATE * (1 - RATE) / x.shape.num_elements()), sixteen_bit
            assert abs(kept["Keras's Dropout"] - (1 - RATE)) < 0.01, kept
            steps = {name: forward_backward(f, shapes, dtype) for name, f in versions.items()}
            for step in steps.values():
                step(seed)  # trace
            calls = {name: lambda step=step: step(seed) for name, step in steps.items()}
            for row in records.interleaved_rows(calls, repeats, "speedup_vs_first", shapes=shape_name, dtype=dtype):
                rows.append({**row, "kept_fraction": kept[row["version"]]})
    return rows


def step_rows(rounds, steps):
    """The whole training step of `peers.py`'s gan_tf loop (the CLI default: its recipe, precision and
    callbacks) on the peer networks, with the second version's masks and with gan_tf's, two models
    in one process, `steps` steps of each in turn per round (the 24-bit model first in every round);
    medians and paired ratios."""
    from peers import cli_step_rows

    # Each model runs (and so traces, or would retrace) only under its own masks.
    versions = {"24-bit integer threshold (second)": twenty_four_bit_masks,
                "16-bit threshold (gan_tf)": contextlib.nullcontext}
    return cli_step_rows(versions, rounds, steps, "speedup_vs_second", alternate=False)


def main(argv=None):
    from peers import cli_step_arguments

    args = cli_step_arguments(argv, __doc__.split("\n")[0], "the layer", step_rounds=5)

    import keras
    import tensorflow as tf

    load_average = os.getloadavg()
    rows = layer_rows(args.repeats)
    steps = [] if not args.step_rounds else step_rows(args.step_rounds, args.step_steps)
    device = device_name()
    lines = [f"Device: {device} ({cpu_info()['model']}); TensorFlow {tf.__version__}, Keras {keras.__version__}; "
             f"load average at start {[round(x, 2) for x in load_average]}. Command: "
             f"`{records.command('dropout_benchmark.py', argv or None)}`.",
             "",
             f"Dropout rate {RATE}, forward + backward over every dropout activation of one discriminator pass; "
             f"median of {args.repeats} interleaved repeats.",
             "",
             "| image, batch | dtype | masks | ms | speed-up vs the first (paired) | kept (rate 0.3 asks 0.7) |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['shapes']} | {r['dtype']} | {r['version']} | {r['ms']:.1f} | "
                     f"{r['speedup_vs_first']:.2f}x | {r['kept_fraction']:.4f} |")
    if steps:
        from peers import cli_step_table

        lines += cli_step_table(steps, args.step_rounds, "masks", "speedup_vs_second", "the second")
    text = "\n".join(lines) + "\n"
    records.write_json({"device": device, "machine": cpu_info(), "rate": RATE, "repeats": args.repeats,
                        "load_average_start": list(load_average),
                        "command": records.command("dropout_benchmark.py", argv or None),
                        "versions": records.versions(), "rows": rows, "step_rows": steps, "markdown": text},
                       args.out_dir, "dropout", text)


if __name__ == "__main__":
    main()
