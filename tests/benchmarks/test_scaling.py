"""Smoke test of experiments/benchmarks/scaling.py: its flags, the CelebA epoch arithmetic, one tiny run."""
import json

import pytest

def test_bad_flags_are_refused(benchmarks):
    scaling = benchmarks.load("scaling")
    for argv in (["--shapes", "28x32x1"], ["--shapes", "64x64x2"], ["--batches", "16,x"], ["--batches", "0"],
                 ["--steps", "0"], ["--seconds", "-1"]):
        with pytest.raises(SystemExit):
            scaling.parse_args(argv)


def test_celeba_epoch_minutes(benchmarks):
    scaling = benchmarks.load("scaling")
    row = dict(shape="64x64x3", celeba_defaults=False)
    summary = [{**row, "width": 32, "batch_size": 64, "images_per_second": 50.0},
               {**row, "width": 32, "batch_size": 128, "images_per_second": 100.0},
               {**row, "width": 64, "batch_size": 128, "images_per_second": 20.0, "celeba_defaults": True},
               {**row, "shape": "28x28x1", "width": 32, "batch_size": 64, "images_per_second": 1000.0}]
    epoch = scaling.celeba_epoch(summary)
    assert epoch["images"] == 162_770  # the training split
    assert epoch["celeba_defaults"] == {"width": 64, "batch_size": 128, "minutes": pytest.approx(162_770 / 20 / 60)}
    assert epoch["fastest_sweep"] == {"width": 32, "batch_size": 128, "minutes": pytest.approx(162_770 / 100 / 60)}
    assert scaling.celeba_epoch(summary[3:]) is None


@pytest.mark.slow
def test_one_tiny_run_records_every_field(tmp_path, benchmarks):
    import gan_tf

    benchmarks.run("scaling.py", "--shapes", "28x28x1", "--batches", "8,16", "--steps", "1", "--seconds", "0",
                   "--warmup", "1", "--out_dir", str(tmp_path))
    (json_path,) = tmp_path.glob("scaling_*.json")
    assert json_path.with_suffix(".png").exists() and json_path.with_suffix(".md").exists()
    report = json.loads(json_path.read_text())
    assert [(r["shape"], r["width"], r["batch_size"]) for r in report["summary"]] == [("28x28x1", 32, 8),
                                                                                      ("28x28x1", 32, 16)]
    for row in report["rows"]:
        assert row["images_per_second"] == pytest.approx(row["batch_size"] / row["step_seconds"][0])
        assert row["peak_rss_mib"] > 100
    assert report["celeba_epoch"] is None
    assert report["versions"]["gan_tf"] == gan_tf.__version__  # the record says what it timed
