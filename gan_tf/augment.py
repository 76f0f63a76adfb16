"""Differentiable augmentation for the discriminator: DiffAugment and ADA's adaptive probability.

`diff_augment` is DiffAugment (Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient
GAN Training", github.com/mit-han-lab/data-efficient-gans `DiffAugment_tf.py`): colour
(brightness, saturation, contrast), translation by up to 1/8 of the side and cutout of half the
side, with the reference's magnitudes. It is applied to real and fake images alike in every
discriminator pass and is differentiable with respect to the images, so the generator learns
through it. Two things differ from the reference:

- every transformation is applied to an image with probability `probability` (ADA-style
  per-image gating, Karras et al. 2020, "Training Generative Adversarial Networks with Limited
  Data"); the reference applies them always (probability 1, the default here too);
- all randomness comes from a `draw(shape)` callable instead of stateful `tf.random` ops, so a
  run is reproducible, and the GAN can draw the global batch and hand each replica its rows:
  augmentation then does not depend on the replica count, and draws the same with and without
  XLA (translation and cutout agree bit for bit; colour up to the rounding of its means).

`AdaptiveAugment` is ADA's controller for that probability (stylegan2-ada-pytorch
`training/training_loop.py`): it raises p when the discriminator is too sure of the reals.
"""

import keras
import tensorflow as tf

# In canonical order, the reference's "color,translation,cutout": colour before the geometric
# transformations, so that padded and cut-out pixels hold exactly the fill value.
from gan_tf.choices import AUGMENT_POLICIES as POLICIES  # noqa: E402 (declared without TensorFlow)

TRANSLATION_RATIO = 0.125  # of the side: the reference's shift range
CUTOUT_RATIO = 0.5  # of the side: the reference's square
# Padding and cutout fill. The reference pads and cuts with 0 on images that are in [-1, 1] in
# its StyleGAN2 and BigGAN set-ups too: mid-grey, not black. It is kept: any fill is fine for the
# GAN (reals and fakes are filled alike, so it reveals nothing), and 0 keeps what the
# reference's discriminator saw. -1 (black) would look like the background of a digit.
FILL = 0.0

# Uniform draws each transformation takes per image: a gate, then its parameters.
_DRAWS = {
    "color": 6,  # brightness gate, magnitude; saturation gate, magnitude; contrast gate, magnitude
    "translation": 3,  # gate, vertical shift, horizontal shift
    "cutout": 3,  # gate, vertical centre, horizontal centre
}


def parse_policy(policy):
    """The policy as a tuple of names in canonical order; accepts names or a comma-separated string.

    An empty policy ("", "none", ()) is allowed and means no augmentation.
    """
    if policy is None:
        return ()
    names = [p.strip() for p in policy.split(",")] if isinstance(policy, str) else [str(p) for p in policy]
    names = [n for n in names if n and n != "none"]
    unknown = sorted(set(names) - set(POLICIES))
    if unknown:
        raise ValueError(
            f"policy={policy!r}: unknown augmentation {', '.join(map(repr, unknown))}; "
            f"expected names among {', '.join(POLICIES)}."
        )
    return tuple(p for p in POLICIES if p in names)


def num_draws(policy):
    """How many U[0, 1) values per image `diff_augment` draws for `policy`."""
    return sum(_DRAWS[p] for p in parse_policy(policy))


def diff_augment(images, draw, policy=("translation", "cutout", "color"), probability=1.0):
    """DiffAugment (Zhao et al. 2020) with per-image probability (Karras et al. 2020).

    Transformations, in the reference's order whatever the order of `policy`:
      color: brightness x + (u - 0.5); saturation (x - m_c) * 2u + m_c with m_c the mean over
        channels (the identity on 1-channel images); contrast (x - m) * (u + 0.5) + m with m the
        image mean; u ~ U[0, 1) per image, each of the three gated on its own.
      translation: an integer shift in [-s, s] per axis, s = round(side / 8), the pixels shifted
        in are `FILL` (0, mid-grey in [-1, 1], as the reference pads).
      cutout: a square of side round(side / 2) set to `FILL`, centred on a uniform position, so it
        may be cut by the border (the reference's placement).

    Range: translation and cutout keep images in [-1, 1]. Colour does not, as in the reference
    (brightness alone reaches +-1.5): the output is not clipped, because clipping has no gradient
    outside the range, and whole images (e.g. the -1 background of a digit after a negative
    brightness shift) would stop passing gradient to the generator. The discriminator sees reals
    and fakes transformed alike, so values outside [-1, 1] tell it nothing.

    Args:
      images: [B, H, W, C] float images in [-1, 1].
      draw: callable, `draw(shape)` -> float32 U[0, 1) values of shape [B, *shape] for these B
        images (one call per `diff_augment`, shape `[num_draws(policy)]`).
      policy: names from `POLICIES` (any order) or a comma-separated string; empty = identity.
      probability: float or scalar tensor in [0, 1]: each image gets each transformation with
        this probability; 0 returns `images` unchanged.

    Returns:
      Augmented images, same shape and dtype, differentiable with respect to `images`.
    """
    policy = parse_policy(policy)
    if isinstance(probability, (int, float)) and not 0.0 <= probability <= 1.0:
        raise ValueError(f"probability={probability!r}: expected a value in [0, 1].")
    images = tf.convert_to_tensor(images)
    if images.shape.rank != 4:
        raise ValueError(f"images of shape {images.shape}: expected [batch, height, width, channels].")
    if not policy:
        return images
    height, width, channels = images.shape[1], images.shape[2], images.shape[3]
    if height is None or width is None or channels is None:
        raise ValueError(f"images of shape {images.shape}: height, width and channels must be static.")
    # Drawn whatever the probability, so that the random stream (shared with the noise and the
    # penalties) does not depend on it.
    u = tf.convert_to_tensor(draw([num_draws(policy)]), tf.float32)  # [B, K]
    if isinstance(probability, (int, float)):
        return _transform(images, u, policy, float(probability)) if probability > 0 else images
    # An adaptive p is 0 for much of many runs (ADA raises it only once the discriminator
    # overfits): skip the transformations' work then. Gated-off transformations are exactly the
    # identity, so both branches give the same images and gradients when p = 0.
    probability = tf.cast(probability, tf.float32)
    return tf.cond(probability > 0, lambda: _transform(images, u, policy, probability), lambda: tf.identity(images))


def _transform(images, u, policy, probability):
    """The transformations of `policy`, in canonical order, with the draws `u` [B, num_draws]."""
    columns = iter(tf.unstack(u, axis=1))

    def take(n):
        return [next(columns) for _ in range(n)]

    x = images
    if "color" in policy:
        x = _color(x, *take(6), probability)
    if "translation" in policy:
        x = _translation(x, *take(3), probability)
    if "cutout" in policy:
        x = _cutout(x, *take(3), probability)
    return x


def _per_image(values, dtype):
    return tf.cast(tf.reshape(values, [-1, 1, 1, 1]), dtype)


def _color(x, b_gate, b_u, s_gate, s_u, c_gate, c_u, probability):
    # Each adjustment is written as x + (gain - 1) * (x - mean), so that a gated-off image gets
    # + 0 * (...) and comes back unchanged.
    dtype = x.dtype
    brightness = tf.where(b_gate < probability, b_u - 0.5, 0.0)
    x = x + _per_image(brightness, dtype)
    if x.shape[-1] > 1:  # on one channel x equals its channel mean: the identity
        saturation = tf.where(s_gate < probability, s_u * 2.0 - 1.0, 0.0)
        x = x + _per_image(saturation, dtype) * (x - tf.reduce_mean(x, axis=3, keepdims=True))
    contrast = tf.where(c_gate < probability, c_u - 0.5, 0.0)  # gain u + 0.5, minus 1
    return x + _per_image(contrast, dtype) * (x - tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True))


def _max_shift(side, ratio):
    return int(side * ratio + 0.5)  # the reference's rounding


def _uniform_int(u, n):
    """An integer in [0, n) from u ~ U[0, 1) (u < 1 keeps it below n)."""
    return tf.minimum(tf.cast(tf.floor(u * n), tf.int32), n - 1)


def _translation(x, gate, u_rows, u_cols, probability):
    on = gate < probability
    for axis, u in ((1, u_rows), (2, u_cols)):
        shift = _max_shift(x.shape[axis], TRANSLATION_RATIO)
        # offset = t + shift with t uniform in [-shift, shift]; 0 leaves the image where it is.
        offset = tf.where(on, _uniform_int(u, 2 * shift + 1), shift)
        x = _shift_along(x, axis, offset, shift)
    return x


def _shift_along(x, axis, offset, shift):
    """out[i] = x[i + offset - shift] along `axis` (FILL outside), offset in [0, 2 * shift] per image.

    A gather, image by image, from `x` padded with FILL: data movement, exact on every device and
    dtype. (A product with a one-hot shift matrix would be exact on a CPU too, but not on a GPU
    under TensorFloat-32, TensorFlow's default for float32 products there.) The gradient is a
    scatter-add, yet deterministic: a shift reads each padded position at most once per image, so
    every sum has a single term, whatever the order of the additions. The same values and gradients
    as the barrel shifter of slices and products of gan_tf 0.3.0, with the augmentation 1.4-2.9x
    cheaper forward and backward (experiments/benchmarks/augment_benchmark.py).
    """
    paddings = [[0, 0]] * 4
    paddings[axis] = [shift, shift]
    padded = tf.pad(x, paddings, constant_values=FILL)
    index = tf.range(x.shape[axis])[None, :] + tf.reshape(offset, [-1, 1])  # [B, side] into `padded`
    return tf.gather(padded, index, axis=axis, batch_dims=1)


def _cutout(x, gate, u_rows, u_cols, probability):
    on = tf.reshape(gate < probability, [-1, 1, 1, 1])
    inside = on
    for axis, u in ((1, u_rows), (2, u_cols)):
        side = x.shape[axis]
        size = _max_shift(side, CUTOUT_RATIO)
        # The reference's centre: uniform over [0, side] for even squares, [0, side) for odd ones.
        centre = _uniform_int(u, side + (1 - size % 2))
        start = tf.reshape(centre - size // 2, [-1, 1, 1, 1])
        shape = [1, 1, 1, 1]
        shape[axis] = side
        index = tf.reshape(tf.range(side), shape)
        inside = inside & (index >= start) & (index < start + size)
    return tf.where(inside, tf.constant(FILL, x.dtype), x)


@keras.saving.register_keras_serializable(package="gan_tf")
class AdaptiveAugment(keras.layers.Layer):
    """ADA's adaptive augmentation probability (Karras et al. 2020).

    Every `interval` calls of `update` it moves p by sign(r_t - target) * N / (speed_kimg * 1000),
    with r_t = E[sign(D(real))] over the N real images of those calls, and clips p to [0, 1]
    (ADA only clips at 0; p > 1 acts as 1 and would only slow the way back). p rises while the
    discriminator is too sure of the reals (overfitting), falls otherwise.

    The default speed differs from StyleGAN2-ADA's `ada_kimg=500`, which suits runs of tens of
    millions of images: gan_tf's data sets have 4,500-60,000 images and its CPU runs see a few
    hundred thousand, in which p could move only about half a unit at 500 kimg per unit. At 100
    kimg per unit (StyleGAN2-ADA's own choice when it must react fast, for transfer learning)
    p can cross [0, 1] within a run, still in steps of 0.01 at batch 256 and interval 4.

    State (p, the interval's sums and call count) lives in non-trainable variables, so
    checkpoints hold it and a resumed run continues exactly. `update` may be called in a replica
    context: the sums are all-reduced across replicas first, and the variables are assigned with
    `only_first_replica` aggregation, so every replica ends with the same p.

    Args:
      target: the r_t the controller steers to (ADA: 0.6).
      speed_kimg: thousands of images for p to move by 1.
      interval: calls of `update` between adjustments (ADA: 4 steps).
      initial_p: starting probability.
    """

    def __init__(self, target=0.6, speed_kimg=100.0, interval=4, initial_p=0.0, name="adaptive_augment", **kwargs):
        super().__init__(name=name, dtype="float32", **kwargs)
        if not 0.0 <= float(target) <= 1.0:
            raise ValueError(f"target={target!r}: expected a value in [0, 1].")
        if not float(speed_kimg) > 0.0:
            raise ValueError(f"speed_kimg={speed_kimg!r}: expected a positive number of thousands of images.")
        if int(interval) != interval or int(interval) < 1:
            raise ValueError(f"interval={interval!r}: expected a positive integer number of steps.")
        if not 0.0 <= float(initial_p) <= 1.0:
            raise ValueError(f"initial_p={initial_p!r}: expected a probability in [0, 1].")
        self.target = float(target)
        self.speed_kimg = float(speed_kimg)
        self.interval = int(interval)
        self.initial_p = float(initial_p)

        def state(name, value, dtype="float32"):
            return self.add_weight(
                shape=(), dtype=dtype, initializer=keras.initializers.Constant(value), trainable=False,
                aggregation="only_first_replica", name=name,
            )

        self.p = state("p", self.initial_p)
        self.sign_sum = state("sign_sum", 0.0)  # sum of sign(D(real)) since the last adjustment
        self.images = state("images", 0.0)  # real images since the last adjustment
        self.calls = state("calls", 0, "int32")
        self.built = True

    def update(self, real_logits, global_batch_size):
        """Accumulates one discriminator pass on reals; adjusts p every `interval` calls.

        Args:
          real_logits: this replica's discriminator logits on its real images, [b, 1] or [b].
          global_batch_size: real images of this pass over all replicas (the sum of the b's).

        Returns:
          The new p (a scalar tensor).
        """
        local = tf.reduce_sum(tf.sign(tf.cast(real_logits, tf.float32)))
        context = tf.distribute.get_replica_context()
        if context is not None and context.num_replicas_in_sync > 1:
            local = context.all_reduce(tf.distribute.ReduceOp.SUM, local)
        sign_sum = self.sign_sum + local
        images = self.images + tf.cast(global_batch_size, tf.float32)
        calls = self.calls + 1
        adjust = calls >= self.interval
        r_t = sign_sum / tf.maximum(images, 1.0)
        step = tf.sign(r_t - self.target) * images / (self.speed_kimg * 1000.0)
        p = tf.where(adjust, tf.clip_by_value(self.p + step, 0.0, 1.0), tf.convert_to_tensor(self.p))
        self.p.assign(p)
        self.sign_sum.assign(tf.where(adjust, 0.0, sign_sum))
        self.images.assign(tf.where(adjust, 0.0, images))
        self.calls.assign(tf.where(adjust, 0, calls))
        return p

    def call(self, inputs=None):
        return tf.convert_to_tensor(self.p)

    def get_config(self):
        config = super().get_config()
        config.pop("dtype", None)
        config.update(target=self.target, speed_kimg=self.speed_kimg, interval=self.interval,
                      initial_p=self.initial_p)
        return config
