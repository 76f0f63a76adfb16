"""Where the time of gan_tf's default training step goes, on this machine.

One fresh process runs the MNIST CLI's default step (`peers.CliDefaultLoop`: the CLI's config, its
default width and batch size 64, its strategy, precision, `jit_compile` and oneDNN choice, its
per-step callbacks) and measures:

- op time by kind, from TensorFlow's profiler (`tf.profiler.experimental`, the "framework_op_stats"
  tool: self-time of every op over `--steps` profiled `fit` steps): convolutions forward and backward
  (Conv2D and Conv2DBackpropInput/Filter, oneDNN's fused variants included; the forward pass of a
  Conv2DTranspose is a Conv2DBackpropInput outside the gradient tape), Dense matrix products,
  BatchNorm (ops inside the `*_bn` layers), the Adam updates (ops of the `d_adam` / `g_adam`
  optimizers), LeakyReLU, Dropout, the discriminator's augmentation (ops in `GAN._augment`'s
  `diff_augment` scope), the EMA generator's update (`ema_update`), losses and the rest.
  Self-times add up to CPU-time of ops, which exceeds wall time when ops run in parallel; the table
  gives each kind's share of their sum;
- Keras `fit` overhead per step: wall time of a `fit` step (timed by a callback) minus that of the
  same `train_step` as one `tf.function` called on a tensor already in memory;
- the input pipeline: images/s of `gan_tf.data.training_batches` over the MNIST offline default
  alone (`throughput.pipeline_images_per_second`), and what fraction of a step it would take if it
  were not overlapped with training (prefetching overlaps it).

Writes experiments/benchmarks/profile_step_<device>.json and .md.

    python experiments/benchmarks/profile_step.py                  # batch 64, 20 steps
    python experiments/benchmarks/profile_step.py --steps 2 --out_dir /tmp/profile
"""
import argparse
import collections
import glob
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import records  # noqa: E402  (this folder)
from peers import CliDefaultLoop, cli_onednn_choice, default_threads, worker_environment  # noqa: E402
from throughput import SHAPES, pipeline_images_per_second, training_data  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
KINDS = ("conv forward", "conv backward", "dense forward", "dense backward", "BatchNorm", "optimizer (Adam)",
         "LeakyReLU", "Dropout", "augmentation (DiffAugment/ADA)", "EMA generator update", "losses",
         "input (iterator)", "other")


def op_kind(op_type, name):
    """The kind of one profiled op, from its type and its name (Keras layer and optimizer scopes)."""
    lower = name.lower()
    backward = "gradient_tape" in lower or "grad" in op_type.lower()
    if "adam" in lower:
        return "optimizer (Adam)"
    if "diff_augment" in lower:  # GAN._augment's scope, its gradient included
        return "augmentation (DiffAugment/ADA)"
    if "ema_update" in lower:  # GAN._update_ema's scope
        return "EMA generator update"
    if "_bn" in lower or "batchnorm" in op_type.lower():
        return "BatchNorm"
    if "Conv2D" in op_type:
        return "conv backward" if backward else "conv forward"
    if "MatMul" in op_type:
        return "dense backward" if backward else "dense forward"
    if "lrelu" in lower or "LeakyRelu" in op_type:
        return "LeakyReLU"
    if "dropout" in lower:
        return "Dropout"
    if "loss" in lower or "crossentropy" in lower or "softplus" in op_type.lower():
        return "losses"
    if "Iterator" in op_type or "GetNext" in op_type:
        return "input (iterator)"
    return "other"


def framework_op_rows(logdir):
    """Rows of the profiler's framework_op_stats table: dicts with type, operation, occurrences, self-time (us)."""
    from tensorflow.python.profiler.internal import _pywrap_profiler_plugin

    paths = glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True)
    if not paths:
        raise RuntimeError(f"the profiler wrote no .xplane.pb under {logdir}")
    data, ok = _pywrap_profiler_plugin.xspace_to_tools_data(paths, "framework_op_stats", {})
    if not ok:
        raise RuntimeError(f"framework_op_stats failed: {data[:200]!r}")
    table = json.loads(data)[0]
    columns = [c["id"] for c in table["cols"]]
    rows = []
    for row in table["rows"]:
        values = dict(zip(columns, (cell.get("v") if cell else None for cell in row["c"])))
        if values.get("host_or_device") == "Host" and values.get("type") != "IDLE":
            rows.append(values)
    return rows


def profile_worker(args):
    import tensorflow as tf
    from tensorflow.python.util import _pywrap_util_port

    from gan_tf import data
    from throughput import fit_step_times

    image_shape, _ = SHAPES[args.shape]
    loop = CliDefaultLoop(image_shape, args.batch_size, width=args.width or None)
    result = {"shape": args.shape, "batch_size": args.batch_size, "steps": args.steps, "settings": loop.settings,
              "onednn": bool(_pywrap_util_port.IsMklEnabled()), "versions": records.versions(),
              "threads": tf.config.threading.get_intra_op_parallelism_threads() or default_threads()}

    dataset, num_examples, source = training_data(args.shape, image_shape, args.batch_size)
    batches, _ = data.training_batches(dataset, args.batch_size, num_examples=num_examples, seed=0, num_epochs=10_000)
    result["pipeline"] = {"source": source, "images_per_second": pipeline_images_per_second(
        batches, args.batch_size, args.pipeline_batches)}
    feed = batches.take(4).cache().repeat()

    # --- fit against the bare step, interleaved in blocks so that drifting load hits both alike
    fit_step_times(loop.gan, feed, 2)  # tracing
    step = tf.function(loop.gan.train_step)
    batch = next(iter(feed))
    step(batch)
    fit_seconds, step_seconds = [], []
    for _ in range(args.blocks):
        fit_seconds += [wall for wall, _ in fit_step_times(loop.gan, feed, args.steps)]
        for _ in range(args.steps):
            start = time.perf_counter()
            logs = step(batch)
            float(tf.reshape(logs["g_loss"], [-1])[0])  # wait for the step, as fit does to hand logs to its callbacks
            step_seconds.append(time.perf_counter() - start)
    result["fit_ms_per_step"] = 1000 * statistics.median(fit_seconds)
    result["bare_step_ms"] = 1000 * statistics.median(step_seconds)
    result["fit_overhead_ms_per_step"] = result["fit_ms_per_step"] - result["bare_step_ms"]

    # --- op time by kind over profiled fit steps
    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        wall = sum(w for w, _ in fit_step_times(loop.gan, feed, args.steps))
        tf.profiler.experimental.stop()
        rows = framework_op_rows(logdir)
    by_kind = collections.Counter()
    top = collections.defaultdict(collections.Counter)
    for row in rows:
        kind = op_kind(row["type"], row["operation"])
        by_kind[kind] += row["total_self_time"]
        top[kind][row["type"]] += row["total_self_time"]
    total = sum(by_kind.values())
    result["profiled_wall_ms_per_step"] = 1000 * wall / args.steps
    result["op_self_ms_per_step"] = total / 1000 / args.steps
    result["kinds"] = [
        {"kind": kind, "ms_per_step": by_kind[kind] / 1000 / args.steps, "share": by_kind[kind] / total if total else 0,
         "op_types": {t: us / 1000 / args.steps for t, us in top[kind].most_common(4)}}
        for kind in KINDS if by_kind[kind]
    ]
    return result


def markdown(report):
    r = report["result"]
    ms_per_image_batch = 1000 * r["batch_size"] / r["pipeline"]["images_per_second"]
    lines = [
        f"Device: {report['device']} ({report['machine']['model']}); gan_tf's default step at {r['shape']}, batch "
        f"{r['batch_size']} ({json.dumps(r['settings'])}); oneDNN {'on' if r['onednn'] else 'off'}, "
        f"{r['threads']} threads; versions {r.get('versions', 'not recorded')}.",
        f"Command: `{report['command']}`; load average at start {report['load_average_start']}.",
    ]
    if records.busy_note(report):
        lines.append(records.busy_note(report))
    lines += [
        "", "| where | ms per step | share of op time | main op types (ms/step) |", "|---|---|---|---|",
    ]
    for k in r["kinds"]:
        types = ", ".join(f"{t} {ms:.1f}" for t, ms in k["op_types"].items())
        lines.append(f"| {k['kind']} | {k['ms_per_step']:.1f} | {100 * k['share']:.0f}% | {types} |")
    lines += [
        f"| all ops (self-time, summed over threads) | {r['op_self_ms_per_step']:.1f} | 100% | |",
        f"| wall time of a profiled fit step | {r['profiled_wall_ms_per_step']:.1f} | | |",
        "",
        "| step | ms |", "|---|---|",
        f"| `fit` step (callback-timed median) | {r['fit_ms_per_step']:.1f} |",
        f"| the same `train_step` as one `tf.function` | {r['bare_step_ms']:.1f} |",
        f"| Keras `fit` overhead per step | {r['fit_overhead_ms_per_step']:.1f} |",
        f"| input pipeline per batch, alone ({r['pipeline']['source']}: {r['pipeline']['images_per_second']:.0f} "
        f"images/s; overlapped by prefetching) | {ms_per_image_batch:.1f} |",
    ]
    return "\n".join(lines) + "\n"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shape", default="28x28x1", choices=tuple(SHAPES))
    parser.add_argument("--batch_size", type=int, default=64, help="the default recipe's")
    parser.add_argument("--width", type=int, default=0, help="0: the CLI's default width")
    parser.add_argument("--steps", type=int, default=20, help="steps per block and profiled steps")
    parser.add_argument("--blocks", type=int, default=3, help="alternating blocks of fit and bare steps")
    parser.add_argument("--pipeline_batches", type=int, default=100)
    parser.add_argument("--out_dir", default=HERE)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--result", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    records.require_positive(parser, args, ("batch_size", "steps", "blocks", "pipeline_batches"))
    if args.width < 0:
        parser.error(f"--width={args.width}: expected 0 (the CLI's default) or a positive width")
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.worker:  # a process of its own, started by main
        return records.write_worker_result(args.result, profile_worker(args))
    argv = sys.argv[1:] if argv is None else list(argv)  # forwarded to the worker processes
    report = records.head("profile_step.py", argv)
    choice = cli_onednn_choice(os.environ)
    report["gan_tf_onednn"] = {"value": choice[0], "reason": choice[1], "rule": choice[2]}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "result.json")
        # A fresh process: the CLI's oneDNN choice must be made before TensorFlow starts.
        subprocess.run([sys.executable, os.path.abspath(__file__), *argv, "--worker", "--result", path],
                       check=True, env=worker_environment("gan_tf", choice))
        with open(path) as f:
            report["result"] = json.load(f)
    base = records.write(report, args.out_dir, "profile_step", markdown(report))
    print(f"wrote {base}.json and {base}.md", file=sys.stderr)
    return base


if __name__ == "__main__":
    main()
