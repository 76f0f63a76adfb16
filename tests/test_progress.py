"""The terminal: ETA arithmetic on a fake clock, epoch lines, the closing summary."""
import io
import logging

import pytest

from gan_tf import progress


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


class FakeModel:
    trackers = {"d_loss": None, "g_loss": None}


def _progress(epochs=3, initial_epoch=0, steps=10, bar=True):
    clock, stream = FakeClock(), io.StringIO()
    callback = progress.RunProgress(epochs, initial_epoch, steps, bar=bar, stream=stream, clock=clock,
                                    redraw_seconds=0)
    callback.set_model(FakeModel())
    return callback, clock, stream


@pytest.mark.parametrize("seconds, text", [
    (0, "0s"), (45.4, "45s"), (59.6, "1:00"), (125, "2:05"), (3600, "1:00:00"), (3 * 3600 + 62, "3:01:02")])
def test_format_duration(seconds, text):
    assert progress.format_duration(seconds) == text


def test_the_run_eta_is_the_steps_left_at_the_pace_since_the_first_step():
    callback, clock, _ = _progress(epochs=3, initial_epoch=1, steps=10)  # resumed: 20 steps to go
    callback.on_train_begin()
    callback.on_epoch_begin(1)
    clock.now += 30.0  # the first step traces the graph: not counted
    callback.on_train_batch_end(0)
    assert callback.run_eta() is None  # no pace yet
    for batch in range(1, 5):  # 4 steps at 2 s each
        clock.now += 2.0
        callback.on_train_batch_end(batch)
    # 5 of 20 steps done; 15 left at 8 s / 4 steps.
    assert callback.run_eta() == pytest.approx(15 * 2.0)
    assert "epoch 2/3 [===============...............] 5/10  run ETA 30s" in callback.bar_text()
    for batch in range(5, 10):
        clock.now += 2.0
        callback.on_train_batch_end(batch)
    callback.on_epoch_end(1, {"d_loss": 1.0, "g_loss": 2.0})
    clock.now += 12.0  # an evaluation between epochs slows the run, and the ETA says so
    callback.on_epoch_begin(2)
    clock.now += 2.0
    callback.on_train_batch_end(0)
    # 10 steps in 18 + 12 + 2 = 32 s since the first step; 9 steps left.
    assert callback.run_eta() == pytest.approx(9 * 32.0 / 10)


def test_remaining_seconds():
    assert progress.remaining_seconds(0, 10, 5.0) is None
    assert progress.remaining_seconds(4, 10, 2.0) == pytest.approx(5.0)


def test_epoch_lines_are_short_and_metrics_get_their_own_line():
    callback, clock, stream = _progress(epochs=2, steps=1, bar=False)
    callback.on_train_begin()
    callback.on_epoch_begin(0)
    callback.on_train_batch_end(0)
    callback.on_epoch_end(0, {"d_loss": 1.23456, "g_loss": 0.5, "images_per_second": 512.4, "seconds": 75.0,
                              "ms_per_step": 3.0, "fd_mnist_classifier": 23.31, "kid_mnist_classifier": 0.0125,
                              "kid_mnist_classifier_std": 0.0011})
    callback.on_train_end()
    assert stream.getvalue().splitlines() == [
        "epoch 1/2  d_loss 1.235  g_loss 0.5  512 img/s  1:15",
        "  eval  fd_mnist_classifier 23.31  kid_mnist_classifier 0.0125±0.0011",
    ]


def test_a_log_message_clears_the_bar_and_the_filter_is_removed_afterwards():
    callback, clock, stream = _progress(epochs=1, steps=4)
    handler = logging.StreamHandler(io.StringIO())
    logging.getLogger().addHandler(handler)
    try:
        callback.on_train_begin()
        callback.on_epoch_begin(0)
        callback.on_train_batch_end(0)
        drawn = stream.getvalue()
        assert drawn.startswith("\repoch 1/1 [")
        logging.getLogger("gan_tf.test").warning("an evaluation message")
        # The bar's characters are overwritten with blanks and the cursor returned to the line start.
        assert stream.getvalue() == drawn + "\r" + " " * (len(drawn) - 1) + "\r"
        callback.on_train_end()
        assert not handler.filters
    finally:
        logging.getLogger().removeHandler(handler)


def test_the_summary_lists_what_exists(tmp_path):
    out = tmp_path / "run"
    (out / "samples").mkdir(parents=True)
    (out / "samples" / "final.png").write_bytes(b"png")
    (out / "samples" / "progress.gif").write_bytes(b"gif")
    (out / "checkpoints").mkdir()
    for name in ("ckpt-000009.npz", "ckpt-000010.npz"):
        (out / "checkpoints" / name).write_bytes(b"")
    text = progress.run_summary(str(out), 10, seconds=3725, metrics={"fd_mnist_classifier": 23.3})
    assert text.splitlines() == [
        f"Finished 10 epochs in 1:02:05: {out}",
        "  final metrics: fd_mnist_classifier 23.3",
        f"  samples:     {out}/samples/final.png",
        f"  progress:    {out}/samples/progress.gif",
        f"  checkpoints: {out}/checkpoints/ (newest ckpt-000010.npz; rerun the command to resume)",
        f"  TensorBoard: tensorboard --logdir {out}/logs",
    ]
    bare = progress.run_summary(str(tmp_path / "empty"), 1)
    assert bare.splitlines() == [f"Finished 1 epoch: {tmp_path / 'empty'}",
                                 f"  TensorBoard: tensorboard --logdir {tmp_path / 'empty'}/logs"]


def test_a_second_fit_keeps_the_pace_and_a_short_epoch_counts_its_own_steps():
    # A resume inside epoch 2 of 3 (10 steps an epoch, 4 done): fit the last 6 steps of
    # epoch 2, then epoch 3 in a second fit.
    callback, clock, _ = _progress(epochs=3, initial_epoch=1, steps=10)
    callback.set_params({"epochs": 2, "steps": 6})
    callback.on_train_begin()
    callback.on_epoch_begin(1)
    for batch in range(6):
        clock.now += 3.0
        callback.on_train_batch_end(batch)
    assert callback.steps_left == 10
    assert callback.run_eta() == pytest.approx(10 * 3.0)
    callback.on_epoch_end(1, {})
    callback.on_train_end()
    callback.set_params({"epochs": 3, "steps": 10})
    callback.on_train_begin()
    callback.on_epoch_begin(2)
    clock.now += 3.0
    callback.on_train_batch_end(0)
    assert callback.run_eta() == pytest.approx(9 * 3.0)  # 7 steps timed over 21 s, across both fits


def test_under_a_time_budget_the_eta_is_the_sooner_of_the_budget_and_the_last_epoch():
    clock, stream = FakeClock(), io.StringIO()
    callback = progress.RunProgress(1_000_000, 0, 10, stream=stream, clock=clock, redraw_seconds=0,
                                    budget_seconds=60.0, show_total=False)
    callback.set_model(FakeModel())
    callback.on_train_begin()
    callback.on_epoch_begin(0)
    for batch in range(3):  # 3 steps of 5 s: the epochs would take for ever, the budget ends in 45 s
        clock.now += 5.0
        callback.on_train_batch_end(batch)
    assert callback.run_eta() == pytest.approx(60.0 - 15.0)
    assert callback.bar_text().startswith("epoch 1 [")  # no "/1000000"
    short, clock_2, _ = _progress(epochs=1, steps=4)
    short.budget_seconds = 600.0
    short._started = None
    short.on_train_begin()
    short.on_epoch_begin(0)
    for batch in range(2):
        clock_2.now += 5.0
        short.on_train_batch_end(batch)
    assert short.run_eta() == pytest.approx(2 * 5.0)  # the last epoch ends first: 2 steps at 5 s


def test_the_summary_of_a_budget_stop_says_where_it_stopped(tmp_path):
    stopped = {"time_budget_minutes": 10.0, "step": 8123, "epoch": 115, "steps_into_epoch": 3}
    text = progress.run_summary(str(tmp_path), 1_000_000, 600.0, stopped=stopped)
    assert text.splitlines()[0] == f"Time budget of 10 min spent: stopped at step 8123 (epoch 116) in 10:00: {tmp_path}"


def test_the_summary_names_a_mid_epoch_checkpoint_as_the_newest(tmp_path):
    checkpoints = tmp_path / "checkpoints"
    checkpoints.mkdir()
    for name in ("ckpt-000072.npz", "ckpt-000073.npz", "ckpt-000073+000009.npz"):
        (checkpoints / name).write_bytes(b"")
    assert "(newest ckpt-000073+000009.npz;" in progress.run_summary(str(tmp_path), 80)


def test_the_epoch_line_leaves_out_the_sum_logged_for_terminate_on_nan():
    callback, _, stream = _progress(epochs=2, steps=1, bar=False)

    class GanLike:
        trackers = {"d_loss": None, "g_loss": None, "loss": None}

    callback.set_model(GanLike())
    callback.on_train_begin()
    callback.on_epoch_begin(0)
    callback.on_train_batch_end(0)
    callback.on_epoch_end(0, {"d_loss": 1.25, "g_loss": 0.5, "loss": 1.75})
    lines = stream.getvalue().splitlines()
    assert lines == ["epoch 1/2  d_loss 1.25  g_loss 0.5"]
