"""Trains the MNIST or Fashion-MNIST feature classifier and writes its weights.

    python -m gan_tf.metrics.train_classifier --dataset fashion_mnist
    python -m gan_tf.metrics.train_classifier --dataset mnist

Writes `gan_tf/metrics/weights/<dataset>_classifier.weights.h5` (or `--out_dir`)
and `<dataset>_classifier.json` with the held-out accuracy on the test split,
the data source used, the command, the seed and the library versions. The run
is seeded and uses TensorFlow's deterministic ops, so the same command on the
same machine and library versions gives the same weights.

The test split is used once, for the recorded accuracy; nothing is tuned on it.
"""
import json
import os
import platform
import sys
import time

from absl import app, flags, logging

FLAGS = flags.FLAGS


def define_flags():
    """Defines the command's flags; called only when run as a program, so that importing
    this module (tests, notebooks, other commands) defines no global flags."""
    flags.DEFINE_enum("dataset", None, ["mnist", "fashion_mnist"], "Data set to train on.")
    flags.DEFINE_integer("epochs", None, "Training epochs (default: 8 for fashion_mnist, 30 for "
                         "the 4,500 MNIST digits available offline).", lower_bound=1)
    flags.DEFINE_integer("shift", None, "Random shifts of up to this many pixels as augmentation "
                         "(default: 2 for mnist, whose offline subset is small; 0 for fashion_mnist).",
                         lower_bound=0)
    flags.DEFINE_integer("batch_size", 128, "Batch size.", lower_bound=1)
    flags.DEFINE_float("learning_rate", 2e-3, "Adam's initial learning rate (cosine decay to 0).",
                       lower_bound=0.0)
    flags.DEFINE_integer("seed", 0, "Seed of weights, dropout and shuffling.")
    flags.DEFINE_string("data_source", "auto", "gan_tf.data source ('auto' or a named source).")
    flags.DEFINE_string("data_dir", None, "Folder with the data set's files (optional).")
    flags.DEFINE_string("out_dir", None, "Where to write the weights and JSON "
                        "(default: the package's gan_tf/metrics/weights).")
    flags.mark_flag_as_required("dataset")


# Chosen once by validation on a held-out part of the training split, never on test.
DEFAULTS = {
    "mnist": {"epochs": 30, "shift": 2},
    "fashion_mnist": {"epochs": 8, "shift": 0},
}


def load_arrays(dataset, split, data_source="auto", data_dir=None):
    """(images float32 (n, 28, 28, 1) in [-1, 1], int labels (n,), DataInfo)."""
    import numpy as np

    from gan_tf import data as gan_data

    ds, info = gan_data.load(dataset, split=split, source=data_source, data_dir=data_dir,
                             with_labels=True, return_info=True)
    images, labels = [], []
    for image_batch, label_batch in ds.batch(4096).as_numpy_iterator():
        images.append(image_batch)
        labels.append(label_batch)
    return np.concatenate(images), np.concatenate(labels).astype(np.int32), info


def training_batches(images, labels, batch_size, epochs, shift, seed):
    """Seeded tf.data pipeline: reshuffled every epoch, optionally randomly shifted."""
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices((images, labels))
    ds = ds.shuffle(len(images), seed=seed, reshuffle_each_iteration=True).repeat(epochs)
    if shift:
        # One stateless seed per example: the same run always sees the same shifts.
        seeds = tf.data.Dataset.random(seed=seed).batch(2)

        def shifted(example, crop_seed):
            image, label = example
            padded = tf.pad(image, [[shift, shift], [shift, shift], [0, 0]], constant_values=-1.0)
            return tf.image.stateless_random_crop(padded, tf.shape(image), seed=crop_seed), label

        ds = tf.data.Dataset.zip((ds, seeds)).map(shifted)
    return ds.batch(batch_size).prefetch(2)


def train(dataset, epochs=None, batch_size=128, learning_rate=2e-3, seed=0, data_source="auto",
          data_dir=None, out_dir=None, shift=None, command=None, verbose=2):
    """Trains the classifier, evaluates it on the test split, writes weights and record.

    Args:
      dataset: "mnist" or "fashion_mnist".
      epochs, shift: default from `DEFAULTS[dataset]`.
      batch_size, learning_rate, seed: training settings.
      data_source, data_dir: passed to `gan_tf.data.load`.
      out_dir: where to write (default: the package's weights folder).
      command: the command line to record.
      verbose: Keras fit verbosity.

    Returns:
      The record dict written to `<dataset>_classifier.json`.
    """
    import keras
    import tensorflow as tf

    from gan_tf.metrics import classifier as classifier_lib

    epochs = epochs or DEFAULTS[dataset]["epochs"]
    shift = DEFAULTS[dataset]["shift"] if shift is None else shift
    keras.utils.set_random_seed(seed)
    try:
        tf.config.experimental.enable_op_determinism()
    except RuntimeError as error:  # already initialised differently
        logging.warning("Could not enable op determinism: %s", error)

    train_images, train_labels, train_info = load_arrays(dataset, "train", data_source, data_dir)
    test_images, test_labels, test_info = load_arrays(dataset, "test", data_source, data_dir)
    logging.info("Training on %d %s images (%s), testing on %d.", len(train_images), dataset,
                 train_info.source, len(test_images))

    model = classifier_lib.build_classifier(name=f"{dataset}_classifier")
    # Whole batches only: the repeated stream then never runs out before the last step.
    steps_per_epoch = len(train_images) // batch_size
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, epochs * steps_per_epoch)
    model.compile(optimizer=keras.optimizers.Adam(schedule),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    started = time.perf_counter()
    model.fit(training_batches(train_images, train_labels, batch_size, epochs, shift, seed),
              epochs=epochs, steps_per_epoch=steps_per_epoch, verbose=verbose)
    seconds = time.perf_counter() - started
    train_accuracy = classifier_lib.accuracy(model, train_images, train_labels)
    test_accuracy = classifier_lib.accuracy(model, test_images, test_labels)
    logging.info("%s classifier: test accuracy %.4f, train accuracy %.4f, %.0f s.", dataset,
                 test_accuracy, train_accuracy, seconds)

    out_dir = out_dir or classifier_lib.WEIGHTS_DIR
    os.makedirs(out_dir, exist_ok=True)
    weights_file = os.path.join(out_dir, f"{dataset}_classifier.weights.h5")
    # A fresh, uncompiled copy: saving the trained model would also store Adam's
    # two slots per weight and triple the file.
    inference_model = classifier_lib.build_classifier(name=f"{dataset}_classifier")
    inference_model.set_weights(model.get_weights())
    inference_model.save_weights(weights_file)
    record = {
        "dataset": dataset,
        "weights_file": os.path.basename(weights_file),
        "weights_sha256": classifier_lib.file_sha256(weights_file),
        "weights_bytes": os.path.getsize(weights_file),
        "num_parameters": int(model.count_params()),
        "test_accuracy": round(test_accuracy, 4),
        "train_accuracy": round(train_accuracy, 4),
        "num_train": int(len(train_images)),
        "num_test": int(len(test_images)),
        "data_source": train_info.source,
        "data_note": train_info.note,
        "test_data_note": test_info.note,
        "epochs": epochs,
        "shift_pixels": shift,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "seed": seed,
        "training_seconds": round(seconds, 1),
        "command": command or f"python -m gan_tf.metrics.train_classifier --dataset {dataset}",
        "versions": {
            "python": platform.python_version(),
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
        },
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
    }
    with open(os.path.join(out_dir, f"{dataset}_classifier.json"), "w") as f:
        json.dump(record, f, indent=2)
        f.write("\n")
    return record


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    record = train(
        FLAGS.dataset, epochs=FLAGS.epochs, batch_size=FLAGS.batch_size,
        learning_rate=FLAGS.learning_rate, seed=FLAGS.seed, data_source=FLAGS.data_source,
        data_dir=FLAGS.data_dir, out_dir=FLAGS.out_dir, shift=FLAGS.shift,
        command="python -m gan_tf.metrics.train_classifier " + " ".join(sys.argv[1:]))
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    define_flags()
    app.run(main)
