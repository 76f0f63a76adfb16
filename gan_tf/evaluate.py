"""Evaluates a trained run: generated samples against real data, beside the real-data floor.

    python -m gan_tf.evaluate --run_dir runs/mnist
    python -m gan_tf.evaluate --run_dir runs/mnist --checkpoint runs/mnist/checkpoints/ckpt-000059.npz \
        --num_samples 10000 --inception_weights ~/inception_v3_weights_tf_dim_ordering_tf_kernels.h5

Restores the generator from the run directory, scores `--num_samples` generated
images with the data set's classifier (and InceptionV3 when its weights are
given or cached), scores held-out real images (the test split) the same way as
the floor, prints a table and writes `<run_dir>/eval.json`.

    python -m gan_tf.evaluate --run_dir runs/mnist --nearest --nearest_samples 1000

`--nearest` asks instead whether the generator copies its training set and draws
every class: for `--nearest_samples` generated images it finds the nearest training
images in pixel space and in the classifier's feature space, writes a picture of
samples beside their neighbours (`<run_dir>/samples/nearest.png`), the memorisation
score (the share of samples closer to the training set than 95% of held-out real
images are: ~0.05 for a generator that does not copy, up to 1.0 for one that does;
see `gan_tf.metrics.nearest`) and the classifier's class histogram of the samples,
under "nearest" in `<run_dir>/eval.json` (its other entries are kept; a later evaluation
of the same checkpoint keeps it in turn).

A VAE run (trained by the `vae` experiment, see docs/vae.md) is scored the same way, on the
images its decoder draws from z ~ N(0, I).
"""
import json
import os
import platform
import time

from absl import app, flags

from gan_tf import cli, cpu

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
    flags.DEFINE_string("output", None, "Where to write the JSON (default: <run_dir>/eval.json; with --raw "
                        "<run_dir>/eval_raw.json).")
    flags.DEFINE_boolean("raw", False, "Score the raw generator instead of the EMA generator (runs with "
                         "--ema_kimg > 0 have both; others have only the raw one).")
    flags.DEFINE_boolean("nearest", False, "Instead of the metrics: nearest training images of generated "
                         "samples, the memorisation score and the class coverage (see above).")
    flags.DEFINE_integer("nearest_samples", 1000, "--nearest: generated images (and at most as many "
                         "held-out real images as the reference).", lower_bound=10)
    flags.DEFINE_integer("nearest_k", 3, "--nearest: neighbours shown per sample.", lower_bound=1)
    flags.DEFINE_integer("nearest_rows", 8, "--nearest: samples in the picture (those nearest to "
                         "the training set).", lower_bound=1)
    flags.DEFINE_string("nearest_picture", None, "--nearest: PNG file (default: "
                        "<run_dir>/samples/nearest.png).")
    flags.mark_flag_as_required("run_dir")


EvaluateError = cli.CommandError  # this module's name for it (a bad request, or not a run directory)


def _restore_gan(run_dir, checkpoint):
    from gan_tf.experiments.runner import restore_gan  # imports TensorFlow: only once needed

    return restore_gan(run_dir, checkpoint=checkpoint)


def check_run_dir(run_dir):
    """Raises `EvaluateError` unless `run_dir` looks like a training run's directory."""
    from gan_tf.experiments import run_record

    run_record.config_path(run_dir)


def _restore_checked(run_dir, checkpoint):
    try:
        return _restore_gan(run_dir, checkpoint)
    except Exception as error:  # noqa: BLE001 - any failure here is about the run directory
        raise EvaluateError(
            f"--run_dir={run_dir!r}"
            + (f" --checkpoint={checkpoint!r}" if checkpoint else "")
            + f": could not restore the generator ({type(error).__name__}: {error})."
        ) from error


def _restore_with_data(run_dir, checkpoint, data_source, data_dir):
    """(gan, the run's flags, data source, data folder): the given data, else the run's own."""
    gan, config = _restore_checked(run_dir, checkpoint)
    data_source = data_source or config.get("data_source_used") or config.get("data_source", "auto")
    return gan, config, data_source, data_dir or config.get("data_dir") or None


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
             cache_dir=None, output=None, verbose=True, raw=False):
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
      raw: score the raw generator, not the EMA generator (default output `eval_raw.json`).
    """
    check_run_dir(run_dir)  # before the TensorFlow imports: a typo fails at once
    cli.check_raw(run_dir, raw)
    model = cli.run_model(run_dir)
    if output is not None and not os.path.isdir(os.path.dirname(os.path.abspath(output))):
        raise EvaluateError(f"--output={output!r}: the directory {os.path.dirname(os.path.abspath(output))!r} "
                            "does not exist (checked before computing anything).")
    from gan_tf.metrics.evaluation import Evaluator, implausible_scores

    started = time.perf_counter()
    gan, config, data_source, data_dir = _restore_with_data(run_dir, checkpoint, data_source, data_dir)
    dataset = config["dataset"]
    evaluator = Evaluator(
        dataset, data_source=data_source, data_dir=data_dir,
        inception_weights=inception_weights if inception else False, cache_dir=cache_dir,
        batch_size=batch_size, seed=seed, verbose=verbose,
        # Real images at the run's shape, as training loaded them (0 = the dataset's own).
        image_size=config.get("image_size") or None, channels=config.get("channels") or None)
    metrics = evaluator.evaluate_generator(gan, num_samples, use_ema=not raw)
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
        "checkpoint": config["checkpoint_used"],  # the file scored, the newest readable one by default
        "dataset": dataset,
        "data_source": data_source,
        "num_samples": num_samples,
        "model": model,
        "generator": ("decoder" if model == "vae" else
                      "ema" if getattr(gan, "ema_generator", None) is not None and not raw else "raw"),
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
        "onednn": cpu.onednn_record(),
    }
    output = output or os.path.join(run_dir, "eval_raw.json" if raw else "eval.json")
    nearest = _nearest_of(output, record["checkpoint"])
    if nearest is not None:
        record["nearest"] = nearest
    from gan_tf import atomic

    atomic.write_json(output, record)
    record["table"] = format_table(metrics, floor, num_samples, floor_samples, matched)
    record["output"] = output
    return record


def _load_images(dataset, split, config, data_source, data_dir):
    """A real split as one float32 array (n, H, W, C) in [-1, 1], shaped like the run's images."""
    import numpy as np

    from gan_tf import data as gan_data

    ds = gan_data.load(dataset, split=split, source=data_source, data_dir=data_dir,
                       image_size=config.get("image_size") or None, channels=config.get("channels") or None)
    return np.concatenate(list(ds.batch(4096).as_numpy_iterator()))


def _batched_features(extractor, images, batch_size):
    import numpy as np

    parts = [extractor(images[i : i + batch_size]) for i in range(0, len(images), batch_size)]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def save_nearest_picture(samples, neighbours, path, headings):
    """Writes samples beside their neighbours: row i = sample i, then each group's images.

    Args:
      samples: (r, H, W, C) images in [-1, 1].
      neighbours: list of (r, k, H, W, C) arrays, one per group (pixel space, features, ...).
      path: PNG file.
      headings: one heading per column group: the samples', then each group's.
    """
    import numpy as np

    from gan_tf import viz

    rows, height, width = samples.shape[:3]
    groups = [samples[:, None]] + list(neighbours)
    columns = sum(g.shape[1] for g in groups)
    tiles = np.concatenate(groups, axis=1).reshape((rows * columns,) + samples.shape[1:])
    gap = viz.RUN_GRID_GAP
    upscale = 2 if height <= 32 else 1
    grid = viz.image_grid(tiles, columns, gap=gap, upscale=upscale)
    scale = 0.01  # inches per pixel at dpi 100
    figure = viz.new_figure(grid.shape[1] * scale, grid.shape[0] * scale + 0.35)
    axis = figure.add_axes([0, 0, 1, grid.shape[0] * scale / figure.get_figheight()])
    axis.imshow(grid[..., 0] if grid.shape[-1] == 1 else grid, cmap="gray", vmin=0, vmax=255,
                interpolation="nearest")
    axis.set_axis_off()
    tile = width * upscale + gap
    left = 0
    for group, heading in zip(groups, headings):
        centre = (left + group.shape[1] * tile / 2) / grid.shape[1]
        figure.text(centre, 1 - 0.04 / figure.get_figheight(), heading, ha="center", va="top", fontsize=7)
        left += group.shape[1] * tile
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    figure.savefig(path, dpi=100)
    return path


def _nearest_of(path, checkpoint):
    """The `--nearest` entry of the record at `path` if it describes `checkpoint`, else None.

    Scoring a checkpoint again rewrites the record but keeps this entry; one of another
    checkpoint would no longer describe the samples scored, and goes.
    """
    try:
        with open(path) as f:
            previous = json.load(f)
    except (OSError, ValueError):
        return None
    nearest = previous.get("nearest") if isinstance(previous, dict) else None
    return nearest if isinstance(nearest, dict) and nearest.get("checkpoint") == checkpoint else None


def evaluate_nearest(run_dir, checkpoint=None, num_samples=1000, k=3, rows=8, batch_size=500, seed=0,
                     data_source=None, data_dir=None, output=None, picture=None, verbose=True):
    """Memorisation and class coverage of a run; returns the record stored under "nearest" in eval.json.

    For `num_samples` generated images (the EMA generator's, when the run has one) and
    as many held-out real images (the test split; fewer if it is smaller), finds the
    nearest training images in pixel space and, for data sets with a shipped
    classifier, in its feature space; scores memorisation against the held-out images
    (`gan_tf.metrics.nearest.memorisation_score`) and counts the samples' classes.

    Args:
      run_dir, checkpoint, batch_size, seed, data_source, data_dir: as for `evaluate`.
      num_samples: generated images (and at most as many held-out ones).
      k: neighbours per sample in the picture.
      rows: samples in the picture: those nearest to the training set in pixel space.
      output: JSON path; default `<run_dir>/eval.json` (other entries kept).
      picture: PNG path; default `<run_dir>/samples/nearest.png`.
      verbose: print progress lines.
    """
    check_run_dir(run_dir)
    if int(num_samples) < 10 or int(k) < 1 or int(rows) < 1:
        raise EvaluateError(f"num_samples={num_samples}, k={k}, rows={rows}: expected num_samples >= 10, "
                            "k >= 1 and rows >= 1.")
    import numpy as np

    from gan_tf.metrics import classifier as classifier_lib
    from gan_tf.metrics import nearest

    started = time.perf_counter()
    gan, config, data_source, data_dir = _restore_with_data(run_dir, checkpoint, data_source, data_dir)
    dataset = config["dataset"]
    train = _load_images(dataset, "train", config, data_source, data_dir)
    held_out = _load_images(dataset, "test", config, data_source, data_dir)
    held_out = held_out[np.random.default_rng(seed).permutation(len(held_out))[:num_samples]]
    samples = np.asarray(gan.generate(num_samples, seed=seed, batch_size=batch_size), np.float32)
    if samples.shape[1:] != train.shape[1:]:
        raise EvaluateError(f"generated images of shape {samples.shape[1:]}, training images of shape "
                            f"{train.shape[1:]}: expected the run's data (--data_source, --data_dir).")
    if verbose:
        print(f"Nearest neighbours of {len(samples)} samples and {len(held_out)} held-out images "
              f"among {len(train)} training images ...")
    k = min(int(k), len(train))
    spaces = {"pixels": (samples, held_out, train)}
    coverage = None
    if dataset in classifier_lib.CLASSIFIER_DATASETS:
        extractor = classifier_lib.ClassifierExtractor(dataset)
        sample_features, sample_probabilities = _batched_features(extractor, samples, batch_size)
        held_out_features, held_out_probabilities = _batched_features(extractor, held_out, batch_size)
        train_features, _ = _batched_features(extractor, train, batch_size)
        spaces[extractor.name] = (sample_features, held_out_features, train_features)
        coverage = {"extractor": extractor.name,
                    "generated": nearest.class_coverage(sample_probabilities),
                    "held_out_real": nearest.class_coverage(held_out_probabilities)}
    record = {"checkpoint": config["checkpoint_used"], "num_samples": int(len(samples)),
              "num_held_out": int(len(held_out)), "num_train": int(len(train)), "seed": int(seed),
              "data_source": data_source,
              "memorisation": {}, "nearest_distance_median": {}}
    neighbours = {}
    for space, (sample_vectors, held_out_vectors, train_vectors) in spaces.items():
        distances, indices = nearest.nearest_neighbours(sample_vectors, train_vectors, k=k)
        held_out_distances, _ = nearest.nearest_neighbours(held_out_vectors, train_vectors, k=1)
        record["memorisation"][space] = nearest.memorisation_score(distances[:, 0], held_out_distances[:, 0])
        record["nearest_distance_median"][space] = {"generated": float(np.median(distances[:, 0])),
                                                    "held_out_real": float(np.median(held_out_distances))}
        neighbours[space] = (distances, indices)
    record["class_coverage"] = coverage

    picture = picture or os.path.join(run_dir, "samples", "nearest.png")
    shown = np.argsort(neighbours["pixels"][0][:, 0], kind="stable")[: int(rows)]
    groups = [train[neighbours[space][1][shown]] for space in spaces]
    headings = ["sample"] + [f"nearest in\n{'pixels' if space == 'pixels' else 'features'}" for space in spaces]
    save_nearest_picture(samples[shown], groups, picture, headings)
    record["picture"] = picture
    record["picture_layout"] = (f"rows: the {len(shown)} samples nearest to the training set in pixel space; "
                                f"columns: the sample, then its {k} nearest training images in each of "
                                f"{', '.join(spaces)}")
    record["seconds"] = round(time.perf_counter() - started, 1)

    output = output or os.path.join(run_dir, "eval.json")
    previous = {}
    if os.path.isfile(output):
        with open(output) as f:
            previous = json.load(f)
    from gan_tf import atomic

    atomic.write_json(output, {**previous, "nearest": record})
    record["output"] = output
    return record


def format_nearest(record):
    """A short Markdown summary of `evaluate_nearest`'s record."""
    lines = ["| space | memorisation score | median nearest distance: generated | held-out real |",
             "|---|---|---|---|"]
    for space, score in record["memorisation"].items():
        median = record["nearest_distance_median"][space]
        lines.append(f"| {space} | {score['score']:.3f} | {median['generated']:.4g} | {median['held_out_real']:.4g} |")
    lines.append(f"\nMemorisation score: share of samples closer to their nearest training image than "
                 f"{100 - next(iter(record['memorisation'].values()))['percentile']:.0f}% of held-out real "
                 "images are (held-out real images: ~0.05; copies: 1.0).")
    coverage = record["class_coverage"]
    if coverage:
        generated = coverage["generated"]
        lines.append(f"Class coverage ({coverage['extractor']}): largest class share "
                     f"{generated['largest_share']:.3f}, smallest {generated['smallest_share']:.3f} "
                     f"(held-out real: {coverage['held_out_real']['largest_share']:.3f} / "
                     f"{coverage['held_out_real']['smallest_share']:.3f})"
                     + (f"; classes never drawn: {generated['missing_classes']}" if generated["missing_classes"]
                        else "") + ".")
    return "\n".join(lines)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    # TensorFlow reads TF_ENABLE_ONEDNN_OPTS once, when it is imported: choose it as training does.
    cpu.apply_onednn_choice()
    # User-fixable problems (bad --run_dir, missing weights, data): message, no traceback.
    return cli.exit_status(_nearest if FLAGS.nearest else _evaluate)


def _nearest():
    record = evaluate_nearest(
        FLAGS.run_dir, checkpoint=FLAGS.checkpoint, num_samples=FLAGS.nearest_samples,
        k=FLAGS.nearest_k, rows=FLAGS.nearest_rows, batch_size=FLAGS.batch_size, seed=FLAGS.seed,
        data_source=FLAGS.data_source, data_dir=FLAGS.data_dir, output=FLAGS.output,
        picture=FLAGS.nearest_picture)
    print(format_nearest(record))
    print(f"\nWrote {record['picture']} and {record['output']} ({record['seconds']:.0f} s).")


def _evaluate():
    record = evaluate(
        FLAGS.run_dir, checkpoint=FLAGS.checkpoint, num_samples=FLAGS.num_samples,
        inception_weights=FLAGS.inception_weights, inception=FLAGS.inception,
        batch_size=FLAGS.batch_size, seed=FLAGS.seed, data_source=FLAGS.data_source,
        data_dir=FLAGS.data_dir, cache_dir=FLAGS.cache_dir, output=FLAGS.output, raw=FLAGS.raw)
    print(record["table"])
    for warning in record["warnings"]:
        print(f"\nwarning: {warning}")
    if record["inception_skipped"]:
        print(f"\nInception metrics skipped: {record['inception_skipped']}")
    print(f"\nWrote {record['output']} ({record['seconds']:.0f} s).")


if __name__ == "__main__":
    define_flags()
    app.run(main)
