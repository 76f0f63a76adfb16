"""The GAN's augmentation hook, against a stand-in `gan_tf.augment` that keeps to the
agreed interface (diff_augment(images, draw, policy, probability), POLICIES,
AdaptiveAugment.update(real_logits, global_batch_size) and its `p`): which passes
are augmented, the draws' independence of the replica count, ADA's p in logs and
checkpoints. The augmentations themselves are gan_tf.augment's own tests' business."""
import types

import keras
import numpy as np
import pytest
import tensorflow as tf

from gan_tf import GAN, distribute, networks
from gan_tf import gan as gan_module
from gan_tf.checkpoints import CheckpointManager

LATENT = 4


class _AdaptiveStandIn(keras.layers.Layer):
    """Records its calls; p moves by 0.01·mean sign of the real logits (not ADA's rule)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.p = self.add_weight(shape=(), initializer="zeros", trainable=False, name="p",
                                 aggregation="only_first_replica")
        self.calls = []
        self.built = True

    def update(self, real_logits, global_batch_size):
        self.calls.append((tuple(real_logits.shape), int(global_batch_size)))
        self.p.assign(self.p + 0.01 * tf.reduce_mean(tf.sign(real_logits)))
        return self.p

    def get_config(self):
        return {"name": self.name}


@pytest.fixture
def augment(monkeypatch):
    """A stand-in gan_tf.augment: brightness + probability·(u - 0.5) per image; records every call."""
    module = types.ModuleType("gan_tf.augment")
    module.POLICIES = ("color", "translation", "cutout")
    module.calls = []

    def diff_augment(images, draw, policy=("translation", "cutout", "color"), probability=1.0):
        u = draw([1])  # [B, 1]
        module.calls.append({"policy": tuple(policy), "batch": int(images.shape[0]), "u": u})
        return images + tf.cast(probability, tf.float32) * tf.reshape(u - 0.5, [-1, 1, 1, 1])

    module.diff_augment = diff_augment
    module.AdaptiveAugment = _AdaptiveStandIn
    monkeypatch.setattr(gan_module, "gan_augment", module)  # what gan_tf.gan calls
    return module


def _gan(augment_option, strategy=None, **compile_kwargs):
    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope():
        keras.utils.set_random_seed(1)
        generator = networks.dcgan_generator(LATENT, (8, 8, 1), width=4)
        discriminator = networks.dcgan_discriminator((8, 8, 1), width=4, dropout=0.0)
        gan = GAN(generator, discriminator, LATENT, seed=3, augment=augment_option)
        gan.compile(d_optimizer=keras.optimizers.Adam(1e-2), g_optimizer=keras.optimizers.Adam(1e-2),
                    **compile_kwargs)
    return gan


def _images(n=8, seed=0):
    return tf.constant(np.random.RandomState(seed).uniform(-1, 1, (n, 8, 8, 1)).astype(np.float32))


@pytest.mark.parametrize("compile_kwargs, passes", [
    ({}, 3),  # D update: reals, fakes; G update: fakes
    ({"r1_gamma": 1.0, "r2_gamma": 1.0}, 5),  # + each penalty's discriminator pass
    ({"loss": "rpgan"}, 4),  # + the G update's reals
    ({"d_steps": 2}, 5),  # + the extra critic step's reals and fakes
])
def test_every_discriminator_pass_in_training_is_augmented(augment, compile_kwargs, passes):
    gan = _gan("color,cutout", **compile_kwargs)
    gan.train_step(_images())
    assert len(augment.calls) == passes
    assert all(call["policy"] == ("color", "cutout") and call["batch"] == 8 for call in augment.calls)
    # Each pass draws its own values.
    draws = [call["u"].numpy() for call in augment.calls]
    assert all(not np.array_equal(draws[0], other) for other in draws[1:])


def test_evaluation_and_sampling_are_not_augmented(augment):
    gan = _gan("color")
    gan.evaluate(tf.data.Dataset.from_tensor_slices(_images()).batch(4), verbose=0)
    gan.generate(4, seed=0)
    assert augment.calls == []


def test_gradient_reaches_the_generator_through_the_augmentation(augment):
    gan = _gan({"policy": ["color"], "probability": 0.5})
    before = [v.numpy() for v in gan.generator.trainable_variables]
    gan.train_step(_images())
    assert all(not np.array_equal(a, v.numpy()) for a, v in zip(before, gan.generator.trainable_variables))


def test_augmentation_draws_do_not_depend_on_the_replica_count(augment):
    strategy = distribute.make_strategy("mirrored")
    two = _gan("color", strategy)
    state = two.noise_seed.state.numpy()
    images = _images(6)
    per_replica = strategy.experimental_local_results(
        strategy.run(lambda: two._augment(images[:3])))  # each replica augments 3 images
    one = _gan("color")
    # Replica 0 gets rows 0-2 of the global draw, replica 1 rows 3-5: together the one-device draw.
    one.noise_seed.state.assign(state)
    single = one._augment(tf.concat([images[:3], images[:3]], 0)).numpy()
    np.testing.assert_array_equal(np.concatenate([t.numpy() for t in per_replica]), single)
    assert not np.array_equal(per_replica[0].numpy(), per_replica[1].numpy())


def test_adaptive_p_is_updated_in_the_discriminator_update_logged_and_checkpointed(augment, tmp_path):
    adaptive = _AdaptiveStandIn()
    gan = _gan(adaptive, d_steps=2)
    logs = gan.train_step(_images())
    assert adaptive.calls == [((8, 1), 8), ((8, 1), 8)]  # once per discriminator step, global batch
    assert logs["augment_p"].numpy() == pytest.approx(float(adaptive.p.numpy()))
    assert float(adaptive.p.numpy()) != 0.0
    assert gan.augment_variables == list(adaptive.variables)
    CheckpointManager(gan, str(tmp_path)).save(epoch=1)
    with np.load(f"{tmp_path}/ckpt-000001.npz") as stored:
        assert float(stored["augment/0000"]) == pytest.approx(float(adaptive.p.numpy()))
    restored = _gan(_AdaptiveStandIn(), d_steps=2)
    CheckpointManager(restored, str(tmp_path)).restore_latest()
    assert float(restored.adaptive_augment.p.numpy()) == float(adaptive.p.numpy())


def test_bad_augment_options_are_named(augment):
    with pytest.raises(ValueError, match="augment policy 'colour': expected names among color, translation, cutout"):
        _gan("colour")
    with pytest.raises(ValueError, match="augment probability=1.5: expected a value in"):
        _gan({"policy": "color", "probability": 1.5})
    with pytest.raises(ValueError, match="unknown keys"):
        _gan({"p": 0.5})


def test_train_step_as_a_tf_function_converts_without_autograph_warnings():
    """A user's own `tf.function(gan.train_step)` (not `fit`) with the real augmentation:
    AutoGraph converts everything it meets (it warned on a lazy import it could not read)."""
    import logging

    records = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append
    logger = logging.getLogger("tensorflow")
    logger.addHandler(handler)
    try:
        gan = _gan("translation,cutout")
        logs = tf.function(gan.train_step)(_images())
    finally:
        logger.removeHandler(handler)
    assert np.isfinite(float(logs["d_loss"]))
    assert [r.getMessage() for r in records if "AutoGraph" in r.getMessage()] == []
