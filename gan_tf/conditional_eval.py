"""How well a conditional run draws what it is asked for, measured by a classifier.

    python -m gan_tf.conditional_eval --run_dir runs/mnist_projection
    python -m gan_tf.conditional_eval --run_dir runs/text_to_image_mnist --samples_per_class 500 --grid prompts.png

For every class, `--samples_per_class` images are generated for that class (class runs:
the label; text runs: the class's captions in turn, once with the training phrasings
and once with the held-out phrasings never seen in training) and scored by the data
set's shipped classifier (`gan_tf.metrics.ClassifierExtractor`):

  accuracy              fraction of images the classifier assigns to the class asked
                        for: per class, overall, per caption (text runs);
  fd_<dataset>_classifier  Fréchet distance (Heusel et al. 2017) per class between
                        generated images and the real training images of that class,
                        on the classifier's 64 penultimate features (not an Inception FID);
  real floor            the same classifier on real test images: its accuracy per
                        class, and the per-class Fréchet distance of real test images
                        to real training images (with so few test images per class it
                        is itself biased upwards: read it with its sample count).

Writes `<run_dir>/conditional_eval.json` (or `--output`) and, with `--grid`, a picture of
prompts (or labels) beside their images.
"""
import json
import os
import sys
import time

import numpy as np
from absl import flags

from gan_tf import cli, cpu

# Its own flag set, not absl's global FLAGS (as gan_tf.generate): importing this module defines
# no global flags, and `main` can parse several times.
FLAGS = flags.FlagValues()
flags.DEFINE_string("run_dir", None, "A class-conditional or text-to-image run directory.", flag_values=FLAGS)
flags.DEFINE_integer("samples_per_class", 500, "Images generated per class.", lower_bound=1, flag_values=FLAGS)
flags.DEFINE_integer("seed", 0, "Seed of the noise and caption draws.", flag_values=FLAGS)
flags.DEFINE_integer("batch_size", 500, "Images per generator/classifier call.", lower_bound=1, flag_values=FLAGS)
flags.DEFINE_string("classifier_weights", None, "Classifier weights (default: the shipped ones).", flag_values=FLAGS)
flags.DEFINE_string("grid", None, "PNG file: prompts (or labels) beside their images.", flag_values=FLAGS)
flags.DEFINE_integer("grid_columns", 8, "Images per prompt (or label) in --grid.", lower_bound=1, flag_values=FLAGS)
flags.DEFINE_string("output", None, "JSON file (default: <run_dir>/conditional_eval.json).", flag_values=FLAGS)
flags.DEFINE_string("checkpoint", None, "Checkpoint file (default: the newest).", flag_values=FLAGS)
flags.mark_flag_as_required("run_dir", flag_values=FLAGS)

PROGRAM = "python -m gan_tf.conditional_eval"


ConditionalEvalError = cli.CommandError  # this module's name for it (e.g. the run is unconditional)


def class_accuracy(probabilities, asked, num_classes):
    """Classifier accuracy on generated images, overall and per class asked for.

    Args:
      probabilities: (n, num_classes) classifier probabilities of generated images.
      asked: (n,) the classes the images were generated for.
      num_classes: number of classes.

    Returns:
      dict with "accuracy" (overall, float), "per_class" (list; None for a class with no
      images) and "count" (images per class).
    """
    probabilities, asked = np.asarray(probabilities), np.asarray(asked)
    if probabilities.ndim != 2 or len(probabilities) != len(asked):
        raise ValueError(f"probabilities {probabilities.shape} and asked {asked.shape}: expected (n, k) and (n,).")
    correct = np.argmax(probabilities, axis=1) == asked
    per_class = [float(correct[asked == c].mean()) if np.any(asked == c) else None for c in range(num_classes)]
    counts = [int(np.sum(asked == c)) for c in range(num_classes)]
    return {"accuracy": float(correct.mean()), "per_class": per_class, "count": counts}


def _frechet(features_a, features_b):
    from gan_tf.metrics import feature_statistics, frechet_distance

    return frechet_distance(*feature_statistics(features_a), *feature_statistics(features_b))


def _load_arrays(dataset, split, source, data_dir):
    from gan_tf import data as gan_data

    ds = gan_data.load(dataset, split=split, source=source, data_dir=data_dir, with_labels=True)
    images, labels = [], []
    for image_batch, label_batch in ds.batch(4096).as_numpy_iterator():
        images.append(image_batch)
        labels.append(label_batch)
    return np.concatenate(images), np.concatenate(labels).astype(np.int32)


def _extract(extractor, images, batch_size):
    features, probabilities = [], []
    for start in range(0, len(images), batch_size):
        f, p = extractor(images[start : start + batch_size])
        features.append(f)
        probabilities.append(p)
    return np.concatenate(features), np.concatenate(probabilities)


def _generate_class(gan, label, n, seed, batch_size, captions=None):
    """n images of class `label`: from the label, or from `captions` in turn."""
    if captions is None:
        return gan.generate(n, seed=seed, labels=label, batch_size=batch_size).numpy()
    prompts = [captions[i % len(captions)] for i in range(n)]
    return gan.generate(n, seed=seed, prompts=prompts, batch_size=batch_size).numpy()


def _score(gan, extractor, conditioning, n, seed, batch_size, real_features, real_labels, captions=None):
    """Accuracy and per-class Fréchet distance of images generated per class."""
    classes = conditioning.num_classes
    features, probabilities, asked, per_caption = [], [], [], {}
    for label in range(classes):
        class_captions = None if captions is None else list(captions[label])
        images = _generate_class(gan, label, n, seed + label, batch_size, class_captions)
        f, p = _extract(extractor, images, batch_size)
        features.append(f)
        probabilities.append(p)
        asked.append(np.full(n, label, np.int32))
        if class_captions:
            hits = np.argmax(p, axis=1) == label
            for i, caption in enumerate(class_captions[:n]):  # captions in turn: i, i + P, ...
                per_caption[caption] = float(hits[i :: len(class_captions)].mean())
    result = class_accuracy(np.concatenate(probabilities), np.concatenate(asked), classes)
    result["fd_per_class"] = [
        _frechet(features[c], real_features[real_labels == c]) for c in range(classes)
    ]
    result["fd_mean"] = float(np.mean(result["fd_per_class"]))
    if per_caption:
        result["per_caption"] = per_caption
    return result


def save_prompt_grid(rows, path, title=None):
    """Writes a picture of prompts beside their images.

    Args:
      rows: list of (text, images) with images (k, H, W, C) in [-1, 1], the same k for every row.
      path: PNG file.
      title: optional title above the picture.
    """
    from gan_tf import viz

    columns = len(rows[0][1])
    height, width = rows[0][1].shape[1:3]
    grid = viz.image_grid(np.concatenate([images for _, images in rows]), columns=columns)
    scale = 0.012  # inches per pixel: 28-pixel images come out about 34 pixels tall at dpi 100
    text_width = 3.2
    # Its own figure and Agg canvas, not pyplot: `matplotlib.use` would switch a notebook's
    # inline backend off, and a pyplot figure would stay open in the notebook.
    figure = viz.new_figure(text_width + grid.shape[1] * scale, grid.shape[0] * scale + (0.4 if title else 0.1))
    axis = figure.add_axes([text_width / figure.get_figwidth(), 0.0, 1 - text_width / figure.get_figwidth(),
                            grid.shape[0] * scale / figure.get_figheight()])
    axis.imshow(grid[..., 0] if grid.shape[-1] == 1 else grid, cmap="gray", vmin=0, vmax=255,
                interpolation="nearest")
    axis.set_xticks([])
    axis.set_yticks([(i + 0.5) * height for i in range(len(rows))])
    axis.set_yticklabels([text for text, _ in rows], fontsize=8)
    axis.tick_params(length=0)
    for spine in axis.spines.values():
        spine.set_visible(False)
    if title:
        figure.suptitle(title, fontsize=9, y=1 - 0.15 / figure.get_figheight())
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    figure.savefig(path, dpi=100)
    return path


def _grid_rows(gan, conditioning, class_names, columns, seed):
    """(text, images) rows: per class, a training and a held-out caption (text) or the label.

    Class c shows phrasing number c of each list, so the rows go through the phrasings.
    """
    rows = []
    for label in range(conditioning.num_classes):
        if conditioning.kind == "text":
            train, held_out_captions = conditioning.captions.train[label], conditioning.captions.held_out[label]
            for caption, held_out in ((train[label % len(train)], False),
                                      (held_out_captions[label % len(held_out_captions)], True)):
                images = gan.generate(columns, seed=seed, prompts=caption).numpy()
                rows.append((f"{caption!r}" + (" (held out)" if held_out else ""), images))
        else:
            images = gan.generate(columns, seed=seed, labels=label).numpy()
            rows.append((f"label {label} ({class_names[label]})", images))
    return rows


def evaluate_conditional(run_dir, samples_per_class=500, seed=0, batch_size=500, classifier_weights=None,
                         grid=None, grid_columns=8, output=None, checkpoint=None, verbose=True):
    """Scores a conditional run; returns the record also written as JSON.

    Args:
      run_dir: the training run's --out_dir (class-conditional or text).
      samples_per_class: generated images per class (and per phrasing set, for text runs).
      seed: seed of the noise (class c uses seed + c).
      batch_size: images per generator / classifier call.
      classifier_weights: a `.weights.h5` file; None for the shipped classifier.
      grid: PNG path for the picture of prompts and images, or None.
      grid_columns: images per prompt in the grid.
      output: JSON path (default `<run_dir>/conditional_eval.json`).
      checkpoint: checkpoint file (default: the newest).
      verbose: print a summary.
    """
    from gan_tf.generate import read_run

    record = read_run(run_dir)
    flags = record["flags"]
    if flags.get("conditional", "none") == "none":
        raise ConditionalEvalError(
            f"--run_dir={run_dir!r} is unconditional (trained without --conditional): expected a "
            "class-conditional or text-to-image run; use `python -m gan_tf.evaluate` for unconditional runs."
        )
    if int(samples_per_class) < 2:
        raise ConditionalEvalError(f"--samples_per_class={samples_per_class}: expected at least 2.")
    started = time.perf_counter()
    from gan_tf.experiments.runner import restore_gan
    from gan_tf.metrics import ClassifierExtractor
    from gan_tf.text import DATASETS as CAPTIONED
    from gan_tf.text import caption_set

    dataset = flags["dataset"]
    extractor = ClassifierExtractor(dataset, classifier_weights)
    gan, run_flags = restore_gan(run_dir, checkpoint=checkpoint)
    conditioning = gan.conditioning
    source, data_dir = run_flags["data_source_used"], run_flags.get("data_dir") or None
    train_images, train_labels = _load_arrays(dataset, "train", source, data_dir)
    test_images, test_labels = _load_arrays(dataset, "test", source, data_dir)
    train_features, _ = _extract(extractor, train_images, batch_size)
    test_features, test_probabilities = _extract(extractor, test_images, batch_size)
    classes = conditioning.num_classes

    result = {
        "run_dir": run_dir,
        "dataset": dataset,
        "conditional": flags["conditional"],
        "text": bool(flags.get("text")),
        "checkpoint": run_flags["checkpoint_used"],
        "generator_steps": int(gan.g_optimizer.iterations.numpy()),  # of the restored checkpoint
        "samples_per_class": int(samples_per_class),
        "seed": seed,
        "classifier": {"name": extractor.name, "weights_sha256": extractor.weights_hash},
        "reference": f"real {dataset} train split, source {source!r}: {len(train_images)} images",
        "real_floor": {
            **class_accuracy(test_probabilities, test_labels, classes),
            "fd_per_class": [_frechet(test_features[test_labels == c], train_features[train_labels == c])
                             for c in range(classes)],
            "note": "real test images scored the same way (fd: test vs train images of the class)",
        },
    }
    score = lambda captions=None: _score(  # noqa: E731
        gan, extractor, conditioning, int(samples_per_class), seed, batch_size, train_features, train_labels, captions)
    if conditioning.kind == "text":
        result["train_phrasings"] = score(conditioning.captions.train)
        result["held_out_phrasings"] = score(conditioning.captions.held_out)
    else:
        result["labels"] = score()
    result["seconds"] = time.perf_counter() - started
    result["onednn"] = cpu.onednn_record()

    if grid:
        names = caption_set(dataset).class_names if dataset in CAPTIONED else [str(c) for c in range(classes)]
        rows = _grid_rows(gan, conditioning, names, grid_columns, seed)
        title = f"{os.path.basename(os.path.normpath(run_dir))}, generator step {result['generator_steps']}"
        save_prompt_grid(rows, grid, title=title)
        result["grid"] = grid
    output = output or os.path.join(run_dir, "conditional_eval.json")
    with open(output, "w") as f:
        json.dump(result, f, indent=1)
    if verbose:
        print(format_summary(result))
        print(f"Wrote {output}" + (f" and {grid}" if grid else "") + ".")
    return result


def format_summary(result):
    """A Markdown table of accuracy and Fréchet distance per class."""
    columns = [("labels", "labels")] if "labels" in result else [
        ("train_phrasings", "training phrasings"), ("held_out_phrasings", "held-out phrasings")]
    header = "| class | " + " | ".join(f"accuracy, {name}" for _, name in columns)
    header += " | classifier on real test | fd, generated | fd, real test |"
    lines = [header, "|" + "---|" * (header.count("|") - 1)]
    floor = result["real_floor"]
    first = result[columns[0][0]]
    for c in range(len(floor["per_class"])):
        cells = [f"{result[key]['per_class'][c]:.3f}" for key, _ in columns]
        lines.append(f"| {c} | " + " | ".join(cells) + f" | {floor['per_class'][c]:.3f} | "
                     f"{first['fd_per_class'][c]:.2f} | {floor['fd_per_class'][c]:.2f} |")
    cells = [f"**{result[key]['accuracy']:.3f}**" for key, _ in columns]
    lines.append("| all | " + " | ".join(cells) + f" | {floor['accuracy']:.3f} | {first['fd_mean']:.2f} | "
                 f"{float(np.mean(floor['fd_per_class'])):.2f} |")
    return "\n".join(lines)


def usage():
    """The `--help` text: this module's docstring and its flags with their defaults."""
    return cli.usage(__doc__, FLAGS)


def parse(argv):
    """Parses command-line arguments (without the program name); raises `ConditionalEvalError`."""
    return cli.parse(FLAGS, PROGRAM, argv, ConditionalEvalError)


def main(argv=None):
    """Command-line entry point; returns the exit status. `--help` and flag mistakes answer before
    TensorFlow is imported; a user's mistake is one line and exit status 1."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if any(arg in cli.HELP_FLAGS for arg in argv):
        print(usage())
        return 0

    def evaluate():
        args = parse(argv)
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        # TensorFlow reads TF_ENABLE_ONEDNN_OPTS once, when it is imported: choose it as training does.
        cpu.apply_onednn_choice()
        evaluate_conditional(args.run_dir, args.samples_per_class, args.seed, args.batch_size,
                             args.classifier_weights, args.grid, args.grid_columns, args.output, args.checkpoint)

    return cli.exit_status(evaluate)


if __name__ == "__main__":
    sys.exit(main())
