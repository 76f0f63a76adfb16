"""Cheap up-front checks of one image file, so that bad files are found before training, not mid-epoch.

For every file: not empty; a known image signature (JPEG, PNG, GIF, BMP, WebP); a header that PIL can
parse, giving the dimensions; at most `max_pixels` pixels, checked from the header before anything is
decoded (a decompression bomb -- a tiny file claiming 100,000 x 100,000 pixels -- never gets decoded);
and complete: a JPEG must end with its end-of-image marker and a PNG with its IEND chunk. Those two
checks read a few bytes and catch truncated files (the common kind of damage: interrupted copies and
downloads). A file that fails them, and every GIF/BMP/WebP, is fully decoded by PIL to decide, which also
accepts JPEGs with data appended after the image (phones' "motion photos").
"""
import io
import warnings

from PIL import Image

MAX_PIXELS = 50_000_000  # e.g. 8,660 x 5,774; far above any training image, far below a bomb's claim
MAX_FILE_BYTES = 256 * 2**20
TAIL_BYTES = 64

_SIGNATURES = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
)
FORMATS = ("JPEG", "PNG", "GIF", "BMP", "WEBP")


class BadImage(Exception):
    """Why a file is not a usable image (the text goes into warnings and errors)."""


def sniff(head):
    """The image format from a file's first bytes, or None."""
    for signature, fmt in _SIGNATURES:
        if head.startswith(signature):
            return fmt
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    return None


def _complete(fmt, tail):
    if fmt == "JPEG":
        return b"\xff\xd9" in tail  # EOI; cannot occur inside entropy-coded data (0xFF is stuffed)
    if fmt == "PNG":
        return b"IEND" in tail[-12:]
    return False  # GIF, BMP, WebP: rare here; let PIL decode them fully


def inspect(open_file, size, max_pixels=MAX_PIXELS):
    """Checks one image file without decoding it (when it looks complete).

    Args:
      open_file: callable returning a new binary, seekable file object on the data.
      size: size of the file in bytes.
      max_pixels: largest width * height accepted.

    Returns:
      `(format, width, height)`.

    Raises:
      BadImage: with the reason.
    """
    if size == 0:
        raise BadImage("zero-byte file")
    if size > MAX_FILE_BYTES:
        raise BadImage(f"{size:,} bytes, more than the {MAX_FILE_BYTES:,}-byte cap per image file")
    with open_file() as f:
        head = f.read(16)
        fmt = sniff(head)
        if fmt is None:
            raise BadImage("not an image file (expected JPEG, PNG, GIF, BMP or WebP content)")
        f.seek(max(0, size - TAIL_BYTES))
        tail = f.read(TAIL_BYTES)
        f.seek(0)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                image = Image.open(f)
                width, height = image.size
        except Image.DecompressionBombError as e:
            raise BadImage(f"{fmt} header claims too many pixels ({e}); decompression-bomb guard") from e
        except Exception as e:  # PIL raises many types for damaged headers
            raise BadImage(f"unreadable {fmt} header ({type(e).__name__}: {e})") from e
        if width <= 0 or height <= 0:
            raise BadImage(f"{fmt} header gives an empty image ({width}x{height})")
        if width * height > max_pixels:
            raise BadImage(f"{fmt} header claims {width}x{height} = {width * height:,} pixels, more than the "
                           f"cap of {max_pixels:,} (decompression-bomb guard); not decoded")
        if not _complete(fmt, tail):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    image.load()
            except Exception as e:
                raise BadImage(f"truncated or corrupt {fmt} ({type(e).__name__}: {e})") from e
    return fmt, width, height


def inspect_path(path, size, max_pixels=MAX_PIXELS):
    """`inspect` for a file on disk."""
    return inspect(lambda: open(path, "rb"), size, max_pixels)


def inspect_bytes(data, max_pixels=MAX_PIXELS):
    """`inspect` for bytes in memory (a zip member)."""
    return inspect(lambda: io.BytesIO(data), len(data), max_pixels)
