"""The GAN model with class labels (concat, projection, ACGAN) and with captions (GAN-CLS)."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from gan_tf import GAN, distribute, losses, networks, text
from gan_tf.checkpoints import CheckpointManager
from gan_tf.conditioning import ClassConditioning, LabelError, TextConditioning
from gan_tf.networks.conditional import conditional_discriminator, conditional_generator

LATENT, SHAPE = 4, (8, 8, 1)
CAPTIONS = text.caption_set("mnist")
VOCABULARY = text.caption_vocabulary(CAPTIONS)


def _conditioning(kind, **kwargs):
    if kind in ("text", "text-gru"):
        # The attention encoder runs eagerly in a fraction of the GRU's time; the GRU is
        # covered by test_train_step_logs... and tests/conditional/test_runs.py.
        kwargs.setdefault("encoder", "gru" if kind == "text-gru" else "attention")
        return TextConditioning(CAPTIONS, VOCABULARY, **kwargs)
    return ClassConditioning(10, kind, **kwargs)


def _tiny_gan(kind="projection", strategy=None, seed=3, conditioning_kwargs=None, **compile_kwargs):
    strategy = strategy or tf.distribute.get_strategy()
    conditioning = _conditioning(kind, **(conditioning_kwargs or {}))
    with strategy.scope():
        keras.utils.set_random_seed(1)
        spec = conditioning.network_input
        generator = conditional_generator(LATENT, SHAPE, spec, embedding_dim=4, width=4, synchronized_batchnorm=True)
        discriminator = conditional_discriminator(SHAPE, spec, conditioning.mode, embedding_dim=4, width=4, dropout=0.0)
        gan = GAN(generator, discriminator, LATENT, seed=seed, conditioning=conditioning)
        gan.compile(d_optimizer=keras.optimizers.Adam(1e-2), g_optimizer=keras.optimizers.Adam(1e-2), **compile_kwargs)
    return gan


def _batch(n=20, seed=0):
    images = np.random.RandomState(seed).uniform(-1, 1, (n,) + SHAPE).astype(np.float32)
    return tf.constant(images), tf.constant(np.arange(n, dtype=np.int32) % 10)


def _weights(gan):
    return [v.numpy() for v in gan.generator.weights + gan.discriminator.weights]


# ------------------------------------------------------------------ training
@pytest.mark.parametrize("kind, extra_keys", [
    ("concat", set()), ("projection", set()), ("acgan", {"d_class_loss", "g_class_loss"}), ("text", {"d_wrong"}),
    ("text-gru", {"d_wrong"}), ("projection-seeking", {"mode_seeking_loss"}),
])
def test_train_step_logs_every_loss_finite_as_rank_zero_scalars(kind, extra_keys):
    seeking = kind.endswith("-seeking")
    gan = _tiny_gan(kind.replace("-seeking", ""), r1_gamma=1.0,
                    conditioning_kwargs={"mode_seeking_weight": 1.0} if seeking else None)
    before = _weights(gan)
    logs = gan.train_step(_batch())
    assert set(logs) == {"d_loss", "g_loss", "d_real", "d_fake", "r1_penalty", "loss"} | extra_keys
    for key, value in logs.items():
        assert value.shape == (), key  # [1] only under MultiWorkerMirroredStrategy
        assert np.isfinite(value.numpy()).all(), key
    assert any(not np.array_equal(a, b) for a, b in zip(before, _weights(gan)))


@pytest.mark.parametrize("kind", ["acgan", "text"])
def test_wgan_gp_with_extra_critic_steps_works_with_conditions(kind):
    gan = _tiny_gan(kind, loss="wasserstein", gradient_penalty_weight=10.0, d_steps=2)
    logs = gan.train_step(_batch())
    assert "gradient_penalty" in logs and all(np.isfinite(v.numpy()).all() for v in logs.values())


def test_a_conditional_gan_needs_labels():
    gan = _tiny_gan("projection")
    with pytest.raises(ValueError, match=r"\(images, labels\) batches"):
        gan.train_step(_batch()[0])


def test_acgan_class_loss_is_cross_entropy():
    logits = np.array([[2.0, 0.5, -1.0], [0.0, 0.0, 0.0]], np.float32)
    labels = np.array([0, 2])
    expected = -(logits[np.arange(2), labels] - np.log(np.exp(logits).sum(axis=1)))
    np.testing.assert_allclose(losses.auxiliary_classifier_loss(logits, labels).numpy(), expected, rtol=1e-6)


def _authors_mode_seeking(images_1, images_2, noise_1, noise_2, eps=1e-5):
    # MSGAN's code (HelenMao/MSGAN, DCGAN-Mode-Seeking/model.py): one ratio of batch means.
    lz = np.mean(np.abs(images_2 - images_1)) / np.mean(np.abs(noise_2 - noise_1))
    return 1 / (lz + eps)


def test_mode_seeking_loss_is_the_inverse_of_one_batch_distance_ratio():
    images_1 = np.zeros((2, 2, 2, 1), np.float32)
    images_2 = np.stack([np.full((2, 2, 1), 0.5), np.zeros((2, 2, 1))]).astype(np.float32)
    noise_1 = np.zeros((2, 4), np.float32)
    noise_2 = np.array([[1, 1, 1, 1], [2, -2, 2, -2]], np.float32)
    # mean |ΔI| = 0.25, mean |Δz| = 1.5: 1 / (1/6 + eps), not the mean of per-pair inverses.
    np.testing.assert_allclose(losses.mode_seeking_loss(images_1, images_2, noise_1, noise_2).numpy(),
                               1 / (0.25 / 1.5 + 1e-5), rtol=1e-6)


def test_a_few_collapsed_pairs_do_not_drown_the_mode_seeking_loss():
    # The case: 8 of 64 pairs collapsed (identical images for different noise).
    rng = np.random.RandomState(0)
    images_1 = rng.uniform(-1, 1, (64, 8, 8, 1)).astype(np.float32)
    images_2 = rng.uniform(-1, 1, (64, 8, 8, 1)).astype(np.float32)
    images_2[:8] = images_1[:8]
    noise_1, noise_2 = rng.normal(size=(2, 64, 16)).astype(np.float32)
    loss = losses.mode_seeking_loss(images_1, images_2, noise_1, noise_2).numpy()
    expected = _authors_mode_seeking(images_1, images_2, noise_1, noise_2)
    np.testing.assert_allclose(loss, expected, rtol=1e-5)
    assert loss < 2  # 56 healthy pairs: |ΔI| ≈ 2/3, |Δz| ≈ 1.13 → about 1.94
    # Per-pair ratios, inverted and averaged, would give 8/64 · 1e5 ≈ 12,500.
    pair_ratio = (np.abs(images_1 - images_2).reshape(64, -1).mean(1) / np.abs(noise_1 - noise_2).mean(1))
    assert np.mean(1 / (pair_ratio + 1e-5)) > 1e4


def test_acgan_class_loss_trains_the_class_head():
    images, labels = _batch()
    gan = _tiny_gan("acgan")
    head = gan.discriminator.get_layer("class_logits").kernel
    start = head.numpy()
    # Before training, each class term is about log(10); the logged loss holds both.
    real_classes = gan.discriminator(images, training=True)[1]
    real_part = losses.auxiliary_classifier_loss(real_classes, labels).numpy().mean()
    logs = gan.train_step((images, labels))
    assert logs["d_class_loss"].numpy() == pytest.approx(2 * real_part, rel=0.2)
    assert not np.allclose(head.numpy(), start)
    # Without the class loss the head receives no gradient at all.
    off = _tiny_gan("acgan", conditioning_kwargs={"class_loss_weight": 0.0})
    start = off.discriminator.get_layer("class_logits").kernel.numpy()
    off.train_step((images, labels))
    np.testing.assert_array_equal(off.discriminator.get_layer("class_logits").kernel.numpy(), start)


# ------------------------------------------------------------------ GAN-CLS
def test_mismatched_labels_always_differ_and_cover_every_other_class():
    conditioning = _conditioning("text")
    labels = tf.constant(np.arange(5000, dtype=np.int32) % 10)
    u = tf.random.stateless_uniform([5000], seed=[1, 2])
    wrong = conditioning.mismatched_labels(labels, lambda: u).numpy()
    assert not np.any(wrong == labels.numpy())
    for label in range(10):
        assert set(wrong[labels.numpy() == label]) == set(range(10)) - {label}


def test_gan_cls_discriminator_sees_captions_that_really_mismatch(monkeypatch):
    gan = _tiny_gan("text")
    images, labels = _batch()
    recorded = []
    original = gan.conditioning.condition

    def recording(labels_, uniform):
        tokens = original(labels_, uniform)
        recorded.append((labels_.numpy(), tokens.numpy()))
        return tokens

    monkeypatch.setattr(gan.conditioning, "condition", recording)
    gan.train_step((images, labels))
    # First the captions of the batch's own classes, then the mismatched ones.
    (right_labels, right), (wrong_labels, wrong) = recorded
    bank = [set(map(tuple, VOCABULARY.encode(list(c)))) for c in CAPTIONS.train]
    np.testing.assert_array_equal(right_labels, labels.numpy())
    for label, tokens in zip(labels.numpy(), right):
        assert tuple(tokens) in bank[label]
    for label, tokens in zip(labels.numpy(), wrong):
        assert tuple(tokens) not in bank[label]  # no caption of the image's own class
        assert any(tuple(tokens) in bank[other] for other in range(10) if other != label)
    assert not np.any(wrong_labels == labels.numpy())


def test_gan_cls_discriminator_loss_is_real_plus_half_of_both_fakes():
    # With a constant discriminator output c everywhere, Reed et al.'s
    # L_D = softplus(-c) + ½ (softplus(c) + softplus(c)).
    gan = _tiny_gan("text")
    for variable in gan.discriminator.trainable_variables:
        variable.assign(tf.zeros_like(variable))
    logs = gan.train_step(_batch())
    assert logs["d_loss"].numpy() == pytest.approx(2 * np.log(2.0), rel=1e-5)
    assert logs["d_wrong"].numpy() == pytest.approx(0.0, abs=1e-6)


def test_mismatch_weight_zero_turns_gan_cls_off():
    gan = _tiny_gan("text", conditioning_kwargs={"mismatch_weight": 0.0})
    assert not gan.conditioning.matching_aware
    assert "d_wrong" not in gan.train_step(_batch())
    with pytest.raises(ValueError, match="mismatch_weight=1.5: expected a weight in"):
        _conditioning("text", mismatch_weight=1.5)


# ------------------------------------------------------------------ sampling
@pytest.mark.parametrize("kind", ["projection", "acgan", "text"])
def test_generate_with_labels_is_deterministic_under_a_seed(kind):
    gan = _tiny_gan(kind)
    gan.train_step(_batch())
    a = gan.generate(6, labels=[0, 1, 2, 3, 4, 5], seed=7).numpy()
    np.testing.assert_array_equal(a, gan.generate(6, labels=[0, 1, 2, 3, 4, 5], seed=7).numpy())
    assert a.shape == (6,) + SHAPE and a.dtype == np.float32
    assert not np.allclose(a, gan.generate(6, labels=[0, 1, 2, 3, 4, 5], seed=8).numpy())
    # Same noise, another class: another image.
    assert not np.allclose(a, gan.generate(6, labels=9, seed=7).numpy())
    np.testing.assert_allclose(gan.generate(6, labels=[0, 1, 2, 3, 4, 5], seed=7, batch_size=4).numpy(), a, atol=1e-6)


def test_generate_with_prompts_is_deterministic_and_reads_the_prompt():
    gan = _tiny_gan("text")
    gan.train_step(_batch())
    seven = gan.generate(4, prompts="a handwritten seven", seed=3).numpy()
    np.testing.assert_array_equal(seven, gan.generate(4, prompts="a handwritten seven", seed=3).numpy())
    assert not np.allclose(seven, gan.generate(4, prompts="a handwritten two", seed=3).numpy())
    pair = gan.generate(2, prompts=["the digit 7", "the digit 2"], seed=3).numpy()
    assert pair.shape == (2,) + SHAPE


def test_sample_grid_has_one_row_per_class_and_one_noise_per_column():
    gan = _tiny_gan("projection")
    images, columns = gan.sample_grid(25, seed=0)
    assert columns == 2 and images.shape == (20,) + SHAPE
    expected = gan.generate(2, labels=[3, 3], seed=0).numpy()  # row 3 uses the columns' noise
    np.testing.assert_allclose(images.numpy()[6:8], expected, atol=1e-6)
    unconditional = GAN(networks.dcgan_generator(LATENT, SHAPE, width=4), networks.dcgan_discriminator(SHAPE, width=4),
                        LATENT, seed=0)
    images, columns = unconditional.sample_grid(5, seed=0)
    assert columns is None and images.shape == (5,) + SHAPE


@pytest.mark.parametrize("labels, message", [
    (10, r"label 10 is out of range: expected an integer in \[0, 9\]"),
    ([0, 1, -1], r"label -1 is out of range"),
    ([0, 1], "expected one label or 3 labels"),
    (1.5, "expected integers"),
])
def test_labels_out_of_range_are_refused(labels, message):
    gan = _tiny_gan("projection")
    with pytest.raises(LabelError, match=message):
        gan.generate(3, labels=labels)


def test_conditions_that_do_not_fit_the_model_are_refused():
    with pytest.raises(LabelError, match="conditioned on class labels: expected labels="):
        _tiny_gan("projection").generate(2, prompts="a seven")
    with pytest.raises(text.PromptError, match="unknown word 'zebra'"):
        _tiny_gan("text").generate(2, prompts="a handwritten zebra")
    with pytest.raises(LabelError, match="2 prompts for n=3"):
        _tiny_gan("text").generate(3, prompts=["a seven", "a two"])
    unconditional = GAN(networks.dcgan_generator(LATENT, SHAPE, width=4), networks.dcgan_discriminator(SHAPE, width=4),
                        LATENT)
    with pytest.raises(LabelError, match="labels given, but this GAN is unconditional"):
        unconditional.generate(2, labels=1)


def test_networks_that_do_not_fit_the_conditioning_are_refused():
    conditioning = ClassConditioning(10, "projection")
    spec = conditioning.network_input
    generator = conditional_generator(LATENT, SHAPE, spec, width=4)
    with pytest.raises(ValueError, match="expected a generator with inputs \\[noise, condition\\]"):
        GAN(networks.dcgan_generator(LATENT, SHAPE, width=4), conditional_discriminator(SHAPE, spec, width=4),
            LATENT, conditioning=conditioning)
    with pytest.raises(ValueError, match="expected a discriminator with inputs \\[images, condition\\]"):
        GAN(generator, networks.dcgan_discriminator(SHAPE, width=4), LATENT, conditioning=conditioning)
    with pytest.raises(ValueError, match="need conditioning="):
        GAN(generator, conditional_discriminator(SHAPE, spec, width=4), LATENT)
    with pytest.raises(ValueError, match="mode='acgan': text conditioning expects"):
        TextConditioning(CAPTIONS, VOCABULARY, mode="acgan")


# ------------------------------------------------------------------ distribution
def _mirrored():
    # The process-wide one: a second MirroredStrategy in a process collides on collective keys.
    return distribute.make_strategy("mirrored")


@pytest.mark.parametrize("mode_seeking_weight", [0.0, 1.0])
def test_class_gan_on_two_replicas_trains_like_one_device(mode_seeking_weight):
    # Losses over the global batch, synchronized BatchNorm: 2 replicas × 10 examples
    # must give the weights of 1 device × 20 examples; the mode-seeking ratio is one
    # of global-batch means.
    images, labels = _batch(40)
    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).batch(20, drop_remainder=True)
    seeking = {"mode_seeking_weight": mode_seeking_weight}
    one = _tiny_gan("projection", conditioning_kwargs=seeking)
    one.fit(dataset, epochs=1, verbose=0)
    two = _tiny_gan("projection", _mirrored(), conditioning_kwargs=seeking)
    history = two.fit(dataset, epochs=1, verbose=0)
    for a, b in zip(_weights(one), _weights(two)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    assert np.isfinite(history.history["d_loss"][0])


def test_caption_draws_differ_across_replicas_and_match_one_device():
    # Each replica keeps its rows of one draw made for the global batch: the captions
    # (and mismatched captions) of 2 replicas × 25 examples are those of 1 device × 50.
    strategy = _mirrored()
    two = _tiny_gan("text", strategy)
    state = two.noise_seed.state.numpy()
    labels = np.arange(50, dtype=np.int32) % 10

    def draw(gan, local_labels):
        uniform = lambda: gan._uniform(tf.shape(local_labels)[0])  # noqa: E731
        right = gan.conditioning.condition(local_labels, uniform)
        wrong_labels = gan.conditioning.mismatched_labels(local_labels, uniform)
        return right, wrong_labels

    local = strategy.experimental_distribute_values_from_function(
        lambda context: tf.constant(labels[25 * context.replica_id_in_sync_group:][:25]))
    results = strategy.run(lambda x: draw(two, x), args=(local,))
    right = np.concatenate([t.numpy() for t in strategy.experimental_local_results(results[0])])
    wrong = np.concatenate([t.numpy() for t in strategy.experimental_local_results(results[1])])
    one = _tiny_gan("text")
    one.noise_seed.state.assign(state)
    expected_right, expected_wrong = draw(one, tf.constant(labels))
    np.testing.assert_array_equal(right, expected_right.numpy())
    np.testing.assert_array_equal(wrong, expected_wrong.numpy())
    # Same labels on both replicas, yet other phrasings: the draws are per replica.
    assert not np.array_equal(right[:25], right[25:])


@pytest.mark.parametrize("kind", ["acgan", "text"])
def test_checkpoint_restores_encoders_and_the_caption_stream(kind, tmp_path):
    # Text encoders and embeddings live in the networks, caption draws come from the
    # checkpointed noise stream: the step after a restore is the uninterrupted one.
    batch = _batch()
    gan = _tiny_gan(kind)
    gan.train_step(batch)
    CheckpointManager(gan, str(tmp_path)).save(epoch=1)
    restored = _tiny_gan(kind, seed=99)
    assert CheckpointManager(restored, str(tmp_path)).restore_latest() == 1
    gan.train_step(batch)
    restored.train_step(batch)
    for a, b in zip(_weights(gan), _weights(restored)):
        np.testing.assert_array_equal(a, b)


def test_get_config_round_trip_keeps_the_conditioning():
    gan = _tiny_gan("text")
    config = gan.get_config()
    assert config["conditioning"]["kind"] == "text" and config["conditioning"]["mode"] == "projection"
    from gan_tf import conditioning

    again = conditioning.from_config(config["conditioning"])
    np.testing.assert_array_equal(again.bank.numpy(), gan.conditioning.bank.numpy())
