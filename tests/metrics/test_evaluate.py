"""`python -m gan_tf.evaluate`: the table, eval.json, the real-data floor, bad run dirs."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from gan_tf import evaluate as evaluate_cli
from gan_tf.metrics import classifier, frechet
from gan_tf.metrics.evaluation import metric_names

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _features(extractor, images):
    return extractor(images)[0].astype(np.float64)


def _load_split(mnist_dir, split):
    from gan_tf import data

    ds = data.load("mnist", split=split, source="files", data_dir=str(mnist_dir))
    return np.stack(list(ds.as_numpy_iterator()))


@pytest.fixture
def evaluated(tmp_path, mnist_dir, tiny_gan_class, monkeypatch):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.json").write_text("{}")
    gan = tiny_gan_class()
    config = {"dataset": "mnist", "data_source": "auto", "data_source_used": "files",
              "data_dir": str(mnist_dir), "latent_dim": 8, "seed": 0,
              "checkpoint_used": str(run_dir / "checkpoints" / "ckpt-000003.npz")}
    monkeypatch.setattr(evaluate_cli, "_restore_gan", lambda run_dir, checkpoint: (gan, config))
    record = evaluate_cli.evaluate(str(run_dir), num_samples=40, inception=False, batch_size=16,
                                   cache_dir=str(tmp_path / "cache"), verbose=False)
    return record, gan, run_dir


def test_evaluate_writes_eval_json_with_named_metrics_and_floor(evaluated):
    record, gan, run_dir = evaluated
    names = metric_names("mnist_classifier")
    saved = json.loads((run_dir / "eval.json").read_text())
    assert list(saved["metrics"]) == names and list(saved["real_data_floor"]) == names
    assert not any("inception" in name for name in saved["metrics"])
    assert saved["num_samples"] == 40 and saved["floor_num_test_images"] == 30
    assert saved["data_source"] == "files"
    assert saved["checkpoint"] == str(run_dir / "checkpoints" / "ckpt-000003.npz")  # what restoring used
    # The oneDNN setting the scores were computed under (called as a library: TensorFlow's own).
    assert saved["onednn"]["TF_ENABLE_ONEDNN_OPTS"] == os.environ.get("TF_ENABLE_ONEDNN_OPTS")
    assert saved["onednn"]["enabled"] in (True, False) and saved["onednn"]["reason"]
    assert saved["extractors"]["mnist_classifier"]["weights_sha256"] == classifier.file_sha256(
        classifier.weights_path("mnist"))
    assert gan.calls == [(40, 0, 16)]
    # 30 test images < 40 samples: the generated images are also scored at n = 30.
    assert list(saved["metrics_at_floor_num_samples"]) == names
    assert "| generated (30 samples) |" in record["table"]
    for name in names:
        assert f"| {name} |" in record["table"]


@pytest.mark.parametrize("earlier_checkpoint, kept", [("ckpt-000003.npz", True), ("ckpt-000002.npz", False)])
def test_a_nearest_record_of_the_same_checkpoint_survives_a_new_evaluation(
        earlier_checkpoint, kept, tmp_path, mnist_dir, tiny_gan_class, monkeypatch):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.json").write_text("{}")
    scored = str(run_dir / "checkpoints" / "ckpt-000003.npz")
    nearest = {"checkpoint": str(run_dir / "checkpoints" / earlier_checkpoint), "memorisation": {"pixels": 0.01}}
    (run_dir / "eval.json").write_text(json.dumps({"metrics": {"fd_mnist_classifier": 99.0}, "nearest": nearest}))
    config = {"dataset": "mnist", "data_source": "auto", "data_source_used": "files", "data_dir": str(mnist_dir),
              "checkpoint_used": scored}
    monkeypatch.setattr(evaluate_cli, "_restore_gan", lambda run_dir, checkpoint: (tiny_gan_class(), config))
    evaluate_cli.evaluate(str(run_dir), num_samples=20, inception=False, batch_size=16,
                          cache_dir=str(tmp_path / "cache"), verbose=False)
    saved = json.loads((run_dir / "eval.json").read_text())
    assert saved["metrics"]["fd_mnist_classifier"] != 99.0  # the metrics are the new evaluation's
    assert saved.get("nearest") == (nearest if kept else None)


def test_floor_is_held_out_real_images_against_training_images(evaluated, mnist_dir):
    # Recomputed independently: test-split features against train-split features.
    record, _, _ = evaluated
    extractor = classifier.ClassifierExtractor("mnist")
    train = _features(extractor, _load_split(mnist_dir, "train"))
    test = _features(extractor, _load_split(mnist_dir, "test"))
    expected_fd = frechet.frechet_distance(*frechet.feature_statistics(test), *frechet.feature_statistics(train))
    floor = record["real_data_floor"]
    assert floor["fd_mnist_classifier"] == pytest.approx(expected_fd, rel=1e-4, abs=1e-6)
    # Real against real: precision and recall are far from 0 even for random blobs.
    assert floor["precision_mnist_classifier"] > 0.3 and floor["recall_mnist_classifier"] > 0.3


def test_bad_run_dir_is_a_clear_error_without_traceback(tmp_path):
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    result = subprocess.run(
        [sys.executable, "-m", "gan_tf.evaluate", f"--run_dir={tmp_path / 'nope'}"],
        capture_output=True, text=True, env=env, cwd=REPO, timeout=120)
    assert result.returncode == 1
    assert "error: --run_dir=" in result.stderr and "is not a directory" in result.stderr
    assert "Traceback" not in result.stderr


def test_run_dir_without_config_is_rejected(tmp_path):
    with pytest.raises(evaluate_cli.EvaluateError, match="has no config.json"):
        evaluate_cli.check_run_dir(str(tmp_path))


def test_unrestorable_run_is_a_clear_error(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(evaluate_cli.EvaluateError, match="could not restore the generator"):
        evaluate_cli.evaluate(str(tmp_path), verbose=False)


def test_real_images_are_scored_at_the_generated_images_shape(mnist_dir, tmp_path, shape_extractor):
    from gan_tf.metrics.evaluation import Evaluator

    extractor = shape_extractor()
    evaluator = Evaluator("mnist", data_source="files", data_dir=str(mnist_dir), cache_dir=str(tmp_path),
                          batch_size=16, verbose=False, extractors=[extractor], image_size=16, channels=3)
    fake = np.random.default_rng(0).uniform(-1, 1, (20, 16, 16, 3)).astype(np.float32)
    metrics = evaluator.evaluate_images(fake)
    assert extractor.shapes == {(16, 16, 3)}  # real and generated images alike
    assert np.isfinite(metrics["fd_shapes"])
    assert evaluator.reference_info["shapes/train"]["image_shape"] == [16, 16, 3]
    with pytest.raises(ValueError, match=r"shape \(28, 28, 1\) cannot be scored against real mnist images "
                                         r"of shape \(16, 16, 3\)"):
        evaluator.evaluate_images(np.zeros((20, 28, 28, 1), np.float32))


def test_evaluate_reads_the_runs_image_shape(tmp_path, mnist_dir, monkeypatch):
    # A 14x14 MNIST run: the shipped 28x28 classifier cannot score it, and with Inception
    # off nothing can; the error says so instead of comparing 14x14 fakes with 28x28 reals.
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.json").write_text("{}")
    config = {"dataset": "mnist", "data_source_used": "files", "data_dir": str(mnist_dir),
              "image_size": 14, "channels": 0}
    monkeypatch.setattr(evaluate_cli, "_restore_gan", lambda run_dir, checkpoint: (object(), config))
    with pytest.raises(ValueError, match="classifier reads 28x28x1 images, not image_size=14"):
        evaluate_cli.evaluate(str(run_dir), num_samples=20, inception=False, cache_dir=str(tmp_path / "c"),
                              verbose=False)


def test_extreme_precision_and_recall_far_from_the_floor_are_flagged():
    from gan_tf.metrics.evaluation import implausible_scores

    floor = {"fd_mnist_classifier": 1.1, "precision_mnist_classifier": 0.88, "recall_mnist_classifier": 0.86}
    grey_noise = {"fd_mnist_classifier": 480.0, "precision_mnist_classifier": 1.0, "recall_mnist_classifier": 0.0}
    (warning,) = implausible_scores(grey_noise, floor)
    assert "precision_mnist_classifier=1 and recall_mnist_classifier=0 are both extreme" in warning
    assert "fd_mnist_classifier=480" in warning and "(1.1)" in warning and "\n" not in warning
    # Extreme but at the floor (a near-perfect generator), or far but not extreme: no warning.
    assert implausible_scores(dict(grey_noise, fd_mnist_classifier=5.0), floor) == []
    assert implausible_scores(dict(grey_noise, recall_mnist_classifier=0.3), floor) == []
    assert implausible_scores({"fid_inception": 90.0, "precision_inception": 0.995,
                               "recall_inception": 0.004}, {"fid_inception": 2.0}) != []


def test_eval_json_has_a_warnings_field(evaluated):
    _, _, run_dir = evaluated
    saved = json.loads((run_dir / "eval.json").read_text())
    assert isinstance(saved["warnings"], list)


@pytest.mark.slow
def test_every_example_in_evaluates_help_runs(tmp_path, mnist_dir, monkeypatch, cli, fake_extractor):
    # The module docstring is what `--help` prints above the flags; each of its example
    # commands must parse with evaluate's own flags and run on a run directory laid out
    # as training leaves it (cwd-relative runs/mnist, checkpoints named as they are written).
    import inspect
    import re

    from gan_tf import checkpoints
    from gan_tf.experiments.config import ExperimentConfig
    from gan_tf.experiments.runner import restore_gan, run
    from gan_tf.metrics import inception

    examples = cli.commands(evaluate_cli.__doc__)
    assert len(examples) >= 2 and all(target == "gan_tf.evaluate" for target, _ in examples)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    run(ExperimentConfig(dataset="mnist", out_dir="runs/mnist", epochs=1, steps_per_epoch=1, batch_size=8,
                         latent_dim=8, width=4, sample_grid=4, data_source="files", data_dir=str(mnist_dir),
                         verbose=0))

    class FakeInception(fake_extractor):
        # Resolves the weights path as the real extractor does (the file must exist); cheap features.
        def __init__(self, weights=None):
            super().__init__(name="inception")
            self.weights_file = inception.resolve_weights(weights, allow_download=False)

    monkeypatch.setattr(inception, "InceptionExtractor", FakeInception)
    parse = cli.parser("gan_tf.evaluate")
    parameters = inspect.signature(evaluate_cli.evaluate).parameters
    for _, argv in examples:
        flags = parse(argv)
        arguments = {name: flags[name].value for name in parameters if name in flags}
        if arguments.get("checkpoint"):
            name = os.path.basename(arguments["checkpoint"])
            match = re.match(r"^ckpt-(\d{6})\.npz$", name)
            assert match, f"{name}: training writes checkpoints as ckpt-NNNNNN.npz"
            gan, _ = restore_gan("runs/mnist")
            checkpoints.CheckpointManager(gan, "runs/mnist/checkpoints", max_to_keep=10).save(int(match.group(1)))
            assert os.path.isfile(arguments["checkpoint"])
        if arguments.get("inception_weights"):
            path = os.path.expanduser(arguments["inception_weights"])
            open(path, "wb").close()  # stands in for the weights file, which FakeInception only finds
        record = evaluate_cli.evaluate(**dict(arguments, verbose=False))
        assert np.isfinite(record["metrics"]["fd_mnist_classifier"])
        assert ("fid_inception" in record["metrics"]) == bool(arguments.get("inception_weights"))
