"""experiments/mixed_precision/compare.py: the rows it reads from run directories and its verdict."""
import importlib.util
import json
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def compare():
    path = os.path.join(ROOT, "experiments", "mixed_precision", "compare.py")
    spec = importlib.util.spec_from_file_location("compare", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(root, name, dtype, fd, ms_per_step):
    run_dir = root / "mnist" / name
    run_dir.mkdir(parents=True)
    (run_dir / "config.json").write_text(json.dumps({"resolved": {"precision": dtype}}))
    # The first epoch (tracing) is left out of the median.
    (run_dir / "metrics.jsonl").write_text("\n".join(json.dumps({"epoch": i + 1, "ms_per_step": ms})
                                                     for i, ms in enumerate([900.0, *ms_per_step])))
    (run_dir / "eval_step140.json").write_text(json.dumps({
        "metrics": {"fd_mnist_classifier": fd, "precision_mnist_classifier": 0.5},
        "nearest": {"class_coverage": {"generated": {"largest_share": 0.13}},
                    "memorisation": {"mnist_classifier": {"score": 0.004}}}}))


def test_rows_and_the_verdict_against_float32s_worst_seed(compare, tmp_path):
    _run(tmp_path, "lr5e-4_s0", "float32", 12.0, [30.0, 34.0, 40.0])
    _run(tmp_path, "lr5e-4_s1", "float32", 16.0, [35.0])
    _run(tmp_path, "lr5e-4+bf16_s0", "mixed_bfloat16", 14.0, [31.0, 33.0])
    _run(tmp_path, "r1_s0", "float32", 99.0, [1.0])  # another variant: not read
    rows = compare.collect(str(tmp_path), "mnist")
    assert [(r["variant"], r["seed"], r["dtype"]) for r in rows] == [
        ("lr5e-4+bf16", 0, "mixed_bfloat16"), ("lr5e-4", 0, "float32"), ("lr5e-4", 1, "float32")]
    assert [r["ms_per_step"] for r in rows] == [32.0, 34.0, 35.0]
    assert rows[0]["steps"] == 140 and rows[0]["precision"] == 0.5 and rows[0]["largest_class"] == 0.13
    result = compare.summary(rows)
    assert result["float32"] == {"seeds": 2, "fd_min": 12.0, "fd_max": 16.0, "fd_mean": 14.0}
    assert result["bfloat16_no_worse_than_float32_seeds"] is True
    _run(tmp_path, "lr5e-4+bf16_s1", "mixed_bfloat16", 11.0, [31.0])  # better than float32's best: fine
    assert compare.summary(compare.collect(str(tmp_path), "mnist"))["bfloat16_no_worse_than_float32_seeds"] is True
    _run(tmp_path, "lr5e-4+bf16_s2", "mixed_bfloat16", 16.5, [31.0])  # worse than float32's worst seed
    assert compare.summary(compare.collect(str(tmp_path), "mnist"))["bfloat16_no_worse_than_float32_seeds"] is False
