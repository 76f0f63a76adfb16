"""Checkpoints that make a resumed run continue exactly as an uninterrupted one.

A checkpoint is one `.npz` file holding every variable that training changes: both
networks (BatchNorm statistics and dropout seed states included), the noise seed
state and both optimizers (slots and iteration counts). Keras's own savers leave out
the `seed_generator_state` variables, after which a resumed run draws other noise.

Files are written to a temporary name, flushed and renamed, so a crash mid-write
never leaves a file that looks complete; nothing is unpickled on load.
"""
import glob
import os
import re

import numpy as np
from absl import logging

_NAME = re.compile(r"^ckpt-(\d{6})\.npz$")


class CheckpointError(RuntimeError):
    """No usable checkpoint although the directory holds checkpoint files."""


def _groups(gan):
    """Named, ordered lists of the variables a checkpoint holds.

    The EMA generator and the adaptive augmentation's state are groups only when the
    GAN has them, so checkpoints of GANs without them keep their exact contents.
    """
    groups = {
        "generator": gan.generator.variables,
        "discriminator": gan.discriminator.variables,
        "noise_seed": [gan.noise_seed.state],
        "d_optimizer": gan.d_optimizer.variables,
        "g_optimizer": gan.g_optimizer.variables,
    }
    if getattr(gan, "ema_generator", None) is not None:
        groups["ema_generator"] = gan.ema_generator.variables
    augment_variables = getattr(gan, "augment_variables", [])
    if augment_variables:
        groups["augment"] = list(augment_variables)
    return groups


def _flatten(gan):
    return [(f"{group}/{i:04d}", v) for group, vs in _groups(gan).items() for i, v in enumerate(vs)]


class CheckpointManager:
    """Saves and restores a compiled `GAN`'s training state in `directory`.

    Args:
      gan: a compiled `gan_tf.GAN` (its optimizers must exist).
      directory: where `ckpt-NNNNNN.npz` files live (NNNNNN = epochs completed).
      max_to_keep: how many of the newest checkpoints to keep.
    """

    def __init__(self, gan, directory, max_to_keep=3):
        if max_to_keep < 1:
            raise ValueError(f"max_to_keep={max_to_keep}: expected at least 1.")
        self.gan = gan
        self.directory = directory
        self.max_to_keep = max_to_keep

    def checkpoints(self):
        """[(epoch, path)] of complete-looking checkpoint files, oldest first."""
        found = []
        for path in glob.glob(os.path.join(self.directory, "ckpt-*.npz")):
            match = _NAME.match(os.path.basename(path))
            if match:
                found.append((int(match.group(1)), path))
        return sorted(found)

    def save(self, epoch):
        """Writes the checkpoint for `epoch` completed epochs; returns its path."""
        os.makedirs(self.directory, exist_ok=True)
        arrays = {key: np.asarray(v.numpy()) for key, v in _flatten(self.gan)}
        arrays["__paths__"] = np.array([v.path for _, v in _flatten(self.gan)])
        arrays["__epoch__"] = np.array(epoch, np.int64)
        path = os.path.join(self.directory, f"ckpt-{epoch:06d}.npz")
        temporary = path + ".partial"
        try:
            with open(temporary, "wb") as f:
                np.savez(f, **arrays)
                f.flush()
                os.fsync(f.fileno())
        except OSError as error:  # e.g. a full disk: keep the previous checkpoints as they are
            if os.path.exists(temporary):
                os.remove(temporary)
            raise OSError(f"Could not write checkpoint {path}: {error}; earlier checkpoints are intact.") from error
        os.replace(temporary, path)  # atomic: readers see the old set or the new file
        _fsync_directory(self.directory)
        for _, old in self.checkpoints()[: -self.max_to_keep]:
            os.remove(old)
        return path

    def restore_latest(self):
        """Restores the newest readable checkpoint; returns its epoch, or 0 if there is none.

        An unreadable newest checkpoint is reported by name and the previous one is
        tried; if files exist but none can be read, raises `CheckpointError` rather
        than silently starting again from scratch.
        """
        candidates = self.checkpoints()
        failures = []
        for epoch, path in reversed(candidates):
            try:
                self.restore(path)
            except (OSError, ValueError, KeyError) as error:
                logging.warning("Checkpoint %s is unreadable (%s); trying an older one.", path, error)
                failures.append(f"{path}: {error}")
                continue
            logging.info("Resumed from %s (%d epochs done).", path, epoch)
            return epoch
        if failures:
            raise CheckpointError(
                "No checkpoint in {} could be restored:\n  {}\nMove them away to start afresh.".format(
                    self.directory, "\n  ".join(failures)
                )
            )
        return 0

    def restore(self, path):
        """Loads one checkpoint file into the GAN, checking every name and shape first."""
        with np.load(path, allow_pickle=False) as stored:
            variables = _flatten(self.gan)
            missing = [key for key, _ in variables if key not in stored.files]
            if missing or len(stored.files) != len(variables) + 2:
                raise ValueError(
                    f"holds {len(stored.files) - 2} variables, the model has {len(variables)}"
                    + (f" (missing {missing[:3]})" if missing else "")
                )
            values = []
            for key, variable in variables:
                value = stored[key]
                if tuple(value.shape) != tuple(variable.shape):
                    raise ValueError(f"{key} ({variable.path}) has shape {value.shape}, expected {variable.shape}")
                values.append(value)
        # Assign only after everything has been read and checked: no half-restored model.
        for (_, variable), value in zip(variables, values):
            variable.assign(value)


def _fsync_directory(directory):
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
