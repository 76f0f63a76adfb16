"""Prompt accuracy and per-class Fréchet distance of conditional runs."""
import json
import os

import numpy as np
import pytest

from gan_tf import conditional_eval


def test_class_accuracy_counts_by_the_class_asked_for():
    # 5 images: asked 0, 0, 1, 1, 2; the classifier says 0, 1, 1, 1, 0.
    probabilities = np.eye(3)[[0, 1, 1, 1, 0]] * 0.9 + 0.05
    result = conditional_eval.class_accuracy(probabilities, np.array([0, 0, 1, 1, 2]), num_classes=4)
    assert result["accuracy"] == pytest.approx(3 / 5)
    assert result["per_class"] == [0.5, 1.0, 0.0, None]  # class 3 was never asked for
    assert result["count"] == [2, 2, 1, 0]
    with pytest.raises(ValueError, match="expected \\(n, k\\) and \\(n,\\)"):
        conditional_eval.class_accuracy(probabilities, np.array([0, 1]), 3)


@pytest.fixture(scope="module")
def classifier_weights(tmp_path_factory):
    """Weights of an untrained classifier: the pipeline is under test, not the scores."""
    from gan_tf.metrics.classifier import build_classifier

    classifier = build_classifier()
    rng = np.random.RandomState(0)
    # Random values everywhere (biases too): the loader refuses arrays left at their initial values.
    classifier.set_weights([rng.normal(0, 0.05, w.shape).astype(np.float32) for w in classifier.get_weights()])
    path = str(tmp_path_factory.mktemp("classifier") / "mnist.weights.h5")
    classifier.save_weights(path)
    return path


@pytest.mark.parametrize("which", ["class", "text"])
def test_evaluation_scores_every_class_and_draws_the_prompt_grid(which, class_run, text_run, classifier_weights,
                                                                  tmp_path, capsys):
    run_dir = class_run if which == "class" else text_run
    grid, output = tmp_path / "grid.png", tmp_path / "eval.json"
    result = conditional_eval.evaluate_conditional(
        run_dir, samples_per_class=4, classifier_weights=classifier_weights, grid=str(grid), grid_columns=3,
        output=str(output), batch_size=16)
    parts = ["labels"] if which == "class" else ["train_phrasings", "held_out_phrasings"]
    for part in parts:
        scores = result[part]
        assert len(scores["per_class"]) == 10 and scores["count"] == [4] * 10
        assert 0.0 <= scores["accuracy"] <= 1.0
        assert np.mean(scores["per_class"]) == pytest.approx(scores["accuracy"])  # equal counts
        assert len(scores["fd_per_class"]) == 10 and all(np.isfinite(scores["fd_per_class"]))
    if which == "text":
        assert "a handwritten 7" in result["held_out_phrasings"]["per_caption"]
        assert "a handwritten seven" in result["train_phrasings"]["per_caption"]
    saved = json.loads(output.read_text())
    assert saved["classifier"]["name"] == "mnist_classifier"
    newest = sorted(os.listdir(os.path.join(run_dir, "checkpoints")))[-1]  # ckpt-NNNNNN.npz, zero-padded
    assert saved["checkpoint"] == os.path.join(os.path.abspath(run_dir), "checkpoints", newest)
    assert os.path.getsize(grid) > 0
    assert "| all |" in capsys.readouterr().out


def test_an_unconditional_run_is_refused(tiny_config, tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"flags": tiny_config(tmp_path, conditional="none").to_dict()}))
    with pytest.raises(conditional_eval.ConditionalEvalError, match="is unconditional .*gan_tf.evaluate"):
        conditional_eval.evaluate_conditional(str(tmp_path))
