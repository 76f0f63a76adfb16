"""DCGAN on Fashion-MNIST: `python -m gan_tf.experiments.fashion_mnist [--flags]`.

Offline, the data comes from Debian's `dataset-fashion-mnist` package (60,000 training images in
/usr/share/datasets/fashion-mnist, found by `--data_source=auto`); or pass `--data_dir` with the four IDX
files. The defaults are MNIST's except for the number of epochs: 5 passes over 60,000 images are
4,685 steps, about the 4,200 steps of MNIST's 60 epochs.
"""
from gan_tf.experiments import flags, recipes

NAME = "fashion_mnist"

DEFAULTS = dict(dataset="fashion_mnist", out_dir="runs/fashion_mnist", epochs=5)

# Where a recipe needs other values on this data set than DEFAULTS: {recipe: {field: value}}.
RECIPE_DEFAULTS = {"modern": recipes.MODERN_28PX}


def main():
    flags.main(NAME)


if __name__ == "__main__":
    main()
