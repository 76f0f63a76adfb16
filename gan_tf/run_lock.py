"""One training process per run directory.

Two processes writing one run directory would interleave checkpoints and logs. The lock
is an exclusive `fcntl.flock` on `<run>/.lock`, held on a file descriptor kept open for
the life of the run: the kernel releases it when the process ends, however it ends, so
there is no stale lock to judge (no pid or host name to compare, which fails across PID
namespaces), and taking it is atomic. The file's content (host, pid, start time) only
makes the refusal message useful; an empty or garbled file is no obstacle.
"""
import errno
import fcntl
import json
import os
import socket
import time

LOCK_NAME = ".lock"


class RunLockedError(RuntimeError):
    """Another live process holds the run directory."""


class RunLock:
    """Context manager holding `<directory>/.lock` for the life of a run."""

    def __init__(self, directory):
        self.path = os.path.join(directory, LOCK_NAME)
        self.owner = {"host": socket.gethostname(), "pid": os.getpid(), "since": time.strftime("%Y-%m-%d %H:%M:%S")}
        self._fd = None

    def _holder(self):
        try:
            with open(self.path) as f:
                holder = json.load(f)
        except (OSError, ValueError):
            return {}
        return holder if isinstance(holder, dict) else {}

    def acquire(self):
        while True:
            try:
                # O_NOFOLLOW: a planted symlink must not make us write another file.
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
            except OSError as error:
                if error.errno == errno.ELOOP:
                    raise OSError(f"{self.path} is a symlink; refusing to use it as the run's lock.") from None
                raise
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                holder = self._holder()
                raise RunLockedError(
                    f"{os.path.dirname(self.path)} is in use by pid {holder.get('pid', '?')} on host "
                    f"{holder.get('host', '?')} since {holder.get('since', '?')}. Wait for it to finish "
                    "(the lock is released as soon as that process ends)."
                ) from None
            # The holder before us may have removed the file between our open and our flock;
            # then we locked an orphaned inode, and must lock the file now at the path.
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path, follow_symlinks=False))
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps(self.owner).encode())
        self._fd = fd
        return self

    def release(self):
        if self._fd is None:
            return
        try:
            os.remove(self.path)  # while still locked: a waiting opener re-checks the path (above)
        except FileNotFoundError:
            pass
        os.close(self._fd)
        self._fd = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
