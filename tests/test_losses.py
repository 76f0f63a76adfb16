"""Loss values against independent numpy formulas, written from the papers."""
import numpy as np
import pytest
import tensorflow as tf

from gan_tf import losses

REAL = np.array([[-3.0], [-0.5], [0.0], [0.7], [4.0]], np.float32)
FAKE = np.array([[2.0], [-1.0], [0.3], [-6.0], [0.0]], np.float32)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x.astype(np.float64)))


# name -> (discriminator loss, generator loss) as numpy functions of D's outputs.
EXPECTED = {
    "minimax": (
        lambda r, f: -np.log(_sigmoid(r)) - np.log(1 - _sigmoid(f)),
        lambda f: np.log(1 - _sigmoid(f)),
    ),
    "non_saturating": (
        lambda r, f: -np.log(_sigmoid(r)) - np.log(1 - _sigmoid(f)),
        lambda f: -np.log(_sigmoid(f)),
    ),
    "least_squares": (
        lambda r, f: 0.5 * (r - 1) ** 2 + 0.5 * f**2,
        lambda f: 0.5 * (f - 1) ** 2,
    ),
    "wasserstein": (lambda r, f: f - r, lambda f: -f),
    "hinge": (
        lambda r, f: np.maximum(0, 1 - r) + np.maximum(0, 1 + f),
        lambda f: -f,
    ),
    # R3GAN's Trainer.py: softplus(-(real - fake)) for D, softplus(-(fake - real)) for G.
    "rpgan": (
        lambda r, f: np.log1p(np.exp(-(r.astype(np.float64) - f))),
        lambda f, r: np.log1p(np.exp(-(f.astype(np.float64) - r))),
    ),
}


@pytest.mark.parametrize("name", losses.NAMES)
def test_loss_pair_matches_formula(name):
    pair = losses.get(name)
    d_expected, g_expected = EXPECTED[name]
    d = pair.discriminator_loss(tf.constant(REAL), tf.constant(FAKE)).numpy()
    if pair.generator_needs_real:  # relativistic: D(G(z)) is judged against D(x)
        g = pair.generator_loss(tf.constant(FAKE), tf.constant(REAL)).numpy()
        g_want = g_expected(FAKE[:, 0], REAL[:, 0])
    else:
        g = pair.generator_loss(tf.constant(FAKE)).numpy()
        g_want = g_expected(FAKE[:, 0])
    assert d.shape == (5,) and g.shape == (5,)  # per example, for global-batch averaging
    np.testing.assert_allclose(d, d_expected(REAL[:, 0], FAKE[:, 0]), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(g, g_want, rtol=1e-5, atol=1e-6)


def test_only_rpgan_needs_real_logits_in_the_generator_loss():
    assert [name for name in losses.NAMES if losses.get(name).generator_needs_real] == ["rpgan"]
    assert losses.LossPair("custom", None, None).generator_needs_real is False  # the default


def test_hand_computed_values():
    # At logits 0 the discriminator says 1/2: -log(1/2) - log(1/2) = 2 log 2.
    zero = tf.zeros([1, 1])
    assert losses.non_saturating_discriminator_loss(zero, zero).numpy()[0] == pytest.approx(2 * np.log(2))
    # LSGAN with D(x)=3, D(G(z))=-1: ½·4 + ½·1 = 2.5; generator ½·4 = 2.
    assert losses.least_squares_discriminator_loss(tf.constant([[3.0]]), tf.constant([[-1.0]])).numpy()[0] == 2.5
    assert losses.least_squares_generator_loss(tf.constant([[-1.0]])).numpy()[0] == 2.0


def test_softplus_form_is_stable_for_large_logits():
    big = tf.constant([[80.0], [-80.0]])
    d = losses.minimax_discriminator_loss(big, -big).numpy()
    assert np.all(np.isfinite(d))
    np.testing.assert_allclose(d, [0.0, 160.0], atol=1e-5)


def test_spatial_outputs_are_averaged_per_example():
    patch = tf.reshape(tf.range(8, dtype=tf.float32), [2, 2, 2, 1])  # PatchGAN-like outputs
    np.testing.assert_allclose(losses.wasserstein_generator_loss(patch).numpy(), [-1.5, -5.5])


def test_patch_outputs_get_the_mean_per_patch_loss_not_the_loss_of_the_mean():
    # Two patches [5, -5] on real and fake (TF-GAN / pix2pix): the mean per-patch
    # cross-entropy is ½(sp(-5) + sp(5)) + ½(sp(5) + sp(-5)) = 5.0134, whereas the loss
    # of the mean logit 0 would be 2 log 2 = 1.386.
    patches = tf.reshape(tf.constant([5.0, -5.0]), [1, 1, 2, 1])
    softplus = lambda x: np.log1p(np.exp(x))  # noqa: E731
    expected = softplus(-5.0) + softplus(5.0)
    d = losses.non_saturating_discriminator_loss(patches, patches).numpy()
    np.testing.assert_allclose(d, [expected], rtol=1e-6)
    assert d[0] == pytest.approx(5.0134, abs=1e-4)
    g = losses.non_saturating_generator_loss(patches).numpy()
    np.testing.assert_allclose(g, [0.5 * (softplus(-5.0) + softplus(5.0))], rtol=1e-6)
    lsgan = losses.least_squares_generator_loss(patches).numpy()
    np.testing.assert_allclose(lsgan, [0.5 * 0.5 * ((5 - 1) ** 2 + (-5 - 1) ** 2)], rtol=1e-6)
    # Relativistic pairing pairs patch with patch: fake [5, -5] against real [-5, 5].
    rp = losses.rpgan_generator_loss(patches, -patches).numpy()
    np.testing.assert_allclose(rp, [0.5 * (softplus(-10.0) + softplus(10.0))], rtol=1e-6)


@pytest.mark.parametrize("name", losses.NAMES)
def test_one_logit_per_example_gives_the_same_value_as_a_flat_batch(name):
    # [B, 1] outputs (every network today) are unchanged by per-patch averaging: bitwise.
    pair = losses.get(name)
    d_flat = pair.discriminator_loss(tf.constant(REAL[:, 0]), tf.constant(FAKE[:, 0])).numpy()
    d_column = pair.discriminator_loss(tf.constant(REAL), tf.constant(FAKE)).numpy()
    np.testing.assert_array_equal(d_flat, d_column)


def test_get_rejects_unknown_names_and_accepts_objects():
    with pytest.raises(ValueError, match="Unknown loss 'nonsense'.*hinge"):
        losses.get("nonsense")
    with pytest.raises(ValueError, match="neither a name"):
        losses.get(42)
    custom = losses.LossPair("custom", lambda r, f: f, lambda f: f)
    assert losses.get(custom) is custom


def _linear_critic(weights):
    w = tf.reshape(tf.constant(weights, tf.float32), [1, -1])
    return lambda x: tf.reduce_sum(tf.reshape(x, [tf.shape(x)[0], -1]) * w, axis=1, keepdims=True)


def test_gradient_penalty_closed_form_for_linear_critic():
    # D(x) = w·x has gradient w everywhere: penalty (‖w‖ - 1)², whatever ε is.
    w = np.array([3.0, 4.0, 0.0, 0.0], np.float32).reshape(1, 2, 2, 1)  # ‖w‖ = 5
    real = tf.random.normal([3, 2, 2, 1], seed=1)
    fake = tf.random.normal([3, 2, 2, 1], seed=2)
    penalty = losses.gradient_penalty(_linear_critic(w), real, fake, tf.constant([0.0, 0.5, 1.0]))
    np.testing.assert_allclose(penalty.numpy(), [16.0] * 3, rtol=1e-5)


def test_gradient_penalty_interpolates_with_epsilon():
    # D(x) = ½‖x‖² has gradient x̂ = ε·real + (1-ε)·fake: check the interpolation point.
    critic = lambda x: 0.5 * tf.reduce_sum(tf.reshape(x, [tf.shape(x)[0], -1]) ** 2, axis=1, keepdims=True)  # noqa: E731
    real = tf.fill([2, 1, 1, 1], 2.0)
    fake = tf.fill([2, 1, 1, 1], -2.0)
    epsilon = tf.constant([0.25, 1.0])  # x̂ = -1 and 2: norms 1 and 2
    np.testing.assert_allclose(losses.gradient_penalty(critic, real, fake, epsilon).numpy(), [0.0, 1.0], atol=1e-5)


def test_gradient_penalty_has_finite_gradient_at_zero_input_gradient():
    variable = tf.Variable(0.0)
    critic = lambda x: variable * tf.reduce_sum(tf.reshape(x, [tf.shape(x)[0], -1]), axis=1, keepdims=True)  # noqa: E731
    with tf.GradientTape() as tape:
        penalty = tf.reduce_mean(losses.gradient_penalty(critic, tf.ones([2, 2, 2, 1]), tf.zeros([2, 2, 2, 1]), tf.constant([0.5, 0.5])))
    gradient = tape.gradient(penalty, variable)
    assert np.isfinite(gradient.numpy())
    assert penalty.numpy() == pytest.approx(1.0, abs=1e-5)  # (0 - 1)²


def test_r2_penalty_closed_form_on_fakes_and_no_gradient_to_them():
    # D(x) = ½‖x‖² has gradient x: R2 = ‖G(z)‖² per example.
    critic = lambda x: 0.5 * tf.reduce_sum(tf.reshape(x, [tf.shape(x)[0], -1]) ** 2, axis=1, keepdims=True)  # noqa: E731
    fake = tf.Variable(np.arange(8, dtype=np.float32).reshape(2, 2, 2, 1))
    with tf.GradientTape() as tape:
        penalty = losses.r2_penalty(critic, fake)
    np.testing.assert_allclose(penalty.numpy(), [0 + 1 + 4 + 9, 16 + 25 + 36 + 49], rtol=1e-6)
    assert tape.gradient(penalty, fake) is None  # fakes are constants to the penalty (R3GAN detaches them)


def test_r1_penalty_closed_form():
    w = np.array([1.0, 2.0, 2.0, 0.0], np.float32).reshape(1, 2, 2, 1)  # ‖w‖² = 9
    penalty = losses.r1_penalty(_linear_critic(w), tf.random.normal([4, 2, 2, 1]))
    np.testing.assert_allclose(penalty.numpy(), [9.0] * 4, rtol=1e-5)
