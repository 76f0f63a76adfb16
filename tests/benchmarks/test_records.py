"""experiments/benchmarks/records.py: when a report calls its machine busy, the command it records, and
interleaved timing."""
import pytest


def test_busy_only_when_the_load_before_the_benchmark_was_above_half_the_cpus(benchmarks):
    records = benchmarks.load("records")
    machine = {"logical_cpus": 2}
    # The load at the end holds the benchmark's own processes: it does not count.
    assert records.busy_note({"load_average_start": [0.77, 0.8, 1.1], "load_average_end": [1.9, 1.5, 1.5],
                              "machine": machine}) is None
    assert records.busy_note({"load_average_start": [1.01, 0.5, 0.5], "machine": machine}).startswith("**The machine")
    assert records.busy_note({"load_average_start": [1.01, 0.5, 0.5], "machine": {"logical_cpus": 4}}) is None


def test_peak_line_says_when_a_measured_float32_rate_proves_the_estimate_low(benchmarks):
    records = benchmarks.load("records")
    machine = {"peak_gflops": 144.0, "mhz": 2250.0, "peak_formula": "2 cores x 2.25 GHz x 32 FLOPs/cycle",
               "clock_source": "/proc/cpuinfo cpu MHz"}
    assert records.peak_line(machine, [100.0, None, 144.0]) == (
        "Estimated float32 peak: 2 cores x 2.25 GHz x 32 FLOPs/cycle = 144 GFLOP/s.")
    line = records.peak_line(machine, [100.0, 180.0])
    # 180 GFLOP/s on 2 cores x 32 FLOPs/cycle needs a clock of at least 180 / 64 = 2.81 GHz.
    assert "ran float32 at 180 GFLOP/s" in line and "at least 2.81 GHz" in line
    assert records.peak_line({"peak_gflops": None}, [180.0]) == "Peak: unknown."


def test_the_command_names_the_onednn_setting_it_ran_under(benchmarks, monkeypatch):
    records = benchmarks.load("records")
    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)
    assert records.command("peers.py", ["--rounds", "3"]) == "python experiments/benchmarks/peers.py --rounds 3"
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")
    assert records.command("peers.py", ["--rounds", "3"]) == (
        "TF_ENABLE_ONEDNN_OPTS=0 python experiments/benchmarks/peers.py --rounds 3")


def test_interleaved_rows_call_the_versions_in_turn_and_pair_with_the_first(benchmarks):
    records = benchmarks.load("records")
    order = []
    calls = {name: (lambda name=name: order.append(name)) for name in ("first", "second", "third")}
    rows = records.interleaved_rows(calls, 4, "speedup", shapes="28x28x1, 64", dtype="float32")
    assert order == ["first", "second", "third"] * 4  # one call each per repeat, in turn
    assert [r["version"] for r in rows] == ["first", "second", "third"]
    first = rows[0]["ms_per_repeat"]
    for row in rows:
        assert row["shapes"] == "28x28x1, 64" and row["dtype"] == "float32"
        times = row["ms_per_repeat"]
        assert len(times) == 4 and all(t > 0 for t in times)
        assert row["ms"] == pytest.approx((sorted(times)[1] + sorted(times)[2]) / 2)  # the median of four
        ratios = sorted(a / b for a, b in zip(first, times))  # paired by repeat
        assert row["speedup"] == pytest.approx((ratios[1] + ratios[2]) / 2)
    assert rows[0]["speedup"] == 1.0  # the first version paired with itself
