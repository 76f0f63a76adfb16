"""Keras callback that evaluates the generator every few epochs during `fit`.

Following the keras-io GAN examples, the expensive metrics stay out of
`train_step`: every `every` epochs (and after the last one) the callback draws
`num_samples` images from `model.generate`, scores them with an `Evaluator`,
and puts each metric into the epoch's `logs` (callbacks after it, such as
`ModelCheckpoint(monitor="fd_mnist_classifier")`, `EarlyStopping` and the
metrics.jsonl writer, see them) and into TensorBoard as `eval/<metric>` in
`<run_dir>/logs/eval`. Beside them it writes the class coverage of the same samples by each
classifier of the data set's own classes (`gan_tf.metrics.nearest.class_coverage`, as
`evaluate --nearest` records it in eval.json): scalars `coverage/largest_class_share_<extractor>`,
`coverage/smallest_class_share_<extractor>`, `coverage/missing_classes_<extractor>`, and the
histogram of the samples' classes, `coverage/classes_<extractor>`.
"""
import os
import time

import keras
import tensorflow as tf
from absl import logging

from gan_tf.metrics.evaluation import MIN_SAMPLES, Evaluator
from gan_tf.metrics.nearest import class_coverage


class EvaluationCallback(keras.callbacks.Callback):
    """Evaluates generated samples every `every` epochs and at the last epoch.

    Args:
      dataset: `gan_tf.data` name of the training data ("mnist", "fashion_mnist", ...).
      every: evaluate after every `every`-th epoch (and after the last).
      num_samples: generated images per evaluation; 10,000 as usual for FID.
      run_dir: run directory; TensorBoard scalars go to `<run_dir>/logs/eval`
        (None: logs only).
      data_source, data_dir: the real data, as for `gan_tf.data.load`.
      batch_size: images per generator and extractor call.
      inception_weights: InceptionV3 weights path; None uses Inception when its
        weights are cached or downloadable, False never.
      seed: seed of the latent noise (the same at every evaluation) and subsets.
      cache_dir: reference-statistics cache (default `$GAN_TF_CACHE` or
        `~/.cache/gan_tf`).
      verbose: progress bars during extraction.
      evaluator: a ready `Evaluator` (tests); the data arguments are then unused.
      image_size, channels: the shape the real images are loaded at (a run's
        `--image_size`, `--channels`); None: the shape of the model's generator
        output, so that real and generated images are compared at one shape.

    Example:
      >>> gan.fit(batches, epochs=20, callbacks=[
      ...     EvaluationCallback("mnist", every=5, run_dir="runs/mnist"),
      ...     keras.callbacks.EarlyStopping(monitor="fd_mnist_classifier", mode="min")])
    """

    def __init__(self, dataset, every, num_samples=10000, run_dir=None, data_source="auto",
                 data_dir=None, batch_size=500, inception_weights=None, seed=0,
                 cache_dir=None, verbose=1, evaluator=None, image_size=None, channels=None):
        super().__init__()
        if int(every) < 1:
            raise ValueError(f"every={every}: expected a number of epochs >= 1.")
        if int(num_samples) < MIN_SAMPLES:
            raise ValueError(f"num_samples={num_samples}: expected at least {MIN_SAMPLES} images.")
        self.dataset = dataset
        self.every = int(every)
        self.num_samples = int(num_samples)
        self.run_dir = run_dir
        self.seed = seed
        self._evaluator_args = dict(
            data_source=data_source, data_dir=data_dir, inception_weights=inception_weights,
            cache_dir=cache_dir, batch_size=batch_size, seed=seed, verbose=bool(verbose))
        self.image_size = image_size
        self.channels = channels
        self.evaluator = evaluator
        self._writer = None
        self.last_results = {}
        self.last_coverage = {}  # extractor name -> class_coverage of the last evaluated samples

    def on_train_begin(self, logs=None):
        # Reference statistics up front: a data or weights problem shows before
        # the first epoch, not after it.
        if self.evaluator is None:
            image_size, channels = self.image_size, self.channels
            if image_size is None and channels is None:
                image_size, channels = _generated_shape(self.model)
            self.evaluator = Evaluator(self.dataset, image_size=image_size, channels=channels,
                                       **self._evaluator_args)
        self.evaluator.prepare()

    def _due(self, epoch):
        last = self.params.get("epochs") if self.params else None
        return (epoch + 1) % self.every == 0 or (last is not None and epoch + 1 == last)

    def _step(self, epoch):
        # The training step, as the other scalar loggers use; else the epoch count.
        for name in ("g_optimizer", "optimizer"):
            optimizer = getattr(self.model, name, None)
            if optimizer is not None and hasattr(optimizer, "iterations"):
                return int(optimizer.iterations.numpy())
        return epoch + 1

    def on_epoch_end(self, epoch, logs=None):
        if not self._due(epoch):
            return
        if self.evaluator is None:
            self.on_train_begin()
        started = time.perf_counter()
        logging.info("Evaluating %d samples after epoch %d.", self.num_samples, epoch + 1)
        results = self.evaluator.evaluate_generator(self.model, self.num_samples)
        seconds = time.perf_counter() - started
        # The values themselves go into the epoch's logs, which the progress display prints
        # (and metrics.jsonl and TensorBoard record): printed here too, they showed twice.
        logging.info("Evaluation after epoch %d took %.1f s.", epoch + 1, seconds)
        self.last_results = dict(results)
        self.last_coverage = self._coverage()
        if logs is not None:
            logs.update({name: float(value) for name, value in results.items()})
        if self.run_dir is not None:
            self._write_summaries(results, self._step(epoch))

    def _coverage(self):
        """Class coverage of the evaluated samples under each extractor that classifies the data
        set's own classes (not Inception: its classes are ImageNet's)."""
        return {name: class_coverage(fake.probabilities)
                for name, fake in self.evaluator.last_fake.items()
                if name != "inception" and fake.probabilities is not None and len(fake.probabilities)}

    def _write_summaries(self, results, step):
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(
                os.path.join(self.run_dir, "logs", "eval"))
        with self._writer.as_default():
            for name, value in results.items():
                tf.summary.scalar(f"eval/{name}", float(value), step=step)
            for name, coverage in self.last_coverage.items():
                tf.summary.scalar(f"coverage/largest_class_share_{name}", coverage["largest_share"], step=step)
                tf.summary.scalar(f"coverage/smallest_class_share_{name}", coverage["smallest_share"], step=step)
                tf.summary.scalar(f"coverage/missing_classes_{name}", len(coverage["missing_classes"]), step=step)
                classes = [c for c, count in enumerate(coverage["counts"]) for _ in range(count)]
                tf.summary.histogram(f"coverage/classes_{name}", classes, step=step,
                                     buckets=len(coverage["counts"]))
        self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def _generated_shape(model):
    """((height, width), channels) of `model.generator`'s images, or (None, None) if unknown."""
    try:
        height, width, channels = model.generator.output_shape[1:]
    except (AttributeError, ValueError, TypeError):
        return None, None
    if None in (height, width, channels):
        return None, None
    return (int(height), int(width)), int(channels)
