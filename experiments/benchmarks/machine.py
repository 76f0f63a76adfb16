"""What machine a benchmark ran on: CPU model and SIMD, estimated peak, device name, memory.

Shared by the benchmark scripts of this folder (`python experiments/benchmarks/<script>.py` puts
the folder on sys.path). The device name goes into the recorded files' names, so that runs on
different kinds of machine never overwrite each other: `gpu<N>-<model>`, or for CPUs
`cpu<N>-<vendor>-<isa>` (e.g. `cpu2-intel-amx`, `cpu2-amd-avx2`): TensorFlow's speed on a CPU
depends above all on its vector units (oneDNN is on by default only with AVX-512 VNNI/BF16 or
AMX, and bfloat16 is native only with avx512_bf16/amx_bf16). AMD's AVX-512 cores get the core's
name in place of the ISA where the ISA alone does not tell the vector width: `cpu2-amd-zen4` (each
512-bit operation in two halves), while `cpu2-amd-avx512` is Zen 5's full width.
"""
import os
import platform
import re
import subprocess

from gan_tf.cpu import cpu_flags, has_native_bfloat16  # without importing TensorFlow


def lscpu():
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    return {k.strip(): v.strip() for k, v in (line.split(":", 1) for line in out.splitlines() if ":" in line)}


def isa_level(flags):
    """The vector unit that decides TensorFlow's CPU speed: amx, avx512, avx2 or generic."""
    if "amx_bf16" in flags:
        return "amx"
    if "avx512f" in flags:
        return "avx512"
    if "avx2" in flags:
        return "avx2"
    return "generic"


# AMD's CPU family of Zen 5, the first AMD core that executes AVX-512 at full width (Zen 4, family
# 25, splits each 512-bit operation in two 256-bit halves).
ZEN5_FAMILY = 26


def amd_family(info):
    """lscpu's "CPU family" as a number (0 when not reported)."""
    try:
        return int(info.get("CPU family", "0"))
    except ValueError:
        return 0


def half_width_avx512(info, flags):
    """True on AMD cores before Zen 5 with AVX-512 (Zen 4): each 512-bit operation runs in two halves."""
    return "avx512f" in flags and "AMD" in info.get("Vendor ID", "") and amd_family(info) < ZEN5_FAMILY


def cpu_info():
    """Model, cores, clock, SIMD flags and the estimated float32 peak of this CPU.

    Peak = cores x GHz x float32 FLOPs per cycle per core: 32 with AVX2 + FMA (two 256-bit FMA
    units x 8 lanes x 2), 64 with AVX-512 on Intel server cores and AMD Zen 5 (CPU family 26; two
    512-bit FMA units: TensorFlow's float32 step measured 281 GFLOP/s on 2 cores at 2.6 GHz, more
    than the 166 a 256-bit datapath allows), 32 on AMD Zen 4 (double-pumped AVX-512), 16 otherwise.
    The clock is lscpu's "CPU max MHz" when reported, else the current "cpu MHz" (a virtual machine's
    base clock; turbo can be higher, so the peak and the fraction of it are estimates). AMX's bfloat16
    tiles are not counted.
    """
    info = lscpu()
    flags = cpu_flags()
    cores = int(info.get("Core(s) per socket", os.cpu_count() or 1)) * int(info.get("Socket(s)", 1))
    mhz, clock_source = None, None
    if info.get("CPU max MHz"):
        mhz, clock_source = float(info["CPU max MHz"]), "lscpu CPU max MHz"
    elif os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as f:
            values = [float(line.split(":", 1)[1]) for line in f if line.startswith("cpu MHz")]
        if values:
            mhz, clock_source = max(values), "/proc/cpuinfo cpu MHz (current clock; turbo may be higher)"
    vendor = info.get("Vendor ID", "")
    if "avx512f" in flags:
        double_pumped = half_width_avx512(info, flags)
        per_cycle = 32 if double_pumped else 64
        simd = "AVX-512 (" + ("double-pumped 256-bit, AMD Zen 4" if double_pumped else
                              "2 x 512-bit FMA" + (", AMD Zen 5" if "AMD" in vendor else "")) + ")"
        if "amx_bf16" in flags:
            simd += " + AMX-BF16"
    elif "avx2" in flags and "fma" in flags:
        per_cycle, simd = 32, "AVX2 + FMA (2 x 256-bit FMA)"
    else:
        per_cycle, simd = 16, "SSE/AVX without FMA"
    peak = cores * mhz / 1000 * per_cycle if mhz else None
    return {
        "model": info.get("Model name", platform.processor()),
        "vendor": vendor,
        "cores": cores,
        "logical_cpus": os.cpu_count(),
        "mhz": mhz,
        "clock_source": clock_source,
        "simd": simd,
        "isa": isa_level(flags),
        "flops_per_cycle_per_core": per_cycle,
        "native_bf16": has_native_bfloat16(),
        "peak_gflops": peak,
        "peak_formula": f"{cores} cores x {f'{mhz / 1000:.2f}' if mhz else '?'} GHz x {per_cycle} FLOPs/cycle",
    }


def cpu_device_name():
    info = lscpu()
    vendor = info.get("Vendor ID", "")
    vendor = "intel" if "Intel" in vendor else "amd" if "AMD" in vendor else (platform.machine() or "cpu").lower()
    flags = cpu_flags()
    # Zen 4 has half the float32 peak of Zen 5's `avx512` per clock: a kind of its own.
    isa = "zen4" if half_width_avx512(info, flags) and isa_level(flags) == "avx512" else isa_level(flags)
    return f"cpu{os.cpu_count()}-{vendor}-{isa}"


def device_name():
    """`gpu<N>-<model>` when TensorFlow sees GPUs, else `cpu<N>-<vendor>-<isa>`."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        name = re.sub(r"[^a-z0-9]+", "-", details.get("device_name", "gpu").lower()).strip("-")
        return f"gpu{len(gpus)}-{name}"
    return cpu_device_name()


def memory_mib():
    """(current RSS, peak RSS) of this process in MiB, from /proc/self/status."""
    values = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("VmRSS", "VmHWM")):
                key, value = line.split(":")
                values[key] = int(value.split()[0]) / 1024
    return values.get("VmRSS"), values.get("VmHWM")
