"""`--time_budget`: a stop at a step, mid-epoch checkpoints, exact continuation, time carried over kills.

The clock is faked: `gan_tf.time_budget.clock` is read once when `fit` starts and once after
every step, so a clock that advances 10 s per reading makes step n end at 10·n s of training.
"""
import glob
import itertools
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from gan_tf import time_budget
from gan_tf.experiments.config import ExperimentConfig
from gan_tf.experiments.runner import run

STEPS_PER_EPOCH = 2


@pytest.fixture(scope="module")
def data_dir(tiny_mnist):
    return tiny_mnist(train=32, test=8, seed=1)


@pytest.fixture
def fake_clock(monkeypatch):
    readings = itertools.count()
    monkeypatch.setattr(time_budget, "clock", lambda: 10.0 * next(readings))




def _tiny(data_dir, out_dir, **changes):
    config = ExperimentConfig(
        dataset="mnist", out_dir=str(out_dir), epochs=3, steps_per_epoch=STEPS_PER_EPOCH, batch_size=8,
        latent_dim=8, width=4, sample_grid=4, data_dir=data_dir, verbose=0, seed=3,
    )
    return config.replace(**changes)


def _arrays(path):
    with np.load(path, allow_pickle=False) as stored:
        return {key: stored[key] for key in stored.files if key not in ("__paths__", "__meta__")}


def _metrics(out_dir):
    return [json.loads(line) for line in (out_dir / "metrics.jsonl").read_text().splitlines()]


def _checkpoint_names(out_dir):
    return sorted(os.path.basename(p) for p in glob.glob(str(out_dir / "checkpoints" / "*")))


def test_budget_stops_mid_epoch_and_the_continued_run_equals_an_uninterrupted_one(
        data_dir, tmp_path, fake_clock, deterministic_ops):
    run(_tiny(data_dir, tmp_path / "straight"))
    out = tmp_path / "budget"
    # 0.5 min = 30 s: spent after step 3 (10 s per step), one step into the second epoch.
    result = run(_tiny(data_dir, out, time_budget=0.5))
    stop = {"reason": "time_budget", "time_budget_minutes": 0.5, "epoch": 1, "steps_into_epoch": 1,
            "step": 3, "training_seconds": 30.0}
    assert result["stopped"] == stop
    assert json.loads((out / "config.json").read_text())["stopped"] == stop
    assert _checkpoint_names(out) == ["ckpt-000001+000001.npz", "ckpt-000001.npz"]
    assert int(_arrays(out / "checkpoints" / "ckpt-000001+000001.npz")["g_optimizer/0000"]) == 3
    last = _metrics(out)[-1]
    assert (last["step"], last["steps_into_epoch"], last["stopped"]) == (3, 1, "time_budget")
    assert (out / "samples" / "final.png").stat().st_size > 0

    # The same command with a larger budget continues the run from step 3.
    result = run(_tiny(data_dir, out, time_budget=5))
    assert (result["start_epoch"], result["start_step"], result["stopped"]) == (1, 1, None)
    assert "stopped" not in json.loads((out / "config.json").read_text())
    a = _arrays(tmp_path / "straight" / "checkpoints" / "ckpt-000003.npz")
    b = _arrays(out / "checkpoints" / "ckpt-000003.npz")
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    assert [(r["epoch"], r["step"]) for r in _metrics(out)] == [(1, 2), (2, 4), (3, 6)]
    # The continued epoch's line averages all its steps, those before the stop included.
    for straight, continued in zip(_metrics(tmp_path / "straight"), _metrics(out)):
        for key in ("d_loss", "g_loss", "d_real", "d_fake"):
            np.testing.assert_allclose(continued[key], straight[key], rtol=1e-6, err_msg=key)


def test_a_stop_inside_an_epoch_records_its_running_means_and_the_resumed_epoch_all_its_steps(
        data_dir, tmp_path, fake_clock, deterministic_ops):
    # Keras hands batch callbacks one step's values and epoch callbacks the trackers' means.
    # Stopped two steps into an epoch of three, then resumed, the epoch's line must equal an
    # uninterrupted run's: (2 · the stop's means + step 3's values) / 3 equals the mean of the
    # three steps only if the stop recorded the mean of steps 1 and 2, not step 2's values.
    three_steps = dict(epochs=2, steps_per_epoch=3)
    run(_tiny(data_dir, tmp_path / "straight", **three_steps))
    out = tmp_path / "budget"
    run(_tiny(data_dir, out, time_budget=50 / 60, **three_steps))  # spent after step 5 (10 s a step)
    stop_line = _metrics(out)[-1]
    assert (stop_line["step"], stop_line["steps_into_epoch"]) == (5, 2)
    run(_tiny(data_dir, out, time_budget=5, **three_steps))
    straight, resumed = _metrics(tmp_path / "straight")[-1], _metrics(out)[-1]
    assert (straight["step"], resumed["step"]) == (6, 6)
    for key in ("d_loss", "g_loss", "d_real", "d_fake", "loss"):
        np.testing.assert_allclose(resumed[key], straight[key], rtol=1e-6, err_msg=key)


def test_budget_spent_at_an_epoch_end_ends_that_epoch_normally(data_dir, tmp_path, fake_clock):
    out = tmp_path / "run"
    result = run(_tiny(data_dir, out, time_budget=0.65))  # 39 s: spent after step 4, the end of epoch 2
    assert (result["stopped"]["epoch"], result["stopped"]["steps_into_epoch"], result["stopped"]["step"]) == (2, 0, 4)
    assert _checkpoint_names(out) == ["ckpt-000001.npz", "ckpt-000002.npz"]
    assert [(r["epoch"], r["step"]) for r in _metrics(out)] == [(1, 2), (2, 4)]
    assert json.loads((out / "config.json").read_text())["stopped"]["step"] == 4


def test_time_before_a_kill_counts_and_a_spent_budget_recreates_the_artefacts(data_dir, tmp_path, fake_clock):
    out = tmp_path / "run"
    run(_tiny(data_dir, out, time_budget=0.5))  # stops at step 3
    # What a kill just before the stop's checkpoint leaves: its metrics line, no checkpoint.
    os.remove(out / "checkpoints" / "ckpt-000001+000001.npz")
    os.remove(out / "samples" / "final.png")
    # Resumes at step 2 with the 20 s spent before it: one more step spends the 30 s.
    result = run(_tiny(data_dir, out, time_budget=0.5))
    assert (result["start_epoch"], result["start_step"]) == (1, 0)
    assert result["stopped"]["step"] == 3
    assert [r["step"] for r in _metrics(out)] == [2, 3]

    # Rerunning the spent budget trains nothing, but re-creates what a kill could have lost.
    (out / "samples" / "final.png").write_bytes(b"")
    lines = (out / "metrics.jsonl").read_text().splitlines()
    (out / "metrics.jsonl").write_text(lines[0] + "\n")
    result = run(_tiny(data_dir, out, time_budget=0.5))
    assert result["history"] == {} and result["stopped"]["step"] == 3
    assert (out / "samples" / "final.png").stat().st_size > 0
    assert (out / "metrics.jsonl").read_text().splitlines() == lines
    assert json.loads((out / "config.json").read_text())["stopped"]["step"] == 3


def test_time_budget_is_not_part_of_the_recipe_and_must_be_finite():
    from gan_tf.experiments.config import RECIPE_FIELDS

    assert "time_budget" not in RECIPE_FIELDS
    with pytest.raises(ValueError, match="--time_budget=-1.0: expected a finite number of minutes"):
        ExperimentConfig(time_budget=-1.0).validate()
    with pytest.raises(ValueError, match="--time_budget=inf"):
        ExperimentConfig(time_budget=float("inf")).validate()


def test_training_batches_resume_mid_epoch_continues_the_same_stream():
    from gan_tf import data

    ids = tf.data.Dataset.range(40)
    full, steps = data.training_batches(ids, 4, num_examples=40, seed=7, num_epochs=3)
    tail, _ = data.training_batches(ids, 4, num_examples=40, seed=7, start_epoch=1, start_step=3, num_epochs=3)
    full = list(full.as_numpy_iterator())
    tail = list(tail.as_numpy_iterator())
    assert steps == 10 and len(tail) == 2 * 10 - 3
    np.testing.assert_array_equal(np.stack(tail), np.stack(full[13:]))
    with pytest.raises(ValueError, match="start_step=10"):
        data.training_batches(ids, 4, num_examples=40, seed=7, start_epoch=1, start_step=10, num_epochs=3)
