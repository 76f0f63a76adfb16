"""`--time_budget`: training time kept across kills and reruns, and a stop at a step once it is spent.

Training time is the time spent inside `fit` (the first step's tracing included, the set-up
before it and the checkpoint writes after a stop not). It is carried from run to run in
each checkpoint's `__meta__`, so the time before a kill counts up to the last checkpoint
(the steps after it are redone, and counted again when they are). The clock is read once
when training starts and once after every step, nowhere else, so a test can drive it.
"""
import math
import time

import keras
import numpy as np

from gan_tf.callbacks import training_step

# Read through the module at each call, so that a test can replace it by a fake clock.
clock = time.monotonic


class BudgetReached(Exception):
    """Raised from inside `fit` when the budget is spent in the middle of an epoch.

    A mid-epoch stop cannot go through Keras's `on_epoch_end`: every callback there would
    take the part of an epoch for a whole one (and the checkpoint would mark it done).

    Attributes:
      epoch: epochs completed.
      steps_into_epoch: steps done of the next epoch (>= 1).
      logs: the running epoch means of the logged values at the stop.
      training_seconds: training time spent by the run.
    """

    def __init__(self, epoch, steps_into_epoch, logs, training_seconds):
        super().__init__(f"time budget spent after {epoch} epochs and {steps_into_epoch} steps")
        self.epoch = epoch
        self.steps_into_epoch = steps_into_epoch
        self.logs = logs
        self.training_seconds = training_seconds


def epoch_record(model, epoch_number, logs):
    """The `metrics.jsonl` record of one epoch (as `callbacks.MetricsJsonl` writes it)."""
    record = {"epoch": int(epoch_number), "step": training_step(model)}
    for key, value in (logs or {}).items():
        value = float(np.ravel(value)[0])
        record[key] = value if math.isfinite(value) else str(value)
    return record


class TrainingClock(keras.callbacks.Callback):
    """Counts training time, stops at the step where `budget_seconds` is spent, feeds checkpoints.

    Place it right before the `Checkpoint` callback: at an epoch's end it hands the manager
    the time spent and the epoch's full record (after every other callback added to the logs).

    Args:
      budget_seconds: training time after which to stop; 0 = no budget (time is still counted).
      spent_seconds: training time of the run before this process (from the checkpoint).
      steps_per_epoch: steps of a full epoch.
      manager: the run's `CheckpointManager` (its next save gets the time and the record).
      start: `(epoch, steps_into_epoch)` where this process starts training.
      start_record: the metrics record of a mid-epoch stop being resumed: its running means
        seed the epoch's trackers, so that the epoch's line averages all its steps.
    """

    def __init__(self, budget_seconds, spent_seconds, steps_per_epoch, manager, start=(0, 0), start_record=None):
        super().__init__()
        self.budget_seconds = float(budget_seconds)
        self.spent_seconds = float(spent_seconds)
        self.steps_per_epoch = int(steps_per_epoch)
        self.manager = manager
        self._resume = start
        self._start_record = start_record or {}
        self.stopped_at = None  # (epochs done, steps into the next) once the budget stopped training

    def spent(self):
        """True when a budget is set and spent."""
        return self.budget_seconds > 0 and self.spent_seconds >= self.budget_seconds

    def on_train_begin(self, logs=None):
        self._base = self.spent_seconds
        self._started = clock()

    def on_epoch_begin(self, epoch, logs=None):
        resume_epoch, resume_step = self._resume
        self._epoch = epoch
        self._steps_into = resume_step if epoch == resume_epoch else 0
        if epoch == resume_epoch and resume_step:
            self._seed_trackers(resume_step)
        self._resume = (None, 0)

    def _seed_trackers(self, steps):
        # Keras resets the trackers just before on_epoch_begin; a Mean holds (total, count).
        for name, tracker in getattr(self.model, "trackers", {}).items():
            mean = self._start_record.get(name)
            if isinstance(mean, float) and hasattr(tracker, "total") and hasattr(tracker, "count"):
                try:
                    tracker.total.assign(mean * steps)
                    tracker.count.assign(float(steps))
                except (ValueError, NotImplementedError):  # e.g. a sum-aggregated replica variable
                    tracker.reset_state()

    def on_train_batch_end(self, batch, logs=None):
        self._steps_into += 1
        self.spent_seconds = self._base + (clock() - self._started)
        if not self.spent():
            return
        if self._steps_into >= self.steps_per_epoch:  # the epoch is complete: let it end normally
            self.stopped_at = (self._epoch + 1, 0)
            self.model.stop_training = True
            return
        self.stopped_at = (self._epoch, self._steps_into)
        raise BudgetReached(self._epoch, self._steps_into, self._epoch_means(logs), self.spent_seconds)

    def _epoch_means(self, logs):
        """The step's logs, what the model tracks replaced by its running epoch means.

        Keras hands `on_train_batch_end` what `train_step` returned, the GAN's values of that
        one step, and `on_epoch_end` its trackers' means: the record of a part epoch must hold
        the means too, since a resumed run seeds the trackers with them (`_seed_trackers`).
        """
        logs = dict(logs or {})
        for name, tracker in getattr(self.model, "trackers", {}).items():
            if name in logs:
                logs[name] = tracker.result()
        return logs

    def on_epoch_end(self, epoch, logs=None):
        self.manager.pending_meta = {
            "training_seconds": self.spent_seconds,
            "record": epoch_record(self.model, epoch + 1, logs),
        }
