"""Readers for the MNIST-style file formats: IDX files (gzipped or raw) and keras-style `.npz` archives.

IDX (http://yann.lecun.com/exdb/mnist/, "FILE FORMATS"): a 4-byte magic number -- two zero bytes, a
type code (0x08 = unsigned byte) and the number of dimensions -- then one big-endian int32 per dimension,
then the data. Images are 0x00000803 (N, rows, cols); labels are 0x00000801 (N,).

Everything here is plain numpy and validates strictly: a wrong magic number, a file shorter than its
header promises, or image and label counts that disagree raise `DataError` naming the file.
"""
import gzip
import math
import os
import zlib

import numpy as np

from gan_tf.data.base import DataError

IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801
_UBYTE = 0x08

# The standard file names ("train-images-idx3-ubyte.gz") and the variant with a dot that some mirrors
# use ("train-images.idx3-ubyte"), gzipped or not. Tried in this order.
_PREFIX = {"train": "train", "test": "t10k"}


def _candidates(split, kind):
    ndim = 3 if kind == "images" else 1
    prefix = _PREFIX[split]
    names = []
    for sep in ("-", "."):
        base = f"{prefix}-{kind}{sep}idx{ndim}-ubyte"
        names += [base + ".gz", base]
    return names


def find_idx_files(directory, split):
    """Finds the images and labels IDX files of `split` ("train" or "test") in `directory`.

    Args:
      directory: folder to look in (not recursive).
      split: "train" (train-*) or "test" (t10k-*).

    Returns:
      `(images_path, labels_path)`, or None when either file is missing.
    """
    found = []
    for kind in ("images", "labels"):
        path = next(
            (os.path.join(directory, n) for n in _candidates(split, kind)
             if os.path.isfile(os.path.join(directory, n))),
            None,
        )
        if path is None:
            return None
        found.append(path)
    return tuple(found)


def expected_idx_names(split):
    """Human-readable list of the file names `find_idx_files` accepts, for error messages."""
    return f"{_candidates(split, 'images')[0]} and {_candidates(split, 'labels')[0]} (gzipped or not)"


# The most data one IDX file may declare: four times EMNIST ByClass's training images (697,932 x 28 x 28 =
# 547 MB), the largest IDX set in use. A header (or a gzip stream) promising more is refused before
# anything that big is read or inflated, like the zip reader's cap per member.
MAX_IDX_BYTES = 2 * 2**30


def _open(path):
    """A binary stream of the file's IDX bytes: the file, or its decompression if it is gzipped (detected
    from the content, whatever the extension says)."""
    f = open(path, "rb")
    if f.read(2) == b"\x1f\x8b":
        f.seek(0)
        return gzip.GzipFile(fileobj=f)
    f.seek(0)
    return f


def _read_idx_bytes(stream, path, kind, magic_expected):
    """(dims, data bytes) of the IDX file `path`, read from `stream` no further than its header declares."""
    head = stream.read(4)
    if len(head) < 4:
        raise DataError(f"{path}: {len(head)} bytes, too short for an IDX header; expected an IDX {kind} file")
    magic = int.from_bytes(head, "big")
    if magic != magic_expected:
        raise DataError(
            f"{path}: wrong magic number 0x{magic:08x}; expected 0x{magic_expected:08x} "
            f"(IDX unsigned-byte {kind}, {magic_expected & 0xFF} dimension(s))"
        )
    ndim = head[3]
    dims_bytes = stream.read(4 * ndim)
    if len(dims_bytes) < 4 * ndim:
        raise DataError(f"{path}: truncated IDX header ({4 + len(dims_bytes)} bytes, expected at least {4 + 4 * ndim})")
    dims = tuple(int.from_bytes(dims_bytes[4 * i: 4 * i + 4], "big") for i in range(ndim))
    size = math.prod(dims)  # a Python int: dimensions whose product overflows int64 stay what they say
    shape = "x".join(map(str, dims))
    if size > MAX_IDX_BYTES:
        raise DataError(f"{path}: the header declares {shape} = {size:,} bytes of data, more than the "
                        f"{MAX_IDX_BYTES:,}-byte cap per IDX file; expected an IDX {kind} file of a real data set")
    data = stream.read(size + 1)  # one byte more than declared tells a longer file (or a gzip bomb) apart
    if len(data) < size:
        raise DataError(f"{path}: truncated: the header says {shape} = {size} bytes of data but only "
                        f"{len(data)} bytes follow")
    if len(data) > size:
        raise DataError(f"{path}: holds more data than its header declares ({shape} = {size} bytes); expected an "
                        f"IDX {kind} file whose dimensions match its size")
    return dims, data


def read_idx(path, kind):
    """Reads one IDX file of unsigned bytes.

    Args:
      path: the file, gzipped or raw (detected from its content).
      kind: "images" (expects magic 0x00000803, 3 dims) or "labels" (0x00000801, 1 dim).

    Returns:
      uint8 array of shape (N, rows, cols) for images or (N,) for labels.

    Raises:
      DataError: wrong magic number, a size that differs from what the header declares (fewer or more
        bytes, also after decompression: inflating stops one byte past the declared size), or a
        declared size over `MAX_IDX_BYTES`.
    """
    magic_expected = IMAGES_MAGIC if kind == "images" else LABELS_MAGIC
    try:
        with _open(path) as stream:
            dims, data = _read_idx_bytes(stream, path, kind, magic_expected)
    except (OSError, EOFError, zlib.error) as e:
        if isinstance(e, OSError) and not isinstance(e, gzip.BadGzipFile) and e.errno is not None:
            raise DataError(f"{path}: cannot be read ({e.strerror or e})") from e
        raise DataError(f"{path}: not a valid gzip file ({e}); expected a gzipped IDX file") from e
    return np.frombuffer(data, dtype=np.uint8).reshape(dims)


def read_idx_pair(images_path, labels_path):
    """Reads matching images and labels IDX files and checks that their counts agree.

    Returns:
      `(images uint8 (N, rows, cols, 1), labels int32 (N,))`.
    """
    images = read_idx(images_path, "images")
    labels = read_idx(labels_path, "labels")
    if images.shape[0] != labels.shape[0]:
        raise DataError(
            f"{images_path} holds {images.shape[0]} images but {labels_path} holds {labels.shape[0]} labels; "
            "expected the same count"
        )
    return images[..., None], labels.astype(np.int32)


def find_npz(directory, preferred_names):
    """Returns the first `.npz` in `directory` that has the keras.datasets keys, preferring the given names."""
    try:
        names = sorted(n for n in os.listdir(directory) if n.endswith(".npz"))
    except OSError:
        return None
    ordered = [n for n in preferred_names if n in names] + [n for n in names if n not in preferred_names]
    for n in ordered:
        path = os.path.join(directory, n)
        try:
            with np.load(path, allow_pickle=False) as z:
                if {"x_train", "y_train", "x_test", "y_test"} <= set(z.files):
                    return path
        except (OSError, ValueError):
            continue  # not an npz we understand; other candidates may be
    return None


def read_npz(path, split):
    """Reads one split of a keras.datasets-style `.npz` (keys x_train, y_train, x_test, y_test).

    Args:
      path: the .npz file.
      split: "train" or "test".

    Returns:
      `(images uint8 (N, H, W, C), labels int32 (N,))`.
    """
    try:
        with np.load(path, allow_pickle=False) as z:
            x = z[f"x_{split}"]
            y = z[f"y_{split}"]
    except (OSError, ValueError, KeyError) as e:
        raise DataError(f"{path}: cannot read x_{split}/y_{split} ({e}); expected an .npz like "
                        "keras.datasets' mnist.npz") from e
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[-1] not in (1, 3):
        raise DataError(f"{path}: x_{split} has shape {x.shape}; expected (N, H, W) or (N, H, W, 1|3)")
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:  # some exports keep labels as a column
        y = y[:, 0]
    if y.ndim != 1:
        raise DataError(f"{path}: y_{split} has shape {y.shape}; expected (N,) integer labels")
    if x.shape[0] != y.shape[0]:
        raise DataError(f"{path}: x_{split} holds {x.shape[0]} images but y_{split} holds {y.shape[0]} labels; "
                        "expected the same count")
    if x.dtype != np.uint8:
        if not np.issubdtype(x.dtype, np.integer) or x.size and (x.min() < 0 or x.max() > 255):
            raise DataError(f"{path}: x_{split} has dtype {x.dtype}; expected uint8 pixels in 0..255")
        x = x.astype(np.uint8)
    if not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"{path}: y_{split} has dtype {y.dtype}; expected integer labels")
    return x, y.astype(np.int32)
