"""One training process per run directory.

Two processes writing one run directory would interleave checkpoints and logs. The
lock is a file created atomically (O_EXCL) holding the owner's host, pid and start
time; a lock whose process is gone (same host, pid not running) is stale and taken over.
"""
import json
import os
import socket
import time

from absl import logging

LOCK_NAME = ".lock"


class RunLockedError(RuntimeError):
    """Another live process holds the run directory."""


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


class RunLock:
    """Context manager holding `<directory>/.lock` for the life of a run."""

    def __init__(self, directory):
        self.path = os.path.join(directory, LOCK_NAME)
        self.owner = {"host": socket.gethostname(), "pid": os.getpid(), "since": time.strftime("%Y-%m-%d %H:%M:%S")}

    def _create(self):
        fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        with os.fdopen(fd, "w") as f:
            json.dump(self.owner, f)

    def acquire(self):
        try:
            self._create()
            return self
        except FileExistsError:
            pass
        try:
            with open(self.path) as f:
                holder = json.load(f)
        except (OSError, ValueError):
            holder = {}
        same_host = holder.get("host") == self.owner["host"]
        if same_host and isinstance(holder.get("pid"), int) and not _alive(holder["pid"]):
            logging.warning("Removing stale lock %s of pid %d, which is no longer running.", self.path, holder["pid"])
            os.remove(self.path)
            self._create()
            return self
        raise RunLockedError(
            f"{os.path.dirname(self.path)} is in use by pid {holder.get('pid', '?')} on host "
            f"{holder.get('host', '?')} since {holder.get('since', '?')}. Wait for it to finish, or "
            f"delete {self.path} if that process is gone."
        )

    def release(self):
        try:
            os.remove(self.path)
        except FileNotFoundError:
            pass

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
