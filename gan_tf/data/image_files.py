"""Images from a folder (recursive) or a zip archive (read in place), made robust to messy real data.

Two steps:

1. `scan_folder` / `scan_zip` check every file up front (see image_check.py) and sort them into usable
   entries and skipped files with a reason: zero-byte, not an image, truncated or corrupt, too many
   pixels, unsafe zip member. Skipped files are counted and named in one warning; with `strict=True`
   the first one raises `DataError` naming it. No usable image at all is a `DataError` (before any
   model is built).
2. `to_loaded` builds the pipeline. When the decoded images fit in `CACHE_BYTES`, all of them are
   decoded once, in parallel, into memory (the cache of decoded images); a file that still fails to
   decode is then named and skipped (or raises, in strict mode). Larger datasets are decoded on the fly
   every epoch, in parallel; a file that fails to decode then is skipped with a logged warning
   (`ignore_errors`), and `training_batches` keeps the epoch at its full length. Both are declared
   `pipeline.reorderable`: when the shuffle buffer cannot hold every image, each epoch reads the
   files (or cached rows) in a full permutation of (seed, epoch), before decoding. In strict mode such a
   file stops the run with TensorFlow's decoding error.
"""
import dataclasses
import os
from concurrent import futures
from typing import List, Tuple

import numpy as np
import tensorflow as tf
from absl import logging

from gan_tf.data import archive, decode, image_check, pipeline
from gan_tf.data.base import DataError, Loaded

# Decoded images (uint8, at the output size) are kept in memory up to this many bytes; set the
# environment variable GAN_TF_CACHE_MB to change it (0: never cache).
DEFAULT_CACHE_MB = 1024
_MAX_NAMED = 20  # skipped files named in a warning


def cache_bytes():
    """The in-memory cache budget in bytes ($GAN_TF_CACHE_MB, default 1024 MiB)."""
    value = os.environ.get("GAN_TF_CACHE_MB", "")
    if not value.strip():
        return DEFAULT_CACHE_MB * 2**20
    try:
        megabytes = float(value)
        if not 0 <= megabytes < 2**43:  # refuses nan, inf and negative sizes
            raise ValueError(value)
        return int(megabytes * 2**20)
    except ValueError:
        raise DataError(f"GAN_TF_CACHE_MB={value!r}; expected a finite number of MiB >= 0") from None


@dataclasses.dataclass
class Scan:
    """The result of checking a folder or zip.

    Attributes:
      container: the folder or zip path.
      kind: "folder" or "zip".
      names: usable files (paths for a folder, member names for a zip), sorted.
      skipped: `(name, reason)` for every unusable file.
      formats: the image formats found among the usable files.
    """

    container: str
    kind: str
    names: List[str]
    skipped: List[Tuple[str, str]]
    formats: frozenset = frozenset()


def _reject(scan_skipped, name, reason, strict, container):
    if strict:
        raise DataError(f"{name}: {reason} (strict mode stops at the first unusable file in {container})")
    scan_skipped.append((name, reason))


def _walk(root):
    """All non-hidden regular files under `root`, sorted, recursively (symlinked files followed)."""
    found = []
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
        found.extend(os.path.join(directory, f) for f in files if not f.startswith("."))
    return sorted(found)


def scan_folder(root, strict=False, max_pixels=image_check.MAX_PIXELS, select=None):
    """Checks every file under `root`.

    Args:
      root: folder, searched recursively (hidden files and folders ignored).
      strict: raise `DataError` at the first unusable file instead of skipping it.
      max_pixels: decompression-bomb cap on width * height.
      select: optional predicate on the path; files it rejects are left out unchecked (CelebA splits).

    Returns:
      A `Scan`.
    """
    paths = [p for p in _walk(root) if select is None or select(p)]

    def check(path):
        try:
            size = os.path.getsize(path)
            return image_check.inspect_path(path, size, max_pixels)[0], None
        except image_check.BadImage as e:
            return None, str(e)
        except OSError as e:
            return None, f"cannot be read ({e.strerror or e})"

    names, skipped, formats = [], [], set()
    # Threads overlap the file reads; the checks themselves are small.
    with futures.ThreadPoolExecutor(max_workers=4) as pool:
        for path, (fmt, reason) in zip(paths, pool.map(check, paths, chunksize=64)):
            if reason is None:
                names.append(path)
                formats.add(fmt)
            else:
                _reject(skipped, path, reason, strict, root)
    return Scan(container=root, kind="folder", names=names, skipped=skipped, formats=frozenset(formats))


def scan_zip(path, strict=False, max_pixels=image_check.MAX_PIXELS, select=None):
    """Checks every member of the zip archive `path` (read in place, never extracted).

    Args: as `scan_folder`; `select` is a predicate on the member name.

    Returns:
      A `Scan` whose names are member names.
    """
    names, skipped, formats = [], [], set()
    with archive.open_zip(path) as zf:
        for info in sorted(zf.infolist(), key=lambda i: i.filename):
            name = info.filename
            if info.is_dir():
                continue
            reason = archive.unsafe_reason(info)  # before anything else: never silently ignored
            if reason is None and (archive.is_hidden(name) or (select is not None and not select(name))):
                continue
            if reason is None:
                try:
                    formats.add(image_check.inspect_bytes(archive.read_member(zf, name), max_pixels)[0])
                except image_check.BadImage as e:
                    reason = str(e)
                except Exception as e:  # bad CRC, truncated archive, lying sizes, ...
                    reason = f"cannot be read from the archive ({type(e).__name__}: {e})"
            if reason is None:
                names.append(name)
            else:
                _reject(skipped, f"{path}:{name}", reason, strict, path)
    return Scan(container=path, kind="zip", names=names, skipped=skipped, formats=frozenset(formats))


def report(scan, what):
    """Logs the skipped files (naming them) and fails if nothing usable is left."""
    if scan.skipped:
        listed = "\n".join(f"  {name}: {reason}" for name, reason in scan.skipped[:_MAX_NAMED])
        more = f"\n  ... and {len(scan.skipped) - _MAX_NAMED} more" if len(scan.skipped) > _MAX_NAMED else ""
        logging.warning("%sskipped %d unusable file(s) of %d in %s:\n%s%s", f"{what}: " if what else "",
                        len(scan.skipped), len(scan.skipped) + len(scan.names), scan.container, listed, more)
    if not scan.names:
        detail = f"; {len(scan.skipped)} file(s) skipped, e.g. {scan.skipped[0][0]}: {scan.skipped[0][1]}" \
            if scan.skipped else ""
        raise DataError(f"{scan.container}: no usable image (expected JPEG, PNG, GIF, BMP or WebP files)"
                        f"{detail}")


def _encoded(scan, order=None):
    """Dataset of encoded image bytes, in scan order or in the order of the int64 index vector `order`."""
    if scan.kind == "folder":
        names = tf.constant(scan.names)
        names = tf.data.Dataset.from_tensor_slices(names if order is None else tf.gather(names, order))
        return names.map(tf.io.read_file, num_parallel_calls=pipeline.AUTOTUNE)
    if order is None:
        return tf.data.Dataset.from_generator(archive.member_reader(scan.container, list(scan.names)),
                                              output_signature=tf.TensorSpec([], tf.string))
    members = np.array(scan.names, dtype=object)
    return tf.data.Dataset.from_generator(
        lambda indices: archive.member_reader(scan.container, list(members[indices]))(),
        args=(order,), output_signature=tf.TensorSpec([], tf.string))


def _display(scan, name):
    return name if scan.kind == "folder" else f"{scan.container}:{name}"


def _decode_all(scan, image_size, channels, crop_fraction, strict):
    """Decodes every usable file once into a uint8 array; names (or raises on) files TF cannot decode."""
    count = len(scan.names)
    shape = tuple(image_size) + (channels,)
    images = np.zeros((count,) + shape, np.uint8)
    done = np.zeros(count, bool)
    indexed = tf.data.Dataset.zip(tf.data.Dataset.range(count), _encoded(scan))
    decoded = indexed.map(
        lambda i, data: (i, decode.decode(data, image_size, channels, crop_fraction, scan.formats)),
        num_parallel_calls=pipeline.AUTOTUNE, deterministic=False)
    # Errors are dropped here and recovered below from the indices that did not come back.
    for index, batch in decoded.ignore_errors().batch(256).as_numpy_iterator():
        images[index] = batch
        done[index] = True
    failed = [(_display(scan, scan.names[i]), "cannot be decoded by TensorFlow") for i in np.flatnonzero(~done)]
    if failed:
        if strict:
            name, reason = failed[0]
            raise DataError(f"{name}: {reason} (strict mode stops at the first unusable file)")
        report(Scan(scan.container, scan.kind, [n for n, ok in zip(scan.names, done) if ok], failed, scan.formats),
               "")
        scan.skipped.extend(failed)
        scan.names = [n for n, ok in zip(scan.names, done) if ok]
    return images[done]


def to_loaded(scan, image_size, channels, crop_fraction, strict, note, what):
    """The pipeline of float32 images in [-1, 1] for the usable files of `scan`.

    Args:
      scan: a `Scan`.
      image_size: `(height, width)`.
      channels: 1 or 3.
      crop_fraction: see decode.crop_box.
      strict: raise on files that fail to decode.
      note: description of the source for `DataInfo.note`.
      what: dataset name for log messages.
    """
    report(scan, what)
    shape = tuple(image_size) + (channels,)
    decoded_bytes = len(scan.names) * int(np.prod(shape))
    budget = cache_bytes()
    if decoded_bytes <= budget:
        logging.info("%s: decoding %d images into memory (%.1f MiB)", what, len(scan.names), decoded_bytes / 2**20)
        images = _decode_all(scan, image_size, channels, crop_fraction, strict)
        dataset = pipeline.from_arrays(images)
        note += f"; {len(images):,} images decoded once and kept in memory"
    else:
        logging.info("%s: %d images (%.0f MiB decoded) exceed the %.0f MiB cache (GAN_TF_CACHE_MB): decoding "
                     "every epoch", what, len(scan.names), decoded_bytes / 2**20, budget / 2**20)
        def decoded(order=None):
            dataset = _encoded(scan, order).map(
                lambda data: decode.decode(data, image_size, channels, crop_fraction, scan.formats),
                num_parallel_calls=pipeline.AUTOTUNE)
            if not strict:
                dataset = dataset.ignore_errors(log_warning=True)
            return dataset.map(pipeline.scale_to_unit_range, num_parallel_calls=pipeline.AUTOTUNE)

        # Each epoch reads the files in a permutation of (seed, epoch) (see pipeline.reorderable).
        dataset = pipeline.reorderable(decoded(), len(scan.names), decoded)
        note += "; decoded on the fly every epoch, the files read in a new random order each epoch"
    if scan.skipped:
        note += f"; {len(scan.skipped)} unusable file(s) skipped"
    return Loaded(dataset=dataset, num_examples=len(scan.names), image_shape=shape, num_classes=None, note=note,
                  has_labels=False)
