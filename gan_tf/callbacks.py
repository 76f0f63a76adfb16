"""Keras callbacks that leave a run's record: throughput, samples, scalars, JSONL,
checkpoints, and a guard that stops on a non-finite loss.

They share one `logs` dict per epoch and run in list order, so `Throughput` (and the
evaluation callback) must come before the writers that record what they add.
"""
import json
import math
import os
import time

import keras
import numpy as np
import tensorflow as tf

from gan_tf import viz


class NonFiniteLossError(RuntimeError):
    """A loss or penalty became NaN or infinite."""


class NonFiniteGuard(keras.callbacks.Callback):
    """Stops training at the first step whose logged losses are not finite.

    Keras's `TerminateOnNaN` only watches `logs["loss"]`, which a GAN does not log.
    Raising (rather than setting `stop_training`) keeps the epoch-end checkpoint of
    a poisoned model from being written.
    """

    def on_train_batch_end(self, batch, logs=None):
        for key, value in (logs or {}).items():
            value = np.asarray(value, dtype=np.float64)
            if not np.all(np.isfinite(value)):
                step = int(self.model.g_optimizer.iterations.numpy())
                raise NonFiniteLossError(
                    f"{key} is {value.ravel()[0]} at training step {step}; training stopped and "
                    "no checkpoint was written for it. Try a lower learning rate or another loss."
                )


class Throughput(keras.callbacks.Callback):
    """Adds `seconds` (wall time), `ms_per_step` and `images_per_second` to each epoch's logs.

    Speed is timed from the end of an epoch's first step, so that tracing and
    compilation in the first step do not count as training speed.
    """

    def __init__(self, batch_size):
        super().__init__()
        self.batch_size = batch_size

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()
        self._steps = 0

    def on_train_batch_end(self, batch, logs=None):
        self._steps += 1
        if self._steps == 1:
            self._first_step_end = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        now = time.perf_counter()
        logs["seconds"] = now - self._start
        if self._steps > 1:
            timed, steps = now - self._first_step_end, self._steps - 1
        else:
            timed, steps = now - self._start, max(self._steps, 1)
        logs["ms_per_step"] = 1000.0 * timed / steps
        logs["images_per_second"] = steps * self.batch_size / timed


class SampleGrid(keras.callbacks.Callback):
    """Saves a grid of images from fixed noise every epoch, as PNG and TensorBoard image,
    and the run's pictures at the end of training.

    Args:
      out_dir: the run directory (writes `samples/epoch_NNNN.png`, `samples/final.png`,
        and at the end `samples/progress.gif` and `samples/losses.png`, see
        `gan_tf.viz.run_pictures`).
      writer: a `tf.summary` writer for the `samples` image, or None.
      num_images: images in the grid.
      seed: seed of the fixed noise, so that grids of different epochs are comparable.
      gap: pixels between the grid's tiles.
      upscale: nearest-neighbour enlargement of each tile (2 or 3 for 28×28 images).
    """

    def __init__(self, out_dir, writer=None, num_images=64, seed=0, gap=viz.RUN_GRID_GAP, upscale=1):
        super().__init__()
        self.out_dir = out_dir
        self.directory = os.path.join(out_dir, "samples")
        self.writer = writer
        self.num_images = num_images
        self.seed = seed
        self.gap = gap
        self.upscale = upscale

    def _grid(self):
        """The uint8 grid picture: a conditional GAN's grid has one row per class."""
        if hasattr(self.model, "sample_grid"):
            images, columns = self.model.sample_grid(self.num_images, seed=self.seed)
            images = images.numpy()
        else:
            images, columns = self.model.generate(self.num_images, seed=self.seed).numpy(), None
        return viz.image_grid(images, columns, gap=self.gap, upscale=self.upscale)

    def on_epoch_end(self, epoch, logs=None):
        grid = self._grid()
        viz.save_image(grid, os.path.join(self.directory, f"epoch_{epoch + 1:04d}.png"))
        if self.writer is not None:
            with self.writer.as_default():
                tf.summary.image("samples", grid[None], step=int(self.model.g_optimizer.iterations.numpy()))
            self.writer.flush()

    def on_train_end(self, logs=None):
        viz.save_image(self._grid(), os.path.join(self.directory, "final.png"))
        viz.run_pictures(self.out_dir)


class ScalarLogger(keras.callbacks.Callback):
    """Writes chosen per-epoch logs as TensorBoard scalars under their own names."""

    def __init__(self, writer, keys):
        super().__init__()
        self.writer = writer
        self.keys = tuple(keys)

    def on_epoch_end(self, epoch, logs=None):
        step = int(self.model.g_optimizer.iterations.numpy())
        with self.writer.as_default():
            for key in self.keys:
                if key in logs:
                    tf.summary.scalar(key, float(np.ravel(logs[key])[0]), step=step)
        self.writer.flush()


class MetricsJsonl(keras.callbacks.Callback):
    """Appends one JSON object per epoch (epoch, step and every numeric log) to a file."""

    def __init__(self, path):
        super().__init__()
        self.path = path

    def on_epoch_end(self, epoch, logs=None):
        record = {"epoch": epoch + 1, "step": int(self.model.g_optimizer.iterations.numpy())}
        for key, value in (logs or {}).items():
            value = float(np.ravel(value)[0])
            record[key] = value if math.isfinite(value) else str(value)
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")


class Checkpoint(keras.callbacks.Callback):
    """Saves a checkpoint at the end of every epoch through a `CheckpointManager`."""

    def __init__(self, manager):
        super().__init__()
        self.manager = manager

    def on_epoch_end(self, epoch, logs=None):
        self.manager.save(epoch + 1)
