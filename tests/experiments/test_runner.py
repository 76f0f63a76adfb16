"""`run(config)` end to end on tiny data the test writes: artefacts, resume, refusals."""
import glob
import hashlib
import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from gan_tf.experiments.config import ExperimentConfig
from gan_tf.experiments.runner import restore_gan, run


@pytest.fixture(scope="module")
def data_dir(tiny_mnist):
    """A tiny MNIST-like mnist.npz: 40 train and 10 test images of bars."""
    return tiny_mnist(train=40, test=10, pattern="bars")


def _tiny(data_dir, out_dir, **changes):
    config = ExperimentConfig(
        dataset="mnist", out_dir=str(out_dir), epochs=2, steps_per_epoch=2, batch_size=8,
        latent_dim=8, width=4, sample_grid=4, data_dir=data_dir, verbose=0, seed=5,
    )
    return config.replace(**changes)


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


def test_run_writes_every_artefact(data_dir, tmp_path, event_tags):
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

    tags = event_tags(str(out / "logs"))
    assert {"loss/d", "loss/g", "discriminator/real", "discriminator/fake", "speed/images_per_second",
            "optimizer/d_lr", "optimizer/g_lr", "samples"} <= tags


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


def test_a_run_recorded_before_d_dropout_existed_resumes_only_with_the_dropout_it_had(data_dir, tmp_path):
    # gan_tf 0.3 trained the modern recipe with the 2016 discriminator's dropout, 0.3, and recorded no
    # d_dropout: a missing field has the value it had then, so 0.4's modern (no dropout) is a different run.
    out = tmp_path / "older"
    run(_tiny(data_dir, out, epochs=1, d_dropout=0.3))
    record = json.loads((out / "config.json").read_text())
    del record["flags"]["d_dropout"]
    (out / "config.json").write_text(json.dumps(record))
    before = _tree_digest(str(out))
    with pytest.raises(ValueError, match="holds a different run.*d_dropout: 0.3 there, 0.0 now"):
        run(_tiny(data_dir, out, epochs=2, d_dropout=0.0))
    assert _tree_digest(str(out)) == before
    assert run(_tiny(data_dir, out, epochs=2, d_dropout=0.3))["start_epoch"] == 1


def test_auto_precision_is_chosen_for_a_new_run_and_a_resumed_run_keeps_its_own(data_dir, tmp_path, monkeypatch):
    from gan_tf import cpu

    monkeypatch.setattr(cpu, "choose_precision", lambda: ("mixed_bfloat16", "auto: what this test's machine chose"))

    def recorded(out):
        record = json.loads((out / "config.json").read_text())
        return record["flags"]["mixed_precision"], record["resolved"]["precision"], record["resolved"]["precision_reason"]

    new = tmp_path / "new"
    run(_tiny(data_dir, new, epochs=1))  # the default, auto
    assert recorded(new) == ("mixed_bfloat16", "mixed_bfloat16", "auto: what this test's machine chose")
    assert keras.mixed_precision.global_policy().name == "float32"  # the caller's policy is back
    conditional = tmp_path / "conditional"  # bfloat16 was measured with the unconditional GAN only
    run(_tiny(data_dir, conditional, epochs=1, conditional="projection"))
    assert recorded(conditional)[:2] == ("none", "float32") and "unconditional GAN only" in recorded(conditional)[2]
    older = tmp_path / "older"  # a float32 run, e.g. started before auto chose bfloat16 on this machine
    run(_tiny(data_dir, older, epochs=1, mixed_precision="none"))
    assert run(_tiny(data_dir, older, epochs=2))["start_epoch"] == 1
    assert recorded(older) == ("none", "float32", "auto: the precision this run started in (none), kept on resuming")
    (older / "config.json").unlink()  # the checkpoints record it too
    assert run(_tiny(data_dir, older, epochs=3))["start_epoch"] == 2
    assert recorded(older)[:2] == ("none", "float32")
    before = _tree_digest(str(older))
    with pytest.raises(ValueError, match="mixed_precision: 'none' there, 'mixed_bfloat16' now"):
        run(_tiny(data_dir, older, epochs=4, mixed_precision="mixed_bfloat16"))  # named: a different run
    assert _tree_digest(str(older)) == before


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


class _EpochRecorder(keras.callbacks.Callback):
    """A user callback: records each epoch and what the run had written when it ran."""

    def __init__(self, out):
        super().__init__()
        self.out = out
        self.seen = []

    def on_epoch_end(self, epoch, logs=None):
        lines = (self.out / "metrics.jsonl").read_text().splitlines()
        checkpoint = self.out / "checkpoints" / f"ckpt-{epoch + 1:06d}.npz"
        self.seen.append((epoch + 1, len(lines), checkpoint.exists(), sorted(logs)))


def test_user_callbacks_run_after_the_epoch_record_and_before_its_checkpoint(data_dir, tmp_path):
    out = tmp_path / "run"
    recorder = _EpochRecorder(out)
    run(_tiny(data_dir, out, epochs=1), callbacks=[recorder])
    run(_tiny(data_dir, out, epochs=3), callbacks=[recorder])  # resumed: epochs 2 and 3 only
    assert [(epoch, lines, saved) for epoch, lines, saved, _ in recorder.seen] == [
        (1, 1, False), (2, 2, False), (3, 3, False)]
    assert {"d_loss", "g_loss", "images_per_second"} <= set(recorder.seen[0][3])


def test_a_callback_that_is_not_a_keras_callback_is_refused_before_anything_is_written(data_dir, tmp_path):
    with pytest.raises(ValueError, match="callbacks: .*expected keras.callbacks.Callback"):
        run(_tiny(data_dir, tmp_path / "run"), callbacks=[print])
    assert not (tmp_path / "run").exists()


def test_the_run_ends_with_a_summary_of_where_everything_is(data_dir, tmp_path, capsys):
    out = tmp_path / "run"
    run(_tiny(data_dir, out, verbose=2))
    printed = capsys.readouterr().out.splitlines()
    epoch_lines = [line for line in printed if line.startswith("epoch ")]
    assert len(epoch_lines) == 2 and all("d_loss" in line and "img/s" in line for line in epoch_lines)
    assert "epoch 1/2" in epoch_lines[0] and "run ETA" in epoch_lines[0]
    summary = printed[printed.index(next(l for l in printed if l.startswith("Finished"))):]
    assert summary[0].startswith(f"Finished 2 epochs in ") and summary[0].endswith(str(out))
    assert f"  samples:     {out / 'samples' / 'final.png'}" in summary
    assert any(line.startswith(f"  checkpoints: {out / 'checkpoints'}") and "ckpt-000002.npz" in line
               for line in summary)
    assert summary[-1] == f"  TensorBoard: tensorboard --logdir {out / 'logs'}"


def _free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get_json(url, body=None):
    import urllib.request

    request = urllib.request.Request(url, data=None if body is None else json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@pytest.fixture
def tensorboard_server():
    """Starts `tensorboard` on 127.0.0.1 for a log directory; stopped (and waited for) afterwards."""
    import subprocess
    import sys
    import time
    import urllib.error
    import urllib.request

    processes = []

    def start(logdir):
        port = _free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "tensorboard.main", "--logdir", logdir, "--host", "127.0.0.1",
             "--port", str(port), "--load_fast=false", "--reload_interval", "1"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        processes.append(process)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert process.poll() is None, "tensorboard exited"
            try:
                # Ready once the runs are loaded: the scalars plugin lists the train run.
                if "train" in _get_json(url + "/data/plugin/scalars/tags"):
                    return url
            except (urllib.error.URLError, ConnectionError, json.JSONDecodeError):
                pass
            time.sleep(0.5)
        raise AssertionError("tensorboard did not serve the run within 90 s")

    yield start
    for process in processes:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.mark.slow
def test_tensorboard_serves_grouped_scalars_images_layout_and_hparams(data_dir, tmp_path, tensorboard_server):
    import io
    import urllib.parse
    import urllib.request

    from PIL import Image

    out = tmp_path / "run"
    run(_tiny(data_dir, out, log_every_steps=1, image_every_steps=2, d_lr=3e-4))
    url = tensorboard_server(str(out / "logs"))

    tags = _get_json(url + "/data/plugin/scalars/tags")
    for tag in ("loss/d", "loss/g", "discriminator/real", "discriminator/fake", "speed/images_per_second",
                "optimizer/d_lr", "optimizer/g_lr"):
        assert tag in tags["train"] and tag in tags["epoch"], tag

    def scalars(run_name, tag):
        query = urllib.parse.urlencode({"run": run_name, "tag": tag})
        return [(step, value) for _, step, value in _get_json(f"{url}/data/plugin/scalars/scalars?{query}")]

    # Every step is logged (log_every_steps=1); the mean of an epoch's steps is the epoch's
    # value, as metrics.jsonl records it.
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    d_steps = scalars("train", "loss/d")
    assert [step for step, _ in d_steps] == [1, 2, 3, 4]
    for record, values in zip(records, (d_steps[:2], d_steps[2:])):
        np.testing.assert_allclose(np.mean([v for _, v in values]), record["d_loss"], rtol=1e-5)
    epoch_values = scalars("epoch", "loss/d")
    assert [step for step, _ in epoch_values] == [2, 4]
    np.testing.assert_allclose([v for _, v in epoch_values], [r["d_loss"] for r in records], rtol=1e-5)
    np.testing.assert_allclose([v for _, v in scalars("train", "optimizer/d_lr")], [3e-4] * 4, rtol=1e-6)

    # The sample grid every 2 steps: at step 2 it is the fixed-noise grid of the model that
    # epoch 1's checkpoint (taken after step 2) holds.
    images = _get_json(url + "/data/plugin/images/images?" + urllib.parse.urlencode({"run": "train", "tag": "samples"}))
    assert [entry["step"] for entry in images] == [2, 4]
    with urllib.request.urlopen(f"{url}/data/plugin/images/individualImage?{images[0]['query']}", timeout=10) as r:
        served = np.asarray(Image.open(io.BytesIO(r.read())))
    gan, _ = restore_gan(str(out), checkpoint=str(out / "checkpoints" / "ckpt-000001.npz"))
    pixels = np.clip(np.rint((gan.generate(4, seed=5).numpy() + 1.0) * 127.5), 0, 255).astype(np.uint8)
    expected = np.block([[pixels[0, ..., 0], pixels[1, ..., 0]], [pixels[2, ..., 0], pixels[3, ..., 0]]])
    np.testing.assert_array_equal(served.reshape(56, 56, -1)[..., 0], expected)

    # d and g on one chart of the Custom Scalars dashboard.
    layout = _get_json(url + "/data/plugin/custom_scalars/layout")
    charts = {chart["title"]: chart["multiline"]["tag"] for c in layout["category"] for chart in c["chart"]}
    assert charts["losses: d and g"] == [r"loss/(d|g)$"]

    # The run's flags in the HParams dashboard.
    experiment = _get_json(url + "/data/plugin/hparams/experiment", body={"experimentName": ""})
    names = {info["name"] for info in experiment["hparamInfos"]}
    assert {"loss", "batch_size", "d_lr", "seed", "log_every_steps"} <= names
    groups = _get_json(url + "/data/plugin/hparams/session_groups",
                       body={"experimentName": "", "allowedStatuses": ["STATUS_UNKNOWN", "STATUS_SUCCESS"],
                             "colParams": [{"hparam": "d_lr"}, {"hparam": "batch_size"}], "startIndex": 0,
                             "sliceSize": 10})
    assert groups["sessionGroups"][0]["hparams"]["d_lr"] == pytest.approx(3e-4)
    assert groups["sessionGroups"][0]["hparams"]["batch_size"] == 8


def test_the_raw_generator_stays_reachable_from_generate_and_the_evaluator(data_dir, tmp_path):
    from gan_tf import generate as generate_cli
    from gan_tf.metrics.evaluation import Evaluator

    out_dir = tmp_path / "ema_run"
    run(_tiny(data_dir, out_dir, ema_kimg=0.01, epochs=1, steps_per_epoch=3))
    gan, _ = restore_gan(str(out_dir))
    ema = gan.generate(4, seed=3).numpy()
    raw = gan.generate(4, seed=3, use_ema=False).numpy()
    assert not np.allclose(ema, raw)  # after 3 steps the average lags the weights
    drawn = generate_cli.generate(str(out_dir), n=4, out=str(tmp_path / "raw.png"), seed=3, raw=True)
    np.testing.assert_allclose(drawn, raw, atol=1e-6)
    drawn = generate_cli.generate(str(out_dir), n=4, out=str(tmp_path / "ema.png"), seed=3)
    np.testing.assert_allclose(drawn, ema, atol=1e-6)

    asked = []

    class Recorder:  # stands in for a GAN: records what the evaluator asks of it
        def generate(self, n, **options):
            asked.append(options.get("use_ema", True))
            raise StopIteration

    evaluator = Evaluator.__new__(Evaluator)  # no reference data needed: generation is all it reaches
    evaluator.seed, evaluator.batch_size = 0, 10
    for use_ema in (True, False):
        with pytest.raises(StopIteration):
            evaluator.evaluate_generator(Recorder(), 1000, use_ema=use_ema)
    assert asked == [True, False]
