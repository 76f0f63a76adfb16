"""A user's own images: every JPEG/PNG (also GIF, BMP, WebP) under a folder, recursively, or in a .zip.

    ds, info = gan_tf.data.load("images", data_dir="path/to/photos", image_size=64, return_info=True)

Each image is centre-cropped to the largest box with the target's aspect ratio (a square for the
default 64x64), resized with antialiasing, and converted to `channels` (grayscale repeated into RGB,
alpha dropped, RGB to luma for channels=1). Unusable files are skipped and named in a warning, or, with
`strict=True`, the first one raises; see image_files.py. There is one split, "train": every usable file.
"""
import os
import zipfile

from gan_tf.choices import DATA_SOURCES
from gan_tf.data import image_files
from gan_tf.data.base import DataError, SourceUnavailable

NAME = "images"
SOURCES = DATA_SOURCES[NAME]  # declared in gan_tf.choices, for flag checks without TensorFlow
SPLITS = ("train",)
HAS_LABELS = False
NUM_CLASSES = None
DEFAULT_IMAGE_SIZE = (64, 64)
DEFAULT_CHANNELS = 3
HOW_TO = "pass a folder of images (searched recursively) or a .zip of images as data_dir (--data_dir PATH)"


def scan(data_dir, strict, select=None):
    """Scans `data_dir`: a folder (recursive) or a zip archive. Returns an `image_files.Scan`."""
    if os.path.isdir(data_dir):
        return image_files.scan_folder(data_dir, strict=strict, select=select)
    if zipfile.is_zipfile(data_dir):
        return image_files.scan_zip(data_dir, strict=strict, select=select)
    raise DataError(f"data_dir {data_dir!r} is a file but not a zip archive; expected a folder of images or a .zip")


def load_source(source, split, data_dir, image_size, channels, strict):
    """Loads every usable image of `data_dir`. Returns `Loaded`; raises SourceUnavailable or DataError."""
    assert source == "files" and split == "train", (source, split)
    if data_dir is None:
        raise SourceUnavailable("no data_dir given")
    found = scan(data_dir, strict)
    kind = "zip archive" if found.kind == "zip" else "folder"
    note = (f"images from the {kind} {data_dir}, centre-cropped and resized to "
            f"{image_size[0]}x{image_size[1]}x{channels}")
    return image_files.to_loaded(found, image_size, channels, crop_fraction=1.0, strict=strict, note=note,
                                 what=NAME)
