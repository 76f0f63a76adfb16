"""The VAE baseline: ELBO terms against closed forms, reparameterisation, sampling,
reconstruction scores against numpy, replica-count independence and exact resume."""
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from gan_tf import GAN, distribute, latent, networks
from gan_tf import vae as vae_lib
from gan_tf.networks.layers import replica_slice, stateless_normal
from gan_tf.networks.vae import vae_decoder, vae_encoder
from gan_tf.vae import VAE

LATENT = 4
SHAPE = (16, 16, 1)  # the smallest DCGAN-shaped images that fit SSIM's 11×11 window


def _tiny_vae(strategy=None, seed=3, beta=1.0, reconstruction="bernoulli", lr=1e-2):
    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope():
        keras.utils.set_random_seed(1)
        encoder = vae_encoder(SHAPE, LATENT, width=4)
        decoder = vae_decoder(LATENT, SHAPE, width=4, synchronized_batchnorm=True)
        vae = VAE(encoder, decoder, LATENT, beta=beta, reconstruction=reconstruction, seed=seed)
        vae.compile(optimizer=keras.optimizers.Adam(lr))
    return vae


def _images(n=16, seed=0):
    return np.random.RandomState(seed).uniform(-1, 1, (n,) + SHAPE).astype(np.float32)


def _dataset(images, batch=16):
    return tf.data.Dataset.from_tensor_slices(images).batch(batch, drop_remainder=True)


def _weights(vae):
    return [v.numpy() for v in vae.encoder.weights + vae.decoder.weights]


def _mirrored():
    # The process-wide one: MirroredStrategies created side by side number their
    # collective ops alike and collide (see gan_tf.distribute.make_strategy).
    return distribute.make_strategy("mirrored")


# ------------------------------------------------------------------ ELBO terms
def test_kl_matches_the_closed_form_for_a_diagonal_gaussian():
    rng = np.random.RandomState(0)
    mean = rng.normal(size=(5, 7))
    log_variance = rng.normal(size=(5, 7))
    sigma = np.exp(0.5 * log_variance)
    # KL(N(μ, σ²) ‖ N(0, 1)) = log(1/σ) + (σ² + μ²)/2 − 1/2 per dimension (Kingma & Welling, app. B).
    expected = np.sum(np.log(1.0 / sigma) + (sigma**2 + mean**2) / 2.0 - 0.5, axis=1)
    np.testing.assert_allclose(vae_lib.gaussian_kl(mean, log_variance).numpy(), expected, rtol=1e-5)
    # The prior itself is at distance 0.
    assert vae_lib.gaussian_kl(np.zeros((2, 3)), np.zeros((2, 3))).numpy().tolist() == [0.0, 0.0]


def test_kl_matches_a_monte_carlo_estimate():
    # An independent check of the formula: E_q[log q(z) − log p(z)] with z ~ q.
    rng = np.random.RandomState(1)
    mean, log_variance = np.array([0.7, -1.2]), np.array([-0.5, 0.8])
    sigma = np.exp(0.5 * log_variance)
    z = mean + sigma * rng.normal(size=(400_000, 2))
    log_q = -0.5 * ((z - mean) / sigma) ** 2 - np.log(sigma) - 0.5 * np.log(2 * np.pi)
    log_p = -0.5 * z**2 - 0.5 * np.log(2 * np.pi)
    estimate = np.mean(np.sum(log_q - log_p, axis=1))
    closed = vae_lib.gaussian_kl(mean[None], log_variance[None]).numpy()[0]
    assert abs(closed - estimate) < 0.01


def test_reconstruction_likelihoods_match_numpy():
    rng = np.random.RandomState(2)
    targets = rng.uniform(0, 1, (3, 4, 4, 1)).astype(np.float32)
    logits = rng.normal(size=(3, 4, 4, 1)).astype(np.float32)
    p = 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))
    bce = -(targets * np.log(p) + (1 - targets) * np.log(1 - p))
    np.testing.assert_allclose(vae_lib.bernoulli_nll(targets, logits).numpy(), bce.sum(axis=(1, 2, 3)), rtol=1e-5)
    sigma = 0.1
    log_density = -0.5 * ((targets - p) / sigma) ** 2 - math.log(sigma) - 0.5 * math.log(2 * math.pi)
    np.testing.assert_allclose(
        vae_lib.gaussian_nll(targets, p.astype(np.float32), sigma).numpy(), -log_density.sum(axis=(1, 2, 3)),
        rtol=1e-4,
    )


def test_reparameterisation_gradient_reaches_mean_and_log_variance():
    # β = 0: the loss sees μ and log σ² only through z = μ + σ·ε, so non-zero gradients on
    # both heads mean the gradient flows through the sample.
    vae = _tiny_vae(beta=0.0)
    images = tf.constant(_images(8))
    epsilon = stateless_normal((8, LATENT), seed=tf.constant([5, 0], tf.int64))
    heads = [vae.encoder.get_layer(name).kernel for name in ("mean", "log_variance")]
    with tf.GradientTape() as tape:
        reconstruction, _, _ = vae._terms(images, epsilon, training=True)
        loss = tf.reduce_mean(reconstruction)
    for head, gradient in zip(heads, tape.gradient(loss, heads)):
        assert gradient is not None and np.abs(gradient.numpy()).max() > 0, head.path
    # ∂z/∂(log σ²) = ½ σ ε: with ε = 0 the log-variance head gets no reconstruction gradient.
    with tf.GradientTape() as tape:
        reconstruction, _, _ = vae._terms(images, tf.zeros_like(epsilon), training=True)
        loss = tf.reduce_mean(reconstruction)
    assert np.abs(tape.gradient(loss, heads[1]).numpy()).max() == 0.0


@pytest.mark.parametrize("reconstruction", vae_lib.RECONSTRUCTIONS)
def test_training_lowers_the_loss_on_a_toy_set(reconstruction):
    # Two patterns (a bright left half, a bright top half) with a little noise.
    rng = np.random.RandomState(0)
    left = -np.ones(SHAPE, np.float32)
    left[:, :8] = 1.0
    top = -np.ones(SHAPE, np.float32)
    top[:8] = 1.0
    images = np.stack([left, top] * 16) + rng.normal(0, 0.05, (32,) + SHAPE).astype(np.float32)
    images = np.clip(images, -1, 1)
    vae = _tiny_vae(reconstruction=reconstruction)
    history = vae.fit(_dataset(images), epochs=15, verbose=0).history
    # The best z-independent decoder predicts every pixel's mean; its negative
    # log-likelihood (numpy) bounds the loss of a VAE whose code carries nothing.
    targets = (images.astype(np.float64) + 1) / 2
    means = np.clip(targets.mean(axis=0), 1e-6, 1 - 1e-6)
    if reconstruction == "bernoulli":
        nll = -(targets * np.log(means) + (1 - targets) * np.log(1 - means))
    else:
        sigma = vae.gaussian_sigma
        nll = (targets - means) ** 2 / (2 * sigma**2) + math.log(sigma * math.sqrt(2 * math.pi))
    uninformative = nll.sum(axis=(1, 2, 3)).mean()
    first, last = history["loss"][0], history["loss"][-1]
    assert last < first and last < uninformative, (first, last, uninformative)
    np.testing.assert_allclose(
        np.array(history["loss"]), np.array(history["reconstruction"]) + np.array(history["kl"]), rtol=1e-5
    )


# ------------------------------------------------------------------ sampling
def test_same_seed_gives_the_same_samples():
    vae = _tiny_vae()
    a, b, c = vae.generate(6, seed=4), vae.generate(6, seed=4), vae.generate(6, seed=5)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert not np.allclose(a.numpy(), c.numpy())
    assert a.shape == (6,) + SHAPE and a.dtype == tf.float32
    assert np.all(np.abs(a.numpy()) <= 1.0)
    np.testing.assert_allclose(vae.generate(6, seed=4, batch_size=4).numpy(), a.numpy(), atol=1e-6)
    # The same z as the GAN's generate for that seed, decoded.
    z = tf.random.stateless_normal((6, LATENT), seed=[4, 0])
    np.testing.assert_allclose(a.numpy(), np.tanh(0.5 * vae.decoder(z, training=False).numpy()), atol=1e-6)
    np.testing.assert_allclose(vae.generator(z).numpy(), a.numpy(), atol=1e-6)


def test_latent_interpolation_samples_a_vae_through_its_generator():
    vae = _tiny_vae()
    images, columns = latent.interpolation_grid(vae, steps=3, pairs=2, seed=0)
    noise = latent.interpolation_noise(LATENT, 2, 3, seed=0)
    assert columns == 3
    np.testing.assert_allclose(images, vae.decode(noise).numpy(), atol=1e-6)


def test_reconstruct_decodes_the_posterior_mean():
    vae = _tiny_vae()
    images = _images(4)
    mean, log_variance = vae.encode(images)
    assert mean.shape == log_variance.shape == (4, LATENT)
    np.testing.assert_allclose(vae.reconstruct(images).numpy(), vae.decode(mean).numpy(), atol=1e-6)
    assert vae.reconstruct(images).shape == (4,) + SHAPE


# ------------------------------------------------------------------ PSNR and SSIM
def _numpy_ssim(a, b, size=11, sigma=1.5, k1=0.01, k2=0.03):
    """Mean SSIM (Wang et al. 2004) of two [H, W] images in [0, 1]: Gaussian-weighted
    local statistics over every fully contained window, TF's constants."""
    coords = np.arange(size) - (size - 1) / 2.0
    g = np.exp(-(coords**2) / (2 * sigma**2))
    window = np.outer(g, g) / np.outer(g, g).sum()
    c1, c2 = k1**2, k2**2
    h, w = a.shape
    values = []
    for i in range(h - size + 1):
        for j in range(w - size + 1):
            pa, pb = a[i : i + size, j : j + size], b[i : i + size, j : j + size]
            mu_a, mu_b = (window * pa).sum(), (window * pb).sum()
            var_a = (window * pa**2).sum() - mu_a**2
            var_b = (window * pb**2).sum() - mu_b**2
            cov = (window * pa * pb).sum() - mu_a * mu_b
            values.append(
                ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
            )
    return float(np.mean(values))


def test_psnr_and_ssim_of_identical_images():
    images = _images(3)
    psnr, ssim = vae_lib.reconstruction_quality(images, images)
    assert np.all(np.isinf(psnr.numpy()))
    np.testing.assert_allclose(ssim.numpy(), 1.0, atol=1e-6)


def test_psnr_and_ssim_of_known_noise_match_numpy():
    rng = np.random.RandomState(3)
    clean = rng.uniform(0.2, 0.8, (2,) + SHAPE)  # [0, 1], away from the clip bounds
    noisy = np.clip(clean + rng.normal(0, 0.05, clean.shape), 0, 1)
    psnr, ssim = vae_lib.reconstruction_quality((2 * clean - 1).astype(np.float32), (2 * noisy - 1).astype(np.float32))
    for k in range(2):
        mse = np.mean((clean[k] - noisy[k]) ** 2)
        assert psnr.numpy()[k] == pytest.approx(10 * np.log10(1.0 / mse), abs=1e-3)
        assert ssim.numpy()[k] == pytest.approx(_numpy_ssim(clean[k, ..., 0], noisy[k, ..., 0]), abs=1e-4)


def test_ssim_window_shrinks_for_small_images():
    assert vae_lib.ssim_filter_size(28, 28) == 11
    assert vae_lib.ssim_filter_size(8, 8) == 8
    images = np.random.RandomState(0).uniform(-1, 1, (2, 8, 8, 1)).astype(np.float32)
    _, ssim = vae_lib.reconstruction_quality(images, images)
    np.testing.assert_allclose(ssim.numpy(), 1.0, atol=1e-6)


def test_evaluate_reports_per_image_mean_psnr_and_leaves_the_noise_stream_alone():
    vae = _tiny_vae()
    images = _images(20)
    held_out = tf.data.Dataset.from_tensor_slices(images).batch(16)  # a last batch of 4
    state = vae.noise_seed.state.numpy()
    scores = vae.evaluate(held_out, return_dict=True, verbose=0)
    np.testing.assert_array_equal(vae.noise_seed.state.numpy(), state)
    assert set(scores) == {"loss", "reconstruction", "kl", "psnr", "ssim"}
    real = (images + 1) / 2
    fake = np.clip((vae.reconstruct(images).numpy() + 1) / 2, 0, 1)
    psnr = 10 * np.log10(1.0 / np.mean((real - fake) ** 2, axis=(1, 2, 3)))
    assert scores["psnr"] == pytest.approx(psnr.mean(), abs=1e-3)
    assert 0 < scores["kl"] and scores["loss"] == pytest.approx(scores["reconstruction"] + scores["kl"], rel=1e-5)
    # Deterministic: the held-out ε comes from a fixed seed.
    assert vae.evaluate(held_out, return_dict=True, verbose=0) == scores


# ------------------------------------------------------------------ distribution and resume
def test_replica_slice_draws_what_the_gan_draws():
    gan = GAN(networks.dcgan_generator(LATENT, SHAPE, width=4), networks.dcgan_discriminator(SHAPE, width=4),
              LATENT, seed=7)
    seed_generator = keras.random.SeedGenerator(7)
    seed_generator.state.assign(gan.noise_seed.state)
    expected = gan._noise(5).numpy()
    ours = replica_slice(stateless_normal, 5, (LATENT,), tf.cast(seed_generator.next(), tf.int64))
    np.testing.assert_array_equal(ours.numpy(), expected)


def test_two_replicas_train_like_one_device_with_the_same_global_batch():
    # Losses averaged over the global batch, noise sliced from a global draw and
    # synchronized BatchNorm: 2 replicas × 8 images must give the weights of 1 × 16.
    dataset = _dataset(_images(48))
    one = _tiny_vae()
    one_history = one.fit(dataset, epochs=1, verbose=0).history
    two = _tiny_vae(_mirrored())
    two_history = two.fit(dataset, epochs=1, verbose=0).history
    for a, b in zip(_weights(one), _weights(two)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    for key in ("loss", "reconstruction", "kl"):
        assert two_history[key][0] == pytest.approx(one_history[key][0], rel=1e-4), key
    np.testing.assert_array_equal(one.noise_seed.state.numpy(), two.noise_seed.state.numpy())
    one_scores = one.evaluate(dataset, return_dict=True, verbose=0)
    two_scores = two.evaluate(dataset, return_dict=True, verbose=0)
    for key, value in one_scores.items():
        assert two_scores[key] == pytest.approx(value, rel=1e-4), key


def _checkpointed(vae):
    return [v for group in vae.checkpoint_groups().values() for v in group]


def _state(vae):
    return [v.numpy() for v in _checkpointed(vae)]


def _load_state(vae, values):
    for variable, value in zip(_checkpointed(vae), values):
        variable.assign(value)


def test_checkpoint_groups_hold_every_variable_but_the_epoch_trackers():
    vae = _tiny_vae()
    held = {id(v) for v in _checkpointed(vae)}
    trackers = {id(v) for tracker in vae.metrics for v in tracker.variables}
    everything = {id(v) for v in vae.variables + vae.optimizer.variables}
    assert held == everything - trackers
    assert len(held) == len(_checkpointed(vae))  # no variable twice


def test_restoring_all_variables_continues_training_bit_identically():
    dataset = _dataset(_images(32))
    uninterrupted = _tiny_vae()
    uninterrupted.fit(dataset, epochs=1, verbose=0)
    saved = _state(uninterrupted)
    weights_only = [v.numpy() for v in uninterrupted.weights]
    uninterrupted.fit(dataset, epochs=1, verbose=0)

    resumed = _tiny_vae(seed=99)  # another seed: the restore must overwrite its noise stream
    _load_state(resumed, saved)
    resumed.fit(dataset, epochs=1, verbose=0)
    for a, b in zip(_state(uninterrupted), _state(resumed)):
        np.testing.assert_array_equal(a, b)

    # Without the seed state (Keras's own savers keep `weights` only) it does not continue exactly.
    partial = _tiny_vae(seed=99)
    for variable, value in zip(partial.weights, weights_only):
        variable.assign(value)
    for variable, value in zip(partial.optimizer.variables, saved[-len(partial.optimizer.variables):]):
        variable.assign(value)
    partial.fit(dataset, epochs=1, verbose=0)
    assert not all(np.array_equal(a, b) for a, b in zip(_weights(uninterrupted), _weights(partial)))


# ------------------------------------------------------------------ construction and saving
def _kernels(model, kind):
    return [tuple(layer.kernel.shape) for layer in model.layers if isinstance(layer, kind)]


def test_networks_mirror_the_dcgan_sizes():
    encoder = vae_encoder((28, 28, 1), 32, width=64)
    discriminator = networks.dcgan_discriminator((28, 28, 1), width=64)
    assert _kernels(encoder, keras.layers.Conv2D) == _kernels(discriminator, keras.layers.Conv2D)
    decoder = vae_decoder(32, (28, 28, 1), width=64)
    generator = networks.dcgan_generator(32, (28, 28, 1), width=64)
    assert _kernels(decoder, keras.layers.Conv2DTranspose) == _kernels(generator, keras.layers.Conv2DTranspose)
    assert _kernels(decoder, keras.layers.Dense) == _kernels(generator, keras.layers.Dense)
    assert encoder.output_shape == [(None, 32), (None, 32)]
    assert decoder.output_shape == (None, 28, 28, 1)


def test_bad_arguments_are_named():
    encoder, decoder = vae_encoder(SHAPE, LATENT, width=4), vae_decoder(LATENT, SHAPE, width=4)
    with pytest.raises(ValueError, match="latent_dim=5"):
        VAE(encoder, decoder, 5)
    with pytest.raises(ValueError, match="reconstruction='laplace'"):
        VAE(encoder, decoder, LATENT, reconstruction="laplace")
    with pytest.raises(ValueError, match="beta=-1"):
        VAE(encoder, decoder, LATENT, beta=-1)
    with pytest.raises(ValueError, match="does not match"):
        VAE(encoder, vae_decoder(LATENT, (32, 32, 1), width=4), LATENT)
    with pytest.raises(ValueError, match="two outputs"):
        VAE(networks.dcgan_discriminator(SHAPE, width=4), decoder, LATENT)
    with pytest.raises(ValueError, match="optimizer="):
        VAE(encoder, decoder, LATENT).compile(optimizer="adam")
    with pytest.raises(ValueError, match="n=0"):
        VAE(encoder, decoder, LATENT).generate(0)


def test_saves_and_loads_as_a_keras_file(tmp_path):
    vae = _tiny_vae(beta=2.0, reconstruction="gaussian")
    path = str(tmp_path / "vae.keras")
    vae.save(path)
    loaded = keras.saving.load_model(path, compile=False)
    assert isinstance(loaded, VAE)
    assert (loaded.beta, loaded.reconstruction, loaded.latent_dim) == (2.0, "gaussian", LATENT)
    np.testing.assert_array_equal(loaded.generate(3, seed=1).numpy(), vae.generate(3, seed=1).numpy())
