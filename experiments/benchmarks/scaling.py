"""Cost as work grows: images/s and peak memory of gan_tf's default step by image size and batch size.

For each image shape (default 28x28x1, 32x32x3, 64x64x3, 128x128x3) and batch size (default 16 to
512), one fresh process runs the experiment CLI's default step (`peers.CliDefaultLoop`: the CLI's
default config and width, with only the batch size changed; its oneDNN choice, strategy, precision
and `jit_compile`) on prepared batches (`peers.fixed_batches`; the input pipeline is not timed),
takes `--warmup` untimed steps and times `--steps`, then more until `--seconds` of steps are timed
(small steps take milliseconds, and the first ones after tracing are slower); its peak RSS comes
from `wait4`. With several `--rounds` the table gives medians. With 64x64x3 among the shapes, one
more process per round runs `gan_tf.experiments.celeba`'s own defaults (width 64, batch 128: wider
networks than the MNIST CLI's 32), from which it estimates the duration of one CelebA epoch (its
162,770 training faces).

Writes experiments/benchmarks/scaling_<device>.json, .md and .png (images/s and peak RSS against
batch size, one line per image size).

    python experiments/benchmarks/scaling.py
    python experiments/benchmarks/scaling.py --shapes 28x28x1 --batches 16,32 --steps 1 --out_dir /tmp/s
"""
import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import records  # noqa: E402  (this folder)
from peers import CliDefaultLoop, cli_onednn_choice, fixed_batches, run_process, worker_environment  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SHAPES = "28x28x1,32x32x3,64x64x3,128x128x3"
DEFAULT_BATCHES = "16,32,64,128,256,512"
CELEBA_SHAPE = "64x64x3"
CELEBA_IMAGES = 162_770  # the training split gan_tf.experiments.celeba trains on (gan_tf/data/celeba.py)


def parse_shape(text):
    try:
        height, width, channels = (int(d) for d in text.split("x"))
    except ValueError:
        raise ValueError(f"{text!r}: expected HxWxC, e.g. 64x64x3") from None
    if height != width or height < 8 or channels not in (1, 3):
        raise ValueError(f"{text!r}: expected a square image of side >= 8 with 1 or 3 channels")
    return height, width, channels


def worker(args):
    import tensorflow as tf

    from throughput import fit_step_times

    image_shape = parse_shape(args.shape)
    loop = CliDefaultLoop(image_shape, args.batch_size, width=args.width or None)
    feed = tf.data.Dataset.from_tensor_slices(fixed_batches(image_shape, args.batch_size)).repeat()
    fit_step_times(loop.gan, feed, args.warmup)
    times = fit_step_times(loop.gan, feed, args.steps)
    # Small steps take milliseconds: time more of them, until --seconds of steps are measured.
    spent = sum(wall for wall, _ in times)
    if spent < args.seconds:
        more = math.ceil((args.seconds - spent) / statistics.median(wall for wall, _ in times))
        times += fit_step_times(loop.gan, feed, more)
    return {"step_seconds": [wall for wall, _ in times], "step_cpu_seconds": [cpu for _, cpu in times],
            "settings": loop.settings, "versions": records.versions()}


def celeba_defaults():
    """(width, batch size) of `gan_tf.experiments.celeba`'s defaults."""
    from gan_tf.experiments import celeba

    return celeba.DEFAULTS["width"], celeba.DEFAULTS["batch_size"]


def measure(args, choice):
    """One row per process: the sweep (width 0 = the MNIST CLI's), then CelebA's defaults at 64x64x3."""
    jobs = [(shape, batch_size, 0) for shape in args.shape_list for batch_size in args.batch_list]
    if CELEBA_SHAPE in args.shape_list:
        width, batch_size = celeba_defaults()
        jobs.append((CELEBA_SHAPE, batch_size, width))
    rows = []
    for round_index in range(args.rounds):
        for shape, batch_size, width in jobs:
            with tempfile.TemporaryDirectory() as tmp:
                path = os.path.join(tmp, "result.json")
                command = [sys.executable, os.path.abspath(__file__), "--worker", "--shape", shape,
                           "--batch_size", str(batch_size), "--width", str(width), "--steps", str(args.steps),
                           "--seconds", str(args.seconds), "--warmup", str(args.warmup), "--result", path]
                peak_rss = run_process(command, worker_environment("gan_tf", choice))
                with open(path) as f:
                    result = json.load(f)
            result.update(shape=shape, batch_size=batch_size, round=round_index, peak_rss_mib=peak_rss,
                          width=result["settings"]["width"], celeba_defaults=bool(width),
                          images_per_second=batch_size * len(result["step_seconds"]) / sum(result["step_seconds"]))
            rows.append(result)
            print(f"  round {round_index + 1}/{args.rounds} {shape} width {result['width']} batch {batch_size}: "
                  f"{result['images_per_second']:.0f} images/s, peak RSS {peak_rss:.0f} MiB",
                  file=sys.stderr, flush=True)
    return rows


def summarise(rows):
    """Median images/s and largest peak RSS per (shape, width, batch size, CelebA's defaults or not)."""
    table = {}
    for row in rows:
        key = (row["shape"], row["width"], row["batch_size"], row.get("celeba_defaults", False))
        table.setdefault(key, []).append(row)
    return [{"shape": shape, "width": width, "batch_size": batch, "celeba_defaults": celeba, "rounds": len(group),
             "images_per_second": statistics.median(r["images_per_second"] for r in group),
             "peak_rss_mib": max(r["peak_rss_mib"] for r in group)}
            for (shape, width, batch, celeba), group in table.items()]


def celeba_epoch(summary):
    """Minutes of one CelebA epoch at 64x64x3: with the CelebA experiment's defaults, and with the
    sweep's fastest batch size (narrower networks: `--width W --batch_size B`)."""
    out = {"images": CELEBA_IMAGES}
    for key, rows in (("celeba_defaults", [r for r in summary if r["shape"] == CELEBA_SHAPE and r["celeba_defaults"]]),
                      ("fastest_sweep", [r for r in summary if r["shape"] == CELEBA_SHAPE and not r["celeba_defaults"]])):
        if rows:
            best = max(rows, key=lambda r: r["images_per_second"])
            out[key] = {"width": best["width"], "batch_size": best["batch_size"],
                        "minutes": CELEBA_IMAGES / best["images_per_second"] / 60}
    return out if len(out) > 1 else None


def plot(summary, path):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(10, 4))
    FigureCanvasAgg(figure)
    speed, memory = figure.subplots(1, 2)
    sweep = [r for r in summary if not r["celeba_defaults"]]
    for shape in dict.fromkeys(r["shape"] for r in sweep):
        rows = sorted((r for r in sweep if r["shape"] == shape), key=lambda r: r["batch_size"])
        batches = [r["batch_size"] for r in rows]
        label = f"{shape}, width {rows[0]['width']}"
        speed.plot(batches, [r["images_per_second"] for r in rows], marker="o", label=label)
        memory.plot(batches, [r["peak_rss_mib"] / 1024 for r in rows], marker="o", label=label)
    batches = sorted({r["batch_size"] for r in summary})
    speed.set_yscale("log")
    for axis, label in ((speed, "images/s"), (memory, "peak RSS (GiB)")):
        axis.set_xscale("log", base=2)
        axis.set_xticks(batches, [str(b) for b in batches])
        axis.set_xlabel("batch size")
        axis.set_ylabel(label)
        axis.grid(True, which="both", alpha=0.3)
    # One legend below both panels: inside them it covers the 128x128 line.
    figure.legend(*speed.get_legend_handles_labels(), loc="lower center", ncol=4, frameon=False)
    figure.tight_layout(rect=(0, 0.08, 1, 1))
    figure.savefig(path, dpi=100)


def markdown(report):
    lines = [f"Device: {report['device']} ({report['machine']['model']}); gan_tf's default step "
             f"({json.dumps(report['settings'])}); oneDNN choice: {report['gan_tf_onednn']['reason']}; "
             f"versions {report.get('versions', 'not recorded')}.",
             f"Command: `{report['command']}`; load average at start {report['load_average_start']}."]
    if records.busy_note(report):
        lines.append(records.busy_note(report))
    lines += ["", "| image | width | batch | images/s | peak RSS |", "|---|---|---|---|---|"]
    for r in report["summary"]:
        name = f"{r['shape']} (CelebA's defaults)" if r["celeba_defaults"] else r["shape"]
        lines.append(f"| {name} | {r['width']} | {r['batch_size']} | {r['images_per_second']:.1f} | "
                     f"{r['peak_rss_mib']:.0f} MiB |")
    epoch = report["celeba_epoch"]
    if epoch:
        lines.append("")
        for key, what in (("celeba_defaults", "`gan_tf.experiments.celeba`'s defaults"),
                          ("fastest_sweep", "the sweep's fastest setting")):
            if key in epoch:
                lines.append(f"- One CelebA epoch ({epoch['images']:,} training faces at 64x64x3), {what} "
                             f"(width {epoch[key]['width']}, batch {epoch[key]['batch_size']}): "
                             f"{epoch[key]['minutes']:.0f} min.")
    return "\n".join(lines) + "\n"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shapes", default=DEFAULT_SHAPES, help="comma-separated HxWxC")
    parser.add_argument("--batches", default=DEFAULT_BATCHES, help="comma-separated batch sizes")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--steps", type=int, default=3, help="timed steps per process, at least")
    parser.add_argument("--seconds", type=float, default=15.0,
                        help="then more timed steps until this many seconds of steps were timed")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps per process")
    parser.add_argument("--out_dir", default=HERE)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--shape", default="", help=argparse.SUPPRESS)
    parser.add_argument("--batch_size", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--width", type=int, default=0, help=argparse.SUPPRESS)  # 0: the MNIST CLI's
    parser.add_argument("--result", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        args.shape_list = [s for s in args.shapes.split(",") if s and parse_shape(s)]
    except ValueError as error:
        parser.error(f"--shapes: {error}")
    if not args.batches.replace(",", "").isdigit() or any(int(b) < 1 for b in args.batches.split(",") if b):
        parser.error(f"--batches={args.batches!r}: expected comma-separated positive integers")
    args.batch_list = [int(b) for b in args.batches.split(",") if b]
    records.require_positive(parser, args, ("rounds", "steps", "warmup"))
    if args.seconds < 0:
        parser.error(f"--seconds={args.seconds}: expected 0 or more")
    return args


def main(argv=None):
    started = time.time()  # the wall time of the whole command
    args = parse_args(argv)
    if args.worker:  # a process of its own, started by main
        return records.write_worker_result(args.result, worker(args))
    argv = sys.argv[1:] if argv is None else list(argv)  # forwarded to the worker processes
    choice = cli_onednn_choice(os.environ)
    report = {**records.head("scaling.py", argv),
              "gan_tf_onednn": {"value": choice[0], "reason": choice[1], "rule": choice[2]}}
    rows = measure(args, choice)
    report.update(settings=rows[0]["settings"], versions=rows[0]["versions"], rows=rows, summary=summarise(rows))
    report["celeba_epoch"] = celeba_epoch(report["summary"])
    report["wall_seconds"] = time.time() - started
    base = records.write(report, args.out_dir, "scaling", markdown(report))
    plot(report["summary"], base + ".png")
    print(f"wrote {base}.json, .md and .png", file=sys.stderr)
    return base


if __name__ == "__main__":
    main()
