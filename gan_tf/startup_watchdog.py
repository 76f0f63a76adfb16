"""Ends a multi-worker task whose peers do not join in time; run as its own small process.

While TensorFlow waits for the tasks of a cluster to join (`MultiWorkerMirroredStrategy()`), it
holds the GIL and its preemption notifier catches SIGTERM: neither a thread nor a signal handler of
the waiting process can act. So `gan_tf.distribute` starts this script (standard library only, run
by its path, so no TensorFlow is imported) with

    python startup_watchdog.py PID TIMEOUT PEERS_JSON

It waits until its stdin closes (the task joined, or ended) or TIMEOUT seconds pass; then it prints
which peers did not join (those whose port does not even answer) and ends the task with SIGKILL.
"""
import json
import os
import select
import signal
import socket
import sys

TIMEOUT_ENV = "GAN_TF_WORKER_TIMEOUT"


def answers(address, timeout=1.0):
    """Whether something accepts TCP connections at `host:port`."""
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


def message(peers, timeout):
    """The one-line error naming the peers (`[task name, address]` pairs) that did not join."""
    absent = [(name, address) for name, address in peers if not answers(address)]
    shown = absent or peers
    named = ", ".join(f"{name} at {address}" for name, address in shown)
    why = (("nothing answers on its port" if len(shown) == 1 else "nothing answers on their ports") if absent
           else "the port answers, but the task did not join")
    return (f"strategy=multi_worker: {named} (TF_CONFIG) did not join within {timeout:g} s of start-up ({why}): "
            f"start the same command there with its own TF_CONFIG task index, or correct TF_CONFIG "
            f"({TIMEOUT_ENV} sets the wait).")


def main(argv):
    pid, timeout, peers = int(argv[1]), float(argv[2]), json.loads(argv[3])
    ready, _, _ = select.select([sys.stdin], [], [], timeout)
    if ready:  # end of file: the task joined its cluster, or ended
        return 0
    sys.stderr.write(f"error: {message(peers, timeout)}\n")
    sys.stderr.flush()
    os.kill(pid, signal.SIGKILL)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
