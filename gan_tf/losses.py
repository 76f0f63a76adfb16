"""GAN losses as pairs of small pure functions over discriminator outputs.

Every function returns one value per example (shape ``[batch]``) so that the model
can average over the *global* batch under a distribution strategy. Outputs are
logits (or critic values) of shape [batch, 1] or, for a patch discriminator,
[batch, h, w, 1]: the loss is taken per patch and averaged over an example's patches
(as TF-GAN and pix2pix do), not taken of the mean logit. The sigmoid lives inside the
loss, where softplus keeps it numerically stable. All maths is done in float32 so that
mixed precision networks still get float32 losses.
"""
import collections

import tensorflow as tf

from gan_tf.choices import LOSSES as NAMES  # declared without TensorFlow, for flag checks

LossPair = collections.namedtuple(
    "LossPair", ["name", "discriminator_loss", "generator_loss", "generator_needs_real"], defaults=(False,)
)
LossPair.__doc__ = """A discriminator loss and its generator loss.

generator_needs_real: False: `generator_loss(fake_logits)`; True (relativistic losses):
`generator_loss(fake_logits, real_logits)`, with real logits of the updated discriminator.
"""


def _float(outputs):
    return tf.cast(outputs, tf.float32)


def _per_example(values):
    """[batch, ...] per-patch losses -> float32 [batch] (mean over an example's patches).

    Exact for [batch, 1] outputs: the mean of one value is that value.
    """
    values = _float(values)
    return tf.reduce_mean(tf.reshape(values, [tf.shape(values)[0], -1]), axis=1)


def minimax_discriminator_loss(real_logits, fake_logits):
    """-log D(x) - log(1 - D(G(z))) (Goodfellow et al. 2014, eq. 1)."""
    real, fake = _float(real_logits), _float(fake_logits)
    # -log(sigmoid(r)) = softplus(-r); -log(1 - sigmoid(f)) = softplus(f)
    return _per_example(tf.nn.softplus(-real)) + _per_example(tf.nn.softplus(fake))


def minimax_generator_loss(fake_logits):
    """log(1 - D(G(z))), the saturating generator loss of the minimax game (Goodfellow et al. 2014)."""
    return -_per_example(tf.nn.softplus(_float(fake_logits)))


def non_saturating_discriminator_loss(real_logits, fake_logits):
    """Same discriminator loss as minimax (Goodfellow et al. 2014)."""
    return minimax_discriminator_loss(real_logits, fake_logits)


def non_saturating_generator_loss(fake_logits):
    """-log D(G(z)): strong gradients early in training (Goodfellow et al. 2014, sec. 3)."""
    return _per_example(tf.nn.softplus(-_float(fake_logits)))


def least_squares_discriminator_loss(real_logits, fake_logits):
    """LSGAN with a=0, b=1: ½(D(x) - 1)² + ½D(G(z))² (Mao et al. 2017, eq. 2)."""
    real, fake = _float(real_logits), _float(fake_logits)
    return _per_example(0.5 * tf.square(real - 1.0)) + _per_example(0.5 * tf.square(fake))


def least_squares_generator_loss(fake_logits):
    """LSGAN with c=1: ½(D(G(z)) - 1)² (Mao et al. 2017, eq. 2)."""
    return _per_example(0.5 * tf.square(_float(fake_logits) - 1.0))


def wasserstein_discriminator_loss(real_logits, fake_logits):
    """Critic loss D(G(z)) - D(x) (Arjovsky et al. 2017); needs clipping or a gradient penalty."""
    return _per_example(fake_logits) - _per_example(real_logits)


def wasserstein_generator_loss(fake_logits):
    """-D(G(z)) (Arjovsky et al. 2017)."""
    return -_per_example(fake_logits)


def hinge_discriminator_loss(real_logits, fake_logits):
    """max(0, 1 - D(x)) + max(0, 1 + D(G(z))) (Lim & Ye 2017; Miyato et al. 2018)."""
    real, fake = _float(real_logits), _float(fake_logits)
    return _per_example(tf.nn.relu(1.0 - real)) + _per_example(tf.nn.relu(1.0 + fake))


def hinge_generator_loss(fake_logits):
    """-D(G(z)) (Lim & Ye 2017)."""
    return -_per_example(fake_logits)


def rpgan_discriminator_loss(real_logits, fake_logits):
    """softplus(-(D(x) - D(G(z)))): relativistic pairing (Jolicoeur-Martineau 2019; R3GAN, Huang et al. 2024).

    Each real example is paired with the fake example of the same index, as in R3GAN's
    `AccumulateDiscriminatorGradients`; patch outputs pair patch by patch.
    """
    return _per_example(tf.nn.softplus(-(_float(real_logits) - _float(fake_logits))))


def rpgan_generator_loss(fake_logits, real_logits):
    """softplus(-(D(G(z)) - D(x))) (R3GAN, Huang et al. 2024); D(x) from the updated discriminator."""
    return _per_example(tf.nn.softplus(-(_float(fake_logits) - _float(real_logits))))


_PAIRS = {
    name: LossPair(
        name, globals()[f"{name}_discriminator_loss"], globals()[f"{name}_generator_loss"], name == "rpgan"
    )
    for name in NAMES
}


def get(loss):
    """Returns the `LossPair` for a name, or `loss` itself if it already is one.

    Args:
      loss: one of `NAMES`, or any object with `discriminator_loss(real_logits,
        fake_logits)` and `generator_loss(fake_logits)` returning per-example values
        (`generator_loss(fake_logits, real_logits)` if it has `generator_needs_real = True`).
    """
    if isinstance(loss, str):
        if loss not in _PAIRS:
            raise ValueError(f"Unknown loss {loss!r}: expected one of {', '.join(NAMES)}.")
        return _PAIRS[loss]
    if callable(getattr(loss, "discriminator_loss", None)) and callable(
        getattr(loss, "generator_loss", None)
    ):
        return loss
    raise ValueError(
        f"loss={loss!r} is neither a name ({', '.join(NAMES)}) nor an object with "
        "discriminator_loss(real_logits, fake_logits) and generator_loss(fake_logits)."
    )


def _input_gradients(discriminator, images):
    """Gradient of the summed discriminator output w.r.t. its input images, in float32."""
    with tf.GradientTape() as tape:
        tape.watch(images)
        # Summing is exact: example i's output depends only on image i (no BatchNorm in D).
        total = tf.reduce_sum(tf.cast(discriminator(images), tf.float32))
    return tf.cast(tape.gradient(total, images), tf.float32)


def gradient_penalty(discriminator, real_images, fake_images, epsilon):
    """WGAN-GP penalty (‖∇D(x̂)‖₂ - 1)² at x̂ = ε·x + (1-ε)·G(z) (Gulrajani et al. 2017).

    Args:
      discriminator: callable images -> outputs (already in training mode if wanted).
      real_images, fake_images: [batch, H, W, C].
      epsilon: [batch] interpolation weights, drawn from U(0, 1) by the caller so that
        the caller controls the (per-replica) random stream.

    Returns:
      [batch] penalties. The norm is sqrt(Σg² + 1e-12): the plain norm has an undefined
      gradient at g = 0, where it would yield NaN.
    """
    real_images = tf.cast(real_images, tf.float32)
    fake_images = tf.cast(fake_images, tf.float32)
    epsilon = tf.reshape(tf.cast(epsilon, tf.float32), [-1, 1, 1, 1])
    interpolated = epsilon * real_images + (1.0 - epsilon) * fake_images
    grads = _input_gradients(discriminator, interpolated)
    norms = tf.sqrt(tf.reduce_sum(tf.square(grads), axis=[1, 2, 3]) + 1e-12)
    return tf.square(norms - 1.0)


def r1_penalty(discriminator, real_images):
    """R1 penalty ‖∇D(x)‖² on real data (Mescheder et al. 2018); the model weights it by γ/2.

    Args:
      discriminator: callable images -> outputs.
      real_images: [batch, H, W, C].

    Returns:
      [batch] squared gradient norms.
    """
    grads = _input_gradients(discriminator, tf.cast(real_images, tf.float32))
    return tf.reduce_sum(tf.square(grads), axis=[1, 2, 3])


def r2_penalty(discriminator, fake_images):
    """R2 penalty ‖∇D(G(z))‖² on generated data (Mescheder et al. 2018; R3GAN, Huang et al. 2024).

    The model weights it by γ/2 and treats the fake images as constants (no gradient
    reaches the generator), as R3GAN detaches them.

    Args:
      discriminator: callable images -> outputs.
      fake_images: [batch, H, W, C].

    Returns:
      [batch] squared gradient norms.
    """
    grads = _input_gradients(discriminator, tf.stop_gradient(tf.cast(fake_images, tf.float32)))
    return tf.reduce_sum(tf.square(grads), axis=[1, 2, 3])


def auxiliary_classifier_loss(class_logits, labels):
    """Class cross-entropy -log P(C = c | X) of ACGAN's auxiliary classifier (Odena et al. 2017).

    The paper's L_C (eq. 2): the discriminator minimises it on real and generated
    images, the generator on generated ones, each beside its adversarial loss.

    Args:
      class_logits: [batch, num_classes] classifier logits.
      labels: [batch] integer classes (for generated images: the classes asked for).

    Returns:
      [batch] float32 cross-entropies.
    """
    return tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=tf.cast(tf.reshape(labels, [-1]), tf.int32), logits=tf.cast(class_logits, tf.float32)
    )


def mode_seeking_loss(images_1, images_2, noise_1, noise_2, epsilon=1e-5, batch_mean=tf.reduce_mean):
    """1 / (mean|G(c, z1) - G(c, z2)| / mean|z1 - z2| + ε) of MSGAN (Mao et al. 2019, eq. 3).

    Two images drawn for the same conditions from different noise should differ in
    proportion to their noise; a generator that ignores the noise (mode collapse)
    makes the ratio small and this loss large. As in the authors' code
    (github.com/HelenMao/MSGAN, e.g. `DCGAN-Mode-Seeking/model.py`), the ratio is one
    per batch, of mean absolute differences over the whole batch: a ratio per pair,
    inverted and then averaged, would let a single collapsed pair add up to 1/(ε·batch)
    and drown the rest of the batch.

    Args:
      images_1, images_2: [batch, ...] generated with the same conditions.
      noise_1, noise_2: [batch, latent_dim] the noise they were generated from.
      epsilon: keeps the loss finite for identical images.
      batch_mean: tensor -> its mean over the batch; the conditioning term passes one
        that averages over the global batch, so that the loss does not depend on the
        number of replicas.

    Returns:
      A float32 scalar: the loss of the batch.
    """
    image_distance = batch_mean(tf.abs(tf.cast(images_1, tf.float32) - tf.cast(images_2, tf.float32)))
    noise_distance = batch_mean(tf.abs(tf.cast(noise_1, tf.float32) - tf.cast(noise_2, tf.float32)))
    return 1.0 / (image_distance / noise_distance + epsilon)
