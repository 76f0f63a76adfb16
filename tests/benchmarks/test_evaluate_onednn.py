"""experiments/benchmarks/evaluate_onednn.py: each setting really is in effect in its processes,
and the table's ratio is the rounds' own."""
import json

import pytest


@pytest.mark.slow
def test_one_round_on_a_freshly_trained_run_records_both_settings(tmp_path, benchmarks):
    benchmarks.run("evaluate_onednn.py", "--train_steps", "1", "--num_samples", "10", "--rounds", "1",
                   "--out_dir", str(tmp_path))
    (path,) = tmp_path.glob("evaluate_onednn_*.json")
    report = json.loads(path.read_text())
    assert report["rows"]["0"]["onednn_enabled"] == [False]  # TF_ENABLE_ONEDNN_OPTS=0 turned it off
    assert report["rows"]["1"]["onednn_enabled"] == [True]
    (timed,) = report["per_round"]
    assert report["speed_on_vs_off"]["median"] == pytest.approx(timed["0"]["seconds"] / timed["1"]["seconds"])
    assert all(timed[s]["wall_seconds"] >= timed[s]["seconds"] > 0 for s in ("0", "1"))
    # The same generator and samples: only the summation order differs between the settings.
    for name, value in timed["0"]["metrics"].items():
        assert timed["1"]["metrics"][name] == pytest.approx(value, rel=1e-3, abs=1e-3), name
    assert (tmp_path / path.name.replace(".json", ".md")).read_text().startswith("# `python -m gan_tf.evaluate`")
