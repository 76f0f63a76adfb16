"""Tiny labelled data and tiny trained runs shared by the conditional tests."""
import numpy as np
import pytest

from gan_tf.experiments.config import ExperimentConfig


def bars(n, seed=0):
    """n 28×28 uint8 'digits': class c is a white bar at rows 2+2c..5+2c; labels cycle 0..9."""
    labels = np.arange(n) % 10
    images = np.zeros((n, 28, 28), np.uint8)
    for i, label in enumerate(labels):
        images[i, 2 + 2 * label : 6 + 2 * label, 4:24] = 255
    noise = np.random.RandomState(seed).randint(0, 40, images.shape).astype(np.uint8)
    return np.maximum(images, noise), labels.astype(np.uint8)


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory, tiny_mnist):
    """An mnist.npz with 60 training and 30 test images of class-specific bars."""
    return tiny_mnist.write(tmp_path_factory.mktemp("bars"), *bars(60, seed=0), *bars(30, seed=1))


def _tiny_config(data_dir, out_dir, **changes):
    config = ExperimentConfig(
        dataset="mnist", out_dir=str(out_dir), epochs=1, steps_per_epoch=2, batch_size=10, latent_dim=8,
        width=4, embedding_dim=8, sample_grid=20, data_dir=data_dir, verbose=0, seed=3,
        conditional="projection",
    )
    return config.replace(**changes)


@pytest.fixture(scope="session")
def tiny_config(data_dir):
    """tiny_config(out_dir, **changes): a 2-step conditional MNIST config on the bars data."""
    return lambda out_dir, **changes: _tiny_config(data_dir, out_dir, **changes)


@pytest.fixture(scope="session")
def class_run(data_dir, tmp_path_factory):
    """A trained (1 epoch, 2 steps) class-conditional projection run directory."""
    from gan_tf.experiments.runner import run

    out = tmp_path_factory.mktemp("runs") / "class"
    run(_tiny_config(data_dir, out))
    return str(out)


@pytest.fixture(scope="session")
def text_run(data_dir, tmp_path_factory):
    """A trained (1 epoch, 2 steps) text-to-image run directory."""
    from gan_tf.experiments.runner import run

    out = tmp_path_factory.mktemp("runs") / "text"
    # The attention encoder traces faster than the GRU (covered in test_conditional_gan.py).
    run(_tiny_config(data_dir, out, text=True, text_encoder="attention"))
    return str(out)
