"""The default recipe in float32 against mixed_bfloat16, at the same steps and seeds: a table.

Reads the run directories `experiments/recipes/ablation.py train` wrote for the variants `lr5e-4`
(the default recipe, float32) and `lr5e-4+bf16` (the same in mixed_bfloat16), each evaluated there
with `python -m gan_tf.evaluate` (10,000 samples of the EMA generator) and `--nearest`:

    python experiments/recipes/ablation.py train --dataset mnist --minutes 10 \
        --variants lr5e-4,lr5e-4+bf16 --seeds 0,1,2 --runs runs/precision
    python experiments/mixed_precision/compare.py --runs runs/precision --dataset mnist

Writes default_recipe_<dataset>_<device>.md, .json and _grids.png (each run's final grid) beside
this file: per run its compute dtype, seed, steps, median ms/step (from its metrics.jsonl: a speed
only where the run had the machine to itself), FD, KID, IS, precision, recall, the largest class's
share and the memorisation score; then per dtype the range of FD over seeds, whether every bfloat16
FD is at most float32's worst, and the real-data floor.
"""
import argparse
import json
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
VARIANTS = ("lr5e-4", "lr5e-4+bf16")  # ablation.py's default recipe, in float32 and in mixed_bfloat16
METRICS = ("fd", "kid", "is", "precision", "recall")


def run_row(run_dir, dataset):
    """One run's row, from its newest evaluation; None while it has none."""
    evaluations = sorted(int(f[len("eval_step"):-len(".json")]) for f in os.listdir(run_dir)
                         if f.startswith("eval_step") and f.endswith(".json"))
    if not evaluations:
        return None
    steps = evaluations[-1]
    with open(os.path.join(run_dir, f"eval_step{steps}.json")) as f:
        evaluation = json.load(f)
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        epochs = [json.loads(line) for line in f if line.strip()]
    with open(os.path.join(run_dir, "config.json")) as f:
        dtype = json.load(f)["resolved"]["precision"]
    scores = {k.replace(f"_{dataset}_classifier", ""): v for k, v in evaluation["metrics"].items()}
    nearest = evaluation.get("nearest", {})
    return {
        "dtype": dtype, "steps": steps,
        # Epoch 1 holds the tracing.
        "ms_per_step": statistics.median(e["ms_per_step"] for e in epochs[1:]) if len(epochs) > 1 else None,
        **{k: scores.get(k) for k in METRICS},
        "largest_class": ((nearest.get("class_coverage") or {}).get("generated") or {}).get("largest_share"),
        "memorisation": ((nearest.get("memorisation") or {}).get(f"{dataset}_classifier") or {}).get("score"),
        "floor_fd": evaluation.get("real_data_floor", {}).get(f"fd_{dataset}_classifier"),
        "grid": os.path.join(run_dir, "samples", "final.png"),
    }


def collect(runs, dataset):
    rows = []
    root = os.path.join(runs, dataset)
    for name in sorted(os.listdir(root)):
        variant, seed = name.rsplit("_s", 1)
        if variant in VARIANTS:
            row = run_row(os.path.join(root, name), dataset)
            if row:
                rows.append({"variant": variant, "seed": int(seed), **row})
    return rows


def summary(rows):
    """Per precision: FD's range over seeds; whether every bfloat16 FD is at most float32's worst seed's
    (bfloat16 keeps the samples' quality if it is no worse than float32 can be by the seed alone)."""
    fd = {p: sorted(r["fd"] for r in rows if r["dtype"] == p) for p in ("float32", "mixed_bfloat16")}
    out = {p: {"seeds": len(v), "fd_min": v[0], "fd_max": v[-1], "fd_mean": statistics.mean(v)}
           for p, v in fd.items() if v}
    if fd["float32"] and fd["mixed_bfloat16"]:
        out["bfloat16_no_worse_than_float32_seeds"] = fd["mixed_bfloat16"][-1] <= fd["float32"][-1]
    return out


def grids(rows, path):
    """Each run's final sample grid (the EMA generator, fixed noise), titled with its dtype, seed and FD."""
    import matplotlib.image
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    shown = [r for r in sorted(rows, key=lambda r: (r["dtype"], r["seed"])) if os.path.exists(r["grid"])]
    if not shown:
        return
    figure = Figure(figsize=(3 * len(shown), 3.3))
    for i, r in enumerate(shown):
        axes = figure.add_subplot(1, len(shown), i + 1)
        axes.imshow(matplotlib.image.imread(r["grid"]), cmap="gray")
        axes.set_title(f"{r['dtype']}, seed {r['seed']}: FD {r['fd']:.1f}", fontsize=9)
        axes.axis("off")
    figure.tight_layout()
    FigureCanvasAgg(figure).print_png(path)


def markdown(rows, result, dataset, command):
    cell = lambda v, d: "" if v is None else f"{v:.{d}f}"  # noqa: E731
    lines = [f"`{command}`", "",
             "| compute dtype | seed | steps | ms/step | FD | KID | IS | precision | recall | largest class | memorisation |",
             "|---" * 11 + "|"]
    for r in sorted(rows, key=lambda r: (r["dtype"], r["seed"])):
        lines.append(f"| {r['dtype']} | {r['seed']} | {r['steps']:,} | {cell(r['ms_per_step'], 1)} | "
                     f"{cell(r['fd'], 1)} | {cell(r['kid'], 1)} | {cell(r['is'], 2)} | {cell(r['precision'], 2)} | "
                     f"{cell(r['recall'], 2)} | {cell(r['largest_class'], 3)} | {cell(r['memorisation'], 3)} |")
    lines.append("")
    for p in ("float32", "mixed_bfloat16"):
        if p in result:
            s = result[p]
            lines.append(f"- {p}: FD {s['fd_min']:.1f}-{s['fd_max']:.1f} over {s['seeds']} seed(s), mean {s['fd_mean']:.1f}")
    if "bfloat16_no_worse_than_float32_seeds" in result:
        lines.append(f"- every bfloat16 FD at most float32's worst seed's: "
                     f"{'yes' if result['bfloat16_no_worse_than_float32_seeds'] else 'no'}")
    floors = {r["floor_fd"] for r in rows if r["floor_fd"] is not None}
    if floors:
        lines.append(f"- real-data floor FD: {', '.join(f'{v:.3g}' for v in sorted(floors))}")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", default=os.path.join(ROOT, "runs", "precision"))
    parser.add_argument("--dataset", choices=("mnist", "fashion_mnist"), required=True)
    parser.add_argument("--out_dir", default=HERE)
    args = parser.parse_args(argv)
    if not os.path.isdir(os.path.join(args.runs, args.dataset)):
        parser.error(f"--runs={args.runs!r}: expected a folder holding {args.dataset}/<variant>_s<seed> runs "
                     "(experiments/recipes/ablation.py train --runs ...)")
    sys.path.insert(0, os.path.join(ROOT, "experiments", "benchmarks"))
    from machine import cpu_device_name  # noqa: E402

    rows = collect(args.runs, args.dataset)
    result = summary(rows)
    command = "python experiments/mixed_precision/compare.py " + " ".join(argv if argv is not None else sys.argv[1:])
    text = markdown(rows, result, args.dataset, command)
    print(text)
    base = os.path.join(args.out_dir, f"default_recipe_{args.dataset}_{cpu_device_name()}")
    with open(base + ".md", "w") as f:
        f.write(text)
    with open(base + ".json", "w") as f:
        json.dump({"command": command, "runs": [{k: v for k, v in r.items() if k != "grid"} for r in rows],
                   "summary": result}, f, indent=1)
    grids(rows, base + "_grids.png")
    print(f"wrote {base}.md, .json and _grids.png", file=sys.stderr)


if __name__ == "__main__":
    main()
