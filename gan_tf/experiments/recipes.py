"""Named recipes: the sets of defaults an experiment starts from (`--recipe NAME`).

A config is layered, lowest first:
  1. `ExperimentConfig`'s field defaults: the plain recipe, every newer technique off;
  2. the recipe's preset, `RECIPES[name]`;
  3. the experiment's own defaults: its module's `DEFAULTS` (data set, run directory, image size,
     ...), then `RECIPE_DEFAULTS[name]` where a recipe needs other values for that data set (epochs);
  4. the values the user gave (flags given on the command line, or keyword arguments of `resolve`).

`dcgan2016` is the recipe of Radford et al. 2016 as the TensorFlow DCGAN tutorial runs it, and every
experiment's default before the modern recipe existed: kept so that comparisons with the tutorial stay
reproducible. `modern` is the default.
"""
import importlib

# The field defaults themselves (non-saturating loss, Adam 2e-4 with beta_1 = 0.5, no EMA, no
# augmentation, no penalties), in float32 as the tutorial computes, on every CPU.
DCGAN2016 = {"mixed_precision": "none"}

# The default recipe: the 2016 networks and losses, plus the techniques that pay for themselves
# within minutes on a CPU (docs/recipes.md says why and what was measured).
MODERN = dict(
    # An exponential moving average of the generator's weights samples, evaluates and exports
    # (Karras et al. 2018; Yazici et al. 2019), with StyleGAN2-ADA's warm-up: a 10k-image half-life,
    # at most 5% of the images seen so far.
    ema_kimg=10.0,
    ema_rampup=0.05,
    # DiffAugment's translation and cutout of every image the discriminator sees (Zhao et al.
    # 2020), with ADA's adaptive probability (Karras et al. 2020): p starts at 0 and rises only
    # while the discriminator is too sure of the real images, i.e. starts to memorise them.
    augment="translation,cutout",
    augment_p=0.0,
    ada_target=0.6,
    # No dropout in the discriminator (the tutorial's 0.3): in ~5,000 steps on MNIST and
    # Fashion-MNIST, without it the samples score a lower FD and a higher precision, over two seeds
    # each (experiments/recipes/README.md). Trained ~3x longer on MNIST's 4,500 offline digits the
    # discriminator pulls away without it and ADA (target 0.6) does not step in: there dropout wins,
    # so docs/recipes.md advises --d_dropout 0.3 for long runs on a few thousand images.
    d_dropout=0.0,
)

# The modern recipe's learning rates on 28x28 images (MNIST, Fashion-MNIST and text-to-image on
# either, through their experiments' RECIPE_DEFAULTS): with the EMA generator to average out the
# noise of larger steps, a higher rate than 2016's 2e-4 learns faster within a CPU budget (the
# ablation in experiments/recipes/, the text and class-conditional records in experiments/conditional/).
# 64x64 images were not measured at it and keep 2e-4.
MODERN_28PX = dict(d_lr=5e-4, g_lr=5e-4)

RECIPES = {"modern": MODERN, "dcgan2016": DCGAN2016}
DEFAULT_RECIPE = "modern"

# With --time_budget and no --epochs, the epoch count must not end training before the budget does:
# the cap is then this many epochs, far more than any budget reaches (the budget stops the run).
UNCAPPED_EPOCHS = 1_000_000


def experiment_module(name):
    """The module `gan_tf.experiments.<name>` (it defines `DEFAULTS`, and `RECIPE_DEFAULTS` if needed)."""
    try:
        return importlib.import_module(f"gan_tf.experiments.{name}")
    except ModuleNotFoundError as error:
        raise ValueError(f"unknown experiment {name!r}: expected a module of gan_tf.experiments") from error


def layered_values(recipe, defaults=None, recipe_defaults=None, given=None):
    """The config values of layers 2-4 (see the module docstring), as a dict of fields.

    Args:
      recipe: a name in `RECIPES`.
      defaults: the experiment's `DEFAULTS`.
      recipe_defaults: the experiment's `RECIPE_DEFAULTS` ({recipe name: {field: value}}).
      given: the values the user gave.
    """
    if recipe not in RECIPES:
        raise ValueError(f"--recipe={recipe!r}: expected one of {', '.join(RECIPES)}.")
    given = dict(given or {})
    values = {**RECIPES[recipe], **(defaults or {}), **(recipe_defaults or {}).get(recipe, {}), **given,
              "recipe": recipe}
    if values.get("time_budget", 0) > 0 and "epochs" not in given:
        values["epochs"] = UNCAPPED_EPOCHS
    # An experiment over several data sets names its default run directory after the data set.
    if "out_dir" not in given and "{dataset}" in values.get("out_dir", ""):
        values["out_dir"] = values["out_dir"].format(dataset=values.get("dataset"))
    return values


def resolve(experiment, recipe=DEFAULT_RECIPE, **given):
    """The validated `ExperimentConfig` of an experiment and recipe, with `given` values on top.

        config = recipes.resolve("fashion_mnist", recipe="dcgan2016", epochs=1)
        gan_tf.experiments.runner.run(config)

    Args:
      experiment: an experiment name (`mnist`, `fashion_mnist`, `celeba`, `images`, `text_to_image`).
      recipe: a name in `RECIPES`.
      **given: `ExperimentConfig` fields that override every default.
    """
    from gan_tf.experiments.config import ExperimentConfig

    module = experiment_module(experiment)
    values = layered_values(recipe, module.DEFAULTS, getattr(module, "RECIPE_DEFAULTS", None), given)
    return ExperimentConfig(**values).validate()
