"""experiments/baselines/results.md holds the table that experiments/baselines/table.py builds from the
recorded eval.json/results.json files; its numbers are those files' numbers."""
import importlib.util
import json
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BASELINES = os.path.join(ROOT, "experiments", "baselines")


def _table_module():
    spec = importlib.util.spec_from_file_location("baselines_table", os.path.join(BASELINES, "table.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_results_md_holds_the_table_built_from_the_records():
    with open(os.path.join(BASELINES, "results.md")) as f:
        assert _table_module().table() in f.read(), (
            "experiments/baselines/results.md is out of date: paste `python experiments/baselines/table.py`'s output")


def test_the_table_rows_carry_the_recorded_metrics():
    table = _table_module()
    rows = {row[1]: row for row in table.rows("fashion_mnist")}
    with open(os.path.join(BASELINES, "vae_fashion_mnist_10min", "eval.json")) as f:
        recorded = json.load(f)["metrics"]
    vae = rows["VAE, 10 min"]
    assert float(vae[2]) == float(f"{recorded['fd_fashion_mnist_classifier']:.3g}")
    assert float(vae[6]) == float(f"{recorded['recall_fashion_mnist_classifier']:.3g}")
    assert "real-data floor (held-out images)" in rows
