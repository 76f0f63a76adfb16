"""Smoke test of experiments/benchmarks/peers.py: one tiny round, fields and ratios of its record.

Timings are never checked (the machine is shared); the ratios are recomputed from the raw step
times the record holds, and the networks of every loop must have the same parameter counts.
"""
import importlib.util
import json

import pytest

HAS_TORCH = importlib.util.find_spec("torch") is not None


def test_only_gan_tf_gets_the_cli_onednn_choice(monkeypatch, benchmarks):
    peers = benchmarks.load("peers")
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")
    assert peers.worker_environment("gan_tf", ("1", "reason", "rule"))["TF_ENABLE_ONEDNN_OPTS"] == "1"
    # The user's value stays when the CLI sets nothing.
    assert peers.worker_environment("gan_tf", (None, "reason", "rule"))["TF_ENABLE_ONEDNN_OPTS"] == "0"
    assert peers.worker_environment("gan_tf_float32", ("1", "reason", "rule"))["TF_ENABLE_ONEDNN_OPTS"] == "1"
    for loop in ("tutorial", "tutorial_keras_layers", "keras_io", "torch"):
        assert "TF_ENABLE_ONEDNN_OPTS" not in peers.worker_environment(loop, ("1", "reason", "rule"))


@pytest.mark.parametrize("precision, timed", [("mixed_bfloat16", True), ("none", False)])
def test_gan_tf_is_also_timed_in_float32_only_where_its_default_is_not(monkeypatch, benchmarks, precision, timed):
    peers = benchmarks.load("peers")
    monkeypatch.setattr(peers, "cli_precision", lambda: precision)
    assert ("gan_tf_float32" in peers.parse_args([]).loop_list) == timed


def test_the_float32_gflops_goal_compares_float32_loops_only(benchmarks):
    peers = benchmarks.load("peers")
    loops = {"gan_tf": {"gflops_per_second": 300.0, "images_per_second_per_repeat": [3.0]},
             "gan_tf_float32": {"gflops_per_second": 180.0, "images_per_second_per_repeat": [2.0]},
             "tutorial": {"gflops_per_second": 200.0, "images_per_second_per_repeat": [2.0]}}
    (goal,) = [g for g in peers.goals("28x28x1", loops) if "GFLOP" in g["what"]]
    assert goal["peer"] == "tutorial" and goal["value"] == pytest.approx(180.0 / 200.0) and goal["met"]
    del loops["gan_tf_float32"]  # a float32 default is itself the float32 loop
    (goal,) = [g for g in peers.goals("28x28x1", loops) if "GFLOP" in g["what"]]
    assert goal["peer"] == "gan_tf" and goal["value"] == 1.0


def test_the_published_tutorial_runs_on_keras_layers_and_the_other_loops_on_gan_tfs(benchmarks):
    import keras

    from gan_tf.networks.batch_norm import BatchNormalization
    from gan_tf.networks.layers import Dropout

    peers = benchmarks.load("peers")

    def layer_types(loop):
        runner = peers.make_tf_loop(loop, (28, 28, 1), 8)
        layers = runner.generator.layers + runner.discriminator.layers
        return ({type(l) for l in layers if isinstance(l, keras.layers.BatchNormalization)},
                {type(l) for l in layers if isinstance(l, keras.layers.Dropout)})

    assert layer_types("tutorial_keras_layers") == ({keras.layers.BatchNormalization}, {keras.layers.Dropout})
    # Built after it: the builders are gan_tf's again.
    assert layer_types("tutorial") == ({BatchNormalization}, {Dropout})


def test_a_record_at_pinned_threads_is_named_after_them(benchmarks):
    peers = benchmarks.load("peers")
    assert peers.record_name({"threads": 1, "threads_pinned": True}) == "peers_threads1"
    assert peers.record_name({"threads": 2, "threads_pinned": False}) == "peers"
    assert peers.record_name({"threads": 2}) == "peers"  # a report written before the field


def test_the_flags_of_a_layer_and_step_benchmark(benchmarks):
    peers = benchmarks.load("peers")
    args = peers.cli_step_arguments([], "a benchmark", "the layer", step_rounds=5)
    assert (args.repeats, args.step_rounds, args.step_steps) == (30, 5, 0)
    assert args.out_dir == peers.HERE  # records land beside the scripts
    for argv in (["--repeats", "0"], ["--step_rounds", "-1"], ["--step_steps", "-2"]):
        with pytest.raises(SystemExit):
            peers.cli_step_arguments(argv, "a benchmark", "the layer")


def test_bad_flags_are_refused_before_any_work(benchmarks):
    peers = benchmarks.load("peers")
    for argv in (["--shapes", "32x32x3"], ["--loops", "gan_tf,jax"], ["--loops", "gan_tf,torch"], ["--rounds", "0"]):
        with pytest.raises(SystemExit):
            peers.parse_args(argv)


@pytest.mark.slow
def test_one_round_records_every_field_and_paired_ratios(tmp_path, benchmarks):
    benchmarks.run("peers.py", "--rounds", "1", "--steps", "1", "--warmup", "1", "--shapes", "28x28x1",
                   "--out_dir", str(tmp_path), timeout=900)
    (json_path,) = tmp_path.glob("peers_*.json")
    assert json_path.with_suffix(".md").exists()
    report = json.loads(json_path.read_text())
    assert report["device"] == json_path.stem[len("peers_"):]
    peers = benchmarks.load("peers")
    expected = ({"gan_tf", "tutorial", "tutorial_keras_layers", "keras_io"} | ({"torch"} if HAS_TORCH else set())
                | ({"gan_tf_float32"} if peers.cli_precision() != "none" else set()))
    assert {s["loop"] for s in report["skipped"]} == ({"torch"} - expected)
    (shape,) = report["shapes"]
    assert shape["shape"] == "28x28x1" and shape["batch_size"] == 256
    loops = shape["loops"]
    assert set(loops) == expected
    assert shape["same_networks"] is True  # the same trainable parameter counts in every loop
    peak = report["machine"]["peak_gflops"]
    for name, entry in loops.items():
        (steps,) = entry["step_seconds"]
        (cpu_steps,) = entry["step_cpu_seconds"]
        assert len(steps) == 1 and steps[0] > 0 and cpu_steps[0] > 0
        assert entry["images_per_second"] == pytest.approx(256 / steps[0])
        assert entry["cpu_seconds_per_image"] == pytest.approx(cpu_steps[0] / 256)
        assert entry["flops_per_step"] > 1e10, name  # > 10 GFLOP: the tutorial's networks at batch 256
        assert entry["gflops_per_second"] == pytest.approx(entry["flops_per_step"] / steps[0] / 1e9)
        if peak:
            assert entry["percent_of_peak"] == pytest.approx(100 * entry["gflops_per_second"] / peak)
        assert entry["peak_rss_mib"] > 100
        # One round: the paired ratio is the quotient of that round's images/s.
        reference = loops["tutorial"]["step_seconds"][0][0]
        assert entry["vs_tutorial"] == pytest.approx(reference / steps[0])
        assert entry["cpu_vs_tutorial"] == pytest.approx(loops["tutorial"]["step_cpu_seconds"][0][0] / cpu_steps[0])
    assert loops["tutorial"]["vs_tutorial"] == 1.0
    for goal in shape["goals"]:
        if goal["what"].startswith("gan_tf / "):
            peer_seconds = loops[goal["peer"]]["step_seconds"][0][0]
            assert goal["value"] == pytest.approx(peer_seconds / loops["gan_tf"]["step_seconds"][0][0])
    assert {g["peer"] for g in shape["goals"] if g["what"].startswith("gan_tf / ")} == expected - {"gan_tf",
                                                                                                 "gan_tf_float32"}
    # The CLI's oneDNN choice reached the gan_tf process, and only it.
    if report["gan_tf_onednn"]["TF_ENABLE_ONEDNN_OPTS"] == "1":
        assert loops["gan_tf"]["onednn"] == [True]
    text = json_path.with_suffix(".md").read_text()
    for name in expected:
        assert f"| 28x28x1, 256 | {name} |" in text
