"""`build_gan` maps the config onto the GAN and network arguments, passing an option only when it is on."""
import dataclasses
import sys
import types

import pytest

import gan_tf.networks
from gan_tf.experiments import conditional, recipes, runner
from gan_tf.experiments.config import ExperimentConfig


class _RecordingGAN:
    def __init__(self, generator, discriminator, latent_dim, **options):
        self.options = options

    def compile(self, d_optimizer, g_optimizer, **options):
        self.optimizers = d_optimizer, g_optimizer
        self.compile_options = options


class _AdaptiveAugment:
    def __init__(self, **arguments):
        self.arguments = arguments


@pytest.fixture
def recorded(monkeypatch):
    monkeypatch.setattr(runner, "GAN", _RecordingGAN)
    monkeypatch.setattr(conditional, "build_networks", lambda *args: (None, None))
    monkeypatch.setitem(sys.modules, "gan_tf.augment", types.SimpleNamespace(AdaptiveAugment=_AdaptiveAugment))
    return lambda config: runner.build_gan(config, (28, 28, 1))


def test_the_plain_recipe_passes_nothing_new(recorded):
    gan = recorded(recipes.resolve("mnist", recipe="dcgan2016"))
    assert gan.options == {"seed": 0, "conditioning": None}
    assert set(gan.compile_options) == {"loss", "d_steps", "gradient_penalty_weight", "r1_gamma", "weight_clip",
                                        "jit_compile"}
    for optimizer in gan.optimizers:
        assert (float(optimizer.beta_1), float(optimizer.beta_2)) == (0.5, 0.999)


def test_the_modern_recipe_asks_for_ema_and_adaptive_augmentation(recorded):
    gan = recorded(recipes.resolve("mnist", recipe="modern", r1_gamma=0.2, r2_gamma=0.5, reg_interval=4,
                                     beta_2=0.99))
    assert gan.options["ema_kimg"] == recipes.MODERN["ema_kimg"]
    assert gan.options["ema_rampup"] == recipes.MODERN["ema_rampup"]
    augment = gan.options["augment"]
    assert augment["policy"] == tuple(recipes.MODERN["augment"].split(","))
    assert augment["probability"].arguments == {"target": recipes.MODERN["ada_target"],
                                                "initial_p": recipes.MODERN["augment_p"]}
    assert gan.compile_options["r2_gamma"] == 0.5 and gan.compile_options["regularization_interval"] == 4
    assert gan.compile_options["r1_gamma"] == 0.2
    assert [float(optimizer.beta_2) for optimizer in gan.optimizers] == pytest.approx([0.99, 0.99])


def test_fixed_augmentation_probability_and_ema_without_warm_up(recorded):
    gan = recorded(ExperimentConfig(augment="color", augment_p=0.25, ema_kimg=2.0, ema_rampup=0.0))
    assert gan.options["augment"] == {"policy": ("color",), "probability": 0.25}
    assert gan.options["ema_kimg"] == 2.0 and gan.options["ema_rampup"] is None


def test_spectral_norm_and_resnet_reach_the_network_builders(monkeypatch):
    calls = []
    monkeypatch.setattr(conditional.networks, "dcgan_generator", lambda *args, **kwargs: "G")
    monkeypatch.setattr(conditional.networks, "dcgan_discriminator",
                        lambda *args, **kwargs: calls.append(("dcgan", args, kwargs)) or "D")
    fake_resnet = types.SimpleNamespace(
        resnet_generator=lambda *args, **kwargs: calls.append(("resnet_g", args, kwargs)) or "G",
        resnet_discriminator=lambda *args, **kwargs: calls.append(("resnet_d", args, kwargs)) or "D")
    monkeypatch.setitem(sys.modules, "gan_tf.networks.resnet", fake_resnet)
    monkeypatch.setattr(gan_tf.networks, "resnet", fake_resnet, raising=False)
    base = ExperimentConfig(width=8, latent_dim=4)
    conditional.build_networks(base, (28, 28, 1), None)
    conditional.build_networks(dataclasses.replace(base, spectral_norm=True), (28, 28, 1), None)
    conditional.build_networks(dataclasses.replace(base, architecture="resnet", spectral_norm=True, d_dropout=0.0),
                               (32, 32, 3), None)
    assert calls == [
        ("dcgan", ((28, 28, 1), 8, 0.3), {}),
        ("dcgan", ((28, 28, 1), 8, 0.3), {"spectral_norm": True}),
        ("resnet_g", (4, (32, 32, 3), 8), {}),
        ("resnet_d", ((32, 32, 3), 8), {"spectral_norm": True}),
    ]


def test_rpgan_with_adaptive_augmentation_warns_that_ada_cannot_read_its_discriminator(recorded, monkeypatch):
    warned = []
    monkeypatch.setattr(runner.logging, "warning", lambda message, *args: warned.append(message % args))
    recorded(recipes.resolve("mnist", recipe="modern", loss="rpgan"))
    assert len(warned) == 1 and "--loss=rpgan with adaptive augmentation (--ada_target=0.6)" in warned[0]
    warned.clear()
    recorded(recipes.resolve("mnist", recipe="modern", loss="rpgan", ada_target=0.0))
    recorded(recipes.resolve("mnist", recipe="modern"))
    assert warned == []


@pytest.mark.parametrize("architecture, conditioning", [("dcgan", None), ("mlp", None), ("dcgan", "projection"),
                                                         ("mlp", "acgan")])
def test_the_discriminator_drops_at_the_configured_rate_after_each_hidden_layer(architecture, conditioning):
    from gan_tf.conditioning import ClassConditioning

    def rates(d_dropout):
        config = ExperimentConfig(architecture=architecture, width=4, latent_dim=4, d_dropout=d_dropout)
        condition = None if conditioning is None else ClassConditioning(10, conditioning)
        _, discriminator = conditional.build_networks(config, (28, 28, 1), condition)
        found = []
        for layer in discriminator._flatten_layers():
            if isinstance(layer, gan_tf.networks.layers.Dropout):
                found.append(layer.rate)
        return found

    hidden = {"dcgan": 2, "mlp": 3}[architecture]  # the tutorial's two strided convolutions; 1024, 512, 256 units
    assert rates(0.25) == [0.25] * hidden
    assert rates(0.0) == []
