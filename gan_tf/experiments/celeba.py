"""DCGAN on CelebA at 64x64: `python -m gan_tf.experiments.celeba --data_dir PATH [--flags]`.

PATH is `img_align_celeba.zip` (read in place), the folder that holds it, or the extracted
`img_align_celeba/` folder; TFDS `celeb_a` is used when it is already prepared. Each face is the centred
108x108 crop of the 178x218 aligned image resized to 64x64 (gan_tf/data/celeba.py says why).

Its own defaults, under every recipe, are DCGAN's for CelebA (Radford et al., 2016): batch 128 and
64-channel networks (`--recipe dcgan2016` adds the rest: Adam 2e-4 with beta_1 = 0.5, nothing newer). One epoch of the 162,770 training faces is 1,271 steps; on a 2-core CPU that is hours, so
this experiment is meant for a GPU (try `--steps_per_epoch` for a quick look on a CPU).
"""
from gan_tf.experiments import flags

NAME = "celeba"

DEFAULTS = dict(dataset="celeba", out_dir="runs/celeba", image_size=64, channels=3, width=64, batch_size=128,
                epochs=5)

# Where a recipe needs other values on this data set than DEFAULTS: {recipe: {field: value}}.
RECIPE_DEFAULTS = {}


def main():
    flags.main(NAME)


if __name__ == "__main__":
    main()
