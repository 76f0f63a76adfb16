"""Records a finished run of a default recipe: time, speed, final grid, evaluation.

    /usr/bin/time -v python -m gan_tf.experiments.mnist --out_dir runs/mnist_default
    python -m gan_tf.evaluate --run_dir runs/mnist_default
    python experiments/record_run.py --run_dir runs/mnist_default --wall_seconds N \
        --dest experiments/mnist_default

Writes results.json, results.md, final.png and eval.json (when the run was evaluated)
into --dest. Speed is the median over epochs of the per-epoch ms/step and images/s
that the run logged (each epoch timed from the end of its first step, so tracing is
not counted).
"""
import argparse
import json
import os
import platform
import shutil
import statistics


# The last epoch's logged values kept in results.json, for each kind of model (the VAE's with
# the PSNR/SSIM of its held-out reconstructions).
FINAL_KEYS = {"gan": ("d_loss", "g_loss", "d_real", "d_fake"),
              "vae": ("loss", "reconstruction", "kl", "val_loss", "val_psnr", "val_ssim")}


def cpu_model():
    """The CPU's model name (/proc/cpuinfo), else what platform reports."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run_dir", required=True)
    parser.add_argument("--dest", required=True, help="directory under experiments/ to write the record into")
    parser.add_argument("--wall_seconds", type=float, help="wall time of the whole command, measured with `time`")
    parser.add_argument("--peak_rss_mb", type=float, help="peak resident memory of the command (`time -v`)")
    parser.add_argument("--command", help="the command that made the run (default: the experiment with its defaults)")
    args = parser.parse_args()
    with open(os.path.join(args.run_dir, "config.json")) as f:
        config = json.load(f)
    with open(os.path.join(args.run_dir, "metrics.jsonl")) as f:
        epochs = [json.loads(line) for line in f if line.strip()]
    completed = [e for e in epochs if "stopped" not in e]  # a time-budget stop's part epoch has no speed
    evaluation = {}
    eval_path = os.path.join(args.run_dir, "eval.json")
    if os.path.exists(eval_path):
        with open(eval_path) as f:
            evaluation = json.load(f)
    results = {
        "command": args.command or f"python -m gan_tf.experiments.{config['flags']['dataset']} (defaults)",
        "flags": config["flags"],
        "data": config["data"],
        "machine": {"cpu_count": os.cpu_count(), "processor": cpu_model(), "gpu": None},
        "versions": config["versions"],
        "epochs": len(completed),
        "steps": epochs[-1]["step"],
        "stopped": config.get("stopped"),  # where --time_budget stopped the run, if it did
        "wall_seconds": args.wall_seconds,
        "peak_rss_mb": args.peak_rss_mb,
        # A budget-stopped run's last record counts its training time, including the part epoch.
        "training_seconds": epochs[-1].get("training_seconds") or sum(e["seconds"] for e in completed),
        "median_ms_per_step": statistics.median(e["ms_per_step"] for e in completed),
        "median_images_per_second": statistics.median(e["images_per_second"] for e in completed),
        "final": {k: epochs[-1][k] for k in FINAL_KEYS[config["flags"].get("model", "gan")] if k in epochs[-1]},
        "evaluation": evaluation,
    }
    os.makedirs(args.dest, exist_ok=True)
    with open(os.path.join(args.dest, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    shutil.copy(os.path.join(args.run_dir, "samples", "final.png"), os.path.join(args.dest, "final.png"))
    if evaluation:
        shutil.copy(eval_path, os.path.join(args.dest, "eval.json"))
    rows = [
        ("command", results["command"]),
        ("CPU", f"{results['machine']['processor']}, {os.cpu_count()} cores"),
        ("data", f"{config['data']['source']}: {config['data']['num_examples']} images"),
        ("epochs / steps", f"{results['epochs']} / {results['steps']}"),
        ("wall time of the command", f"{args.wall_seconds:.0f} s" if args.wall_seconds else "not measured"),
        ("training time", f"{results['training_seconds']:.0f} s"
         + (f" (stopped by --time_budget at step {results['steps']})" if results["stopped"] else "")),
        (f"median ms/step (batch {config['flags']['batch_size']})", f"{results['median_ms_per_step']:.1f}"),
        ("median images/s", f"{results['median_images_per_second']:.0f}"),
        ("peak memory (RSS)", f"{args.peak_rss_mb:.0f} MB" if args.peak_rss_mb else "not measured"),
    ]
    rows += [(f"held-out {name[len('val_'):].upper()} (last epoch)", f"{results['final'][name]:.4g}")
             for name in ("val_psnr", "val_ssim") if name in results["final"]]
    rows += [(name, f"{value:.4g} (real-data floor {evaluation['real_data_floor'][name]:.4g})")
             for name, value in evaluation.get("metrics", {}).items()]
    table = "| quantity | value |\n|---|---|\n" + "\n".join(f"| {a} | {b} |" for a, b in rows)
    with open(os.path.join(args.dest, "results.md"), "w") as f:
        f.write(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
