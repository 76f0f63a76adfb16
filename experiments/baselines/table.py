"""Builds the GAN-against-VAE table of experiments/baselines/results.md from the recorded files.

    python experiments/baselines/table.py            # prints the Markdown table

Reads, for each data set (mnist, fashion_mnist):
  GAN, the default recipe's 10-minute record:  experiments/recipes/<data set>_default_10min/eval.json, results.json
  VAE, this folder's 10-minute record:         experiments/baselines/vae_<data set>_10min/eval.json, results.json
  VAE, that run continued to 5 epochs (Fashion-MNIST only; a row when present):
                                               experiments/baselines/vae_<data set>_5epochs/eval.json, results.json
eval.json is what `python -m gan_tf.evaluate --run_dir RUN` wrote (10,000 samples, the shipped classifier's
features); results.json is what `python experiments/record_run.py` wrote (steps, speed, the VAE's last held-out
PSNR/SSIM). When the GAN records are made again with a new default recipe, rerun this script.
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
EXPERIMENTS = os.path.dirname(HERE)
DATASETS = ("mnist", "fashion_mnist")
# The records compared: (label, directory of eval.json and results.json per data set, required).
RECORDS = (
    ("GAN (default recipe), 10 min", lambda dataset: os.path.join(EXPERIMENTS, "recipes", f"{dataset}_default_10min"),
     True),
    ("VAE, 10 min", lambda dataset: os.path.join(HERE, f"vae_{dataset}_10min"), True),
    ("VAE, same run continued to 5 epochs", lambda dataset: os.path.join(HERE, f"vae_{dataset}_5epochs"), False),
)
# Columns: (heading, metric name without the "_<dataset>_classifier" suffix).
METRICS = (("FD", "fd"), ("KID", "kid"), ("IS", "is"), ("precision", "precision"), ("recall", "recall"))


def _read(directory, name):
    path = os.path.join(directory, name)
    if not os.path.isfile(path):
        raise SystemExit(f"{path} is missing: record that run first (see experiments/baselines/results.md).")
    with open(path) as f:
        return json.load(f)


def _number(value, digits=3):
    return "–" if value is None else f"{value:.{digits}g}"


def rows(dataset):
    """The table rows of one data set: each model's record, then the real-data floor."""
    suffix = f"_{dataset}_classifier"
    found = []
    floor = None
    for label, directory, required in RECORDS:
        if not required and not os.path.isdir(directory(dataset)):
            continue
        evaluation = _read(directory(dataset), "eval.json")
        results = _read(directory(dataset), "results.json")
        metrics = evaluation["metrics"]
        final = results.get("final", {})
        found.append([dataset, label] + [_number(metrics[f"{name}{suffix}"]) for _, name in METRICS] + [
            str(results["steps"]), f"{results['median_images_per_second']:.0f}",
            _number(final.get("val_psnr")), _number(final.get("val_ssim"))])
        floor = floor or evaluation["real_data_floor"]
    found.append([dataset, "real-data floor (held-out images)"]
                 + [_number(floor[f"{name}{suffix}"]) for _, name in METRICS] + ["", "", "", ""])
    return found


def table():
    header = ["data set", "model"] + [heading for heading, _ in METRICS] + [
        "steps", "images/s", "held-out PSNR (dB)", "held-out SSIM"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for dataset in DATASETS:
        lines += ["| " + " | ".join(row) + " |" for row in rows(dataset)]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(table())
