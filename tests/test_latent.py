"""gan_tf.latent: slerp and lerp, interpolation paths, and condition interpolation on a tiny generator."""
import numpy as np
import pytest

from gan_tf import latent


def test_endpoints_equal_the_inputs():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(3, 16)), rng.normal(size=(3, 16))
    for interpolate in (latent.slerp, latent.lerp):
        path = interpolate(a, b, np.array([0.0, 1.0]))
        np.testing.assert_allclose(path[0], a, atol=1e-12)
        np.testing.assert_allclose(path[1], b, atol=1e-12)


def test_lerp_is_the_straight_line():
    a, b = np.array([0.0, 2.0]), np.array([4.0, 0.0])
    np.testing.assert_allclose(latent.lerp(a, b, 0.25), [1.0, 1.5])


def test_slerp_between_unit_vectors_stays_on_the_unit_sphere_at_constant_angular_speed():
    a, b = np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0])
    t = np.linspace(0, 1, 7)
    path = latent.slerp(a, b, t)
    np.testing.assert_allclose(np.linalg.norm(path, axis=-1), 1.0, atol=1e-12)
    # Closed form on the quarter circle: (cos(tπ/2), sin(tπ/2), 0).
    np.testing.assert_allclose(path, np.stack([np.cos(t * np.pi / 2), np.sin(t * np.pi / 2), 0 * t], 1), atol=1e-12)


def test_slerp_of_parallel_vectors_falls_back_to_the_line():
    a = np.array([1.0, 2.0])
    np.testing.assert_allclose(latent.slerp(a, 3 * a, 0.5), 2 * a, atol=1e-9)


def test_gaussian_norms_stay_near_the_endpoints_with_slerp_and_dip_with_lerp():
    rng = np.random.default_rng(1)
    d = 128
    a, b = rng.normal(size=(200, d)), rng.normal(size=(200, d))
    t = np.linspace(0, 1, 11)
    ends = np.minimum(np.linalg.norm(a, axis=-1), np.linalg.norm(b, axis=-1))
    slerp_norms = np.linalg.norm(latent.slerp(a, b, t), axis=-1)  # [11, 200]
    lerp_middle = np.linalg.norm(latent.lerp(a, b, 0.5), axis=-1)
    assert np.all(slerp_norms >= ends * (1 - 1e-9))  # never below the smaller endpoint
    # Two nearly orthogonal Gaussian vectors: the midpoint of the line has norm ≈ √(d/2).
    np.testing.assert_allclose(np.mean(lerp_middle / np.sqrt(d)), np.sqrt(0.5), rtol=0.03)
    assert np.mean(slerp_norms[5] / np.sqrt(d)) > 0.97


def test_interpolation_noise_rows_are_paths_between_random_pairs():
    noise = latent.interpolation_noise(latent_dim=6, pairs=3, steps=5, seed=2)
    start, end = latent.endpoint_noise(6, 3, seed=2)
    assert noise.shape == (15, 6) and noise.dtype == np.float32
    paths = noise.reshape(3, 5, 6)
    np.testing.assert_allclose(paths[:, 0], start, rtol=1e-6)
    np.testing.assert_allclose(paths[:, -1], end, rtol=1e-6)
    np.testing.assert_allclose(paths[:, 2], latent.slerp(start, end, 0.5), rtol=1e-6)
    linear = latent.interpolation_noise(6, 3, 5, seed=2, spherical=False).reshape(3, 5, 6)
    np.testing.assert_allclose(linear[:, 2], (start + end) / 2, rtol=1e-5)
    with pytest.raises(ValueError, match="steps=1"):
        latent.interpolation_noise(6, 3, 1)


def test_walk_frames_go_back_and_forth():
    images = np.arange(2 * 4).reshape(2 * 4, 1, 1, 1)  # 2 rows × 4 steps
    frames = latent.walk_frames(images, 4)
    assert [f[:, 0, 0, 0].tolist() for f in frames] == [[0, 4], [1, 5], [2, 6], [3, 7], [2, 6], [1, 5]]


class _TinyConditionalGAN:
    def __init__(self):
        from gan_tf.networks.conditional import LabelInput, conditional_generator

        self.latent_dim = 4
        self.generator = conditional_generator(4, (4, 4, 1), LabelInput(3), architecture="mlp", embedding_dim=2)
        self.ema_generator = None

        class _Conditioning:
            num_classes = 3

        self.conditioning = _Conditioning()


@pytest.fixture(scope="module")
def tiny_gan():
    return _TinyConditionalGAN()


def test_generator_splits_into_embedding_and_body(tiny_gan):
    noise = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    labels = np.array([0, 1, 2, 1, 0], np.int32)
    direct = np.asarray(tiny_gan.generator([noise, labels], training=False))
    embeddings = latent.condition_embeddings(tiny_gan, labels)
    assert embeddings.shape == (5, 2)
    np.testing.assert_allclose(latent.sample_from_embeddings(tiny_gan, noise, embeddings), direct, atol=1e-6)


def test_class_embedding_interpolation_starts_and_ends_at_the_classes(tiny_gan):
    images, columns = latent.condition_interpolation_grid(tiny_gan, 0, 2, steps=4, rows=3, seed=5)
    assert columns == 4 and images.shape == (12, 4, 4, 1)
    noise = latent.endpoint_noise(4, 3, seed=5)[0].astype(np.float32)
    for label, column in ((0, 0), (2, 3)):
        expected = np.asarray(tiny_gan.generator([noise, np.full(3, label, np.int32)], training=False))
        np.testing.assert_allclose(images.reshape(3, 4, 4, 4, 1)[:, column], expected, atol=1e-6)


def test_class_rows_share_one_noise_path(tiny_gan):
    images, columns = latent.class_interpolation_grid(tiny_gan, steps=3, seed=0)
    assert columns == 3 and images.shape == (9, 4, 4, 1)
    path = latent.interpolation_noise(4, 1, 3, seed=0)
    expected = np.asarray(tiny_gan.generator([np.tile(path, (3, 1)), np.repeat(np.arange(3), 3).astype(np.int32)],
                                             training=False))
    np.testing.assert_allclose(images, expected, atol=1e-6)


def test_ema_generator_is_used_when_present(tiny_gan):
    class WithEma:
        generator = "not this one"
        ema_generator = tiny_gan.generator

    assert latent.generator_network(WithEma()) is tiny_gan.generator


def test_a_generator_without_the_parts_is_a_clear_error():
    import keras

    generator = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3)], name="plain")

    class Plain:
        ema_generator = None

    Plain.generator = generator
    with pytest.raises(ValueError, match="interpolate the noise with the condition fixed instead"):
        latent.condition_embeddings(Plain(), np.array([0]))
