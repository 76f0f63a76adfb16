"""Records a finished default MNIST run: time, speed, final grid, evaluation.

    time python -m gan_tf.experiments.mnist --out_dir runs/mnist_default   # the default recipe
    python experiments/mnist_default/record.py --run_dir runs/mnist_default --wall_seconds N

Writes results.json, results.md and final.png beside this script. Speed is the
median over epochs of the per-epoch ms/step and images/s that the run logged
(each epoch timed from the end of its first step, so tracing is not counted).
"""
import argparse
import json
import os
import platform
import shutil
import statistics

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run_dir", required=True)
    parser.add_argument("--wall_seconds", type=float, help="wall time of the whole command, measured with `time`")
    args = parser.parse_args()
    with open(os.path.join(args.run_dir, "config.json")) as f:
        config = json.load(f)
    with open(os.path.join(args.run_dir, "metrics.jsonl")) as f:
        epochs = [json.loads(line) for line in f if line.strip()]
    evaluation = {}
    eval_path = os.path.join(args.run_dir, "eval.json")
    if os.path.exists(eval_path):
        with open(eval_path) as f:
            evaluation = json.load(f)
    results = {
        "command": "python -m gan_tf.experiments.mnist (defaults)",
        "flags": config["flags"],
        "data": config["data"],
        "machine": {"cpu_count": os.cpu_count(), "processor": platform.processor() or platform.machine(),
                    "gpu": None},
        "versions": config["versions"],
        "epochs": len(epochs),
        "steps": epochs[-1]["step"],
        "wall_seconds": args.wall_seconds,
        "training_seconds": sum(e["seconds"] for e in epochs),
        "median_ms_per_step": statistics.median(e["ms_per_step"] for e in epochs),
        "median_images_per_second": statistics.median(e["images_per_second"] for e in epochs),
        "final": {k: epochs[-1][k] for k in ("d_loss", "g_loss", "d_real", "d_fake")},
        "evaluation": evaluation,
    }
    with open(os.path.join(HERE, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    shutil.copy(os.path.join(args.run_dir, "samples", "final.png"), os.path.join(HERE, "final.png"))
    rows = [
        ("data", f"{config['data']['source']}: {config['data']['num_examples']} images"),
        ("epochs / steps", f"{results['epochs']} / {results['steps']}"),
        ("wall time of the command", f"{args.wall_seconds:.0f} s" if args.wall_seconds else "not measured"),
        ("training time (sum of epochs)", f"{results['training_seconds']:.0f} s"),
        ("median ms/step (batch 64)", f"{results['median_ms_per_step']:.1f}"),
        ("median images/s", f"{results['median_images_per_second']:.0f}"),
    ]
    table = "| quantity | value |\n|---|---|\n" + "\n".join(f"| {a} | {b} |" for a, b in rows)
    with open(os.path.join(HERE, "results.md"), "w") as f:
        f.write(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
