"""Cost of gan_tf's fused BatchNormalization against Keras's own, alone and in the whole training step.

gan_tf's `BatchNormalization` (gan_tf/networks/batch_norm.py) runs TensorFlow's `FusedBatchNormV3`
in training mode where Keras 3 composes moments and a multiply-add from elementary ops. This script
times one forward and backward pass of the layer alone on the activations of the DCGAN generators
of `peers.py` (width 64: 28x28 at batch 256, 64x64 at batch 128), in float32 and bfloat16, Keras's
layer and gan_tf's interleaved, one call each per repeat; then the whole training step of
`peers.py`'s gan_tf loop (the CLI default) with the generator's BatchNorms built as Keras's layer
and as gan_tf's, two models in one process, which runs first alternating from round to round.
Medians and paired ratios.

Prints a Markdown table and writes experiments/benchmarks/batch_norm_<device>.json, or
batch_norm_onednn-off_<device>.json when TensorFlow's oneDNN kernels are off in this process (their
default on AVX2 CPUs, or `TF_ENABLE_ONEDNN_OPTS=0`): then both layers run TensorFlow's own (Eigen) kernels.

    python experiments/benchmarks/batch_norm_benchmark.py --repeats 30 --step_rounds 10
    TF_ENABLE_ONEDNN_OPTS=0 python experiments/benchmarks/batch_norm_benchmark.py --repeats 20 --step_rounds 0
"""
import contextlib
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import records  # noqa: E402  (this folder)
from throughput import keras_layers  # noqa: E402  (this folder)

# (image, batch): the generator's inputs to each BatchNorm, width 64 (the projection's is 2-D).
SHAPES = {
    "28x28x1, 256": [(256, 7 * 7 * 256), (256, 7, 7, 128), (256, 14, 14, 64)],
    "64x64x3, 128": [(128, 4 * 4 * 1024), (128, 4, 4, 512), (128, 8, 8, 256), (128, 16, 16, 128),
                     (128, 32, 32, 64)],
}
VERSIONS = ("Keras's BatchNormalization", "gan_tf's (fused)")


def forward_backward(layer_class, shapes, dtype):
    """A tf.function running one training-mode layer per tensor of `shapes`, forward and backward."""
    import tensorflow as tf

    inputs = [tf.Variable(tf.cast(tf.random.stateless_normal(s, [i, 0]), dtype)) for i, s in enumerate(shapes)]
    # A fixed random weighting of the outputs: the gradient of a plain sum through BatchNorm is zero.
    weights = [tf.cast(tf.random.stateless_normal(s, [i, 1]), dtype) for i, s in enumerate(shapes)]
    layers = [layer_class(dtype="mixed_bfloat16" if dtype == "bfloat16" else "float32") for _ in shapes]
    for layer, shape in zip(layers, shapes):
        layer.build(shape)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            total = 0.0
            for layer, x, w in zip(layers, inputs, weights):
                total += tf.reduce_sum(tf.cast(layer(x, training=True) * w, tf.float32))
        return tape.gradient(total, inputs + [v for layer in layers for v in layer.trainable_variables])

    return step


def layer_rows(repeats):
    """Forward and backward of the generator's BatchNorms alone, Keras's layer and gan_tf's interleaved."""
    import keras

    from gan_tf.networks.batch_norm import BatchNormalization

    classes = dict(zip(VERSIONS, (keras.layers.BatchNormalization, BatchNormalization)))
    rows = []
    for shape_name, shapes in SHAPES.items():
        for dtype in ("float32", "bfloat16"):
            steps = {name: forward_backward(layer_class, shapes, dtype) for name, layer_class in classes.items()}
            for step in steps.values():
                step()  # trace
            rows += records.interleaved_rows(steps, repeats, "speedup_vs_keras", shapes=shape_name, dtype=dtype)
    return rows


def step_rows(rounds, steps):
    """The whole training step of `peers.py`'s gan_tf loop (the CLI default: its recipe, precision and
    callbacks) on the peer networks, the generator built with Keras's BatchNorm and with gan_tf's, two
    models in one process, `steps` steps of each in turn per round, the first alternating; medians and
    paired ratios."""
    from peers import cli_step_rows

    builds = dict(zip(VERSIONS, (lambda: keras_layers(dropout=False), contextlib.nullcontext)))
    return cli_step_rows(builds, rounds, steps, "speedup_vs_keras")


def main(argv=None):
    from peers import cli_step_arguments

    args = cli_step_arguments(argv, __doc__.split("\n")[0], "the layers")

    report = records.head("batch_norm_benchmark.py", argv)
    from tensorflow.python.util import _pywrap_util_port

    report["onednn"] = bool(_pywrap_util_port.IsMklEnabled())
    rows = layer_rows(args.repeats)
    steps = [] if not args.step_rounds else step_rows(args.step_rounds, args.step_steps)
    lines = [f"Device: {report['device']} ({report['machine']['model']}); versions {records.versions()}; "
             f"oneDNN {'on' if report['onednn'] else 'off'}; load average at start {report['load_average_start']}. "
             f"Command: `{report['command']}`."]
    if records.busy_note(report):
        lines.append(records.busy_note(report))
    lines += ["", f"Forward + backward of every BatchNorm of one generator pass (training mode); median of "
              f"{args.repeats} interleaved repeats.", "",
              "| image, batch | dtype | layer | ms | speed-up vs Keras's (paired) |", "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['shapes']} | {r['dtype']} | {r['version']} | {r['ms']:.1f} | {r['speedup_vs_keras']:.2f}x |")
    if steps:
        from peers import cli_step_table

        lines += cli_step_table(steps, args.step_rounds, "generator's BatchNorm", "speedup_vs_keras", "Keras's")
    text = "\n".join(lines) + "\n"
    report.update({"repeats": args.repeats, "versions": records.versions(), "rows": rows, "step_rows": steps,
                   "markdown": text})
    records.write_json(report, args.out_dir, "batch_norm" if report["onednn"] else "batch_norm_onednn-off", text)


if __name__ == "__main__":
    main()
