"""DCGAN on your own images: `python -m gan_tf.experiments.images --data_dir PATH [--image_size 64]`.

PATH is a folder (searched recursively) or a .zip of JPEG/PNG images (GIF, BMP and WebP also work).
Each image is centre-cropped to a square, resized to `--image_size` with antialiasing and converted to
`--channels` (3 by default; grayscale is repeated, alpha dropped). Truncated, empty or non-image files
are skipped and named in a warning; `--strict_data` stops at the first one instead.

`--image_size` is the side of the square training images; the DCGAN stack needs it even (28, 32, 64,
...). Small folders need many epochs: the default is 100 passes over the data.
"""
from gan_tf.experiments import flags

NAME = "images"

DEFAULTS = dict(dataset="images", out_dir="runs/images", image_size=64, channels=3, width=64, epochs=100)

# Where a recipe needs other values on this data set than DEFAULTS: {recipe: {field: value}}.
RECIPE_DEFAULTS = {}


def main():
    flags.main(NAME)


if __name__ == "__main__":
    main()
