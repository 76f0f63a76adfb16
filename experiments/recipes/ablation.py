"""The recipe ablation: each technique on top of a base recipe, at equal training time.

Every variant is `BASE` (the modern recipe at the 2016 learning rates) plus a few flags. It trains for
as many steps as it reaches in `--minutes` of training on an idle machine: the base's steps in a
recorded `--time_budget` run (experiments/recipes/<dataset>_base_10min/results.json), scaled by the
minutes and divided by the variant's step cost relative to the base (`python
experiments/recipes/ablation.py cost` measures it: each variant and the base one after the other on
the same machine; a variant that differs from a measured one only in learning rates has its graph and
cost). Training by steps rather than by the clock keeps the comparison fair on a shared machine, where
a clock budget gives whichever run happened to share the CPU fewer steps.

    python experiments/recipes/ablation.py cost                       # step cost of each variant
    python experiments/recipes/ablation.py train --dataset fashion_mnist --minutes 5 --variants base,lr5e-4 --seeds 0,1
    python experiments/recipes/ablation.py table --dataset fashion_mnist   # ablation_<dataset>.md/.json

`train` writes run directories under runs/ablation/<dataset>/<variant>_s<seed> and evaluates each
with `python -m gan_tf.evaluate` (10,000 samples, the EMA generator where there is one).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

# The ablation's base: the modern recipe at the 2016 learning rates (EMA generator, adaptive
# DiffAugment; the default before the ablation moved MNIST's and Fashion-MNIST's to 5e-4) with the
# 2016 discriminator's dropout, which the modern recipe dropped after the ablation. float32 and the
# dropout are named, so that every machine and version trains what was recorded.
BASE = ["--recipe", "modern", "--d_lr", "2e-4", "--g_lr", "2e-4", "--d_dropout", "0.3", "--mixed_precision", "none"]

# Each variant: the flags it adds to BASE (a flag given again overrides BASE's).
VARIANTS = {
    "base": [],
    "dcgan2016": ["--recipe", "dcgan2016"],
    "lr5e-4": ["--d_lr", "5e-4", "--g_lr", "5e-4"],
    "lr1e-3": ["--d_lr", "1e-3", "--g_lr", "1e-3"],
    "ttur": ["--d_lr", "4e-4", "--g_lr", "1e-4"],
    "hinge": ["--loss", "hinge"],
    "r1": ["--r1_gamma", "1", "--reg_interval", "16"],
    "r3gan": ["--loss", "rpgan", "--r1_gamma", "1", "--r2_gamma", "1", "--reg_interval", "16",
              "--beta_1", "0", "--beta_2", "0.99"],
    "sn": ["--spectral_norm"],
    "resnet": ["--architecture", "resnet", "--d_dropout", "0"],  # the residual discriminator has no dropout
    "width64": ["--width", "64"],
    # Added one at a time to the 2016 recipe: the learning rate alone, the EMA generator alone.
    "dcgan2016+lr5e-4": ["--recipe", "dcgan2016", "--d_lr", "5e-4", "--g_lr", "5e-4"],
    "dcgan2016+ema": ["--recipe", "dcgan2016", "--ema_kimg", "10", "--ema_rampup", "0.05"],
    # On top of the default (the modern recipe at 5e-4).
    "lr5e-4+sn": ["--d_lr", "5e-4", "--g_lr", "5e-4", "--spectral_norm"],
    "lr5e-4+resnet": ["--d_lr", "5e-4", "--g_lr", "5e-4", "--architecture", "resnet", "--d_dropout", "0"],
    "lr5e-4+hinge": ["--d_lr", "5e-4", "--g_lr", "5e-4", "--loss", "hinge"],
    # The discriminator at twice the generator's rate (TTUR's direction).
    "d1e-3+g5e-4": ["--d_lr", "1e-3", "--g_lr", "5e-4"],
    # DiffAugment as Zhao et al. run it: every image transformed, no adaptive probability.
    "lr5e-4+diffaug": ["--d_lr", "5e-4", "--g_lr", "5e-4", "--augment_p", "1", "--ada_target", "0"],
    # The default computed in bfloat16 (fast only on CPUs with native bfloat16): the same steps as
    # lr5e-4, to tell whether the precision changes what the steps reach.
    "lr5e-4+bf16": ["--d_lr", "5e-4", "--g_lr", "5e-4", "--mixed_precision", "mixed_bfloat16"],
    # The default since gan_tf 0.4.0: the discriminator without the 2016 recipe's dropout.
    "lr5e-4+nodrop": ["--d_lr", "5e-4", "--g_lr", "5e-4", "--d_dropout", "0"],
    "lr5e-4+nodrop+bf16": ["--d_lr", "5e-4", "--g_lr", "5e-4", "--d_dropout", "0",
                           "--mixed_precision", "mixed_bfloat16"],
}
LEARNING_RATE_FLAGS = ("--d_lr", "--g_lr")
# Augmentation held off in cost runs (see measure_cost).
NO_ADA = ["--augment_p", "0", "--ada_target", "0"]

# Steps per epoch in ablation runs: Fashion-MNIST's 937-step passes are cut into shorter epochs
# (each a fresh shuffle) so that a step count is reached to within a quarter of a pass.
STEPS_PER_EPOCH = {"mnist": 0, "fashion_mnist": 250}
NATURAL_STEPS = {"mnist": 4500 // 64, "fashion_mnist": 60000 // 64}


def cost_path():
    sys.path.insert(0, os.path.join(ROOT, "experiments", "benchmarks"))
    from machine import device_name  # noqa: E402

    return os.path.join(HERE, f"step_cost_{device_name()}.json")


def load_cost(key="ratio"):
    """{variant: step time relative to the base}, from the step-cost record (1.0 if absent); with
    key="measured", {variant: whether that ratio was measured rather than estimated}."""
    try:
        with open(cost_path()) as f:
            return json.load(f).get(key, {})
    except FileNotFoundError:
        return {}


def without_learning_rates(flags):
    kept, skip = [], False
    for flag in flags:
        if skip:
            skip = False
        elif flag in LEARNING_RATE_FLAGS:
            skip = True
        else:
            kept.append(flag)
    return kept


def step_cost(variant):
    """(step time relative to the base, whether it was measured) of a variant.

    A variant's own measured ratio if there is one; else that of the measured variant with the same
    flags apart from learning rates (the same graph, so the same cost); else 1.0, estimated."""
    ratio, measured = load_cost(), load_cost("measured")
    if variant in ratio:
        return ratio[variant], bool(measured.get(variant, False))
    flags = without_learning_rates(VARIANTS.get(variant, []))
    for other in ratio:
        if other in VARIANTS and without_learning_rates(VARIANTS[other]) == flags:
            return ratio[other], bool(measured.get(other, False))
    return 1.0, False


def reference_steps(dataset):
    """Steps the default recipe reached in its recorded 10-minute `--time_budget` run."""
    with open(os.path.join(HERE, f"{dataset}_base_10min", "results.json")) as f:
        record = json.load(f)
    return record["steps"], record["stopped"]["time_budget_minutes"]


def finished_epochs(run_dir):
    try:
        with open(os.path.join(run_dir, "metrics.jsonl")) as f:
            return max([json.loads(line)["epoch"] for line in f if line.strip()] or [0])
    except FileNotFoundError:
        return 0


def run(command):
    print("+", " ".join(command), flush=True)
    subprocess.run(command, check=True, cwd=ROOT)


def train(args):
    """Trains each variant and seed for `--minutes` (in steps) and evaluates it there.

    A variant's run directory is the same for every budget: a longer budget continues the shorter
    one's run (resuming is exact), and each budget's scores go to their own `eval_step<N>.json`.
    """
    steps_10, minutes_10 = reference_steps(args.dataset)
    per_epoch = STEPS_PER_EPOCH[args.dataset] or NATURAL_STEPS[args.dataset]
    for variant in args.variants.split(","):
        for seed in [int(s) for s in args.seeds.split(",")]:
            steps = steps_10 * args.minutes / minutes_10 / step_cost(variant)[0]
            epochs = max(1, round(steps / per_epoch))
            out = os.path.join(args.runs, args.dataset, f"{variant}_s{seed}")
            command = [sys.executable, "-m", f"gan_tf.experiments.{args.dataset}", "--out_dir", out,
                       "--seed", str(seed), "--epochs", str(epochs), "--verbose", "2",
                       *BASE, *VARIANTS[variant]]
            if STEPS_PER_EPOCH[args.dataset]:
                command += ["--steps_per_epoch", str(STEPS_PER_EPOCH[args.dataset])]
            if args.eval_every:
                command += ["--eval_every", str(args.eval_every), "--eval_samples", "2000"]
            if finished_epochs(out) < epochs:
                run(command)  # continues a shorter budget's run
            evaluate(out, epochs, epochs * per_epoch)


def evaluate(run_dir, epoch, steps):
    """eval_step<steps>.json: the metrics of the run's checkpoint at `epoch` (10,000 samples, the EMA
    generator where there is one), then memorisation and class coverage (`--nearest`)."""
    path = os.path.join(run_dir, f"eval_step{steps}.json")
    common = ["--run_dir", run_dir, "--output", path,
              "--checkpoint", os.path.join(run_dir, "checkpoints", f"ckpt-{epoch:06d}.npz")]
    if not os.path.exists(path):
        run([sys.executable, "-m", "gan_tf.evaluate", *common])
    with open(path) as f:
        if "nearest" in json.load(f):
            return
    run([sys.executable, "-m", "gan_tf.evaluate", *common, "--nearest", "--nearest_samples", "5000"])


def measure_cost(args):
    """Paired step cost: each variant and the base, one after the other, `--rounds` times.

    ADA is held at p = 0 (`NO_ADA`), the regime of the ablation's runs, where p stays at 0 and the
    transformations are skipped: in short cost runs it would rise and make the base look dearer than it
    is (a variant that sets its own augmentation flags overrides this)."""
    import tempfile

    times = {v: [] for v in args.variants.split(",")}
    for _ in range(args.rounds):
        for variant in times:
            with tempfile.TemporaryDirectory() as out:
                run([sys.executable, "-m", "gan_tf.experiments.mnist", "--out_dir", out, "--epochs", "4",
                     "--steps_per_epoch", "60", "--verbose", "0", *BASE, *NO_ADA, *VARIANTS[variant]])
                with open(os.path.join(out, "metrics.jsonl")) as f:
                    epochs = [json.loads(line) for line in f]
            # Epoch 1 holds the tracing; the median of the others is the step time.
            times[variant].append(statistics.median(e["ms_per_step"] for e in epochs[1:]))
    base = statistics.median(times["base"])
    ratio = {v: statistics.median(t) / base for v, t in times.items()}
    # Merged into the record: each ratio is paired with the base of its own measurement, so the
    # ratios of earlier measurements stay valid beside the new ones.
    try:
        with open(cost_path()) as f:
            record = json.load(f)
    except FileNotFoundError:
        record = {}
    command = "python experiments/recipes/ablation.py cost " + " ".join(sys.argv[2:])
    record["commands"] = record.get("commands", [record["command"]] if "command" in record else []) + [command]
    record.pop("command", None)
    for key, values in (("ms_per_step", times), ("ratio", ratio), ("measured", {v: True for v in ratio})):
        record[key] = {**record.get(key, {}), **values}
    with open(cost_path(), "w") as f:
        json.dump(record, f, indent=1)
    print(f"| variant | ms/step (median of {args.rounds}) | cost vs base |\n|---|---|---|")
    for v, t in times.items():
        print(f"| {v} | {statistics.median(t):.0f} | {ratio[v]:.2f}× |")


def reference_ms_per_step(dataset):
    """Training ms per step of the default recipe in its recorded 10-minute run (idle machine)."""
    with open(os.path.join(HERE, f"{dataset}_base_10min", "results.json")) as f:
        record = json.load(f)
    return 1000.0 * record["training_seconds"] / record["steps"]


def collect(dataset, runs):
    """One row per evaluation of a run: variant, seed, steps, idle-machine minutes and speed, scores."""
    ms = reference_ms_per_step(dataset)
    per_epoch = STEPS_PER_EPOCH[dataset] or NATURAL_STEPS[dataset]
    rows = []
    root = os.path.join(runs, dataset)
    for name in sorted(os.listdir(root)) if os.path.isdir(root) else []:
        run_dir = os.path.join(root, name)
        variant, seed = name.rsplit("_s", 1)
        step_ms = ms * step_cost(variant)[0]
        evaluations = sorted((int(f[len("eval_step"):-len(".json")]), f) for f in os.listdir(run_dir)
                             if f.startswith("eval_step") and f.endswith(".json"))
        if not evaluations:  # still training
            continue
        with open(os.path.join(run_dir, "metrics.jsonl")) as f:
            epochs = [json.loads(line) for line in f if line.strip()]
        for steps, file in evaluations:
            with open(os.path.join(run_dir, file)) as f:
                evaluation = json.load(f)
            metrics = {k.replace(f"_{dataset}_classifier", ""): v for k, v in evaluation["metrics"].items()}
            nearest = evaluation.get("nearest", {})
            coverage = (nearest.get("class_coverage") or {}).get("generated", {})
            rows.append({
                "variant": variant, "seed": int(seed), "flags": " ".join(VARIANTS.get(variant, [])),
                "steps": steps, "minutes": steps * step_ms / 60000, "images_per_second": 64 * 1000 / step_ms,
                **{k: metrics.get(k) for k in ("fd", "kid", "is", "precision", "recall")},
                "largest_class": coverage.get("largest_share"), "smallest_class": coverage.get("smallest_share"),
                "memorisation": ((nearest.get("memorisation") or {}).get(f"{dataset}_classifier") or {}).get("score"),
                "curve": [(e["step"] * step_ms / 60000, e[f"fd_{dataset}_classifier"])
                          for e in epochs if f"fd_{dataset}_classifier" in e and e["step"] <= steps],
                "grid": os.path.join(run_dir, "samples", f"epoch_{steps // per_epoch:04d}.png"),
            })
    return rows


def _cell(value, digits=2):
    return "" if value is None else f"{value:.{digits}f}"


def table(args):
    """ablation_<dataset>.md/.json: the table, the grids side by side and FD against minutes."""
    rows = collect(args.dataset, args.runs)
    lines = ["| variant | flags (on top of BASE) | seed | steps | ≈ minutes | img/s | FD | KID | IS | "
             "precision | recall | largest class | memorisation |", "|---" * 13 + "|"]
    for r in rows:
        lines.append(f"| {r['variant']} | `{r['flags']}` | {r['seed']} | {r['steps']:,} | {r['minutes']:.1f} | "
                     f"{r['images_per_second']:.0f} | {_cell(r['fd'], 1)} | {_cell(r['kid'], 1)} | "
                     f"{_cell(r['is'])} | {_cell(r['precision'])} | {_cell(r['recall'])} | "
                     f"{_cell(r['largest_class'], 3)} | {_cell(r['memorisation'], 3)} |")
    estimated = sorted({r["variant"] for r in rows if not step_cost(r["variant"])[1]})
    if estimated:
        lines.append(f"\nStep cost estimated, not measured, for {', '.join(estimated)} "
                     f"(see {os.path.basename(cost_path())}): their minutes and img/s are estimates.")
    text = "\n".join(lines)
    print(text)
    name = os.path.join(HERE, f"ablation_{args.dataset}")
    with open(name + ".md", "w") as f:
        f.write(text + "\n")
    with open(name + ".json", "w") as f:
        json.dump([{k: v for k, v in r.items() if k != "grid"} for r in rows], f, indent=1)
    pictures(rows, name, args.dataset)


def pictures(rows, name, dataset):
    """<name>_grids.png (each run's final grid, titled) and <name>_fd.png (FD against minutes)."""
    import matplotlib.image
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    shown = [r for r in rows if os.path.exists(r["grid"])]
    if shown:
        columns = min(4, len(shown))
        figure = Figure(figsize=(3 * columns, 3.3 * -(-len(shown) // columns)))
        for i, r in enumerate(shown):
            axes = figure.add_subplot(-(-len(shown) // columns), columns, i + 1)
            axes.imshow(matplotlib.image.imread(r["grid"]), cmap="gray")
            axes.set_title(f"{r['variant']} s{r['seed']}, {r['steps']:,} steps: FD {_cell(r['fd'], 1)}", fontsize=9)
            axes.axis("off")
        figure.tight_layout()
        FigureCanvasAgg(figure).print_png(name + "_grids.png")
    longest = {}  # each run's curve once: from its longest evaluated budget
    for r in rows:
        if r["curve"] and r["steps"] >= longest.get((r["variant"], r["seed"]), {"steps": -1})["steps"]:
            longest[(r["variant"], r["seed"])] = r
    curves = list(longest.values())
    if curves:
        figure = Figure(figsize=(6, 4))
        axes = figure.add_subplot()
        for r in curves:
            minutes, fd = zip(*r["curve"])
            axes.plot(minutes, fd, marker="o", label=f"{r['variant']} s{r['seed']}")
        axes.set_xlabel("training minutes (idle 2-core machine)")
        axes.set_ylabel(f"FD ({dataset} classifier, 2,000 samples)")
        axes.set_yscale("log")
        axes.grid(alpha=0.3)
        axes.legend()
        figure.tight_layout()
        FigureCanvasAgg(figure).print_png(name + "_fd.png")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="stage", required=True)
    p = sub.add_parser("cost")
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument("--rounds", type=int, default=2)
    p = sub.add_parser("train")
    p.add_argument("--dataset", choices=sorted(STEPS_PER_EPOCH), required=True)
    p.add_argument("--variants", default="base")
    p.add_argument("--seeds", default="0")
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--eval_every", type=int, default=0)
    p.add_argument("--runs", default=os.path.join(ROOT, "runs", "ablation"))
    p = sub.add_parser("table")
    p.add_argument("--dataset", choices=sorted(STEPS_PER_EPOCH), required=True)
    p.add_argument("--runs", default=os.path.join(ROOT, "runs", "ablation"))
    args = parser.parse_args()
    {"cost": measure_cost, "train": train, "table": table}[args.stage](args)


if __name__ == "__main__":
    main()
