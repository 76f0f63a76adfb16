"""experiments/recipes/ablation.py: the step counts it trains for, and the rows it reads back."""
import importlib.util
import json
import os
import sys
import types

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def ablation(tmp_path, monkeypatch):
    """The script, reading its records (10-minute reference run, step costs) from tmp_path."""
    spec = importlib.util.spec_from_file_location("ablation", os.path.join(ROOT, "experiments", "recipes", "ablation.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "HERE", str(tmp_path))
    monkeypatch.setattr(module, "cost_path", lambda: str(tmp_path / "step_cost.json"))
    record = tmp_path / "fashion_mnist_base_10min"
    record.mkdir()
    # 5,263 steps in 600 s: 114.0 ms per step.
    (record / "results.json").write_text(json.dumps(
        {"steps": 5263, "training_seconds": 600.0, "stopped": {"time_budget_minutes": 10.0}}))
    (tmp_path / "step_cost.json").write_text(json.dumps({"ratio": {"base": 1.0, "resnet": 1.42}}))
    return module


def test_each_variant_trains_the_steps_it_reaches_in_the_budget_and_is_evaluated_there(ablation, tmp_path,
                                                                                        monkeypatch):
    commands = []
    monkeypatch.setattr(ablation, "run", commands.append)
    args = types.SimpleNamespace(dataset="fashion_mnist", variants="base,resnet", seeds="0", minutes=5.0,
                                 eval_every=0, runs=str(tmp_path / "runs"))
    with pytest.raises(FileNotFoundError):  # `run` is faked: no eval file gets written
        ablation.train(args)
    # 5 of 10 minutes: 2,631.5 steps, in 250-step epochs: 10.5 -> 11 epochs.
    train, evaluate = commands
    assert train[train.index("--epochs") + 1] == "11" and train[train.index("--steps_per_epoch") + 1] == "250"
    assert evaluate[evaluate.index("--checkpoint") + 1].endswith("ckpt-000011.npz")
    assert evaluate[evaluate.index("--output") + 1].endswith("eval_step2750.json")
    commands.clear()
    args.variants = "resnet"
    with pytest.raises(FileNotFoundError):
        ablation.train(args)
    # 1.42x the step time: 2,631.5 / 1.42 = 1,853 steps -> 7 epochs.
    assert commands[0][commands[0].index("--epochs") + 1] == "7"
    assert commands[0][commands[0].index("--architecture") + 1] == "resnet"


def test_rows_give_minutes_at_the_idle_speed_and_the_scores_of_each_evaluation(ablation, tmp_path):
    run = tmp_path / "runs" / "fashion_mnist" / "resnet_s1"
    run.mkdir(parents=True)
    key = "fd_fashion_mnist_classifier"
    (run / "metrics.jsonl").write_text("\n".join(json.dumps(e) for e in [
        {"epoch": 2, "step": 500, key: 90.0}, {"epoch": 4, "step": 1000, key: 60.0},
        {"epoch": 6, "step": 1500, key: 50.0}]) + "\n")
    metrics = {key: 48.5, "kid_fashion_mnist_classifier": 40.0, "is_fashion_mnist_classifier": 5.5,
               "precision_fashion_mnist_classifier": 0.6, "recall_fashion_mnist_classifier": 0.5}
    nearest = {"class_coverage": {"generated": {"largest_share": 0.14, "smallest_share": 0.07}},
               "memorisation": {"fashion_mnist_classifier": {"score": 0.01}, "pixels": {"score": 0.0}}}
    (run / "eval_step1000.json").write_text(json.dumps({"metrics": metrics, "nearest": nearest}))
    (row,) = ablation.collect("fashion_mnist", str(tmp_path / "runs"))
    step_ms = 600_000 / 5263 * 1.42
    assert row["minutes"] == pytest.approx(1000 * step_ms / 60_000)
    assert row["images_per_second"] == pytest.approx(64_000 / step_ms)
    assert (row["variant"], row["seed"], row["steps"], row["fd"], row["recall"]) == ("resnet", 1, 1000, 48.5, 0.5)
    assert (row["largest_class"], row["memorisation"]) == (0.14, 0.01)
    # The curve stops at the evaluated step; its minutes come from the same step time.
    np.testing.assert_allclose(row["curve"], [(500 * step_ms / 60_000, 90.0), (1000 * step_ms / 60_000, 60.0)])
    assert row["grid"].endswith(os.path.join("samples", "epoch_0004.png"))


def test_a_variant_differing_from_a_measured_one_only_in_learning_rates_takes_its_cost(ablation, tmp_path):
    (tmp_path / "step_cost.json").write_text(json.dumps(
        {"ratio": {"base": 1.0, "resnet": 1.42, "sn": 1.1}, "measured": {"base": True, "resnet": True}}))
    assert ablation.step_cost("resnet") == (1.42, True)
    assert ablation.step_cost("lr5e-4+resnet") == (1.42, True)  # --architecture resnet at other rates
    assert ablation.step_cost("lr1e-3") == (1.0, True)  # the base's graph
    assert ablation.step_cost("lr5e-4+sn") == (1.1, False)  # sn's ratio, recorded as an estimate
    assert ablation.step_cost("lr5e-4+hinge") == (1.0, False)  # nothing like it measured


def test_measured_costs_are_merged_into_the_record(ablation, tmp_path, monkeypatch):
    (tmp_path / "step_cost.json").write_text(json.dumps(
        {"command": "old", "ms_per_step": {"base": [100.0], "resnet": [142.0]},
         "ratio": {"base": 1.0, "resnet": 1.42}, "measured": {"base": True, "resnet": True}}))
    ms = iter([100.0, 130.0, 110.0, 121.0])  # rounds of (base, hinge): medians 105 and 125.5

    def fake_run(command):
        # ADA held at p = 0, as in the ablation's runs.
        assert command[command.index("--ada_target") + 1] == "0" and command[command.index("--augment_p") + 1] == "0"
        out = command[command.index("--out_dir") + 1]
        with open(os.path.join(out, "metrics.jsonl"), "w") as f:
            value = next(ms)
            f.write("\n".join(json.dumps({"ms_per_step": v}) for v in (999.0, value, value)) + "\n")

    monkeypatch.setattr(ablation, "run", fake_run)
    ablation.measure_cost(types.SimpleNamespace(variants="base,hinge", rounds=2))
    record = json.loads((tmp_path / "step_cost.json").read_text())
    assert record["ratio"] == pytest.approx({"base": 1.0, "resnet": 1.42, "hinge": 125.5 / 105.0})
    assert record["ms_per_step"]["resnet"] == [142.0] and record["ms_per_step"]["hinge"] == [130.0, 121.0]
    assert record["commands"][0] == "old" and len(record["commands"]) == 2
