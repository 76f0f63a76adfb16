"""`load`: one entry point over every dataset and source, with `auto` trying sources in order.

Each dataset module (mnist, fashion_mnist, celeba, images) declares its splits, its named sources in
the order `auto` tries them, and `load_source(...)`, which either returns the data or raises
`SourceUnavailable` (nothing there: `auto` moves on) or `DataError` (the user's data is broken: stop).
"""
import os
import time

from absl import logging

from gan_tf.data import celeba, fashion_mnist, images, mnist
from gan_tf.data.base import DataError, DataInfo, SourceUnavailable

_MODULES = {m.NAME: m for m in (mnist, fashion_mnist, celeba, images)}
DATASETS = tuple(_MODULES)
# The sources that read `data_dir`: with a data_dir and source "auto", only these are tried.
_SOURCES_READING_DATA_DIR = ("files", "tfds")
# Which sources this process has already reported: a run loads its data again for the
# evaluation's reference statistics, and the same lines a second time only add noise.
_REPORTED = set()


def _module(name):
    if name not in _MODULES:
        raise DataError(f"unknown dataset {name!r}; expected one of {', '.join(DATASETS)}")
    return _MODULES[name]


def sources(name):
    """Valid values of `source=` for dataset `name`, "auto" first (for flag validation).

    Raises:
      DataError: unknown dataset name.
    """
    return ("auto",) + tuple(_module(name).SOURCES)


def splits(name):
    """Valid values of `split=` for dataset `name`."""
    return tuple(_module(name).SPLITS)


def _image_size(value):
    if value is None:
        return None
    size = (value, value) if isinstance(value, int) and not isinstance(value, bool) else value
    try:
        size = tuple(size)
    except TypeError:
        size = ()
    if len(size) != 2 or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in size):
        raise DataError(f"image_size={value!r}; expected a positive integer or (height, width)")
    return size


def _check_arguments(name, split, source, data_dir, channels, with_labels):
    module = _module(name)
    if source not in sources(name):
        raise DataError(f"unknown source {source!r} for dataset {name!r}; expected one of "
                        f"{', '.join(sources(name))}")
    if split not in module.SPLITS:
        raise DataError(f"unknown split {split!r} for dataset {name!r}; expected one of {', '.join(module.SPLITS)}")
    if data_dir is not None:
        if not isinstance(data_dir, (str, os.PathLike)) or not str(data_dir):
            raise DataError(f"data_dir={data_dir!r}; expected a path")
        if not os.path.exists(data_dir):
            raise DataError(f"data_dir {str(data_dir)!r} does not exist; expected a folder holding the "
                            f"{name} data")
    if channels is not None and channels not in (1, 3):
        raise DataError(f"channels={channels!r}; expected 1 or 3")
    if with_labels and not module.HAS_LABELS:
        raise DataError(f"dataset {name!r} has no labels; call load with with_labels=False")
    return module


def _no_source_error(name, split, source, tried, module):
    lines = "\n".join(f"  - {s}: {reason}" for s, reason in tried)
    what = "no source could" if source == "auto" else f"source {source!r} could not"
    return DataError(f"{what} provide {name} ({split}). Tried:\n{lines}\nTo provide the data: {module.HOW_TO}")


def _unusable_data_dir_error(name, split, data_dir, tried, module):
    lines = "\n".join(f"  - {s}: {reason}" for s, reason in tried)
    return DataError(f"data_dir {data_dir!r} holds no usable {name} data ({split}); expected the data there, since "
                     f"data_dir was given (without it, other sources are tried). Tried:\n{lines}\n"
                     f"To provide the data: {module.HOW_TO}")


def load(name, split="train", source="auto", data_dir=None, with_labels=False, return_info=False,
         image_size=None, channels=None, strict=False):
    """Loads a dataset as unbatched float32 images in [-1, 1], from the first source that has it.

    Args:
      name: one of `DATASETS`: "mnist", "fashion_mnist", "celeba", "images".
      split: a split of that dataset ("train", "test", ...; see the dataset's module).
      source: "auto" (try `sources(name)[1:]` in order) or one of them.
      data_dir: folder (or, for celeba/images, a .zip) holding the data; must exist when given. With
        `source="auto"` the data must then come from it (files, or TFDS data prepared there): an
        unusable data_dir is an error, not a fall-back to a download or the bundled default.
      with_labels: yield `(image, int32 label)` pairs; an error for datasets without labels.
      return_info: also return a `DataInfo`.
      image_size: int or (height, width) to resize to; default: the dataset's own (28 for the MNISTs,
        64 for celeba and images).
      channels: 1 or 3; default: the dataset's own (1 for the MNISTs, 3 for celeba and images).
      strict: for image folders, stop at the first unusable file instead of skipping it.

    Returns:
      The `tf.data.Dataset` of images `(H, W, C)` (or `(image, label)` pairs), or `(dataset, info)` when
      `return_info`.

    Raises:
      DataError: bad arguments, broken files, or no source could provide the data.
    """
    module = _check_arguments(name, split, source, data_dir, channels, with_labels)
    size = _image_size(image_size) or getattr(module, "DEFAULT_IMAGE_SIZE", None)
    channels = channels or getattr(module, "DEFAULT_CHANNELS", None)
    data_dir = os.fspath(data_dir) if data_dir is not None else None
    order = module.SOURCES if source == "auto" else (source,)
    if data_dir is not None and source == "auto":
        # An explicit data_dir is where the data must come from: falling back to a download or the
        # bundled default would train on other data than the user asked for.
        order = tuple(s for s in order if s in _SOURCES_READING_DATA_DIR)
    tried = []
    loaded = None
    report = logging.debug if (name, split, source, data_dir) in _REPORTED else logging.info
    _REPORTED.add((name, split, source, data_dir))
    for candidate in order:
        start = time.monotonic()
        try:
            loaded = module.load_source(candidate, split, data_dir, size, channels, strict)
        except SourceUnavailable as e:
            report("Data %s/%s: source %r unavailable (%.2f s): %s", name, split, candidate,
                   time.monotonic() - start, e)
            tried.append((candidate, str(e)))
            continue
        used = candidate
        break
    if loaded is None:
        if data_dir is not None and source == "auto":
            raise _unusable_data_dir_error(name, split, data_dir, tried, module)
        raise _no_source_error(name, split, source, tried, module)

    log = logging.warning if (data_dir and used != "files") else report
    log("Data %s/%s: using source %r: %s (%d examples of shape %s)%s", name, split, used, loaded.note,
        loaded.num_examples, loaded.image_shape,
        f"; data_dir {data_dir} was given but not used" if data_dir and used != "files" else "")
    ds = loaded.dataset
    if loaded.has_labels and not with_labels:
        ds = ds.map(lambda image, label: image)
    if not return_info:
        return ds
    info = DataInfo(name=name, split=split, source=used, num_examples=int(loaded.num_examples),
                    image_shape=tuple(int(s) for s in loaded.image_shape),
                    num_classes=loaded.num_classes if loaded.has_labels else None, note=loaded.note,
                    tried=tuple(tried))
    return ds, info
