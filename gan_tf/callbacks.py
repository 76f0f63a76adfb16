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


def training_step(model):
    """The training steps a model has taken: its optimizer's iterations (a GAN's `optimizer` is
    its generator's, which steps once per training step; a VAE has one optimizer)."""
    return int(model.optimizer.iterations.numpy())


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
                step = training_step(self.model)
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
                tf.summary.image("samples", grid[None], step=training_step(self.model))
            self.writer.flush()

    def on_train_end(self, logs=None):
        viz.save_image(self._grid(), os.path.join(self.directory, "final.png"))
        viz.run_pictures(self.out_dir)


# Log key -> TensorBoard tag. The part before "/" is the dashboard's section, so related
# scalars sit together; keys not listed go under `loss/` (a *_loss key) or `train/`.
TAGS = {
    "d_loss": "loss/d",
    "g_loss": "loss/g",
    "d_real": "discriminator/real",
    "d_fake": "discriminator/fake",
    "d_wrong": "discriminator/wrong",
    "gradient_penalty": "penalty/gradient_penalty",
    "r1_penalty": "penalty/r1",
    "r2_penalty": "penalty/r2",
    "augment_p": "augment/p",
    "images_per_second": "speed/images_per_second",
    "ms_per_step": "speed/ms_per_step",
    # The VAE's negative-ELBO terms, and those of its held-out reconstructions (`HeldOutEvaluation`).
    "reconstruction": "loss/reconstruction",
    "kl": "loss/kl",
    "val_loss": "held_out/loss",
    "val_reconstruction": "held_out/reconstruction",
    "val_kl": "held_out/kl",
    "val_psnr": "held_out/psnr",
    "val_ssim": "held_out/ssim",
}

# Charts of the Custom Scalars dashboard: title -> tag regex. Scalars that are read
# against each other (D against G, real against fake) share one chart.
CHARTS = (
    ("losses: d and g", r"loss/(d|g)$"),
    ("discriminator output: real and fake", r"discriminator/.*"),
    ("learning rates", r"optimizer/.*_lr$"),
    ("augmentation probability", r"augment/p$"),
    ("VAE: reconstruction and KL (nats per image)", r"(loss|held_out)/(reconstruction|kl)$"),
    ("VAE: held-out PSNR (dB)", r"held_out/psnr$"),
    ("images per second", r"speed/images_per_second$"),
)


def tensorboard_tag(key):
    """The TensorBoard tag of a log key (see `TAGS`)."""
    if key in TAGS:
        return TAGS[key]
    return f"loss/{key[: -len('_loss')]}" if key.endswith("_loss") else f"train/{key}"


def fixed_noise_grid(model, num_images, seed):
    """(images, columns) of the fixed-noise grid; a conditional GAN's has one row per class."""
    if hasattr(model, "sample_grid"):
        images, columns = model.sample_grid(num_images, seed=seed)
        return np.asarray(images), columns
    return np.asarray(model.generate(num_images, seed=seed)), None


def _scalar(value):
    return float(np.ravel(np.asarray(value, dtype=np.float64))[0])


class TensorBoardLogger(keras.callbacks.Callback):
    """TensorBoard record of a GAN run, under `log_dir`:

    - `train/`: the step's scalars every `every_steps` steps (grouped by `tensorboard_tag`:
      `loss/d`, `loss/g`, `discriminator/real`, ...), `optimizer/d_lr`, `optimizer/g_lr`,
      `speed/images_per_second` over the last interval, and the fixed-noise grid
      `samples` every `image_every_steps` steps (0: the `SampleGrid` callback writes it
      once an epoch with this logger's `train_writer`);
    - `epoch/`: the same tags as epoch means, once an epoch (the epoch's speed included);
    - the log directory itself: the run's flags for the HParams dashboard and a
      Custom Scalars layout that puts `loss/d` and `loss/g` on one chart (`CHARTS`).
    Evaluation metrics are written by `gan_tf.metrics.EvaluationCallback` under `eval/`.

    Args:
      log_dir: the run's `logs/` directory.
      hparams: dict of flag values (bool, int, float or str) for the HParams dashboard, or None.
      every_steps: scalars every N training steps (0 = once an epoch only).
      image_every_steps: the sample grid every N steps (0 = not by this callback).
      batch_size: global batch size, for images per second.
      num_images, seed: the fixed-noise grid (as `SampleGrid`'s).
    """

    def __init__(self, log_dir, hparams=None, every_steps=50, image_every_steps=0, batch_size=None,
                 num_images=64, seed=0):
        super().__init__()
        for name, value in (("every_steps", every_steps), ("image_every_steps", image_every_steps)):
            if int(value) != value or value < 0:
                raise ValueError(f"{name}={value!r}: expected an integer >= 0 (0 = off).")
        self.log_dir = log_dir
        # The HParams dashboard takes bool, int, float and str values only.
        self.hparams = {key: value if isinstance(value, (bool, int, float, str)) else str(value)
                        for key, value in (hparams or {}).items()}
        self.every_steps = int(every_steps)
        self.image_every_steps = int(image_every_steps)
        self.batch_size = batch_size
        self.num_images = num_images
        self.seed = seed
        self.train_writer = tf.summary.create_file_writer(os.path.join(log_dir, "train"))
        self._epoch_writer = tf.summary.create_file_writer(os.path.join(log_dir, "epoch"))

    # The optimizers' current values: a schedule or a learning-rate callback may change them.
    def _learning_rates(self):
        rates = {}
        names = ((("optimizer/d_lr", "d_optimizer"), ("optimizer/g_lr", "g_optimizer"))
                 if hasattr(self.model, "g_optimizer") else (("optimizer/lr", "optimizer"),))  # a VAE's one
        for tag, name in names:
            optimizer = getattr(self.model, name, None)
            if optimizer is not None:
                rates[tag] = _scalar(keras.ops.convert_to_numpy(optimizer.learning_rate))
        return rates

    def on_train_begin(self, logs=None):
        self._step = training_step(self.model)
        self._interval_start = None  # set after this session's first step: tracing is not speed
        self._interval_steps = 0
        self._write_run_description()

    def _write_run_description(self):
        from tensorboard.plugins.custom_scalar import layout_pb2
        from tensorboard.plugins.custom_scalar import summary as custom_scalar_summary
        from tensorboard.plugins.hparams import api as hp

        writer = tf.summary.create_file_writer(self.log_dir)
        layout = layout_pb2.Layout(category=[layout_pb2.Category(
            title="GAN",
            chart=[
                layout_pb2.Chart(title=title, multiline=layout_pb2.MultilineChartContent(tag=[regex]))
                for title, regex in CHARTS
            ],
        )])
        with writer.as_default():
            tf.summary.experimental.write_raw_pb(
                custom_scalar_summary.pb(layout).SerializeToString(), step=self._step)
            if self.hparams:
                hp.hparams_config(
                    hparams=[hp.HParam(name) for name in self.hparams],
                    metrics=[hp.Metric(tag, group="epoch", display_name=f"{tag} (epoch mean)")
                             for tag in ("loss/d", "loss/g", "discriminator/real", "discriminator/fake")],
                )
                hp.hparams(self.hparams, trial_id=os.path.basename(os.path.dirname(os.path.abspath(self.log_dir))))
        writer.close()

    def on_train_batch_end(self, batch, logs=None):
        self._step += 1
        self._interval_steps += 1
        if self._interval_start is None:
            self._interval_start, self._interval_steps = time.perf_counter(), 0
        if self.every_steps and self._step % self.every_steps == 0:
            self._write_step_scalars(logs or {})
        if self.image_every_steps and self._step % self.image_every_steps == 0:
            self._write_samples()

    def _write_step_scalars(self, logs):
        with self.train_writer.as_default():
            for key, value in logs.items():
                tf.summary.scalar(tensorboard_tag(key), _scalar(value), step=self._step)
            for tag, rate in self._learning_rates().items():
                tf.summary.scalar(tag, rate, step=self._step)
            seconds = time.perf_counter() - self._interval_start
            if self.batch_size and self._interval_steps and seconds > 0:
                tf.summary.scalar(tensorboard_tag("images_per_second"),
                                  self._interval_steps * self.batch_size / seconds, step=self._step)
        self._interval_start, self._interval_steps = time.perf_counter(), 0
        self.train_writer.flush()

    def _write_samples(self):
        images, columns = fixed_noise_grid(self.model, self.num_images, self.seed)
        with self.train_writer.as_default():
            tf.summary.image("samples", viz.image_grid(images, columns)[None], step=self._step)
        self.train_writer.flush()

    def on_epoch_end(self, epoch, logs=None):
        # Epoch means of what the model tracks, of its held-out evaluation (val_*, a VAE's) and
        # the epoch's speed; evaluation metrics in the same logs are EvaluationCallback's to write.
        tracked = list(getattr(self.model, "trackers", {}))
        keys = tracked + [f"val_{key}" for key in tracked] + ["images_per_second", "ms_per_step"]
        with self._epoch_writer.as_default():
            for key in keys:
                if key in (logs or {}):
                    tf.summary.scalar(tensorboard_tag(key), _scalar(logs[key]), step=self._step)
            for tag, rate in self._learning_rates().items():
                tf.summary.scalar(tag, rate, step=self._step)
        self._epoch_writer.flush()

    def on_train_end(self, logs=None):
        self.train_writer.flush()
        self._epoch_writer.flush()

    def close(self):
        self.train_writer.close()
        self._epoch_writer.close()


class LiveGrid(keras.callbacks.Callback):
    """Shows the newest fixed-noise grid in a notebook, updated in place every epoch.

    Reads `samples/epoch_NNNN.png`, which `SampleGrid` writes earlier in the same callback
    list (the runner puts user callbacks after it), so no extra generator pass is made.
    """

    def __init__(self, run_dir, display_id="gan_tf_live_grid"):
        super().__init__()
        self.directory = os.path.join(run_dir, "samples")
        self.display_id = display_id
        self._handle = None

    def on_epoch_end(self, epoch, logs=None):
        from IPython.display import Image, display

        path = os.path.join(self.directory, f"epoch_{epoch + 1:04d}.png")
        if not os.path.exists(path):
            return
        image = Image(filename=path)
        if self._handle is None:
            self._handle = display(image, display_id=self.display_id)
        else:
            self._handle.update(image)


class MetricsJsonl(keras.callbacks.Callback):
    """Appends one JSON object per epoch (epoch, step and every numeric log) to a file."""

    def __init__(self, path):
        super().__init__()
        self.path = path

    def on_epoch_end(self, epoch, logs=None):
        record = {"epoch": epoch + 1, "step": training_step(self.model)}
        for key, value in (logs or {}).items():
            value = float(np.ravel(value)[0])
            record[key] = value if math.isfinite(value) else str(value)
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")


class HeldOutEvaluation(keras.callbacks.Callback):
    """Adds the model's `evaluate` results on held-out images to each epoch's logs, as `val_<key>`.

    For the VAE: its held-out negative ELBO terms and the PSNR and SSIM of its posterior-mean
    reconstructions (`gan_tf.vae.VAE.test_step`). Evaluating draws no training noise and
    changes no variable, so a run evaluated every epoch trains as one that is not.
    Place it before the writers of the record (`MetricsJsonl`, `TensorBoardLogger`).

    Args:
      images: held-out images [n, H, W, C] in [-1, 1] (an array or tensor).
      batch_size: images per evaluation step.
    """

    def __init__(self, images, batch_size=500):
        super().__init__()
        if not len(images):
            raise ValueError("HeldOutEvaluation needs at least one held-out image.")
        self.images = images
        self.batch_size = int(batch_size)

    def evaluate(self, model):
        """{val_<key>: value} of `model.evaluate` on the held-out images."""
        batches = tf.data.Dataset.from_tensor_slices(self.images).batch(self.batch_size)
        results = model.evaluate(batches, verbose=0, return_dict=True)
        return {f"val_{key}": _scalar(value) for key, value in results.items()}

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs.update(self.evaluate(self.model))


class Checkpoint(keras.callbacks.Callback):
    """Saves a checkpoint at the end of every epoch through a `CheckpointManager`."""

    def __init__(self, manager):
        super().__init__()
        self.manager = manager

    def on_epoch_end(self, epoch, logs=None):
        self.manager.save(epoch + 1)
