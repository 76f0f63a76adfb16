"""Checkpoints that make a resumed run continue exactly as an uninterrupted one.

A checkpoint is one `.npz` file holding every variable that training changes: both
networks (BatchNorm statistics and dropout seed states included), the noise seed
state and both optimizers (slots and iteration counts). Keras's own savers leave out
the `seed_generator_state` variables, after which a resumed run draws other noise.

Beside the variables a checkpoint holds `__meta__`, a JSON record: where in training it
was taken (epochs done and steps into the next epoch: a time-budget stop is taken
mid-epoch), the recipe of the run (so that a checkpoint refuses to be resumed under
another recipe even without `config.json`), the training time spent so far, and the
epoch's metrics record (so that a lost `metrics.jsonl` line can be written again).

Files are written through `gan_tf.atomic` (aside, fsync, rename), so a crash mid-write
never leaves a file that looks complete. Reading never unpickles and never trusts a
member's size: each `.npy` header (shape, dtype) is checked against the model before its
data is read, so a hostile or damaged file costs no more memory than the model itself.
"""
import glob
import json
import os
import re
import zipfile
import zlib

import numpy as np
from absl import logging

from gan_tf import atomic

# ckpt-EEEEEE.npz: E epochs done; ckpt-EEEEEE+SSSSSS.npz: E epochs and S steps of the next.
_NAME = re.compile(r"^ckpt-(\d{6})(?:\+(\d{6}))?\.npz$")
META = "__meta__"
UNREADABLE_SUFFIX = ".unreadable"
_MAX_META_BYTES = 16 * 2**20
# Everything that a damaged or hostile file can raise while being read.
READ_ERRORS = (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error)


class CheckpointError(RuntimeError):
    """No usable checkpoint although the directory holds checkpoint files."""


def _groups(gan):
    """Named, ordered lists of the variables a checkpoint holds.

    A model other than a GAN (the VAE) names its own (`checkpoint_groups()`). The EMA
    generator and the adaptive augmentation's state are groups only when the GAN has
    them, so checkpoints of GANs without them keep their exact contents.
    """
    if hasattr(gan, "checkpoint_groups"):
        return gan.checkpoint_groups()
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


def checkpoint_name(epoch, steps_into_epoch=0):
    """File name of the checkpoint after `epoch` epochs and `steps_into_epoch` more steps."""
    if steps_into_epoch:
        return f"ckpt-{epoch:06d}+{steps_into_epoch:06d}.npz"
    return f"ckpt-{epoch:06d}.npz"


def position(path):
    """(epochs done, steps into the next epoch) from a checkpoint's file name, or None."""
    match = _NAME.match(os.path.basename(path))
    if not match:
        return None
    return int(match.group(1)), int(match.group(2) or 0)


def list_checkpoints(directory):
    """[(epoch, path)] of complete-looking checkpoint files in training order, oldest first.

    Symlinks are not checkpoints: reading through one could resume (and later prune)
    another run's files.
    """
    found = []
    for path in glob.glob(os.path.join(glob.escape(directory), "ckpt-*.npz")):
        where = position(path)
        if where is not None and not os.path.islink(path):
            found.append((where, path))
    return [(where[0], path) for where, path in sorted(found)]


# ----------------------------------------------------------------- reading
def _read_header(member, name):
    version = np.lib.format.read_magic(member)
    if version == (1, 0):
        shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(member)
    elif version == (2, 0):
        shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(member)
    else:
        raise ValueError(f"member {name} has .npy format version {version}; expected 1.0 or 2.0")
    if dtype.hasobject:
        raise ValueError(f"member {name} holds Python objects (dtype {dtype}); refused, nothing is unpickled")
    return tuple(shape), fortran_order, dtype


def _read_data(member, name, shape, fortran_order, dtype):
    count = int(np.prod(shape, dtype=np.int64)) if shape else 1
    data = member.read(count * dtype.itemsize)
    if len(data) != count * dtype.itemsize:
        raise ValueError(f"member {name} is truncated ({len(data)} of {count * dtype.itemsize} bytes)")
    if member.read(1):  # also reaches the member's end, where zipfile checks the CRC-32
        raise ValueError(f"member {name} holds more bytes than its header declares")
    return np.frombuffer(data, dtype).reshape(shape, order="F" if fortran_order else "C")


def _read_checked(archive, name, expect):
    """One member's array, after checking its header with `expect(shape, dtype)`."""
    try:
        member = archive.open(name + ".npy")
    except KeyError:
        raise KeyError(f"member {name} is missing") from None
    with member:
        shape, fortran_order, dtype = _read_header(member, name)
        expect(shape, dtype)
        return _read_data(member, name, shape, fortran_order, dtype)


def _expect_meta(shape, dtype):
    if shape != () or dtype.kind != "U" or dtype.itemsize > _MAX_META_BYTES:
        raise ValueError(f"member {META} is {dtype}{list(shape)}; expected a JSON string")


def read_meta(path):
    """The `__meta__` record of a checkpoint ({} for checkpoints written before it existed).

    Reads nothing else of the file, so it is cheap enough to check a run directory before
    any model is built.
    """
    with zipfile.ZipFile(path) as archive:
        if META + ".npy" not in archive.namelist():
            return {}
        meta = json.loads(str(_read_checked(archive, META, _expect_meta)[()]))
    if not isinstance(meta, dict):
        raise ValueError(f"member {META} is not a JSON object")
    return meta


class CheckpointManager:
    """Saves and restores a compiled `GAN`'s (or `VAE`'s) training state in `directory`.

    Args:
      gan: a compiled `gan_tf.GAN` or `gan_tf.vae.VAE` (its optimizers must exist).
      directory: where the checkpoint files live (see `checkpoint_name`).
      max_to_keep: how many of the newest checkpoints to keep.
      recipe: a JSON-able dict stored in every checkpoint's `__meta__` (the run's recipe).
    """

    def __init__(self, gan, directory, max_to_keep=3, recipe=None):
        if max_to_keep < 1:
            raise ValueError(f"max_to_keep={max_to_keep}: expected at least 1.")
        self.gan = gan
        self.directory = directory
        self.max_to_keep = max_to_keep
        self.recipe = recipe
        self.restored_meta = {}  # the `__meta__` of the checkpoint restored last
        self.restored_path = None  # and its file
        # Set by `time_budget.TrainingClock` before an epoch's checkpoint: time and record for it.
        self.pending_meta = None

    def checkpoints(self):
        """[(epoch, path)] of complete-looking checkpoint files, oldest first."""
        return list_checkpoints(self.directory)

    def save(self, epoch, steps_into_epoch=0, training_seconds=None, record=None):
        """Writes the checkpoint after `epoch` epochs and `steps_into_epoch` more steps; returns its path.

        Args:
          epoch: epochs completed.
          steps_into_epoch: steps done of the next epoch (a mid-epoch stop), else 0.
          training_seconds: training time spent by the run so far (for `--time_budget`).
          record: the metrics record of the epoch (written again if `metrics.jsonl` lost it).

        Either left out is taken from `pending_meta` when set.
        """
        pending, self.pending_meta = self.pending_meta or {}, None
        training_seconds = pending.get("training_seconds") if training_seconds is None else training_seconds
        record = pending.get("record") if record is None else record
        os.makedirs(self.directory, exist_ok=True)
        variables = _flatten(self.gan)
        arrays = {key: np.asarray(v.numpy()) for key, v in variables}
        arrays["__paths__"] = np.array([v.path for _, v in variables])
        arrays["__epoch__"] = np.array(epoch, np.int64)
        meta = {"epoch": int(epoch), "steps_into_epoch": int(steps_into_epoch), "recipe": self.recipe,
                "training_seconds": training_seconds, "record": record}
        arrays[META] = np.array(json.dumps(meta))
        name = checkpoint_name(epoch, steps_into_epoch)
        path = os.path.join(self.directory, name)
        try:
            with atomic.replace_atomically(path, "wb") as f:
                np.savez(f, **arrays)
        except OSError as error:  # e.g. a full disk: keep the previous checkpoints as they are
            raise OSError(f"Could not write checkpoint {path}: {error}; earlier checkpoints are intact.") from error
        self._prune(path)
        return path

    def _prune(self, saved):
        """Keeps the newest `max_to_keep` checkpoints up to `saved`; never touches newer files."""
        ordered = [path for _, path in self.checkpoints()]
        older = ordered[: ordered.index(saved)] if saved in ordered else []
        for old in older[: max(0, len(older) - (self.max_to_keep - 1))]:
            os.remove(old)

    def restore_latest(self, set_aside_unreadable=False):
        """Restores the newest readable checkpoint; returns its epoch, or 0 if there is none.

        An unreadable checkpoint (truncated, a flipped byte, another model's) is reported by
        name and the previous one is tried; if files exist but none can be read, raises
        `CheckpointError` rather than silently starting again from scratch.

        Args:
          set_aside_unreadable: rename unreadable files to `<name>.unreadable` (a training
            run does, so that they neither count as the newest nor push good older
            checkpoints out when new ones are saved); read-only commands leave them.
        """
        failures = []
        for epoch, path in reversed(self.checkpoints()):
            try:
                self.restore(path)
            except READ_ERRORS as error:
                logging.warning("Checkpoint %s is unreadable (%s); trying an older one.", path, error)
                failures.append((path, error))
                continue
            logging.info("Resumed from %s.", path)
            if set_aside_unreadable:  # only once a good one is found: never leave a run with none
                for bad, _ in failures:
                    os.replace(bad, bad + UNREADABLE_SUFFIX)
                    logging.warning("Moved unreadable %s to %s.", bad, bad + UNREADABLE_SUFFIX)
            return epoch
        if failures:
            raise CheckpointError(
                "No checkpoint in {} could be restored:\n  {}\nMove them away to start afresh.".format(
                    self.directory, "\n  ".join(f"{path}: {error}" for path, error in failures)
                )
            )
        return 0

    def restore(self, path):
        """Loads one checkpoint file into the GAN, checking every name, shape and dtype first."""
        variables = _flatten(self.gan)
        values = []
        with zipfile.ZipFile(path) as archive:
            stored = {name[: -len(".npy")] for name in archive.namelist() if name.endswith(".npy")}
            keys = {key for key, _ in variables}
            missing = sorted(keys - stored)
            extra = sorted(name for name in stored - keys if not name.startswith("__"))
            if missing or extra:
                raise ValueError(
                    f"holds {len(stored & keys) + len(extra)} variables, the model has {len(variables)}"
                    + (f" (missing {missing[:3]})" if missing else "")
                    + (f" (unknown {extra[:3]})" if extra else "")
                )
            for key, variable in variables:
                want_shape, want_dtype = tuple(variable.shape), np.dtype(variable.dtype)

                def expect(shape, dtype, key=key, variable=variable, want_shape=want_shape, want_dtype=want_dtype):
                    if shape != want_shape or dtype != want_dtype:
                        raise ValueError(
                            f"{key} ({variable.path}) has shape {list(shape)} and dtype {dtype}, "
                            f"expected shape {list(want_shape)} and dtype {want_dtype}"
                        )

                values.append(_read_checked(archive, key, expect))
            meta = {}
            if META in stored:
                meta = json.loads(str(_read_checked(archive, META, _expect_meta)[()]))
        # Assign only after everything has been read and checked: no half-restored model.
        for (_, variable), value in zip(variables, values):
            variable.assign(value)
        self.restored_meta = meta if isinstance(meta, dict) else {}
        self.restored_path = os.path.abspath(path)
