"""Reading images from a zip archive in place (e.g. CelebA's img_align_celeba.zip), safely.

Nothing is extracted, so no member can write outside a folder; members that would be dangerous to
extract are still rejected, because an archive that contains them was not made for us: absolute paths,
`..` components, symbolic links, encrypted members. A member is read with a hard cap on its
uncompressed size (the declared size can lie), so a zip bomb cannot exhaust memory.
"""
import re
import stat
import zipfile

from gan_tf.data.base import DataError
from gan_tf.data.image_check import MAX_FILE_BYTES

_DRIVE = re.compile(r"^[A-Za-z]:")


def is_hidden(name):
    """Hidden files and macOS resource forks (`.DS_Store`, `__MACOSX/._x.jpg`): ignored silently."""
    parts = [p for p in re.split(r"[\\/]", name) if p not in ("", ".", "..")]
    return any(p.startswith(".") or p == "__MACOSX" for p in parts)


def unsafe_reason(info):
    """Why zip member `info` must be rejected, or None."""
    name = info.filename
    if name.startswith(("/", "\\")) or _DRIVE.match(name):
        return "absolute path in the archive"
    if ".." in re.split(r"[\\/]", name):
        return "'..' component in the path (path traversal)"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "symbolic link"
    if info.flag_bits & 0x1:
        return "encrypted member"
    if info.file_size > MAX_FILE_BYTES:
        return f"declares {info.file_size:,} bytes uncompressed, more than the {MAX_FILE_BYTES:,}-byte cap"
    return None


def open_zip(path):
    """Opens `path` as a zip archive; DataError naming it if it is not one."""
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise DataError(f"{path}: not a readable zip archive ({e}); expected a .zip of images") from e


def read_member(archive, name, cap=None):
    """The bytes of member `name`, refusing more than `cap` (default MAX_FILE_BYTES) bytes whatever the
    header declares."""
    cap = MAX_FILE_BYTES if cap is None else cap
    with archive.open(name) as f:
        data = f.read(cap + 1)
    if len(data) > cap:
        raise ValueError(f"more than {cap:,} bytes uncompressed (its header declared fewer)")
    return data


def member_reader(path, names):
    """A generator factory for `tf.data.Dataset.from_generator`: yields each member's bytes in order.

    A member that cannot be read yields empty bytes, which the decoder then rejects (and the pipeline
    skips), instead of ending the stream early.
    """
    def generate():
        with zipfile.ZipFile(path) as archive:
            for name in names:
                try:
                    yield read_member(archive, name)
                except Exception:  # checked up front; a file changed under us must not end the epoch
                    yield b""
    return generate
