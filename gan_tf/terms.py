"""Loss terms beside the adversarial pair, one small interface for every technique.

A term adds to the discriminator's update, the generator's update, or both:

    term.log_keys                                    names of the logs it adds
    term.discriminator_term(gan, step) -> (extra_loss, logs)
    term.generator_term(gan, step)     -> (extra_loss, logs)

`extra_loss` is a scalar already averaged over the replica's batch (or 0.0); the `GAN`
adds it to that update's loss before the global-batch scaling. A log value is a
scalar tensor, or `(value, weight)` to give a step a weight in the epoch's mean (a
lazy penalty has weight 0 on the steps it skips). `step` is a `Step`. Conditioning
objects (`gan_tf.conditioning`) are terms; the penalties are here.
"""
import dataclasses
from typing import Any

import tensorflow as tf

from gan_tf import losses as gan_losses


@dataclasses.dataclass
class Step:
    """What one training step has computed so far, for the terms to use.

    Images are [batch, H, W, C] (this replica's rows); `condition`/`labels` are None
    for an unconditional GAN. The discriminator update fills `real_logits`,
    `fake_logits` (and ACGAN's class logits) before calling its terms; the generator
    update overwrites them with the updated discriminator's.
    """

    real_images: Any
    fake_images: Any
    noise: Any
    condition: Any = None
    labels: Any = None
    real_logits: Any = None
    fake_logits: Any = None
    real_classes: Any = None
    fake_classes: Any = None


class Term:
    """Base class: a term that adds nothing (subclasses override one or both hooks)."""

    log_keys = ()

    def discriminator_term(self, gan, step):
        return 0.0, {}

    def generator_term(self, gan, step):
        return 0.0, {}


class _LazyPenalty(Term):
    """A discriminator penalty weight·mean(penalty), applied every `interval` D steps.

    Lazy regularisation (Karras et al. 2020, StyleGAN2, sec. 3.1): on the steps where
    the discriminator's step count is a multiple of `interval` the penalty is applied
    with its weight × `interval`, elsewhere it is not computed at all.
    """

    key = None

    def __init__(self, weight, interval=1):
        self.weight = float(weight)
        self.interval = int(interval)
        self.log_keys = (self.key,)

    def _weighted(self, gan, penalty):
        """(extra_loss, logs) of `penalty`, a callable returning [batch] penalty values."""
        if self.interval == 1:
            value = tf.reduce_mean(penalty())
            return self.weight * value, {self.key: value}
        apply = tf.equal(gan.d_optimizer.iterations % self.interval, 0)
        value = tf.cond(apply, lambda: tf.reduce_mean(penalty()), lambda: tf.constant(0.0))
        return (self.weight * self.interval) * value, {self.key: (value, tf.cast(apply, tf.float32))}


class GradientPenalty(_LazyPenalty):
    """λ·(‖∇D(x̂)‖ - 1)² of WGAN-GP (Gulrajani et al. 2017); see `gan_tf.losses.gradient_penalty`."""

    key = "gradient_penalty"

    def discriminator_term(self, gan, step):
        # Drawn on every step, applied or not, so that the random stream does not
        # depend on the regularisation interval's phase.
        epsilon = gan._uniform(tf.shape(step.real_images)[0])
        critic = gan.critic(step.condition)
        return self._weighted(
            gan, lambda: gan_losses.gradient_penalty(critic, step.real_images, step.fake_images, epsilon)
        )


class R1Penalty(_LazyPenalty):
    """γ/2·‖∇D(x)‖² on real images (Mescheder et al. 2018); see `gan_tf.losses.r1_penalty`."""

    key = "r1_penalty"

    def __init__(self, gamma, interval=1):
        super().__init__(0.5 * gamma, interval)

    def discriminator_term(self, gan, step):
        critic = gan.critic(step.condition)
        return self._weighted(gan, lambda: gan_losses.r1_penalty(critic, step.real_images))


class R2Penalty(R1Penalty):
    """γ/2·‖∇D(G(z))‖² on generated images (R3GAN, Huang et al. 2024); see `gan_tf.losses.r2_penalty`."""

    key = "r2_penalty"

    def discriminator_term(self, gan, step):
        critic = gan.critic(step.condition)
        return self._weighted(gan, lambda: gan_losses.r2_penalty(critic, step.fake_images))
