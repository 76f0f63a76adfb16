"""The VAE baseline on MNIST or Fashion-MNIST: `python -m gan_tf.experiments.vae --dataset mnist`.

A variational autoencoder (Kingma & Welling 2014, `gan_tf.vae.VAE`) with the DCGAN networks'
convolution stages, trained by the same runner as the GANs: the same data pipeline, run
directory, checkpoints with exact resume, `--time_budget`, TensorBoard and pictures. After
every epoch it reconstructs held-out images (the first 2,000 of the test split) and logs their
PSNR and SSIM (`val_psnr`, `val_ssim`) and held-out ELBO terms (`val_loss`, ...). Its samples are
scored like a GAN's, and drawn the same way:

    python -m gan_tf.evaluate --run_dir runs/vae_mnist
    python -m gan_tf.generate --run_dir runs/vae_mnist --interpolate 10 --out walk.png

Flags of the GAN alone (the discriminator's, the loss, EMA, augmentation, conditioning,
`--recipe`) are refused; docs/vae.md says why, and what the comparison with the GAN shows.
"""
from gan_tf.choices import LABELLED_DATASETS
from gan_tf.experiments import flags, recipes
from gan_tf.experiments.config import FIELDS

NAME = "vae"

DATASETS = LABELLED_DATASETS  # the two with a shipped classifier, so that evaluate scores the samples
DEFAULTS = dict(
    model="vae",
    dataset="mnist",
    out_dir="runs/vae_{dataset}",
    # The usual VAE settings (Kingma & Welling 2014 used Adagrad; Adam 1e-3 with its own betas is
    # what TensorFlow's and Keras's VAE examples use). A 32-dimensional latent space: the KL term
    # switches off the dimensions the data does not need.
    latent_dim=32,
    beta_1=0.9,
    beta_2=0.999,
    epochs=60,
)

# Every recipe's preset holds GAN techniques only: each is put back to the field default, so
# that a VAE's config is the same under every recipe (and refuses none of its own values).
RECIPE_DEFAULTS = {name: {field: FIELDS[field].default for field in preset}
                   for name, preset in recipes.RECIPES.items()}


def main():
    flags.main(NAME)


if __name__ == "__main__":
    main()
