"""experiments/benchmarks/records.py: when a report calls its machine busy."""


def test_busy_only_when_the_load_before_the_benchmark_was_above_half_the_cpus(benchmarks):
    records = benchmarks.load("records")
    machine = {"logical_cpus": 2}
    # The load at the end holds the benchmark's own processes: it does not count.
    assert records.busy_note({"load_average_start": [0.77, 0.8, 1.1], "load_average_end": [1.9, 1.5, 1.5],
                              "machine": machine}) is None
    assert records.busy_note({"load_average_start": [1.01, 0.5, 0.5], "machine": machine}).startswith("**The machine")
    assert records.busy_note({"load_average_start": [1.01, 0.5, 0.5], "machine": {"logical_cpus": 4}}) is None
