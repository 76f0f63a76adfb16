"""GAN.fit with Keras's own callbacks, .keras saving, evaluate(), and learning-rate callbacks."""
import csv
import glob
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from gan_tf import GAN, networks

LATENT = 4
STEPS = 3  # batches per epoch


def _tiny_gan(d_lr=1e-2, g_lr=1e-2, **compile_kwargs):
    keras.utils.set_random_seed(1)
    generator = networks.dcgan_generator(LATENT, (8, 8, 1), width=4)
    discriminator = networks.dcgan_discriminator((8, 8, 1), width=4, dropout=0.0)
    gan = GAN(generator, discriminator, LATENT, seed=3)
    gan.compile(d_optimizer=keras.optimizers.Adam(d_lr), g_optimizer=keras.optimizers.Adam(g_lr), **compile_kwargs)
    return gan


def _dataset(n=8 * STEPS, seed=0):
    images = np.random.RandomState(seed).uniform(-1, 1, (n, 8, 8, 1)).astype(np.float32)
    return tf.data.Dataset.from_tensor_slices(images).batch(8, drop_remainder=True)


def _weights(model):
    return [v.numpy() for v in model.weights]


def test_fit_logs_rank_zero_scalars_each_batch():
    seen = []
    record = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: seen.append(dict(logs)))
    _tiny_gan().fit(_dataset(), epochs=1, verbose=0, callbacks=[record])
    assert len(seen) == STEPS
    for logs in seen:
        assert {"d_loss", "g_loss", "d_real", "d_fake", "loss"} <= set(logs)
        assert all(np.ndim(value) == 0 for value in logs.values()), logs


def _scalars(log_dir, tag):
    """{step: value} of one scalar tag in the event files under log_dir (read independently of Keras)."""
    values = {}
    for path in glob.glob(os.path.join(log_dir, "**", "events.out.tfevents.*"), recursive=True):
        for record in tf.data.TFRecordDataset(path):
            event = tf.compat.v1.Event.FromString(record.numpy())
            for value in event.summary.value:
                if value.tag == tag:
                    values[event.step] = float(tf.make_ndarray(value.tensor))
    return values


def test_tensorboard_writes_the_epoch_losses(tmp_path):
    gan = _tiny_gan()
    history = gan.fit(_dataset(), epochs=2, verbose=0,
                      callbacks=[keras.callbacks.TensorBoard(str(tmp_path), write_steps_per_second=True)])
    for key in ("d_loss", "g_loss", "d_real", "d_fake"):
        written = _scalars(str(tmp_path / "train"), f"epoch_{key}")
        assert sorted(written) == [0, 1], key
        np.testing.assert_allclose([written[0], written[1]], history.history[key], rtol=1e-6, err_msg=key)


def test_csv_logger_has_the_logged_columns_with_the_values_of_history(tmp_path):
    path = tmp_path / "log.csv"
    history = _tiny_gan().fit(_dataset(), epochs=2, verbose=0, callbacks=[keras.callbacks.CSVLogger(str(path))])
    with open(path) as f:
        rows = list(csv.DictReader(f))
    assert [int(row["epoch"]) for row in rows] == [0, 1]
    for key in ("d_loss", "g_loss", "d_real", "d_fake", "loss"):
        np.testing.assert_allclose([float(row[key]) for row in rows], history.history[key], rtol=1e-6, err_msg=key)


def test_early_stopping_reads_g_loss():
    # min_delta that no epoch can beat: the first epoch sets the best value, the second
    # does not improve on it, and patience=1 stops there. Without a g_loss log Keras only
    # warns and all 10 epochs run. (Keras infers mode="min" only for `loss` and compiled
    # metrics; for the GAN's own logs it asks for a mode.)
    stop = keras.callbacks.EarlyStopping(monitor="g_loss", mode="min", patience=1, min_delta=1e9)
    history = _tiny_gan().fit(_dataset(), epochs=10, verbose=0, callbacks=[stop])
    assert len(history.history["g_loss"]) == 2
    assert stop.stopped_epoch == 1


def test_model_checkpoint_saves_weights_that_load_into_a_fresh_gan(tmp_path):
    path = str(tmp_path / "gan.weights.h5")
    gan = _tiny_gan()
    gan.fit(_dataset(), epochs=1, verbose=0,
            callbacks=[keras.callbacks.ModelCheckpoint(path, save_weights_only=True)])
    fresh = _tiny_gan()
    fresh.generator.set_weights([np.zeros_like(w) for w in fresh.generator.get_weights()])
    fresh.load_weights(path)
    for a, b in zip(_weights(gan.generator) + _weights(gan.discriminator),
                    _weights(fresh.generator) + _weights(fresh.discriminator)):
        np.testing.assert_array_equal(a, b)


def test_terminate_on_nan_stops_at_the_first_non_finite_step():
    # An infinite learning rate makes the weights non-finite after the first update,
    # so the second step's losses are NaN; TerminateOnNaN watches `loss` = d_loss + g_loss.
    gan = _tiny_gan(d_lr=float("inf"))
    seen = []
    record = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: seen.append(logs["loss"]))
    gan.fit(_dataset(8 * 10), epochs=3, verbose=0, callbacks=[record, keras.callbacks.TerminateOnNaN()])
    assert len(seen) < 10 and not np.isfinite(seen[-1])
    assert all(np.isfinite(seen[:-1]))


class _StopAt(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt("simulated interruption")


def test_backup_and_restore_resumes_both_optimizers_after_an_interruption(tmp_path):
    backup = str(tmp_path / "backup")
    gan = _tiny_gan()
    with pytest.raises(KeyboardInterrupt):
        gan.fit(_dataset(), epochs=4, verbose=0,
                callbacks=[keras.callbacks.BackupAndRestore(backup), _StopAt(2)])
    resumed = _tiny_gan()  # a new process would start from fresh weights
    history = resumed.fit(_dataset(), epochs=4, verbose=0, callbacks=[keras.callbacks.BackupAndRestore(backup)])
    assert len(history.history["g_loss"]) == 2  # epochs 3 and 4 only
    # Both optimizers were restored (2 epochs) and trained on (2 more).
    assert int(resumed.g_optimizer.iterations.numpy()) == 4 * STEPS
    assert int(resumed.d_optimizer.iterations.numpy()) == 4 * STEPS


# ---------------------------------------------------------------- learning rates
def test_learning_rate_scheduler_moves_both_optimizers_keeping_their_ratio():
    gan = _tiny_gan(d_lr=4e-3, g_lr=2e-3)
    rates = []
    record = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: rates.append(
        (float(gan.d_optimizer.learning_rate.numpy()), float(gan.g_optimizer.learning_rate.numpy()))))
    schedule = keras.callbacks.LearningRateScheduler(lambda epoch, lr: 2e-3 * 0.5**epoch)
    gan.fit(_dataset(), epochs=3, verbose=0, callbacks=[schedule, record])
    np.testing.assert_allclose(rates, [(4e-3, 2e-3), (2e-3, 1e-3), (1e-3, 5e-4)], rtol=1e-6)


def test_reduce_lr_on_plateau_moves_both_optimizers():
    gan = _tiny_gan(d_lr=4e-3, g_lr=2e-3)
    plateau = keras.callbacks.ReduceLROnPlateau(monitor="g_loss", mode="min", factor=0.5, patience=0, min_delta=1e9)
    gan.fit(_dataset(), epochs=3, verbose=0, callbacks=[plateau])
    # Epoch 1 sets the best value; epochs 2 and 3 each halve the rate.
    assert float(gan.g_optimizer.learning_rate.numpy()) == pytest.approx(5e-4)
    assert float(gan.d_optimizer.learning_rate.numpy()) == pytest.approx(1e-3)


# ---------------------------------------------------------------- saving
def test_keras_file_round_trips_without_custom_objects_and_keeps_training(tmp_path):
    gan = _tiny_gan(loss="hinge", r1_gamma=0.5, d_steps=2)
    gan.fit(_dataset(), epochs=1, verbose=0)
    path = str(tmp_path / "gan.keras")
    gan.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded) is GAN
    np.testing.assert_array_equal(loaded.generate(6, seed=5).numpy(), gan.generate(6, seed=5).numpy())
    assert loaded.loss_pair.name == "hinge" and loaded.r1_gamma == 0.5 and loaded.d_steps == 2
    for name in ("d_optimizer", "g_optimizer"):
        original, restored = getattr(gan, name), getattr(loaded, name)
        assert type(restored) is type(original)
        assert float(restored.learning_rate.numpy()) == pytest.approx(float(original.learning_rate.numpy()))
        assert int(restored.iterations.numpy()) == (2 * STEPS if name == "d_optimizer" else STEPS)
    history = loaded.fit(_dataset(seed=1), epochs=1, verbose=0)
    assert np.isfinite(history.history["g_loss"][0])
    assert int(loaded.g_optimizer.iterations.numpy()) == 2 * STEPS


# ---------------------------------------------------------------- evaluate
def test_evaluate_reports_held_out_losses_without_updating_anything():
    gan = _tiny_gan()
    gan.fit(_dataset(), epochs=1, verbose=0)
    before = _weights(gan)
    noise_state = gan.noise_seed.state.numpy()
    held_out = _dataset(seed=7)
    results = gan.evaluate(held_out, verbose=0, return_dict=True)
    assert {"d_loss", "g_loss", "d_real", "d_fake"} <= set(results)
    for a, b in zip(before, _weights(gan)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(gan.noise_seed.state.numpy(), noise_state)  # training's stream untouched
    # d_real is the mean discriminator output on the held-out images (inference mode).
    images = np.concatenate([batch.numpy() for batch in held_out])
    expected = gan.discriminator(images, training=False).numpy().mean()
    assert results["d_real"] == pytest.approx(float(expected), rel=1e-5)
    # d_loss = mean softplus(-D(x)) + mean softplus(D(G(z))) with the reported means' parts.
    assert np.isfinite(results["d_loss"]) and results["d_loss"] > 0


def test_fit_with_validation_data_logs_val_losses():
    history = _tiny_gan().fit(_dataset(), validation_data=_dataset(seed=7), epochs=1, verbose=0)
    assert {"val_d_loss", "val_g_loss", "val_d_real", "val_d_fake"} <= set(history.history)
