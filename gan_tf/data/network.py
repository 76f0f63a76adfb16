"""A quick "is the network there?" probe, so that `auto` never waits on a download that cannot work.

TFDS retries name resolution for minutes when offline, so a download
is attempted only after a plain TCP connection to the dataset's host succeeds within a short timeout.
Name resolution has no timeout of its own in Python, so the probe runs in a daemon thread and is
abandoned when the deadline passes. Results are remembered for the life of the process, so loading the
train and test splits pays for the probe once.

The one probe of the package: data sources and the InceptionV3 weights download (`gan_tf.metrics.inception`)
both ask it. Set the environment variable `GAN_TF_OFFLINE=1` to skip the probe and every download.
"""
import os
import socket
import threading
import time

from absl import logging

PROBE_TIMEOUT_S = 2.5
_cache = {}


def _connect(host, port, timeout, result):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            result.append(True)
    except OSError as e:
        result.append(e)


def is_online(host, port=443, timeout=PROBE_TIMEOUT_S):
    """Whether a TCP connection to `host:port` succeeds within `timeout` seconds.

    Args:
      host: host name to connect to (e.g. "storage.googleapis.com").
      port: TCP port.
      timeout: overall deadline in seconds, name resolution included.

    Returns:
      `(ok, reason)`: `ok` is a bool; `reason` says why not when `ok` is False.
    """
    if os.environ.get("GAN_TF_OFFLINE", "").strip() not in ("", "0"):
        return False, "GAN_TF_OFFLINE is set"
    key = (host, port)
    if key in _cache:
        return _cache[key]
    result = []
    start = time.monotonic()
    thread = threading.Thread(target=_connect, args=(host, port, timeout, result), daemon=True)
    thread.start()
    thread.join(timeout)
    elapsed = time.monotonic() - start
    if result and result[0] is True:
        answer = (True, "")
    elif result:
        answer = (False, f"no connection to {host}:{port} ({result[0]})")
    else:
        answer = (False, f"no answer from {host}:{port} within {timeout:g} s")
    logging.info("Network probe %s:%d: %s (%.2f s)", host, port, "up" if answer[0] else answer[1], elapsed)
    _cache[key] = answer
    return answer
