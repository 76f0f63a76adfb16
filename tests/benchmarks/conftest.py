"""What the smoke tests of experiments/benchmarks/ share: importing a script as a module, and running
one as a user does (`python experiments/benchmarks/<script>.py`, from the repository's root)."""
import os
import subprocess
import sys
import types

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BENCHMARKS = os.path.join(ROOT, "experiments", "benchmarks")


def load(name):
    """The benchmark script `name` (e.g. "peers") as a module; its folder is on sys.path only meanwhile."""
    import importlib

    sys.path.insert(0, BENCHMARKS)
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(BENCHMARKS)


def run(script, *arguments, timeout=600):
    """Runs `python experiments/benchmarks/<script> ARGUMENTS` to the end; fails the test if it fails."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")]))
    subprocess.run([sys.executable, os.path.join(BENCHMARKS, script), *arguments], check=True, env=env, cwd=ROOT,
                   timeout=timeout)


@pytest.fixture
def benchmarks():
    """`benchmarks.load(name)`, `benchmarks.run(script, *arguments, timeout=600)`."""
    return types.SimpleNamespace(load=load, run=run)
