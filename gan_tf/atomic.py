"""The one way gan_tf writes a file that must never be seen half-written.

`replace_atomically(path)` writes aside (a fresh temporary file in the same directory,
created with O_EXCL | O_NOFOLLOW so that no planted file or symlink is ever written
through), fsyncs it, renames it over `path` and fsyncs the directory: a reader, or a
process killed at any moment, sees either the old file or the complete new one.
"""
import contextlib
import json
import os
import tempfile

PARTIAL_SUFFIX = ".partial"

# mkstemp creates files readable by their owner only; a run's files get the permissions that
# open() would give them (0o666 less the umask). Read once: os.umask can only be read by setting it.
_UMASK = os.umask(0o022)
os.umask(_UMASK)


def fsync_directory(directory):
    """Makes a rename in `directory` durable (no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def replace_atomically(path, mode="w"):
    """Yields a file open for writing; on a clean exit its content replaces `path` atomically.

    On an exception the temporary file is removed and `path` is left as it was.

    Args:
      path: the file to (re)place; its directory must exist.
      mode: "w" (text) or "wb" (binary).
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"mode={mode!r}: expected 'w' or 'wb'.")
    directory = os.path.dirname(os.path.abspath(path))
    # mkstemp opens with O_CREAT | O_EXCL | O_NOFOLLOW and a name nobody else holds.
    fd, temporary = tempfile.mkstemp(dir=directory, prefix=os.path.basename(path) + ".", suffix=PARTIAL_SUFFIX)
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temporary)
        raise
    fsync_directory(directory)


def write_text(path, text):
    """Replaces `path` atomically by `text`."""
    with replace_atomically(path, "w") as f:
        f.write(text)


def write_json(path, record, indent=2):
    """Replaces `path` atomically by `record` as JSON (with a final newline)."""
    write_text(path, json.dumps(record, indent=indent) + "\n")
