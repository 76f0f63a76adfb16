"""Evaluates a trained run: generated samples against real data, beside the real-data floor.

    python -m gan_tf.evaluate --run_dir runs/mnist
    python -m gan_tf.evaluate --run_dir runs/mnist --checkpoint runs/mnist/checkpoints/ckpt-000059.npz \
        --num_samples 10000 --inception_weights ~/inception_v3_weights_tf_dim_ordering_tf_kernels.h5

Restores the generator from the run directory, scores `--num_samples` generated
images with the data set's classifier (and InceptionV3 when its weights are
given or cached), scores held-out real images (the test split) the same way as
the floor, prints a table and writes `<run_dir>/eval.json`.
"""
import json
import os
import platform
import sys
import time

from absl import app, flags

FLAGS = flags.FLAGS


def define_flags():
    """Defines the command's flags; called only when run as a program, so that importing
    this module (tests, notebooks, other commands) defines no global flags."""
    flags.DEFINE_string("run_dir", None, "Run directory written by a training run (has config.json).")
    flags.DEFINE_string("checkpoint", None, "Checkpoint to evaluate (default: the newest in the run).")
    flags.DEFINE_integer("num_samples", 10000, "Generated images to score.", lower_bound=10)
    flags.DEFINE_string("inception_weights", None,
                        "InceptionV3 ImageNet weights file (with top). Default: use the Keras cache "
                        "or a download when possible, else skip the Inception metrics.")
    flags.DEFINE_boolean("inception", True, "Compute the Inception metrics when weights are available.")
    flags.DEFINE_integer("batch_size", 500, "Images per generator/extractor call.", lower_bound=1)
    flags.DEFINE_integer("seed", 0, "Seed of the latent noise and of the metric subsets.")
    flags.DEFINE_string("data_source", None, "Real-data source (default: the one the run used).")
    flags.DEFINE_string("data_dir", None, "Real-data folder (default: the run's --data_dir).")
    flags.DEFINE_string("cache_dir", None, "Reference-statistics cache "
                        "(default: $GAN_TF_CACHE or ~/.cache/gan_tf).")
    flags.DEFINE_string("output", None, "Where to write the JSON (default: <run_dir>/eval.json).")
    flags.mark_flag_as_required("run_dir")


class EvaluateError(ValueError):
    """A problem with the run directory or the evaluation arguments."""


def _restore_gan(run_dir, checkpoint):
    from gan_tf.experiments.runner import restore_gan  # imports TensorFlow: only once needed

    return restore_gan(run_dir, checkpoint=checkpoint)


def check_run_dir(run_dir):
    """Raises `EvaluateError` unless `run_dir` looks like a training run's directory."""
    if not run_dir or not os.path.isdir(run_dir):
        raise EvaluateError(f"--run_dir={run_dir!r} is not a directory; expected the --out_dir "
                            "of a training run, e.g. runs/mnist.")
    if not os.path.isfile(os.path.join(run_dir, "config.json")):
        raise EvaluateError(f"--run_dir={run_dir!r} has no config.json; expected the --out_dir "
                            "of a training run, e.g. runs/mnist.")


def format_table(metrics, floor, num_samples, floor_samples, matched=None):
    """Markdown table: metric, generated value(s), real-data floor.

    `matched` (metrics of `floor_samples` generated images) adds a column when
    the floor had fewer images than the evaluation.
    """
    header = f"| metric | generated ({num_samples} samples) |"
    if matched:
        header += f" generated ({floor_samples} samples) |"
    header += f" real-data floor ({floor_samples} test images) |"
    lines = [header, "|---" * header.count(" |") + "|"]
    for name, value in metrics.items():
        row = f"| {name} | {value:.4g} |"
        if matched:
            row += f" {matched[name]:.4g} |"
        lines.append(row + f" {floor.get(name, float('nan')):.4g} |")
    return "\n".join(lines)


def evaluate(run_dir, checkpoint=None, num_samples=10000, inception_weights=None,
             inception=True, batch_size=500, seed=0, data_source=None, data_dir=None,
             cache_dir=None, output=None, verbose=True):
    """Evaluates a run; returns the record also written to `eval.json`.

    Args:
      run_dir: the training run's `--out_dir`.
      checkpoint: checkpoint path, or None for the newest.
      num_samples: generated images to score.
      inception_weights: InceptionV3 weights path; None: cached or downloadable ones.
      inception: False skips the Inception metrics whatever the weights.
      batch_size, seed, cache_dir: see `gan_tf.metrics.Evaluator`.
      data_source, data_dir: the real data; default the run's.
      output: JSON path; default `<run_dir>/eval.json`.
      verbose: progress bars.
    """
    check_run_dir(run_dir)  # before the TensorFlow imports: a typo fails at once
    from gan_tf.metrics.evaluation import Evaluator, implausible_scores

    started = time.perf_counter()
    try:
        gan, config = _restore_gan(run_dir, checkpoint)
    except Exception as error:  # noqa: BLE001 - any failure here is about the run directory
        raise EvaluateError(
            f"--run_dir={run_dir!r}"
            + (f" --checkpoint={checkpoint!r}" if checkpoint else "")
            + f": could not restore the generator ({type(error).__name__}: {error})."
        ) from error
    dataset = config["dataset"]
    data_source = data_source or config.get("data_source_used") or config.get("data_source", "auto")
    data_dir = data_dir or config.get("data_dir") or None
    evaluator = Evaluator(
        dataset, data_source=data_source, data_dir=data_dir,
        inception_weights=inception_weights if inception else False, cache_dir=cache_dir,
        batch_size=batch_size, seed=seed, verbose=verbose,
        # Real images at the run's shape, as training loaded them (0 = the dataset's own).
        image_size=config.get("image_size") or None, channels=config.get("channels") or None)
    metrics = evaluator.evaluate_generator(gan, num_samples)
    floor, floor_samples = evaluator.floor(num_samples)
    # Fewer held-out images than samples (offline MNIST: 500): also score as
    # many generated images as the floor had, so the two columns compare.
    matched = evaluator.evaluate_last_subset(floor_samples) if floor_samples < num_samples else None
    warnings = implausible_scores(metrics, floor)
    seconds = time.perf_counter() - started

    import keras
    import tensorflow as tf

    record = {
        "run_dir": os.path.abspath(run_dir),
        "checkpoint": checkpoint or "latest",
        "dataset": dataset,
        "data_source": data_source,
        "num_samples": num_samples,
        "floor_num_test_images": floor_samples,
        "seed": seed,
        "metrics": metrics,
        "real_data_floor": floor,
        "metrics_at_floor_num_samples": matched,
        "extractors": {
            e.name: {"weights_sha256": e.weights_hash,
                     "weights_file": os.path.basename(e.weights_file)}
            for e in evaluator.extractors},
        "reference": evaluator.reference_info,
        "inception_skipped": evaluator.inception_skipped,
        "warnings": warnings,
        "seconds": round(seconds, 1),
        "versions": {"python": platform.python_version(), "tensorflow": tf.__version__,
                     "keras": keras.__version__},
    }
    output = output or os.path.join(run_dir, "eval.json")
    tmp = output + ".tmp"
    with open(tmp, "w") as f:
        json.dump(record, f, indent=2)
        f.write("\n")
    os.replace(tmp, output)
    record["table"] = format_table(metrics, floor, num_samples, floor_samples, matched)
    record["output"] = output
    return record


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    try:
        record = evaluate(
            FLAGS.run_dir, checkpoint=FLAGS.checkpoint, num_samples=FLAGS.num_samples,
            inception_weights=FLAGS.inception_weights, inception=FLAGS.inception,
            batch_size=FLAGS.batch_size, seed=FLAGS.seed, data_source=FLAGS.data_source,
            data_dir=FLAGS.data_dir, cache_dir=FLAGS.cache_dir, output=FLAGS.output)
    except (ValueError, OSError) as error:
        # User-fixable problems (bad --run_dir, missing weights, data): message, no traceback.
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(record["table"])
    for warning in record["warnings"]:
        print(f"\nwarning: {warning}")
    if record["inception_skipped"]:
        print(f"\nInception metrics skipped: {record['inception_skipped']}")
    print(f"\nWrote {record['output']} ({record['seconds']:.0f} s).")
    return 0


if __name__ == "__main__":
    define_flags()
    app.run(main)
