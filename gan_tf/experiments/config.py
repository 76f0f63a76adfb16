"""The frozen configuration of an experiment run: every flag, declared once with its validation.

Each field of `ExperimentConfig` is an `option(...)`: its default, its flag's help text, its check,
its choices and whether it is part of the recipe live together, and everything else is derived from
them: `FIELD_CHECKS`, `RECIPE_FIELDS`, the absl flags (`gan_tf.experiments.flags`) and docs/flags.md
(`gan_tf.experiments.flags_doc`). Free of TensorFlow, so that bad values are refused before it starts.

The field defaults are the plain recipe (`dcgan2016`: every newer technique off); presets and each
experiment's own defaults are layered on top by `gan_tf.experiments.recipes`.
"""
import dataclasses
import math
import os

from gan_tf import choices
from gan_tf.experiments import recipes


def option(default, help, *, check=None, choices=None, recipe=False):
    """A config field with its flag's help, its check and its recipe membership.

    Args:
      default: the default value (its type decides the flag's type).
      help: the flag's help text.
      check: `(predicate, what was expected)`; float fields are also checked to be finite.
      choices: the allowed values (a check is derived from them).
      recipe: part of what is trained: a run directory resumes only a run that agrees on it.
    """
    if choices is not None:
        check = (lambda value: value in choices), f"one of {', '.join(map(str, choices))}"
    if isinstance(default, float):
        ok, expected = check or ((lambda value: True), "a finite number")
        check = (lambda value: math.isfinite(value) and ok(value)), expected
    metadata = {"help": help, "check": check, "choices": tuple(choices) if choices else None, "recipe": recipe}
    return dataclasses.field(default=default, metadata=metadata)


_POSITIVE = (lambda value: value >= 1), "a positive integer"
_OFF_OR_MORE = (lambda value: value >= 0), "a value >= 0 (0 = off)"
_WEIGHT = (lambda value: value >= 0), "a finite value >= 0 (0 = off)"
_LEARNING_RATE = (lambda value: value > 0), "a positive, finite learning rate"
_ADAM_BETA = (lambda value: 0.0 <= value < 1.0), "a value in [0, 1)"
_PROBABILITY = (lambda value: 0.0 <= value <= 1.0), "a probability in [0, 1]"
_RATE = (lambda value: 0.0 <= value < 1.0), "a rate in [0, 1) (0 = off)"


# A documented cap, checked at parse time, so that a typo (--latent_dim=1000000000) is refused before
# a kernel of latent_dim x (first layer) floats is allocated: 8x the largest latent of published image
# GANs (StyleGAN's 512; DCGAN 100, BigGAN 120-128). At the cap the DCGAN generator's first layer holds
# 4,096 x 6,272 weights on 28x28 at width 32 (100 MB, with Adam's moments 300 MB).
MAX_LATENT_DIM = 4096
_LATENT_DIM = ((lambda value: 1 <= value <= MAX_LATENT_DIM),
               f"a positive integer <= {MAX_LATENT_DIM:,} (the documented cap: 8x StyleGAN's 512)")
# The same for the networks' width (8x the tutorial's 64: at 64x64 the generator's first convolution then
# maps 4,096 to 2,048 channels, 210 M weights, 2.5 GB with Adam's moments) and the batch (8x BigGAN's 2,048).
MAX_WIDTH = 512
_WIDTH = ((lambda value: 1 <= value <= MAX_WIDTH),
          f"a positive integer <= {MAX_WIDTH:,} (the documented cap: 8x the tutorial's 64)")
MAX_BATCH_SIZE = 16384
_BATCH_SIZE = ((lambda value: 1 <= value <= MAX_BATCH_SIZE),
               f"a positive integer <= {MAX_BATCH_SIZE:,} (the documented cap: 8x BigGAN's 2,048)")


def _is_augment_policy(value):
    if value == "none":
        return True
    names = value.split(",")
    return len(set(names)) == len(names) and all(name in choices.AUGMENT_POLICIES for name in names)


@dataclasses.dataclass(frozen=True)
class ExperimentConfig:
    """Everything a run needs; `run(config)` trains it. Defaults: the `dcgan2016` recipe on MNIST.

    `recipes.resolve(...)` builds the config of an experiment and recipe; constructing this class
    directly applies no preset (`recipe` then only names the preset the values started from).
    """

    dataset: str = option("mnist", "Data set to train on.", choices=choices.DATASETS, recipe=True)
    recipe: str = option(
        "dcgan2016", "Named set of defaults (gan_tf/experiments/recipes.py): modern (the "
        "default: EMA, augmentation, ...) or dcgan2016 (the 2016 DCGAN recipe of the TensorFlow tutorial). "
        "Flags given on the command line override it.",
        choices=tuple(recipes.RECIPES), recipe=True)
    out_dir: str = option("runs/mnist", "Run directory (config.json, logs/, samples/, checkpoints/, metrics.jsonl).",
                          check=(bool, "a directory path"))
    epochs: int = option(60, "Total epochs; rerunning with more epochs continues the run. With --time_budget and "
                         "no --epochs, training is not capped by epochs.", check=_POSITIVE)
    time_budget: float = option(
        0.0, "Minutes of training, then stop at a step with a checkpoint and the final grid (0 = off); rerunning "
        "with a larger budget continues the run.",
        check=((lambda value: value >= 0), "a finite number of minutes >= 0 (0 = off)"))
    steps_per_epoch: int = option(0, "Cap on steps per epoch, for quick runs (0 = a full pass over the data).",
                                  check=_OFF_OR_MORE, recipe=True)
    batch_size: int = option(64, "Global batch size (split across replicas).", check=_BATCH_SIZE, recipe=True)
    latent_dim: int = option(100, "Size of the generator's noise vector (a VAE's latent code z).", check=_LATENT_DIM,
                             recipe=True)
    architecture: str = option(
        "dcgan", "Networks: dcgan (Radford et al. 2016), resnet (residual, no normalisation in D; after SNGAN and "
        "R3GAN) or mlp (fully connected).", choices=choices.ARCHITECTURES, recipe=True)
    # Channels of the generator's last hidden layer (the tutorial uses 64).
    width: int = option(32, "Network width: channels of the generator's last hidden layer and the "
                        "discriminator's first (a VAE's decoder and encoder alike).", check=_WIDTH, recipe=True)
    spectral_norm: bool = option(False, "Spectral normalisation of the discriminator's layers (Miyato et al. 2018).",
                                 recipe=True)
    # The TensorFlow tutorial's rate; the modern recipe turns it off (docs/recipes.md says why).
    d_dropout: float = option(0.3, "Dropout rate after each hidden layer of the dcgan and mlp discriminators "
                              "(0 = off; the resnet discriminator has none). 0.3 suits long runs on a few "
                              "thousand images, where a discriminator without dropout outruns the generator.",
                              check=_RATE, recipe=True)
    loss: str = option("non_saturating", "Loss pair (gan_tf.losses).", choices=choices.LOSSES, recipe=True)
    d_lr: float = option(2e-4, "Discriminator learning rate (Adam).", check=_LEARNING_RATE, recipe=True)
    g_lr: float = option(2e-4, "Generator learning rate (Adam).", check=_LEARNING_RATE, recipe=True)
    # DCGAN's Adam β1: 0.9 makes training oscillate (Radford et al. 2016).
    beta_1: float = option(0.5, "Adam beta_1 of both optimizers (of a VAE's one).", check=_ADAM_BETA, recipe=True)
    beta_2: float = option(0.999, "Adam beta_2 of both optimizers (of a VAE's one; WGAN-GP uses 0.9, R3GAN 0.99).",
                           check=_ADAM_BETA, recipe=True)
    d_steps: int = option(1, "Discriminator updates per generator update (5 for WGAN).", check=_POSITIVE, recipe=True)
    gradient_penalty: float = option(0.0, "WGAN-GP weight lambda (10 in the paper; 0 = off).", check=_WEIGHT,
                                     recipe=True)
    r1_gamma: float = option(0.0, "R1 penalty gamma on real images (Mescheder et al. 2018; 0 = off).",
                             check=_WEIGHT, recipe=True)
    r2_gamma: float = option(0.0, "R2 penalty gamma on generated images (R3GAN, Huang et al. 2024; 0 = off).",
                             check=_WEIGHT, recipe=True)
    reg_interval: int = option(1, "Apply the R1/R2 penalties every N discriminator steps, weighted by N (lazy "
                               "regularisation, StyleGAN2; 1 = every step).", check=_POSITIVE, recipe=True)
    weight_clip: float = option(0.0, "Clip discriminator weights to [-c, c] after each update, original WGAN "
                                "(0 = off).", check=_WEIGHT, recipe=True)
    ema_kimg: float = option(0.0, "EMA generator: half-life of the average of the generator's weights, in "
                             "thousands of images (StyleGAN2-ADA; 0 = no EMA generator).", check=_WEIGHT, recipe=True)
    ema_rampup: float = option(0.0, "EMA warm-up: the half-life is at most this fraction of the images seen so far "
                               "(StyleGAN2-ADA: 0.05; 0 = no warm-up).", check=_WEIGHT, recipe=True)
    augment: str = option(
        "none", f"Differentiable augmentation of every image the discriminator sees (DiffAugment, Zhao et al. 2020): "
        f"none, or a comma-separated subset of {', '.join(choices.AUGMENT_POLICIES)}.",
        check=(_is_augment_policy, f'"none" or a comma-separated subset of {", ".join(choices.AUGMENT_POLICIES)}'),
        recipe=True)
    augment_p: float = option(1.0, "Probability of each augmentation per image: fixed with --ada_target=0, else the "
                              "starting value ADA adjusts.", check=_PROBABILITY, recipe=True)
    ada_target: float = option(0.0, "Adaptive augmentation (ADA, Karras et al. 2020): the target of E[sign(D(real))] "
                               "that p is steered to (0.6 in the paper; 0 = fixed p).",
                               check=((lambda value: 0.0 <= value < 1.0), "a value in [0, 1) (0 = fixed p)"),
                               recipe=True)
    seed: int = option(0, "Seed of everything random: weights, noise, data order.",
                       check=((lambda value: value >= 0), "an integer >= 0"), recipe=True)
    data_source: str = option("auto", "Where the data comes from: auto or a named source (see README).")
    data_dir: str = option("", "Directory with local data files (tried first by --data_source=auto).",
                           check=((lambda value: not value or os.path.exists(value)),
                                  "an existing directory or .zip file"))
    image_size: int = option(0, "Resize images to this side (0 = the dataset's own size).",
                             check=((lambda value: value == 0 or value >= 8),
                                    "0 (the dataset's size) or a side of at least 8"), recipe=True)
    channels: int = option(0, "Image channels, 1 or 3 (0 = the dataset's own); grayscale/RGBA are converted.",
                           check=((lambda value: value in (0, 1, 3)), "0 (the dataset's own), 1 or 3"), recipe=True)
    conditional: str = option(
        "none", "Class-conditional GAN: none, concat (Mirza & Osindero 2014), projection (Miyato & Koyama 2018; "
        "the usual choice) or acgan (auxiliary classifier, Odena et al. 2017).",
        choices=("none",) + choices.CONDITIONING_MODES, recipe=True)
    text: bool = option(False, "Condition on captions made from the labels (text-to-image, GAN-CLS) instead of on "
                        "labels; needs --conditional=projection or concat.", recipe=True)
    text_encoder: str = option("gru", "Text runs: each network's caption encoder, gru or attention (one transformer "
                               "block).", choices=choices.TEXT_ENCODERS, recipe=True)
    mismatch_weight: float = option(
        0.5, "Text runs: weight w of real images with mismatched captions in the discriminator's loss, real + (1-w) "
        "fake + w mismatched (GAN-CLS, Reed et al. 2016: 0.5; 0 = off).",
        check=((lambda value: 0.0 <= value <= 1.0), "a weight in [0, 1] (0 = off)"), recipe=True)
    embedding_dim: int = option(64, "Size of the label or caption embedding given to the generator (and concat's "
                                "discriminator).", check=_POSITIVE, recipe=True)
    class_loss_weight: float = option(1.0, "ACGAN: weight of the auxiliary classification losses.", check=_WEIGHT,
                                      recipe=True)
    # -1 = auto: 0.2 for conditional runs (it lifted class-conditional MNIST from 77 % to 92 % prompt
    # accuracy, see experiments/conditional), else 0.
    mode_seeking_weight: float = option(
        -1.0, "Conditional runs: weight of the mode-seeking term (MSGAN, Mao et al. 2019) that makes the generator "
        "use its noise; -1 = auto (0.2 when conditional), 0 = off.",
        check=((lambda value: value == -1 or value >= 0), "-1 (auto: 0.2 for conditional runs, else 0) or a weight >= 0"),
        recipe=True)
    # "auto" is made concrete before the run directory is checked (runner._resolve_precision), so
    # config.json and the checkpoints record the precision the run computes in.
    mixed_precision: str = option(
        "auto", "auto (bfloat16 on CPUs with native bfloat16, AVX-512 BF16 or AMX, where it is faster; float32 "
        "elsewhere; a resumed run keeps its own), none (float32), mixed_float16 (GPU), mixed_bfloat16.",
        choices=choices.PRECISION_CHOICES, recipe=True)
    strict_data: bool = option(False, "Stop at the first unreadable image file instead of skipping and counting it.")
    strategy: str = option("auto", "auto, one_device, mirrored (several GPUs, or --cpu_devices), multi_worker "
                           "(TF_CONFIG).", choices=choices.STRATEGIES)
    cpu_devices: int = option(1, "Split the CPU into N logical devices, to try --strategy=mirrored without GPUs.",
                              check=_POSITIVE)
    jit_compile: str = option("auto", "XLA: auto (on a single GPU only; slower on CPU), true, false.",
                              choices=choices.JIT_CHOICES)
    eval_every: int = option(0, "Evaluate the generator every N epochs and at the end (0 = never).",
                             check=_OFF_OR_MORE)
    eval_samples: int = option(10000, "Generated images per evaluation.", check=_POSITIVE)
    sample_grid: int = option(64, "Images in the fixed-noise sample grid.", check=_POSITIVE)
    log_every_steps: int = option(50, "Write TensorBoard scalars every N training steps (0 = once an epoch only).",
                                  check=_OFF_OR_MORE)
    image_every_steps: int = option(0, "Write the TensorBoard sample grid every N training steps (0 = once an "
                                    "epoch).", check=_OFF_OR_MORE)
    resume: bool = option(True, "Resume from the newest checkpoint in --out_dir (--noresume refuses a used "
                          "directory).")
    verbose: int = option(1, "Terminal output: 0 silent, 1 progress bar, 2 one line per epoch.",
                          choices=(0, 1, 2))
    # The VAE baseline (python -m gan_tf.experiments.vae) and its own options.
    model: str = option("gan", "What is trained: gan (gan_tf.GAN), or vae (the VAE baseline, gan_tf.vae.VAE; "
                        "python -m gan_tf.experiments.vae).", choices=choices.MODELS, recipe=True)
    kl_weight: float = option(1.0, "VAE: weight beta of the KL term (1 = the ELBO of Kingma & Welling 2014; "
                              "beta-VAE, Higgins et al. 2017, uses > 1).", check=_WEIGHT, recipe=True)
    reconstruction: str = option(
        "bernoulli", "VAE: the decoder's pixel likelihood p(x|z): bernoulli (binary cross-entropy; MNIST-like "
        "data) or gaussian (squared error, sigma 0.1; grey-level and colour images).",
        choices=choices.VAE_RECONSTRUCTIONS, recipe=True)
    vae_lr: float = option(1e-3, "VAE: Adam learning rate of the encoder and decoder (one optimizer).",
                           check=_LEARNING_RATE, recipe=True)

    def validate(self):
        """Raises ValueError naming every bad value; returns self."""
        errors = [
            f"--{field}={getattr(self, field)!r}: expected {problem}."
            for field in FIELD_CHECKS
            for problem in [field_problem(field, getattr(self, field))]
            if problem
        ]
        errors += self._combination_errors()
        if errors:
            raise ValueError("\n".join(errors))
        return self

    def _combination_errors(self):
        """Combinations of fields that cannot work."""
        errors = []
        if self.data_source not in choices.data_sources(self.dataset):
            errors.append(f"--data_source={self.data_source!r}: expected one of "
                          f"{', '.join(choices.data_sources(self.dataset))} for dataset {self.dataset!r}.")
        if self.conditional != "none" and self.dataset not in choices.LABELLED_DATASETS:
            errors.append(
                f"--conditional={self.conditional} needs class labels, and dataset {self.dataset!r} has none: "
                f"expected --conditional=none or one of the datasets {', '.join(choices.LABELLED_DATASETS)}."
            )
        if self.conditional != "none" and self.architecture not in choices.CONDITIONAL_ARCHITECTURES:
            errors.append(
                f"--architecture={self.architecture} with --conditional={self.conditional}: conditional networks "
                f"exist for {', '.join(choices.CONDITIONAL_ARCHITECTURES)}."
            )
        if self.spectral_norm and self.architecture == "mlp":
            errors.append("--spectral_norm with --architecture=mlp: expected --architecture=dcgan or resnet.")
        if self.spectral_norm and self.conditional != "none":
            errors.append(f"--spectral_norm with --conditional={self.conditional}: the conditional "
                          "discriminators have no spectral normalisation; expected --conditional=none.")
        if self.d_dropout and self.architecture == "resnet":
            errors.append(f"--d_dropout={self.d_dropout} with --architecture=resnet: the residual discriminator has "
                          "no dropout; expected --d_dropout=0.")
        if self.conditional == "none" and self.mode_seeking_weight > 0:
            errors.append(
                f"--mode_seeking_weight={self.mode_seeking_weight} with --conditional=none: the mode-seeking term "
                "is for conditional runs; expected -1 (auto) or 0."
            )
        errors += self._model_errors()
        if self.text and self.conditional not in choices.TEXT_CONDITIONING_MODES:
            errors.append(
                f"--text with --conditional={self.conditional}: expected --conditional=projection or concat "
                "(how the discriminator reads the caption; ACGAN classifies labels, not captions)."
            )
        return errors

    def _model_errors(self):
        """Fields of the other kind of model, set away from their defaults: refused, not ignored."""
        return [
            f"--{name}={getattr(self, name)!r} with --model={self.model}: {why}; leave it out (expected "
            f"{FIELDS[name].default!r})."
            for name, why in foreign_fields(self.model).items()
            if getattr(self, name) != FIELDS[name].default
        ]

    @property
    def resolved_mode_seeking_weight(self):
        """`mode_seeking_weight` with auto (-1) resolved: 0.2 for conditional runs, else 0."""
        if self.mode_seeking_weight >= 0:
            return self.mode_seeking_weight
        return 0.2 if self.conditional != "none" else 0.0

    @property
    def augment_policy(self):
        """`augment` as a tuple of policy names (empty for "none")."""
        return () if self.augment == "none" else tuple(self.augment.split(","))

    def replace(self, **changes):
        return dataclasses.replace(self, **changes).validate()

    def to_dict(self):
        return dataclasses.asdict(self)


FIELDS = {field.name: field for field in dataclasses.fields(ExperimentConfig)}
# field -> (predicate, what was expected); also the absl flag validators.
FIELD_CHECKS = {name: field.metadata["check"] for name, field in FIELDS.items() if field.metadata["check"]}
# Fields that define what is being trained: a run directory only resumes a run that agrees on all
# of them (epochs and the time budget may grow; devices and logging may change).
RECIPE_FIELDS = tuple(name for name, field in FIELDS.items() if field.metadata["recipe"])
HELP = {name: field.metadata["help"] for name, field in FIELDS.items()}


# Fields only one kind of model reads, with why the other has no use for them. The other model's
# experiment leaves them out of its --help, refuses them on its command line and keeps them at
# their defaults. `recipe` is not among them: every config records the recipe its values started
# from (a VAE has no recipe of its own, and the presets' fields are all GAN-only).
_GAN_ONLY = {
    "a VAE has no discriminator": ("loss", "d_lr", "d_steps", "gradient_penalty", "r1_gamma", "r2_gamma",
                                   "reg_interval", "weight_clip", "spectral_norm", "d_dropout", "augment", "augment_p",
                                   "ada_target"),
    "a VAE has no generator optimizer of its own (its one optimizer takes --vae_lr)": ("g_lr",),
    "a VAE keeps no EMA copy of its decoder": ("ema_kimg", "ema_rampup"),
    "the VAE is unconditional": ("conditional", "text", "text_encoder", "mismatch_weight", "embedding_dim",
                                 "class_loss_weight", "mode_seeking_weight"),
    "the VAE's networks are the DCGAN's stages (gan_tf.networks.vae)": ("architecture",),
}
_VAE_ONLY = {"it is a VAE option (python -m gan_tf.experiments.vae)": ("kl_weight", "reconstruction", "vae_lr")}
MODEL_ONLY_FIELDS = {
    "gan": {name: why for why, names in _GAN_ONLY.items() for name in names},
    "vae": {name: why for why, names in _VAE_ONLY.items() for name in names},
}


def foreign_fields(model):
    """{field: why} of the fields that `model` ("gan" or "vae") does not read."""
    return {name: why for other, fields in MODEL_ONLY_FIELDS.items() if other != model
            for name, why in fields.items()}


def field_problem(name, value):
    """What was expected of field `name` if `value` fails its check, else None."""
    check = FIELD_CHECKS.get(name)
    if check is None:
        return None
    ok, expected = check
    try:
        return None if ok(value) else expected
    except TypeError:  # e.g. a string where a number belongs
        return expected
