"""Memorisation and coverage: nearest neighbours against brute force, the memorisation score's
two reference points, class histograms against a hand count, and `evaluate --nearest`."""
import json

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from gan_tf import evaluate as evaluate_cli
from gan_tf.metrics import nearest


@pytest.mark.parametrize("k, batch_size", [(1, 7), (3, 4), (20, 64)])
def test_nearest_neighbours_match_brute_force(k, batch_size):
    rng = np.random.default_rng(0)
    # float32, the precision images and features come in (and the search computes in).
    queries = rng.normal(size=(23, 2, 3, 2)).astype(np.float32)
    references = rng.normal(size=(20, 2, 3, 2)).astype(np.float32)
    distances, indices = nearest.nearest_neighbours(queries, references, k=k, batch_size=batch_size)
    full = cdist(queries.reshape(23, -1), references.reshape(20, -1))
    expected = np.argsort(full, axis=1, kind="stable")[:, :k]
    np.testing.assert_array_equal(indices, expected)
    np.testing.assert_allclose(distances, np.take_along_axis(full, expected, axis=1), rtol=1e-12)


def test_a_query_that_is_a_reference_has_distance_zero():
    references = np.random.default_rng(1).uniform(-1, 1, (50, 28 * 28))
    distances, indices = nearest.nearest_neighbours(references[[4, 9]], references)
    np.testing.assert_array_equal(indices[:, 0], [4, 9])
    np.testing.assert_allclose(distances[:, 0], 0.0, atol=1e-12)


@pytest.mark.parametrize("kwargs, message", [
    ({"queries": np.zeros((2, 3)), "references": np.zeros((4, 2))}, "expected the same size"),
    ({"queries": np.zeros((2, 3)), "references": np.zeros((4, 3)), "k": 5}, "k=5"),
])
def test_bad_arguments_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        nearest.nearest_neighbours(**kwargs)


def _gaussian_sets(seed=0, n_train=3000, n_held_out=4000, dim=8):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n_train, dim)), rng.normal(size=(n_held_out, dim))


def test_memorisation_score_is_one_for_copies_of_training_images():
    train, held_out = _gaussian_sets()
    reference, _ = nearest.nearest_neighbours(held_out[:2000], train)
    copies, _ = nearest.nearest_neighbours(train[:500], train)
    assert nearest.memorisation_score(copies[:, 0], reference[:, 0])["score"] == 1.0


def test_memorisation_score_is_about_five_percent_for_held_out_images():
    train, held_out = _gaussian_sets()
    reference, _ = nearest.nearest_neighbours(held_out[:2000], train)
    fresh, _ = nearest.nearest_neighbours(held_out[2000:], train)  # other held-out images as "samples"
    result = nearest.memorisation_score(fresh[:, 0], reference[:, 0])
    # Binomial(2000, 0.05) has a standard deviation of 0.005; the threshold's own error adds about as much.
    assert result["score"] == pytest.approx(0.05, abs=0.02)
    assert result["threshold"] == pytest.approx(np.percentile(reference[:, 0], 5))
    assert (result["num_samples"], result["num_held_out"], result["percentile"]) == (2000, 2000, 5.0)


def test_class_coverage_against_a_hand_count():
    probabilities = np.array([[0.7, 0.2, 0.1, 0.0], [0.1, 0.8, 0.1, 0.0], [0.6, 0.3, 0.1, 0.0],
                              [0.2, 0.1, 0.7, 0.0], [0.5, 0.4, 0.1, 0.0]])
    coverage = nearest.class_coverage(probabilities)
    assert coverage["counts"] == [3, 1, 1, 0]  # by hand: argmax 0, 1, 0, 2, 0
    assert coverage["shares"] == pytest.approx([0.6, 0.2, 0.2, 0.0])
    assert coverage["largest_share"] == pytest.approx(0.6) and coverage["smallest_share"] == 0.0
    assert coverage["missing_classes"] == [3]


def _load(mnist_dir, split):
    from gan_tf import data

    ds = data.load("mnist", split=split, source="files", data_dir=str(mnist_dir))
    return np.stack(list(ds.as_numpy_iterator()))


@pytest.fixture
def run_dir(tmp_path, mnist_dir, monkeypatch):
    """A run directory whose `_restore_gan` returns the GAN a test installs in `gans`."""
    directory = tmp_path / "run"
    directory.mkdir()
    (directory / "config.json").write_text("{}")
    (directory / "eval.json").write_text(json.dumps({"metrics": {"fd_mnist_classifier": 1.5}}))
    config = {"dataset": "mnist", "data_source": "auto", "data_source_used": "files", "data_dir": str(mnist_dir),
              "checkpoint_used": str(directory / "checkpoints" / "ckpt-000002.npz")}
    gans = []
    monkeypatch.setattr(evaluate_cli, "_restore_gan", lambda run_dir, checkpoint: (gans[0], config))
    return directory, gans


def test_nearest_evaluation_of_a_generator(run_dir, mnist_dir, tiny_gan_class):
    directory, gans = run_dir
    gan = tiny_gan_class()
    gans.append(gan)
    record = evaluate_cli.evaluate_nearest(str(directory), num_samples=20, k=2, rows=4, batch_size=8, verbose=False)
    saved = json.loads((directory / "eval.json").read_text())
    assert saved["metrics"] == {"fd_mnist_classifier": 1.5}  # the earlier evaluation is kept
    assert saved["nearest"]["num_samples"] == 20 and saved["nearest"]["num_held_out"] == 20
    assert saved["nearest"]["checkpoint"] == str(directory / "checkpoints" / "ckpt-000002.npz")

    # Independently: brute-force pixel distances and the classifier's argmax of the same images.
    from gan_tf.metrics.classifier import ClassifierExtractor

    samples = np.asarray(gan.generate(20, seed=0))
    train, test = _load(mnist_dir, "train"), _load(mnist_dir, "test")
    held_out = test[np.random.default_rng(0).permutation(30)[:20]]
    sample_nearest = cdist(samples.reshape(20, -1), train.reshape(60, -1)).min(axis=1)
    held_out_nearest = cdist(held_out.reshape(20, -1), train.reshape(60, -1)).min(axis=1)
    expected = np.mean(sample_nearest < np.percentile(held_out_nearest, 5))
    assert record["memorisation"]["pixels"]["score"] == pytest.approx(expected)
    assert record["nearest_distance_median"]["pixels"]["generated"] == pytest.approx(np.median(sample_nearest),
                                                                                     rel=1e-5)
    _, probabilities = ClassifierExtractor("mnist")(samples)
    counts = np.bincount(np.argmax(probabilities, axis=1), minlength=10)
    assert record["class_coverage"]["generated"]["counts"] == counts.tolist()
    assert set(record["memorisation"]) == {"pixels", "mnist_classifier"}
    from PIL import Image

    with Image.open(record["picture"]) as picture:
        assert picture.size[0] > 5 * 28 * 2  # sample + 2 + 2 neighbours, upscaled ×2
    assert "memorisation score" in evaluate_cli.format_nearest(record)


def test_a_generator_that_copies_its_training_images_scores_one(run_dir, mnist_dir):
    import tensorflow as tf

    directory, gans = run_dir
    train = _load(mnist_dir, "train")

    class Copier:
        def generate(self, n, seed=None, batch_size=None):
            return tf.constant(train[:n])

    gans.append(Copier())
    record = evaluate_cli.evaluate_nearest(str(directory), num_samples=30, k=1, rows=2, verbose=False)
    assert record["memorisation"]["pixels"]["score"] == 1.0
    assert record["memorisation"]["mnist_classifier"]["score"] == 1.0
    assert record["nearest_distance_median"]["pixels"]["generated"] == pytest.approx(0.0, abs=1e-9)


def test_nearest_refuses_a_bad_run_dir(tmp_path):
    with pytest.raises(evaluate_cli.EvaluateError, match="is not a directory"):
        evaluate_cli.evaluate_nearest(str(tmp_path / "nope"))


def test_nearest_command_reports_a_bad_run_dir_without_traceback(tmp_path):
    import os
    import subprocess
    import sys

    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, PYTHONPATH=repo + os.pathsep + os.environ.get("PYTHONPATH", ""))
    result = subprocess.run([sys.executable, "-m", "gan_tf.evaluate", f"--run_dir={tmp_path / 'nope'}", "--nearest"],
                            capture_output=True, text=True, env=env, cwd=repo, timeout=120)
    assert result.returncode == 1
    assert "error: --run_dir=" in result.stderr and "is not a directory" in result.stderr
    assert "Traceback" not in result.stderr
