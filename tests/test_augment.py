"""DiffAugment and ADA's controller against independent numpy computations."""
import numpy as np
import pytest
import tensorflow as tf

from gan_tf import augment
from gan_tf.augment import AdaptiveAugment, diff_augment, num_draws


def fixed_draw(values):
    """A `draw` returning given U[0, 1) values (checks the requested shape)."""
    values = np.asarray(values, np.float32)

    def draw(shape):
        assert list(shape) == [values.shape[1]], (shape, values.shape)
        return tf.constant(values)

    return draw


def images(batch, size, channels, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (batch, size, size, channels)).astype(np.float32)


def centre_of(k, n):
    """A draw u whose floor(u * n) is k."""
    return (k + 0.5) / n


# --- numpy references, written from the reference implementation's formulas -------------------

def np_translate(x, ty, tx):
    """out[i, j] = x[i + ty, j + tx], 0 outside (the reference pads with 0): np.roll, then fill."""
    h, w = x.shape[:2]
    out = np.roll(x, (-ty, -tx), axis=(0, 1))
    rows, cols = np.arange(h) + ty, np.arange(w) + tx
    out[(rows < 0) | (rows >= h)] = 0.0
    out[:, (cols < 0) | (cols >= w)] = 0.0
    return out


def np_cutout(x, cy, cx):
    h, w = x.shape[:2]
    sy, sx = int(h * 0.5 + 0.5), int(w * 0.5 + 0.5)
    out = x.copy()
    for i in range(h):
        for j in range(w):
            if cy - sy // 2 <= i < cy - sy // 2 + sy and cx - sx // 2 <= j < cx - sx // 2 + sx:
                out[i, j] = 0.0
    return out


def np_color(x, brightness, saturation, contrast):
    """The reference's rand_brightness, rand_saturation, rand_contrast with given u (None = skip)."""
    x = x.astype(np.float64)
    if brightness is not None:
        x = x + (brightness - 0.5)
    if saturation is not None:
        mean = x.mean(axis=2, keepdims=True)
        x = (x - mean) * (saturation * 2) + mean
    if contrast is not None:
        mean = x.mean()
        x = (x - mean) * (contrast + 0.5) + mean
    return x


# --- diff_augment ---------------------------------------------------------------------------------

@pytest.mark.parametrize("size", [8, 28, 32])
def test_translation_by_known_offsets_is_np_roll_with_fill(size):
    shift = int(size / 8 + 0.5)
    n = 2 * shift + 1
    offsets = [(-shift, shift), (0, 0), (shift, -1), (1, -shift), (-1, 2 % n - shift)]
    x = images(len(offsets), size, 3)
    draws = [[0.0, centre_of(ty + shift, n), centre_of(tx + shift, n)] for ty, tx in offsets]
    out = diff_augment(x, fixed_draw(draws), policy=("translation",)).numpy()
    for k, (ty, tx) in enumerate(offsets):
        np.testing.assert_array_equal(out[k], np_translate(x[k], ty, tx))


@pytest.mark.parametrize("size", [7, 8, 28])
def test_cutout_at_known_centres_matches_numpy(size):
    cut = int(size * 0.5 + 0.5)
    positions = size + (1 - cut % 2)  # the reference's range of centres
    centres = [(0, 0), (positions - 1, positions - 1), (size // 2, 1), (2, size - 2)]
    x = images(len(centres), size, 1, seed=1)
    draws = [[0.0, centre_of(cy, positions), centre_of(cx, positions)] for cy, cx in centres]
    out = diff_augment(x, fixed_draw(draws), policy="cutout").numpy()
    for k, (cy, cx) in enumerate(centres):
        np.testing.assert_array_equal(out[k], np_cutout(x[k], cy, cx))
    assert (out == 0).any(axis=(1, 2, 3)).all()


@pytest.mark.parametrize("channels", [1, 3])
def test_color_matches_the_reference_formulas(channels):
    x = images(3, 6, channels, seed=2)
    b, s, c = np.array([0.1, 0.9, 0.5]), np.array([0.0, 0.8, 0.3]), np.array([0.95, 0.2, 0.5])
    draws = np.stack([np.zeros(3), b, np.zeros(3), s, np.zeros(3), c], axis=1)
    out = diff_augment(x, fixed_draw(draws), policy=["color"]).numpy()
    for k in range(3):
        # On one channel the reference's saturation is the identity: skipping it must agree.
        expected = np_color(x[k], b[k], s[k] if channels > 1 else None, c[k])
        np.testing.assert_allclose(out[k], expected, atol=2e-6)
    if channels == 1:
        np.testing.assert_allclose(out[1], np_color(x[1], b[1], s[1], c[1]), atol=2e-6)


def test_policy_is_applied_in_the_reference_order_colour_translation_cutout():
    size, channels = 8, 3
    x = images(2, size, channels, seed=3)
    color = [0.0, 0.7, 0.0, 0.6, 0.0, 0.9]
    translation = [0.0, centre_of(2, 3), centre_of(0, 3)]  # ty = +1, tx = -1
    cutout = [0.0, centre_of(4, 9), centre_of(0, 9)]
    draws = np.array([color + translation + cutout] * 2)
    out = diff_augment(x, fixed_draw(draws), policy="cutout,translation,color").numpy()
    for k in range(2):
        expected = np_cutout(np_translate(np_color(x[k], 0.7, 0.6, 0.9), 1, -1), 4, 0)
        np.testing.assert_allclose(out[k], expected, atol=2e-6)


def test_probability_zero_is_the_identity_and_gates_each_image():
    x = images(4, 8, 3, seed=4)
    rng = np.random.default_rng(0)
    draws = rng.uniform(0, 1, (4, num_draws(augment.POLICIES))).astype(np.float32)
    np.testing.assert_array_equal(diff_augment(x, fixed_draw(draws), probability=0.0).numpy(), x)
    np.testing.assert_array_equal(
        diff_augment(x, fixed_draw(draws), probability=tf.constant(0.0)).numpy(), x)
    # Gates: translation column 6 (after colour's 6), cutout column 9; colour gates 0, 2, 4.
    gates = draws.copy()
    gates[:, [0, 2, 4, 9]] = 0.99  # colour and cutout off for everyone
    gates[:, 6] = [0.1, 0.9, 0.3, 0.7]  # translation on for images 0 and 2 at p = 0.5
    gates[:, 7:9] = centre_of(0, 3)  # shift -1 on both axes (8 pixels: shift range 1)
    out = diff_augment(x, fixed_draw(gates), probability=0.5).numpy()
    for k, on in enumerate([True, False, True, False]):
        expected = np_translate(x[k], -1, -1) if on else x[k]
        np.testing.assert_array_equal(out[k], expected)


def test_an_adaptive_probability_of_zero_skips_the_work_and_keeps_the_draw(monkeypatch):
    """At a tensor p = 0 (ADA's p before it rises) the transformations do not run, yet the values
    are still drawn (the shared random stream must not depend on p); image and gradient equal
    those of the transformations gated off, bit for bit."""
    x = tf.constant(images(4, 8, 3, seed=6))
    draws = np.random.default_rng(1).uniform(0, 1, (4, num_draws(augment.POLICIES))).astype(np.float32)
    weights = tf.constant(np.random.default_rng(2).normal(size=x.shape).astype(np.float32))
    requested = []

    def draw(shape):
        requested.append(list(shape))
        return tf.constant(draws)

    def augmented_and_gradient(probability):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = diff_augment(x, draw, probability=probability)
            loss = tf.reduce_sum(y * weights)
        return y.numpy(), tape.gradient(loss, x).numpy()

    gated_off = augmented_and_gradient(0.0)
    ran = []
    transform = augment._transform
    monkeypatch.setattr(augment, "_transform", lambda *args: ran.append(1) or transform(*args))
    skipped = augmented_and_gradient(tf.constant(0.0))
    assert ran == [] and requested == [[num_draws(augment.POLICIES)]] * 2
    np.testing.assert_array_equal(skipped[0], x.numpy())
    np.testing.assert_array_equal(skipped[0], gated_off[0])
    np.testing.assert_array_equal(skipped[1], gated_off[1])
    # A positive tensor p runs them, exactly as the same float p does.
    on = diff_augment(x, draw, probability=tf.constant(0.5)).numpy()
    assert ran == [1]
    np.testing.assert_array_equal(on, diff_augment(x, draw, probability=0.5).numpy())


def test_shapes_and_range_of_geometric_policies():
    x = images(16, 28, 3, seed=5)
    x[0] = 1.0
    x[1] = -1.0
    draws = np.random.default_rng(1).uniform(0, 1, (16, 6)).astype(np.float32)
    out = diff_augment(x, fixed_draw(draws), policy=("translation", "cutout")).numpy()
    assert out.shape == x.shape and out.dtype == np.float32
    assert out.min() >= -1.0 and out.max() <= 1.0
    assert not np.array_equal(out, x)


def test_colour_leaves_the_range_as_the_reference_does_unclipped():
    # Brightness +0.45 on white: 1.45 (documented choice: no clipping, gradient everywhere).
    x = np.ones((1, 4, 4, 1), np.float32)
    out = diff_augment(x, fixed_draw([[0, 0.95, 0, 0.5, 0.99, 0.5]]), policy="color").numpy()
    np.testing.assert_allclose(out, 1.45, atol=1e-6)


def _jacobian_transpose_times(f, x, w):
    """J(x)^T w for an affine f, in numpy float64: (f(x + e_k) - f(x)) . w per input element."""
    base = f(x)
    grad = np.zeros(x.size)
    for k in range(x.size):
        e = np.zeros(x.size)
        e[k] = 1.0
        grad[k] = np.sum((f(x + e.reshape(x.shape)) - base) * w)
    return grad.reshape(x.shape)


def test_gradient_is_the_transpose_of_each_affine_map():
    size, channels = 8, 3
    x = images(2, size, channels, seed=6).astype(np.float64)
    w = np.random.default_rng(2).normal(size=x.shape)
    translation = [[0.0, centre_of(0, 3), centre_of(2, 3)], [0.0, centre_of(2, 3), centre_of(1, 3)]]
    cutout = [[0.0, centre_of(1, 9), centre_of(5, 9)], [0.0, centre_of(8, 9), centre_of(3, 9)]]
    color = [[0.0, 0.2, 0.0, 0.9, 0.0, 0.1], [0.0, 0.6, 0.0, 0.1, 0.0, 0.8]]
    draws = np.concatenate([color, translation, cutout], axis=1)
    xt = tf.Variable(x.astype(np.float32))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(diff_augment(xt, fixed_draw(draws)) * w.astype(np.float32))
    grad = tape.gradient(loss, xt).numpy()
    for k, ((_, by, bx), (_, cy, cx), c) in enumerate(zip(translation, cutout, color)):
        ty, tx = int(by * 3) - 1, int(bx * 3) - 1
        cy, cx = int(cy * 9), int(cx * 9)

        def f(image, ty=ty, tx=tx, cy=cy, cx=cx, c=c):
            return np_cutout(np_translate(np_color(image, c[1], c[3], c[5]), ty, tx), cy, cx)

        np.testing.assert_allclose(grad[k], _jacobian_transpose_times(f, x[k], w[k]), atol=2e-5)


def test_gradient_reaches_the_generator():
    import keras

    generator = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8 * 8 * 3), keras.layers.Reshape((8, 8, 3))])
    draws = np.random.default_rng(3).uniform(0, 1, (5, num_draws(augment.POLICIES))).astype(np.float32)
    with tf.GradientTape() as tape:
        fakes = generator(tf.random.stateless_normal([5, 4], [0, 1]))
        loss = tf.reduce_sum(tf.square(diff_augment(fakes, fixed_draw(draws))))
    grads = tape.gradient(loss, generator.trainable_variables)
    assert all(g is not None and np.isfinite(g.numpy()).all() for g in grads)
    assert np.abs(grads[0].numpy()).sum() > 0


def _mirrored():
    # The process-wide one: a second MirroredStrategy in a process collides on collective keys.
    from gan_tf import distribute

    return distribute.make_strategy("mirrored")


def _seeded_global_draw(global_batch, seed):
    """The GAN's kind of draw: the global batch's values from one seed, this replica's rows."""
    from gan_tf.networks.layers import stateless_uniform

    def draw(shape):
        context = tf.distribute.get_replica_context()
        replicas = context.num_replicas_in_sync
        local = global_batch // replicas
        values = stateless_uniform([global_batch, *shape], tf.constant(seed, tf.int64))
        start = context.replica_id_in_sync_group * local
        return values[start:start + local]

    return draw


def test_same_images_on_one_and_two_replicas_and_with_xla():
    x = images(8, 16, 3, seed=7)
    draw = _seeded_global_draw(8, [3, 4])
    single = tf.function(lambda: diff_augment(tf.constant(x), draw, probability=0.7))().numpy()
    xla = tf.function(lambda: diff_augment(tf.constant(x), draw, probability=0.7), jit_compile=True)().numpy()
    # The same draws; only the colour means may round differently under XLA.
    np.testing.assert_allclose(xla, single, atol=1e-6)
    geometric = lambda: diff_augment(tf.constant(x), draw, policy="translation,cutout")  # noqa: E731
    np.testing.assert_array_equal(tf.function(geometric, jit_compile=True)().numpy(), tf.function(geometric)().numpy())

    strategy = _mirrored()
    dataset = strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensors(x).unbatch().batch(8))
    batch = next(iter(dataset))
    result = strategy.run(tf.function(lambda b: diff_augment(b, draw, probability=0.7)), (batch,))
    both = np.concatenate([r.numpy() for r in strategy.experimental_local_results(result)])
    np.testing.assert_array_equal(both, single)


@pytest.mark.parametrize("kwargs, message", [
    (dict(policy="translation,flip"), "unknown augmentation 'flip'"),
    (dict(probability=1.5), "probability=1.5"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        diff_augment(images(1, 8, 1), fixed_draw(np.zeros((1, 12))), **kwargs)


def test_empty_policy_is_the_identity():
    x = images(2, 8, 1)
    for policy in ("", "none", ()):
        np.testing.assert_array_equal(np.asarray(diff_augment(x, None, policy=policy)), x)


# --- AdaptiveAugment ------------------------------------------------------------------------------

def hand_controller(logit_batches, target, speed_kimg, interval, p):
    """ADA's update written out: sums of sign(D(real)) and images over `interval` calls."""
    signs = images_seen = calls = 0
    history = []
    for logits in logit_batches:
        signs += np.sign(logits).sum()
        images_seen += logits.size
        calls += 1
        if calls == interval:
            p = min(max(p + np.sign(signs / images_seen - target) * images_seen / (speed_kimg * 1000), 0.0), 1.0)
            signs = images_seen = calls = 0
        history.append(p)
    return history


def _logit_batches(steps, batch, seed=0):
    # Mostly positive logits at first (overfitting: p must rise), then mostly negative.
    rng = np.random.default_rng(seed)
    return [rng.normal(1.0 if t < steps // 2 else -1.0, 1.0, (batch, 1)).astype(np.float32) for t in range(steps)]


def test_adaptive_probability_against_a_hand_computation():
    ada = AdaptiveAugment(target=0.6, speed_kimg=0.05, interval=2, initial_p=0.1)
    batches = _logit_batches(12, 16)
    expected = hand_controller(batches, 0.6, 0.05, 2, 0.1)
    got = [float(ada.update(tf.constant(b), 16)) for b in batches]
    np.testing.assert_allclose(got, expected, atol=1e-6)
    assert max(expected) > 0.1 and expected[-1] < max(expected)  # it moved both ways
    assert {v.name for v in ada.variables} >= {"p", "sign_sum", "images", "calls"}
    assert not ada.trainable_variables


def test_adaptive_probability_is_clipped_to_the_unit_interval():
    ada = AdaptiveAugment(target=0.6, speed_kimg=0.001, interval=1, initial_p=0.5)
    assert float(ada.update(tf.ones([8, 1]), 8)) == 1.0  # +8 would overshoot
    assert float(ada.update(-tf.ones([8, 1]), 8)) == 0.0


def test_adaptive_augment_config_round_trip():
    import keras

    ada = AdaptiveAugment(target=0.5, speed_kimg=20, interval=3, initial_p=0.2)
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(ada))
    assert (clone.target, clone.speed_kimg, clone.interval, clone.initial_p) == (0.5, 20.0, 3, 0.2)
    assert float(clone.p) == pytest.approx(0.2)


@pytest.mark.parametrize("kwargs, message", [
    (dict(target=1.5), "target=1.5"), (dict(speed_kimg=0), "speed_kimg=0"),
    (dict(interval=0), "interval=0"), (dict(initial_p=-0.1), "initial_p=-0.1"),
])
def test_adaptive_augment_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        AdaptiveAugment(**kwargs)


def test_adaptive_probability_identical_on_two_replicas_and_one():
    batches = _logit_batches(8, 8, seed=1)
    expected = hand_controller(batches, 0.6, 0.05, 2, 0.0)

    strategy = _mirrored()
    with strategy.scope():
        ada = AdaptiveAugment(target=0.6, speed_kimg=0.05, interval=2)
    dataset = strategy.experimental_distribute_dataset(
        tf.data.Dataset.from_tensor_slices(np.stack(batches)).unbatch().batch(8))

    @tf.function
    def step(logits):
        return strategy.run(lambda b: ada.update(b, 8), (logits,))

    for k, logits in enumerate(dataset):
        per_replica = [float(p) for p in strategy.experimental_local_results(step(logits))]
        stored = [float(v) for v in strategy.experimental_local_results(ada.p.value)]
        assert per_replica == [per_replica[0]] * 2 and stored == [stored[0]] * 2
        assert stored[0] == pytest.approx(expected[k], abs=1e-6)

    single = AdaptiveAugment(target=0.6, speed_kimg=0.05, interval=2)
    for b in batches:
        single.update(tf.constant(b), 8)
    assert float(single.p) == pytest.approx(stored[0], abs=1e-7)
    assert 0.0 < max(expected) < 1.0  # it moved, unclipped
