"""The terminal during a run: a progress bar with the whole run's ETA, one short line
per epoch (evaluation metrics on a line of their own), and a closing summary."""
import logging
import math
import os
import sys
import time

import keras

# Keys of an epoch's logs that are about speed, not about the model.
SPEED_KEYS = ("seconds", "ms_per_step", "images_per_second")
# Keys that Keras's learning-rate callbacks add to the logs; not evaluation metrics.
OPTIMIZER_KEYS = ("learning_rate", "lr")


def interactive(stream=None):
    """True where a bar redrawn with carriage returns reads well: a terminal or a notebook."""
    stream = stream or sys.stdout
    return "ipykernel" in sys.modules or bool(getattr(stream, "isatty", lambda: False)())


def format_duration(seconds):
    """'1:02:03' for an hour or more, '2:03' for a minute or more, else '45s'."""
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{seconds:02d}"
    return f"{minutes}:{seconds:02d}" if minutes else f"{seconds}s"


def remaining_seconds(steps_done, steps_left, seconds):
    """Time the `steps_left` steps will take at the pace of `steps_done` steps in `seconds`
    (wall time, so evaluation and sample grids between epochs count); None before any step."""
    if steps_done <= 0:
        return None
    return steps_left * seconds / steps_done


def _number(value):
    value = float(value)
    return f"{value:.4g}" if math.isfinite(value) else str(value)


def metrics_line(metrics):
    """'fd_mnist_classifier 23.3  kid_mnist_classifier 0.012±0.001 ...': `<name>_std` joins `<name>`."""
    parts = []
    for key, value in metrics.items():
        if key.endswith("_std") and key[: -len("_std")] in metrics:
            continue
        text = f"{key} {_number(value)}"
        if f"{key}_std" in metrics:
            text += f"±{_number(metrics[key + '_std'])}"
        parts.append(text)
    return "  ".join(parts)


class _ClearBarFilter(logging.Filter):
    """Attached to the logging handlers during training: clears the bar before a log
    line is written, so that the message starts on a clean line (the bar is redrawn
    at the next step)."""

    def __init__(self, progress):
        super().__init__()
        self.progress = progress

    def filter(self, record):
        self.progress.clear()
        return True


class RunProgress(keras.callbacks.Callback):
    """Progress bar with the epoch's and the whole run's ETA, and one line per epoch.

    Stands in for Keras's progress bar (fit with `verbose=0`): Keras's epoch line lists
    every log (a dozen metrics when evaluating) and log messages cut into its bar.

    Args:
      epochs: the run's last epoch; initial_epoch: the epoch this session starts at.
      steps_per_epoch: steps in one epoch.
      bar: draw the bar (off: epoch lines only, for logs written to files).
      stream: where to write (default stdout).
      clock: seconds as a float (tests pass a fake clock).
      redraw_seconds: least time between two bar redraws.
      budget_seconds: training seconds left before a time budget stops the run (None: no budget);
        the run ETA is then the sooner of the budget's end and the last epoch's.
      show_total: print the epoch count ("epoch 3/60"); off when only a budget bounds the run.
    """

    def __init__(self, epochs, initial_epoch, steps_per_epoch, bar=True, stream=None, clock=time.monotonic,
                 redraw_seconds=0.2, width=30, budget_seconds=None, show_total=True):
        super().__init__()
        self.epochs = int(epochs)
        self.budget_seconds = budget_seconds
        self.show_total = show_total
        self._started = None
        self.initial_epoch = int(initial_epoch)
        self.steps_per_epoch = int(steps_per_epoch)
        self.bar = bar
        self.stream = stream or sys.stdout
        self.clock = clock
        self.redraw_seconds = redraw_seconds
        self.width = width
        self._drawn = 0  # characters of the bar now on the line
        self._filters = []

    # ------------------------------------------------------------------ timing
    @property
    def steps_left(self):
        return (self.epochs - self._epoch - 1) * self.steps_per_epoch + self._epoch_length - self._epoch_steps

    def run_eta(self):
        """Seconds until the run's last step, at this session's pace since its first step."""
        if self._first_step_end is None:
            return None
        eta = remaining_seconds(self._steps_done - 1, self.steps_left, self.clock() - self._first_step_end)
        if self.budget_seconds is not None:
            budget_left = max(0.0, self.budget_seconds - (self.clock() - self._started))
            eta = budget_left if eta is None else min(eta, budget_left)
        return eta

    def _epoch_label(self, epoch):
        return f"epoch {epoch + 1}/{self.epochs}" if self.show_total else f"epoch {epoch + 1}"

    # ----------------------------------------------------------------- drawing
    def clear(self):
        if self._drawn:
            self.stream.write("\r" + " " * self._drawn + "\r")
            self.stream.flush()
            self._drawn = 0

    def bar_text(self):
        done = self._epoch_steps / max(self._epoch_length, 1)
        filled = min(self.width, int(done * self.width))
        text = (f"{self._epoch_label(self._epoch)} [{'=' * filled}{'.' * (self.width - filled)}] "
                f"{self._epoch_steps}/{self._epoch_length}")
        eta = self.run_eta()
        if eta is not None:
            text += f"  run ETA {format_duration(eta)}"
        return text

    def _draw(self):
        text = self.bar_text()
        self.stream.write("\r" + text + " " * max(0, self._drawn - len(text)))
        self.stream.flush()
        self._drawn = len(text)
        self._last_draw = self.clock()

    def _print(self, line):
        self.clear()
        self.stream.write(line + "\n")
        self.stream.flush()

    # --------------------------------------------------------------- callbacks
    def on_train_begin(self, logs=None):
        # A run may call fit more than once (a resume inside an epoch first fits the rest of
        # that epoch): the pace is kept across calls, only the epoch state starts afresh.
        if not hasattr(self, "_steps_done"):
            self._first_step_end = None
            self._steps_done = 0
            self._started = self.clock()
        self._epoch = self.initial_epoch
        self._epoch_steps = 0
        self._epoch_length = self.steps_per_epoch
        self._last_draw = -math.inf
        if self.bar:
            # Every handler that may write to the terminal clears the bar first.
            handlers = set(logging.getLogger().handlers)
            try:
                from absl import logging as absl_logging

                handlers.add(absl_logging.get_absl_handler())
            except ImportError:
                pass
            for handler in handlers:
                log_filter = _ClearBarFilter(self)
                handler.addFilter(log_filter)
                self._filters.append((handler, log_filter))

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._epoch_steps = 0
        # fit's own step count: shorter than steps_per_epoch for the rest of a resumed epoch.
        self._epoch_length = int((self.params or {}).get("steps") or self.steps_per_epoch)

    def on_train_batch_end(self, batch, logs=None):
        self._steps_done += 1
        self._epoch_steps += 1
        if self._first_step_end is None:
            self._first_step_end = self.clock()
        if self.bar and (self.clock() - self._last_draw >= self.redraw_seconds
                         or self._epoch_steps == self._epoch_length):
            self._draw()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        # `loss` (d_loss + g_loss, logged for Keras's TerminateOnNaN) is no quantity to read.
        tracked = [key for key in getattr(self.model, "trackers", {}) if key != "loss"] or [
            key for key in logs if key.startswith(("d_", "g_"))]
        line = f"{self._epoch_label(epoch)}  " + "  ".join(
            f"{key} {_number(logs[key])}" for key in tracked if key in logs)
        if "images_per_second" in logs:
            line += f"  {logs['images_per_second']:.0f} img/s"
        if "seconds" in logs:
            line += f"  {format_duration(logs['seconds'])}"
        eta = self.run_eta()
        if eta is not None and epoch + 1 < self.epochs:
            line += f"  run ETA {format_duration(eta)}"
        self._print(line)
        not_metrics = set(tracked) | {"loss"} | set(SPEED_KEYS) | set(OPTIMIZER_KEYS)
        metrics = {key: value for key, value in logs.items() if key not in not_metrics}
        if metrics:
            self._print("  eval  " + metrics_line(metrics))

    def on_train_end(self, logs=None):
        self.clear()
        for handler, log_filter in self._filters:
            handler.removeFilter(log_filter)
        self._filters = []


def run_summary(out_dir, epochs, seconds=None, metrics=None, stopped=None):
    """The closing lines of a run: final metrics, where its pictures and checkpoints are,
    and how to open TensorBoard. Lists only files that exist.

    `stopped`: the runner's record of a time-budget stop (step, epoch, steps_into_epoch), if any.
    """
    took = f" in {format_duration(seconds)}" if seconds is not None else ""
    if stopped:
        lines = [f"Time budget of {stopped['time_budget_minutes']:g} min spent: stopped at step {stopped['step']} "
                 f"(epoch {stopped['epoch'] + 1}){took}: {out_dir}"]
    else:
        lines = [f"Finished {epochs} epoch{'s' if epochs != 1 else ''}{took}: {out_dir}"]
    if metrics:
        lines.append(f"  final metrics: {metrics_line(metrics)}")
    pictures = (
        ("samples", os.path.join("samples", "final.png")),
        ("progress", os.path.join("samples", "progress.gif")),
        ("losses", os.path.join("samples", "losses.png")),
    )
    for label, relative in pictures:
        path = os.path.join(out_dir, relative)
        if os.path.exists(path):
            lines.append(f"  {label + ':':<13}{path}")
    directory = os.path.join(out_dir, "checkpoints")
    from gan_tf.checkpoints import list_checkpoints  # in training order: ckpt-000073+000009 after ckpt-000073

    saved = list_checkpoints(directory) if os.path.isdir(directory) else []
    if saved:
        newest = os.path.basename(saved[-1][1])
        lines.append(f"  {'checkpoints:':<13}{directory}{os.sep} (newest {newest}; rerun the command to resume)")
    lines.append(f"  {'TensorBoard:':<13}tensorboard --logdir {os.path.join(out_dir, 'logs')}")
    return "\n".join(lines)
