"""`run(config)` end to end on tiny data the test writes: artefacts, resume, refusals."""
import glob
import hashlib
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from gan_tf.experiments.config import ExperimentConfig
from gan_tf.experiments.runner import restore_gan, run


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """A tiny MNIST-like mnist.npz: 40 train and 10 test images of bars."""
    directory = tmp_path_factory.mktemp("mnist")
    rng = np.random.RandomState(0)
    images = np.zeros((50, 28, 28), np.uint8)
    for i, image in enumerate(images):
        image[4 + i % 20 : 8 + i % 20, 6:22] = 255
    labels = rng.randint(0, 10, 50).astype(np.uint8)
    np.savez(directory / "mnist.npz", x_train=images[:40], y_train=labels[:40],
             x_test=images[40:], y_test=labels[40:])
    return str(directory)


def _tiny(data_dir, out_dir, **changes):
    config = ExperimentConfig(
        dataset="mnist", out_dir=str(out_dir), epochs=2, steps_per_epoch=2, batch_size=8,
        latent_dim=8, width=4, sample_grid=4, data_dir=data_dir, verbose=0, seed=5,
    )
    return config.replace(**changes)


def _event_tags(directory):
    tags = set()
    for path in glob.glob(os.path.join(directory, "**", "events.out.tfevents.*"), recursive=True):
        for event in tf.compat.v1.train.summary_iterator(path):
            tags.update(value.tag for value in event.summary.value)
    return tags


def _checkpoint_arrays(out_dir):
    path = sorted(glob.glob(os.path.join(out_dir, "checkpoints", "ckpt-*.npz")))[-1]
    with np.load(path, allow_pickle=False) as stored:
        return os.path.basename(path), {key: stored[key] for key in stored.files}


def _tree_digest(directory):
    digest = hashlib.sha256()
    for path in sorted(glob.glob(os.path.join(directory, "**"), recursive=True)):
        if os.path.isfile(path):
            digest.update(path.encode())
            with open(path, "rb") as f:
                digest.update(f.read())
    return digest.hexdigest()


def test_run_writes_every_artefact(data_dir, tmp_path):
    out = tmp_path / "run"
    result = run(_tiny(data_dir, out))
    assert result["start_epoch"] == 0

    record = json.loads((out / "config.json").read_text())
    assert record["flags"]["batch_size"] == 8 and record["flags"]["loss"] == "non_saturating"
    assert record["data"]["source"] == "files" and record["data"]["num_examples"] == 40
    assert record["versions"]["tensorflow"] == tf.__version__

    for name in ("epoch_0001.png", "epoch_0002.png", "final.png"):
        assert (out / "samples" / name).stat().st_size > 0
    assert [os.path.basename(p) for p in sorted(glob.glob(str(out / "checkpoints" / "*")))] == [
        "ckpt-000001.npz", "ckpt-000002.npz"]

    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in lines] == [1, 2]
    assert [r["step"] for r in lines] == [2, 4]  # 2 steps per epoch
    for key in ("d_loss", "g_loss", "d_real", "d_fake", "images_per_second", "seconds"):
        assert all(np.isfinite(r[key]) for r in lines), key

    tags = _event_tags(str(out / "logs"))
    assert {"d_loss", "g_loss", "d_real", "d_fake", "images_per_second", "samples"} <= tags


def test_an_epoch_is_recorded_before_its_checkpoint_marks_it_done(data_dir, tmp_path, monkeypatch):
    # A kill right after checkpoint N is written must not lose epoch N's record: the rerun
    # resumes after epoch N and never writes it again. So the metrics line and the sample
    # grid of an epoch must exist when its checkpoint is saved.
    from gan_tf import checkpoints

    out = tmp_path / "run"
    seen = []
    save = checkpoints.CheckpointManager.save

    def checked_save(manager, epoch):
        lines = (out / "metrics.jsonl").read_text().splitlines()
        seen.append(([json.loads(line)["epoch"] for line in lines],
                     (out / "samples" / f"epoch_{epoch:04d}.png").exists()))
        return save(manager, epoch)

    monkeypatch.setattr(checkpoints.CheckpointManager, "save", checked_save)
    run(_tiny(data_dir, out))
    assert seen == [([1], True), ([1, 2], True)]


def test_resume_drops_records_of_epochs_it_will_redo_and_keeps_the_rest(data_dir, tmp_path):
    # A kill between an epoch's metrics line and its checkpoint leaves a line the rerun
    # redoes: it is dropped, earlier lines are kept, and no epoch appears twice.
    out = tmp_path / "run"
    run(_tiny(data_dir, out, epochs=1))
    first = (out / "metrics.jsonl").read_text()
    with open(out / "metrics.jsonl", "a") as f:
        f.write(json.dumps({"epoch": 2, "step": 4, "d_loss": 0.0}) + "\n")
    run(_tiny(data_dir, out, epochs=2))
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert lines[0] == first.strip()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2]
    assert json.loads(lines[1])["d_loss"] != 0.0


@pytest.fixture
def deterministic_ops():
    # TF has no public switch back; the private one keeps other tests at full speed.
    from tensorflow.python.framework import config as tf_config

    tf.config.experimental.enable_op_determinism()
    yield
    tf_config.disable_op_determinism()


def test_resumed_run_ends_like_an_uninterrupted_one(data_dir, tmp_path, deterministic_ops):
    straight = _tiny(data_dir, tmp_path / "straight", epochs=3)
    run(straight)
    interrupted = _tiny(data_dir, tmp_path / "interrupted", epochs=1)
    run(interrupted)
    # "Rerun the same command" with more epochs: resumes after epoch 1.
    result = run(interrupted.replace(epochs=3))
    assert result["start_epoch"] == 1
    name_a, a = _checkpoint_arrays(str(tmp_path / "straight"))
    name_b, b = _checkpoint_arrays(str(tmp_path / "interrupted"))
    assert name_a == name_b == "ckpt-000003.npz"
    assert a.keys() == b.keys()
    for key in a.keys() - {"__paths__", "__meta__"}:  # auto-numbered layer names; wall-clock times
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    epochs = [json.loads(l)["epoch"] for l in (tmp_path / "interrupted" / "metrics.jsonl").read_text().splitlines()]
    assert epochs == [1, 2, 3]


def test_a_different_run_in_the_same_directory_is_refused_untouched(data_dir, tmp_path):
    out = tmp_path / "run"
    run(_tiny(data_dir, out, epochs=1))
    before = _tree_digest(str(out))
    with pytest.raises(ValueError, match="holds a different run.*loss: 'non_saturating' there, 'hinge' now"):
        run(_tiny(data_dir, out, epochs=1, loss="hinge"))
    with pytest.raises(ValueError, match="--noresume"):
        run(_tiny(data_dir, out, epochs=2, resume=False))
    assert _tree_digest(str(out)) == before


def test_run_that_is_already_complete_trains_nothing(data_dir, tmp_path):
    out = tmp_path / "run"
    run(_tiny(data_dir, out, epochs=1))
    result = run(_tiny(data_dir, out, epochs=1))
    assert result["start_epoch"] == 1 and result["history"] == {}


def test_corrupt_newest_checkpoint_falls_back_to_the_previous_one(data_dir, tmp_path):
    out = tmp_path / "run"
    run(_tiny(data_dir, out, epochs=2))
    (out / "checkpoints" / "ckpt-000002.npz").write_bytes(b"not a zip file")
    result = run(_tiny(data_dir, out, epochs=2))
    assert result["start_epoch"] == 1


@pytest.mark.parametrize("field, value, message", [
    ("batch_size", 0, "--batch_size=0: expected a positive integer"),
    ("latent_dim", -1, "--latent_dim=-1: expected a positive integer"),
    ("loss", "nope", "--loss='nope': expected one of minimax"),
    ("data_dir", "/does/not/exist", "--data_dir='/does/not/exist': expected an existing directory or .zip file"),
])
def test_bad_config_values_are_named(data_dir, tmp_path, field, value, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(".", r"\.")):
        run(_tiny(data_dir, tmp_path / "run").__class__(**{**_tiny(data_dir, tmp_path / "run").to_dict(), field: value}))
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("content, message", [
    ("{not json", "is not valid JSON"),
    ("{}", "lacks flags, data, data.image_shape, data.source"),
    ("[1, 2]", "lacks flags, data, data.image_shape, data.source"),
    ('{"flags": {"no_such_flag": 1}, "data": {"image_shape": [28, 28, 1], "source": "files"}}',
     r"has flags this version of gan_tf does not know \(no_such_flag\)"),
])
def test_restoring_from_a_damaged_config_json_names_the_file(tmp_path, content, message):
    (tmp_path / "config.json").write_text(content)
    with pytest.raises(ValueError, match=message) as error:
        restore_gan(str(tmp_path))
    assert str(tmp_path / "config.json") in str(error.value)
