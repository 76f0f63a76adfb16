"""EvaluationCallback: metrics into logs, TensorBoard and metrics.jsonl during fit."""
import glob
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from gan_tf.metrics.callback import EvaluationCallback
from gan_tf.metrics.evaluation import Evaluator, metric_names


def _read_scalars(log_dir):
    scalars = {}
    for path in glob.glob(os.path.join(log_dir, "events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                number = tf.make_ndarray(value.tensor) if value.HasField("tensor") else value.simple_value
                if np.ndim(number) == 0:  # histograms (class coverage) are not scalars
                    scalars.setdefault(value.tag, []).append((event.step, float(number)))
    return scalars


@pytest.fixture
def fitted(tmp_path, mnist_dir, tiny_gan_class, fake_extractor):
    from gan_tf.callbacks import MetricsJsonl

    (tmp_path / "run").mkdir()
    gan = tiny_gan_class()
    gan.compile()
    evaluator = Evaluator("mnist", data_source="files", data_dir=str(mnist_dir),
                          cache_dir=str(tmp_path / "cache"), batch_size=8, seed=5, verbose=False,
                          extractors=[fake_extractor(name="fake")])
    callback = EvaluationCallback("mnist", every=2, num_samples=24, run_dir=str(tmp_path / "run"),
                                  batch_size=8, seed=5, evaluator=evaluator)
    seen = []

    class Spy(tf.keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(dict(logs))

    batches = tf.data.Dataset.from_tensor_slices(np.zeros((4, 28, 28, 1), np.float32)).batch(2).repeat()
    history = gan.fit(batches, epochs=3, steps_per_epoch=2, verbose=0, shuffle=False,
                      callbacks=[callback, Spy(), MetricsJsonl(str(tmp_path / "run" / "metrics.jsonl"))])
    return gan, callback, seen, history, tmp_path / "run"


def test_metrics_reach_logs_only_on_due_epochs(fitted):
    gan, callback, seen, history, _ = fitted
    names = metric_names("fake")
    # every=2 with 3 epochs: after epoch 2, and after the last epoch (3); not after 1.
    assert not any(name in seen[0] for name in names)
    for logs in seen[1:]:
        assert set(names) <= set(logs)
        assert all(isinstance(logs[name], float) and np.isfinite(logs[name]) for name in names)
    assert history.history["fd_fake"][-1] == seen[-1]["fd_fake"]
    assert gan.calls == [(24, 5, 8), (24, 5, 8)]  # same seed each time: comparable evaluations


def test_metrics_are_written_to_tensorboard_under_eval(fitted):
    _, callback, seen, _, run_dir = fitted
    scalars = _read_scalars(str(run_dir / "logs" / "eval"))
    assert {tag for tag in scalars if tag.startswith("eval/")} == {f"eval/{name}" for name in metric_names("fake")}
    values = [v for _, v in scalars["eval/fd_fake"]]
    assert values == pytest.approx([seen[1]["fd_fake"], seen[2]["fd_fake"]], rel=1e-6)


def test_class_coverage_of_the_evaluated_samples_is_written_to_tensorboard(fitted, fake_extractor):
    gan, callback, _, _, run_dir = fitted
    # The same 24 samples (seed 5), classified independently: numpy argmax of the extractor's probabilities.
    images = gan.generate(24, seed=5).numpy()
    counts = np.bincount(np.argmax(fake_extractor(name="fake")(images)[1], axis=1), minlength=4)
    shares = counts / 24
    events = {}
    for path in glob.glob(os.path.join(run_dir, "logs", "eval", "events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                events.setdefault(value.tag, []).append((event.step, tf.make_ndarray(value.tensor)))
    # Evaluated after epochs 2 and 3 (steps 4 and 6; the stand-in model steps its optimizer not at all).
    for tag, expected in (("coverage/largest_class_share_fake", shares.max()),
                          ("coverage/smallest_class_share_fake", shares.min()),
                          ("coverage/missing_classes_fake", float(np.sum(counts == 0)))):
        assert [float(v) for _, v in events[tag]] == pytest.approx([expected, expected], abs=1e-6), tag
    histogram = events["coverage/classes_fake"][-1][1]  # rows of (left edge, right edge, count)
    assert histogram[:, 2].sum() == 24
    assert sorted(histogram[:, 2].astype(int)) == sorted(counts)
    assert callback.last_coverage["fake"]["counts"] == counts.tolist()


def test_metrics_reach_metrics_jsonl(fitted):
    *_, run_dir = fitted
    records = [json.loads(line) for line in open(run_dir / "metrics.jsonl")]
    assert [r["epoch"] for r in records] == [1, 2, 3]
    assert "kid_fake" not in records[0]
    assert records[2]["kid_fake"] == pytest.approx(records[1]["kid_fake"])  # generator unchanged


def test_callback_rejects_bad_arguments():
    with pytest.raises(ValueError, match="every=0"):
        EvaluationCallback("mnist", every=0)
    with pytest.raises(ValueError, match="num_samples=1"):
        EvaluationCallback("mnist", every=1, num_samples=1)


def test_callback_loads_real_images_at_the_generators_shape(monkeypatch):
    import keras

    from gan_tf.metrics import callback as callback_module

    made = []

    class Recorder:
        def __init__(self, dataset, **kwargs):
            made.append(kwargs)

        def prepare(self):
            return self

    monkeypatch.setattr(callback_module, "Evaluator", Recorder)
    model = keras.Model()
    model.generator = keras.Sequential([keras.Input((4,)), keras.layers.Dense(12 * 12 * 3),
                                        keras.layers.Reshape((12, 12, 3))])
    callback = EvaluationCallback("mnist", every=1)
    callback.set_model(model)
    callback.on_train_begin()
    assert made[-1]["image_size"] == (12, 12) and made[-1]["channels"] == 3
    explicit = EvaluationCallback("mnist", every=1, image_size=20, channels=1)
    explicit.set_model(model)
    explicit.on_train_begin()
    assert made[-1]["image_size"] == 20 and made[-1]["channels"] == 1
