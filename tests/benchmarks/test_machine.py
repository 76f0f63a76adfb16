"""experiments/benchmarks/machine.py: the estimated float32 peak per kind of CPU."""
import pytest


@pytest.mark.parametrize("vendor, family, flags, per_cycle", [
    ("AuthenticAMD", "25", {"avx2", "fma", "avx512f"}, 32),   # Zen 4: AVX-512 split in two 256-bit halves
    ("AuthenticAMD", "26", {"avx2", "fma", "avx512f"}, 64),   # Zen 5: two full-width 512-bit FMA units
    ("GenuineIntel", "6", {"avx2", "fma", "avx512f", "amx_bf16"}, 64),
    ("AuthenticAMD", "23", {"avx2", "fma"}, 32),              # two 256-bit FMA units
    ("GenuineIntel", "6", {"sse4_2"}, 16),
])
def test_peak_is_cores_times_clock_times_flops_per_cycle(monkeypatch, benchmarks, vendor, family, flags, per_cycle):
    machine = benchmarks.load("machine")
    monkeypatch.setattr(machine, "lscpu", lambda: {
        "Vendor ID": vendor, "CPU family": family, "Core(s) per socket": "2", "Socket(s)": "1",
        "CPU max MHz": "2500.0"})
    monkeypatch.setattr(machine, "cpu_flags", lambda: flags)
    info = machine.cpu_info()
    assert info["flops_per_cycle_per_core"] == per_cycle
    assert info["peak_gflops"] == pytest.approx(2 * 2.5 * per_cycle)


@pytest.mark.parametrize("vendor, family, flags, name", [
    ("AuthenticAMD", "25", {"avx2", "fma", "avx512f", "avx512_bf16"}, "cpu2-amd-zen4"),
    ("AuthenticAMD", "26", {"avx2", "fma", "avx512f", "avx512_bf16"}, "cpu2-amd-avx512"),
    ("AuthenticAMD", "23", {"avx2", "fma"}, "cpu2-amd-avx2"),
    ("GenuineIntel", "6", {"avx2", "fma", "avx512f", "amx_bf16"}, "cpu2-intel-amx"),
    ("GenuineIntel", "6", {"avx2", "fma", "avx512f"}, "cpu2-intel-avx512"),
])
def test_device_names_keep_cpu_kinds_of_different_peaks_apart(monkeypatch, benchmarks, vendor, family, flags, name):
    machine = benchmarks.load("machine")
    monkeypatch.setattr(machine, "lscpu", lambda: {"Vendor ID": vendor, "CPU family": family})
    monkeypatch.setattr(machine, "cpu_flags", lambda: flags)
    monkeypatch.setattr(machine.os, "cpu_count", lambda: 2)
    assert machine.cpu_device_name() == name
