"""Cost of the discriminator's augmentation: gan_tf's translation by a gather against the version it replaced.

DiffAugment's translation shifts every image by its own offset along each axis. gan_tf 0.3.0 and
earlier wrote the shift as a barrel shifter (`barrel_shift_along` below: per bit of the offset, two
static slices and two products with a 0/1 per-image factor); gan_tf 0.3.1 gathers each image's rows
and columns from the padded image (`gan_tf.augment._shift_along`). Both give the same values and
gradients (the script checks it, bit for bit). This script times one forward and backward pass of
`diff_augment` with the default recipe's policy ("translation,cutout", every image augmented: at any
p > 0 the whole batch is transformed) on the discriminator's inputs of the default recipe (28x28x1,
batch 64) and of `peers.py`'s networks, in float32 and bfloat16, the versions interleaved, one call
each per repeat; then the whole training step of `peers.py`'s gan_tf loop (the CLI default, whose
discriminator sees three augmented batches per step) with either translation, two models in one
process, which runs first alternating by round. Medians and paired ratios.

Prints a Markdown table and writes experiments/benchmarks/augment_<device>.json.

    python experiments/benchmarks/augment_benchmark.py --repeats 30 --step_rounds 10
"""
import contextlib
import math
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import records  # noqa: E402  (this folder)

# (image, batch) of the discriminator's inputs: the default recipe's, then peers.py's.
SHAPES = {"28x28x1, 64": (64, 28, 28, 1), "28x28x1, 256": (256, 28, 28, 1), "64x64x3, 128": (128, 64, 64, 3)}
VERSIONS = ("barrel shifter (gan_tf 0.3.0)", "gather (gan_tf 0.3.1)")


def barrel_shift_along(x, axis, offset, shift):
    """gan_tf 0.3.0's `augment._shift_along`: out[i] = x[i + offset - shift] along `axis` (FILL
    outside), a barrel shifter: one selection per bit of the offset, between two static slices."""
    import tensorflow as tf

    from gan_tf.augment import FILL

    def take(y, start, length):
        begin, size = [0, 0, 0, 0], [-1, -1, -1, -1]
        begin[axis], size[axis] = start, length
        return tf.slice(y, begin, size)

    side = x.shape[axis]
    bits = max(1, math.ceil(math.log2(2 * shift + 1)))
    paddings = [[0, 0]] * 4
    paddings[axis] = [shift, 2**bits - 1 - shift]
    y = tf.pad(x, paddings, constant_values=FILL)
    for bit in range(bits):
        step = 2**bit
        length = y.shape[axis] - step
        on = tf.reshape(tf.cast(tf.bitwise.bitwise_and(offset, step) > 0, x.dtype), [-1, 1, 1, 1])
        y = take(y, step, length) * on + take(y, 0, length) * (1 - on)
    return take(y, 0, side)


@contextlib.contextmanager
def barrel_shifter():
    """Within the block, `diff_augment` (and so any step traced in it) translates as gan_tf 0.3.0 did."""
    from gan_tf import augment

    current = augment._shift_along
    augment._shift_along = barrel_shift_along
    try:
        yield
    finally:
        augment._shift_along = current


BUILDS = dict(zip(VERSIONS, (barrel_shifter, contextlib.nullcontext)))


def default_policy():
    """The augmentation policy of the CLI's default recipe ("translation,cutout")."""
    from peers import cli_config

    return cli_config().augment


def forward_backward(shape, dtype, policy):
    """A tf.function: `diff_augment` of one fixed batch, forward and backward; returns (images, gradient)."""
    import tensorflow as tf

    from gan_tf.augment import diff_augment

    images = tf.cast(tf.random.stateless_uniform(shape, [0, 0], -1, 1), dtype)
    # A fixed random weighting of the outputs, so that the gradient is not all ones.
    weights = tf.cast(tf.random.stateless_normal(shape, [0, 1]), dtype)
    draw = lambda draw_shape: tf.random.stateless_uniform([shape[0], *draw_shape], [0, 2])  # noqa: E731

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            tape.watch(images)
            out = diff_augment(images, draw, policy, probability=1.0)
            total = tf.reduce_sum(tf.cast(out * weights, tf.float32))
        return out, tape.gradient(total, images)

    return step


def layer_rows(repeats, policy):
    """`diff_augment` alone, forward and backward, both translations interleaved; checks they agree."""
    import numpy as np

    rows = []
    for shape_name, shape in SHAPES.items():
        for dtype in ("float32", "bfloat16"):
            steps = {}
            for name, build in BUILDS.items():
                with build():
                    steps[name] = forward_backward(shape, dtype, policy)
                    outputs = [np.asarray(t, np.float32) for t in steps[name]()]  # traced in the block
                if name == VERSIONS[0]:
                    reference = outputs
                elif not all(np.array_equal(a, b) for a, b in zip(reference, outputs)):
                    raise AssertionError(f"{shape_name} {dtype}: the translations disagree")
            calls = {name: lambda step=step: step()[1].numpy() for name, step in steps.items()}
            rows += records.interleaved_rows(calls, repeats, "speedup_vs_barrel", shapes=shape_name, dtype=dtype,
                                             same_values_and_gradients=True)
    return rows


def step_rows(rounds, steps):
    """The whole training step of `peers.py`'s gan_tf loop with either translation (see `peers.cli_step_rows`)."""
    from peers import cli_step_rows

    return cli_step_rows(BUILDS, rounds, steps, "speedup_vs_barrel")


def main(argv=None):
    from peers import cli_step_arguments

    args = cli_step_arguments(argv, __doc__.split("\n")[0], "the augmentation")

    report = records.head("augment_benchmark.py", argv)
    policy = default_policy()
    rows = layer_rows(args.repeats, policy)
    steps = [] if not args.step_rounds else step_rows(args.step_rounds, args.step_steps)
    lines = [f"Device: {report['device']} ({report['machine']['model']}); versions {records.versions()}; "
             f"load average at start {report['load_average_start']}. Command: `{report['command']}`."]
    if records.busy_note(report):
        lines.append(records.busy_note(report))
    lines += ["", f"Forward + backward of `diff_augment` (policy {policy}, every image augmented) on one batch of "
              f"discriminator inputs; median of {args.repeats} interleaved repeats; both translations give the "
              "same values and gradients, bit for bit.", "",
              "| image, batch | dtype | translation | ms | speed-up vs the barrel shifter (paired) |",
              "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['shapes']} | {r['dtype']} | {r['version']} | {r['ms']:.2f} | "
                     f"{r['speedup_vs_barrel']:.2f}x |")
    if steps:
        from peers import cli_step_table

        lines += cli_step_table(steps, args.step_rounds, "translation", "speedup_vs_barrel", "the barrel shifter")
    text = "\n".join(lines) + "\n"
    report.update({"repeats": args.repeats, "policy": policy, "versions": records.versions(), "rows": rows,
                   "step_rows": steps, "markdown": text})
    records.write_json(report, args.out_dir, "augment", text)


if __name__ == "__main__":
    main()
