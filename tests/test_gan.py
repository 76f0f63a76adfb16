"""The GAN model: update order, step structure, loss terms, sampling, the EMA generator and the Keras 3.15 traps."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from gan_tf import GAN, distribute, ema, networks
from gan_tf.checkpoints import CheckpointManager

LATENT = 4


def _tiny_gan(strategy=None, dropout=0.0, seed=3, optimizer=keras.optimizers.Adam, **compile_kwargs):
    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope():
        keras.utils.set_random_seed(1)
        generator = networks.dcgan_generator(LATENT, (8, 8, 1), width=4, synchronized_batchnorm=True)
        discriminator = networks.dcgan_discriminator((8, 8, 1), width=4, dropout=dropout)
        gan = GAN(generator, discriminator, LATENT, seed=seed)
        gan.compile(
            d_optimizer=optimizer(1e-2),
            g_optimizer=optimizer(1e-2),
            **compile_kwargs,
        )
    return gan


def _images(n=16, seed=0):
    return np.random.RandomState(seed).uniform(-1, 1, (n, 8, 8, 1)).astype(np.float32)


def _weights(gan):
    return [v.numpy() for v in gan.generator.weights + gan.discriminator.weights]


# ---------------------------------------------------------------- update order
class _Constant(keras.layers.Layer):
    """A generator whose output is one trainable scalar b, whatever the noise."""

    def build(self, input_shape):
        self.b = self.add_weight(shape=(), initializer=keras.initializers.Constant(0.5), name="b")

    def call(self, noise):
        return tf.zeros([tf.shape(noise)[0], 1, 1, 1]) + self.b


def _hand_checkable_gan(d_steps, loss="wasserstein", gan_kwargs=None, **compile_kwargs):
    noise = keras.Input((1,))
    generator = keras.Model(noise, _Constant()(noise))
    images = keras.Input((1, 1, 1))
    logit = keras.layers.Dense(1, use_bias=False, kernel_initializer="ones")(keras.layers.Flatten()(images))
    discriminator = keras.Model(images, logit)
    gan = GAN(generator, discriminator, latent_dim=1, seed=0, **(gan_kwargs or {}))
    gan.compile(
        d_optimizer=keras.optimizers.SGD(0.1),
        g_optimizer=keras.optimizers.SGD(0.1),
        loss=loss,
        d_steps=d_steps,
        **compile_kwargs,
    )
    return gan


@pytest.mark.parametrize("d_steps", [1, 2])
def test_generator_step_uses_the_updated_discriminator(d_steps):
    # D(x) = w·x with w = 1; G(z) = b = 0.5; real images all 2; SGD with η = 0.1.
    # Critic loss w·(b - 2): each D step w ← w - η(b - 2) = w + 0.15.
    # Generator loss -w·b: b ← b + η·w, with the *updated* w.
    gan = _hand_checkable_gan(d_steps)
    gan.train_step(tf.fill([4, 1, 1, 1], 2.0))
    w = 1.0 + 0.15 * d_steps
    assert gan.discriminator.weights[0].numpy().item() == pytest.approx(w)
    assert gan.generator.weights[0].numpy().item() == pytest.approx(0.5 + 0.1 * w)
    # With the stale discriminator b would be 0.6: make sure the test can tell.
    assert 0.5 + 0.1 * w != pytest.approx(0.6)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def test_rpgan_generator_step_pairs_with_the_updated_discriminators_real_logits():
    # D(x) = w·x, G = b = 0.5, reals 2. D: softplus(-(2w - bw)), dL/dw = -σ(-w(2-b))·(2-b).
    # G: softplus(-(w'b - 2w')) with the updated w', dL/db = -σ(-w'(b-2))·w'.
    gan = _hand_checkable_gan(1, loss="rpgan")
    gan.train_step(tf.fill([4, 1, 1, 1], 2.0))
    w = 1.0 + 0.1 * _sigmoid(-1.5) * 1.5
    b = 0.5 + 0.1 * _sigmoid(-w * (0.5 - 2.0)) * w
    assert gan.discriminator.weights[0].numpy().item() == pytest.approx(w, rel=1e-6)
    assert gan.generator.weights[0].numpy().item() == pytest.approx(b, rel=1e-6)
    stale = 0.5 + 0.1 * _sigmoid(1.5) * 1.0  # with D(x) of the old discriminator
    assert b != pytest.approx(stale, rel=1e-6)


def test_r2_penalty_acts_on_the_discriminator_through_the_fakes():
    # R2 = ‖∇_x D(G(z))‖² = w² for D(x) = w·x; γ/2·w² adds γ·w to dL/dw = b - 2.
    gan = _hand_checkable_gan(1, r2_gamma=1.0)
    logs = gan.train_step(tf.fill([4, 1, 1, 1], 2.0))
    assert logs["r2_penalty"].numpy() == pytest.approx(1.0)
    assert gan.discriminator.weights[0].numpy().item() == pytest.approx(1.0 - 0.1 * (-1.5 + 1.0))


@pytest.mark.parametrize("interval", [1, 2])
def test_lazy_regularisation_applies_the_penalty_every_k_steps_with_weight_times_k(interval):
    # R1 with D(x) = w·x: penalty w², gradient γ·w per unit weight. With k = 2 the first
    # step (D step count 0) applies it with weight ×2 and the second skips it.
    gan = _hand_checkable_gan(1, r1_gamma=1.0, regularization_interval=interval)
    real = tf.fill([4, 1, 1, 1], 2.0)
    w, b, penalties = 1.0, 0.5, []
    for step in range(2):
        gan.train_step(real)
        applied = step % interval == 0
        penalties += [w * w] if applied else []
        w = w - 0.1 * ((b - 2.0) + (interval * w if applied else 0.0))
        b = b + 0.1 * w
        assert gan.discriminator.weights[0].numpy().item() == pytest.approx(w, rel=1e-6), step
        assert gan.generator.weights[0].numpy().item() == pytest.approx(b, rel=1e-6), step
    # The epoch's mean penalty counts only the steps that computed it.
    assert gan.trackers["r1_penalty"].result().numpy() == pytest.approx(np.mean(penalties), rel=1e-6)


def test_lazy_regularisation_traces_under_fit():
    gan = _tiny_gan(r1_gamma=1.0, r2_gamma=1.0, gradient_penalty_weight=1.0, regularization_interval=3)
    history = gan.fit(tf.data.Dataset.from_tensor_slices(_images(32)).batch(8), epochs=1, verbose=0)
    assert all(np.isfinite(history.history[key][0]) for key in ("r1_penalty", "r2_penalty", "gradient_penalty"))
    with pytest.raises(ValueError, match="regularization_interval=0: expected an integer >= 1"):
        _tiny_gan(regularization_interval=0)


class _CallCounter(keras.layers.Layer):
    def build(self, input_shape):
        self.calls = self.add_weight(shape=(), initializer="zeros", trainable=False, name="calls")

    def call(self, x):
        self.calls.assign_add(1.0)
        return x


@pytest.mark.parametrize("d_steps, expected_calls", [(1, 1), (3, 3)])
def test_generator_forward_passes_per_step(d_steps, expected_calls):
    noise = keras.Input((LATENT,))
    counter = _CallCounter()
    x = counter(keras.layers.Dense(64)(noise))
    generator = keras.Model(noise, keras.layers.Reshape((8, 8, 1))(keras.layers.Activation("tanh")(x)))
    discriminator = networks.dcgan_discriminator((8, 8, 1), width=4, dropout=0.0)
    gan = GAN(generator, discriminator, LATENT, seed=0)
    gan.compile(d_optimizer=keras.optimizers.Adam(), g_optimizer=keras.optimizers.Adam(), d_steps=d_steps)
    gan.train_step(tf.constant(_images(4)))
    # One fake batch per discriminator step, the last one reused for the generator step.
    assert counter.calls.numpy() == expected_calls


def test_logs_hold_losses_and_discriminator_outputs():
    gan = _tiny_gan(gradient_penalty_weight=10.0, r1_gamma=1.0)
    logs = gan.train_step(tf.constant(_images()))
    assert set(logs) == {"d_loss", "g_loss", "d_real", "d_fake", "gradient_penalty", "r1_penalty", "loss"}
    for value in logs.values():
        assert value.shape == ()  # Keras's callbacks expect rank 0 ([1] only under MultiWorkerMirroredStrategy)
        assert np.isfinite(value.numpy()).all()
    assert logs["loss"].numpy() == pytest.approx(logs["d_loss"].numpy() + logs["g_loss"].numpy())


def test_weight_clip_bounds_discriminator_weights():
    gan = _tiny_gan(loss="wasserstein", weight_clip=0.01)
    gan.train_step(tf.constant(_images()))
    assert max(np.abs(v.numpy()).max() for v in gan.discriminator.trainable_variables) <= 0.01 + 1e-7


# ------------------------------------------------------------------ sampling
def test_generate_is_deterministic_under_a_seed():
    gan = _tiny_gan()
    a, b, c = gan.generate(5, seed=7), gan.generate(5, seed=7), gan.generate(5, seed=8)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert not np.allclose(a.numpy(), c.numpy())
    assert a.shape == (5, 8, 8, 1) and a.dtype == tf.float32
    assert np.abs(a.numpy()).max() <= 1.0
    # Chunked generation draws the same noise.
    np.testing.assert_allclose(gan.generate(5, seed=7, batch_size=2).numpy(), a.numpy(), atol=1e-6)
    assert not np.allclose(gan.generate(5).numpy(), gan.generate(5).numpy())


def test_bad_constructor_and_compile_arguments():
    generator = networks.dcgan_generator(LATENT, (8, 8, 1), width=4)
    discriminator = networks.dcgan_discriminator((8, 8, 1), width=4)
    with pytest.raises(ValueError, match="latent_dim=5"):
        GAN(generator, discriminator, 5)
    with pytest.raises(ValueError, match="does not match discriminator input"):
        GAN(generator, networks.dcgan_discriminator((16, 16, 1), width=4), LATENT)
    gan = GAN(generator, discriminator, LATENT)
    optimizer = keras.optimizers.Adam()
    with pytest.raises(ValueError, match="distinct"):
        gan.compile(d_optimizer=optimizer, g_optimizer=optimizer)
    with pytest.raises(ValueError, match="d_steps=0"):
        gan.compile(d_optimizer=keras.optimizers.Adam(), g_optimizer=keras.optimizers.Adam(), d_steps=0)
    with pytest.raises(ValueError, match="Unknown loss 'bogus'"):
        gan.compile(d_optimizer=keras.optimizers.Adam(), g_optimizer=keras.optimizers.Adam(), loss="bogus")


# --------------------------------------------------------- Keras 3.15 traps
def test_counts_as_built_without_a_call():
    # Unbuilt, fit() under a strategy calls self.call on a symbolic image batch and fails.
    assert _tiny_gan().built


def test_optimizers_are_built_in_compile_and_no_default_optimizer_is_created():
    gan = _tiny_gan()
    for optimizer, model in ((gan.d_optimizer, gan.discriminator), (gan.g_optimizer, gan.generator)):
        assert optimizer.built
        # iteration + learning rate + two Adam slots per trainable variable
        slots = [v for v in optimizer.variables if "momentum" in v.path or "velocity" in v.path]
        assert len(slots) == 2 * len(model.trainable_variables)
    assert gan.optimizer is gan.g_optimizer  # no unused RMSprop


def _mirrored():
    # The process-wide one: MirroredStrategies created side by side number their
    # collective ops alike and collide (see gan_tf.distribute.make_strategy).
    return distribute.make_strategy("mirrored")


def test_noise_differs_across_replicas_and_matches_one_device():
    strategy = _mirrored()
    gan = _tiny_gan(strategy)
    state = gan.noise_seed.state.numpy()
    per_replica = strategy.experimental_local_results(strategy.run(lambda: gan._noise(3)))
    first, second = (t.numpy() for t in per_replica)
    assert not np.allclose(first, second)
    single = _tiny_gan()
    single.noise_seed.state.assign(state)
    np.testing.assert_array_equal(np.concatenate([first, second]), single._noise(6).numpy())


def test_dropout_masks_differ_across_replicas():
    strategy = _mirrored()
    with strategy.scope():
        from gan_tf.networks.layers import Dropout

        layer = Dropout(0.5, seed=1)
    masks = strategy.experimental_local_results(
        strategy.run(lambda: layer(tf.ones([1, 64]), training=True))
    )
    assert not np.array_equal(masks[0].numpy(), masks[1].numpy())


def test_two_replicas_train_like_one_device_with_the_same_global_batch():
    # Losses are averaged over the global batch and BatchNorm is synchronized, so
    # 2 replicas × 8 images must give the weights of 1 device × 16 images. SGD, not Adam:
    # the replicas sum gradients in another order, and Adam divides each element by its own
    # magnitude, so a near-cancelling element's rounding became a step of up to lr (1.6e-3
    # apart after 3 steps, once in a full CI run); with SGD they stay within 1e-7, while a
    # replica bug (the discriminator's loss not divided by the replica count) moves them by 4e-5.
    dataset = tf.data.Dataset.from_tensor_slices(_images(48)).batch(16, drop_remainder=True)
    one = _tiny_gan(gradient_penalty_weight=1.0, optimizer=keras.optimizers.SGD)
    one.fit(dataset, epochs=1, verbose=0)
    two = _tiny_gan(_mirrored(), gradient_penalty_weight=1.0, optimizer=keras.optimizers.SGD)
    history = two.fit(dataset, epochs=1, verbose=0)
    for a, b in zip(_weights(one), _weights(two)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert np.isfinite(history.history["d_loss"][0])


def test_checkpoint_restores_both_optimizers_and_rng_state(tmp_path):
    data = tf.constant(_images())
    gan = _tiny_gan(dropout=0.3)
    gan.train_step(data)
    CheckpointManager(gan, str(tmp_path)).save(epoch=1)
    restored = _tiny_gan(dropout=0.3, seed=99)  # another noise seed: restore must overwrite it
    assert CheckpointManager(restored, str(tmp_path)).restore_latest() == 1
    for name in ("d_optimizer", "g_optimizer"):
        for a, b in zip(getattr(gan, name).variables, getattr(restored, name).variables):
            np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)
    assert getattr(restored, "g_optimizer").iterations.numpy() == 1
    # The next step (noise, dropout masks, Adam moments) is identical.
    gan.train_step(data)
    restored.train_step(data)
    for a, b in zip(_weights(gan), _weights(restored)):
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------ EMA generator
def _ema_gan(strategy=None, **gan_kwargs):
    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope():
        keras.utils.set_random_seed(1)
        generator = networks.dcgan_generator(LATENT, (8, 8, 1), width=4, synchronized_batchnorm=True)
        discriminator = networks.dcgan_discriminator((8, 8, 1), width=4, dropout=0.0)
        gan = GAN(generator, discriminator, LATENT, seed=3, **gan_kwargs)
        gan.compile(d_optimizer=keras.optimizers.Adam(1e-2), g_optimizer=keras.optimizers.Adam(1e-2))
    return gan


@pytest.mark.parametrize("ema_rampup", [None, 0.5])
def test_average_matches_a_hand_computed_one_with_its_warm_up(ema_rampup):
    # StyleGAN2-ADA's rule, written out: before step i (0-based) i·B images were seen;
    # ema_nimg = min(1000·ema_kimg, i·B·rampup); β = 0.5^(B / max(ema_nimg, 1e-8));
    # ema ← b + β·(ema − b) with b the generator's weight after the step.
    batch, ema_kimg = 4, 0.01  # a half-life of 10 images: β = 0.5^0.4 once warmed up
    gan = _hand_checkable_gan(1, gan_kwargs={"ema_kimg": ema_kimg, "ema_rampup": ema_rampup})
    average = gan.generator.weights[0].numpy().item()  # the copy starts equal
    assert gan.ema_generator.weights[0].numpy().item() == average
    betas = []
    for i in range(7):
        gan.train_step(tf.fill([batch, 1, 1, 1], 2.0))
        b = gan.generator.weights[0].numpy().item()
        nimg = ema_kimg * 1000 if ema_rampup is None else min(ema_kimg * 1000, i * batch * ema_rampup)
        beta = 0.5 ** (batch / max(nimg, 1e-8))
        betas.append(beta)
        average = b + beta * (average - b)
        assert gan.ema_generator.weights[0].numpy().item() == pytest.approx(average, rel=1e-6, abs=1e-7), i
    if ema_rampup is None:
        assert betas[0] == pytest.approx(0.5**0.4)
    else:  # the warm-up: a copy at the first step, then a growing half-life up to 10 images
        np.testing.assert_allclose(betas[:6], [0.0, 0.25, 0.5, 0.5 ** (4 / 6), 0.5 ** (4 / 8), 0.5**0.4])
    assert gan.ema_generator.weights[0].numpy().item() != pytest.approx(b)  # it really lags


def test_beta_is_stylegan2_adas():
    assert ema.beta(32, 0, 10.0).numpy() == pytest.approx(0.5 ** (32 / 10_000))
    assert ema.beta(32, 0, 10.0, ema_rampup=0.05).numpy() == 0.0  # nothing seen: a copy
    assert ema.beta(32, 64_000, 10.0, ema_rampup=0.05).numpy() == pytest.approx(0.5 ** (32 / 3200))


def test_bad_options_are_named():
    with pytest.raises(ValueError, match="ema_kimg=-1"):
        _ema_gan(ema_kimg=-1)
    with pytest.raises(ValueError, match="ema_rampup=0"):
        _ema_gan(ema_kimg=1.0, ema_rampup=0)


def test_batchnorm_statistics_are_copied_and_weights_averaged():
    gan = _ema_gan(ema_kimg=1.0)
    for _ in range(3):
        gan.train_step(tf.constant(_images()))
    for raw, average in zip(gan.generator.variables, gan.ema_generator.variables):
        if raw.trainable:
            continue
        np.testing.assert_array_equal(raw.numpy(), average.numpy(), err_msg=raw.path)
    statistics = [v for v in gan.generator.non_trainable_variables if "moving" in v.path]
    assert statistics  # the generator does have BatchNorm statistics
    assert any(not np.allclose(r.numpy(), a.numpy())
               for r, a in zip(gan.generator.trainable_variables, gan.ema_generator.variables))


def test_one_and_two_replicas_give_the_same_average_and_replicas_agree():
    dataset = tf.data.Dataset.from_tensor_slices(_images(48)).batch(16, drop_remainder=True)
    one = _ema_gan(ema_kimg=0.05, ema_rampup=0.1)
    one.fit(dataset, epochs=1, verbose=0)
    strategy = _mirrored()
    two = _ema_gan(strategy, ema_kimg=0.05, ema_rampup=0.1)
    two.fit(dataset, epochs=1, verbose=0)
    # Two replicas sum the gradients in another order. Adam divides each gradient element by its own
    # magnitude, so an element that is a near-cancellation (relative rounding error ~1e-3) moves by
    # lr·1e-3 = 1e-5 differently per step: 1.4e-5 after these 3 steps on an AMD Zen 5 (oneDNN's AVX-512
    # kernels). atol 1e-4 is 1% of one step at lr 1e-2; a replica bug (the same noise on both, a missing
    # all-reduce) changes gradients far beyond rounding, and with them whole Adam steps of up to 1e-2.
    for a, b in zip(one.ema_generator.variables, two.ema_generator.variables):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-4, err_msg=a.path)
        copies = strategy.experimental_local_results(b.value)
        assert len(copies) == 2
        np.testing.assert_array_equal(copies[0].numpy(), copies[1].numpy(), err_msg=b.path)


def test_generate_and_sample_grid_use_the_average_unless_told_otherwise():
    gan = _ema_gan(ema_kimg=1.0)
    for _ in range(2):
        gan.train_step(tf.constant(_images()))
    noise = tf.random.stateless_normal((4, LATENT), seed=[9, 0])
    np.testing.assert_allclose(gan.generate(4, seed=9).numpy(), gan.ema_generator(noise, training=False).numpy(),
                               atol=1e-6)
    np.testing.assert_allclose(gan.generate(4, seed=9, use_ema=False).numpy(),
                               gan.generator(noise, training=False).numpy(), atol=1e-6)
    grid, _ = gan.sample_grid(4, seed=9)
    np.testing.assert_array_equal(grid.numpy(), gan.generate(4, seed=9).numpy())
    assert not np.allclose(grid.numpy(), gan.sample_grid(4, seed=9, use_ema=False)[0].numpy())
    assert _ema_gan().ema_generator is None  # off by default


def test_checkpoints_hold_the_average_and_resume_it_exactly(tmp_path):
    data = tf.constant(_images())
    gan = _ema_gan(ema_kimg=0.05, ema_rampup=0.1)
    gan.train_step(data)
    CheckpointManager(gan, str(tmp_path)).save(epoch=1)
    restored = _ema_gan(ema_kimg=0.05, ema_rampup=0.1)
    restored.ema_generator.set_weights([np.zeros_like(w) for w in restored.ema_generator.get_weights()])
    assert CheckpointManager(restored, str(tmp_path)).restore_latest() == 1
    gan.train_step(data)
    restored.train_step(data)
    for a, b in zip(gan.ema_generator.variables, restored.ema_generator.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)
    with np.load(f"{tmp_path}/ckpt-000001.npz") as stored:
        assert any(key.startswith("ema_generator/") for key in stored.files)
    # A GAN without an average has the checkpoint groups it always had.
    CheckpointManager(_ema_gan(), str(tmp_path / "plain")).save(epoch=1)
    with np.load(f"{tmp_path}/plain/ckpt-000001.npz") as stored:
        assert {key.split("/")[0] for key in stored.files} == {
            "generator", "discriminator", "noise_seed", "d_optimizer", "g_optimizer", "__paths__", "__epoch__", "__meta__"}


def test_config_round_trip_keeps_the_ema_options():
    gan = _ema_gan(ema_kimg=2.5, ema_rampup=0.05)
    clone = GAN.from_config(gan.get_config())
    assert clone.ema_kimg == 2.5 and clone.ema_rampup == 0.05 and clone.ema_generator is not None
