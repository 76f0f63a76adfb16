"""What this CPU offers TensorFlow, read without importing TensorFlow.

`choose_onednn` decides `TF_ENABLE_ONEDNN_OPTS` for every gan_tf command and the notebooks
(`apply_onednn_choice`). TensorFlow reads that variable once, when it is imported, so the choice has
to be made before; it is recorded in the run's config.json (`resolved.onednn`). Measured in
experiments/benchmarks/onednn_cpu2-amd-avx2.md and evaluate_onednn_cpu2-amd-avx2.md: on an AMD EPYC
with AVX2, where TensorFlow leaves oneDNN off, turning it on made training 1.5x and evaluation 1.3x faster.
"""
import os
import sys

# CPU flags that give native bfloat16 arithmetic to TensorFlow's oneDNN kernels; without them
# bfloat16 convolutions fall back to slow emulation (experiments/benchmarks/throughput_*.md).
NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")

# TensorFlow's own default on Linux x86 (tensorflow/core/util/util.cc, IsMKLEnabled): oneDNN is on
# when the CPU has one of these "neural network" features, off otherwise.
ONEDNN_DEFAULT_ON_FLAGS = ("avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile", "amx_int8", "amx_bf16")
# Where TensorFlow leaves it off, gan_tf turns it on only on CPUs of the kind it was measured on.
ONEDNN_MEASURED_FLAGS = ("avx2", "fma")

ONEDNN_VARIABLE = "TF_ENABLE_ONEDNN_OPTS"


def cpu_flags():
    """The CPU feature flags of this machine (from /proc/cpuinfo), or an empty set."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def has_native_bfloat16(flags=None):
    """True if this CPU has bfloat16 instructions TensorFlow's kernels use."""
    flags = cpu_flags() if flags is None else flags
    return any(flag in flags for flag in NATIVE_BF16_FLAGS)


def _has_gpu():
    # TensorFlow does not recommend its oneDNN custom ops beside GPUs; a driver node is enough
    # to tell, without starting TensorFlow.
    return os.path.exists("/proc/driver/nvidia") or os.path.exists("/dev/nvidiactl")


def choose_onednn(environ=None, flags=None, has_gpu=None):
    """Whether to set `TF_ENABLE_ONEDNN_OPTS=1` before TensorFlow is imported, and why.

    Args:
      environ: the environment (default `os.environ`); a value the user set there always wins.
      flags: CPU feature flags (default: this machine's).
      has_gpu: whether a GPU driver is present (default: looked up).

    Returns:
      `(value, reason)`: `value` is "1" to set, or None to leave the environment alone.
    """
    environ = os.environ if environ is None else environ
    if ONEDNN_VARIABLE in environ:
        return None, f"{ONEDNN_VARIABLE}={environ[ONEDNN_VARIABLE]} was set by the user"
    flags = cpu_flags() if flags is None else set(flags)
    if not flags:
        return None, "CPU features unknown (no x86 flags in /proc/cpuinfo): TensorFlow's default"
    if any(flag in flags for flag in ONEDNN_DEFAULT_ON_FLAGS):
        return None, "TensorFlow turns oneDNN on by itself on this CPU (AVX-512 VNNI/BF16 or AMX)"
    if _has_gpu() if has_gpu is None else has_gpu:
        return None, "a GPU is present: TensorFlow's default"
    if all(flag in flags for flag in ONEDNN_MEASURED_FLAGS):
        return "1", ("TensorFlow leaves oneDNN off on this CPU (AVX2 without AVX-512 VNNI/AMX), where it made "
                     "training 1.5x and evaluation 1.3x faster (experiments/benchmarks/onednn_cpu2-amd-avx2.md, "
                     "evaluate_onednn_cpu2-amd-avx2.md)")
    return None, "CPU without AVX2 and FMA: TensorFlow's default"


# What `--mixed_precision=auto` (the default) resolves to is measured in PRECISION_RECORD.
PRECISION_RECORD = "experiments/mixed_precision/README.md"


def choose_precision(flags=None, has_gpu=None):
    """The precision `--mixed_precision=auto` (the default) gives a new run on this machine.

    bfloat16 on CPUs that compute it natively (`NATIVE_BF16_FLAGS`: AVX-512 BF16, AMX-BF16): there
    the default recipe's samples at the same steps were no worse than float32's over seeds (MNIST and
    Fashion-MNIST), and the small MNIST step (width 32, batch 64) was 1.1x (AMD Zen 5) and 1.2x (AMD
    Zen 4; both AVX-512 BF16, the default recipe) and 1.3x (AMX, the 2016 recipe) faster, larger
    networks' 1.3-1.6x. float32 everywhere else: without native bfloat16 TensorFlow emulates it (12-20x
    slower), and on a GPU gan_tf's mixed precision has not been measured. (`PRECISION_RECORD`.)

    Args:
      flags: CPU feature flags (default: this machine's).
      has_gpu: whether a GPU driver is present (default: looked up).

    Returns:
      `(policy, reason)`: `policy` is "mixed_bfloat16" or "none" (float32).
    """
    if _has_gpu() if has_gpu is None else has_gpu:
        return "none", ("auto: float32 on a GPU machine (--mixed_precision mixed_float16, or mixed_bfloat16 from "
                        "Ampere on, is the usual speed-up there; not measured with gan_tf)")
    flags = cpu_flags() if flags is None else set(flags)
    native = [flag for flag in NATIVE_BF16_FLAGS if flag in flags]
    if native:
        return "mixed_bfloat16", (f"auto: bfloat16, native on this CPU ({', '.join(native)}), where it made the "
                                  "small MNIST step 1.1-1.3x faster (larger networks 1.3-1.6x) with the default "
                                  f"recipe's samples no worse than float32's over seeds ({PRECISION_RECORD})")
    return "none", "auto: float32, as this CPU has no native bfloat16 (TensorFlow would emulate it, 12-20x slower)"


_applied = None  # what apply_onednn_choice did in this process


def apply_onednn_choice(environ=None, tensorflow_imported=None):
    """Sets `TF_ENABLE_ONEDNN_OPTS` as `choose_onednn` says, unless the user set it.

    Must run before TensorFlow is imported (TensorFlow reads the variable once): every command
    line calls it before TensorFlow starts, the notebooks in their first cell after the install. Once
    TensorFlow is imported, setting it would change nothing but the record, so it is left alone
    and the reason says so.

    Args:
      environ: the environment (default `os.environ`).
      tensorflow_imported: whether TensorFlow is already imported (default: looked up in
        `sys.modules`).

    Returns:
      `onednn_status()`.
    """
    global _applied
    environ = os.environ if environ is None else environ
    if _applied is not None and _applied["chosen_by"] == "gan_tf" and environ.get(ONEDNN_VARIABLE) == "1":
        return onednn_status(environ)  # called again (a notebook cell run twice): the value is gan_tf's own
    value, reason = choose_onednn(environ)
    if tensorflow_imported is None:
        tensorflow_imported = "tensorflow" in sys.modules
    if value is not None and tensorflow_imported:
        value, reason = None, (f"too late to set {ONEDNN_VARIABLE}={value}: TensorFlow was imported first "
                               f"(restart, and let gan_tf choose before anything imports TensorFlow). "
                               f"It would have: {reason}")
    if value is not None:
        environ[ONEDNN_VARIABLE] = value
    _applied = {"chosen_by": "gan_tf" if value is not None else
                ("user" if ONEDNN_VARIABLE in environ else "tensorflow"), "reason": reason}
    return onednn_status(environ)


def onednn_status(environ=None):
    """{TF_ENABLE_ONEDNN_OPTS, chosen_by (gan_tf, user or tensorflow), reason}, for config.json."""
    environ = os.environ if environ is None else environ
    if _applied is not None:
        choice = _applied
    elif ONEDNN_VARIABLE in environ:
        choice = {"chosen_by": "user", "reason": f"{ONEDNN_VARIABLE} was set before gan_tf started"}
    else:
        choice = {"chosen_by": "tensorflow", "reason": "not chosen by gan_tf (no gan_tf command line)"}
    return {ONEDNN_VARIABLE: environ.get(ONEDNN_VARIABLE), **choice}


def onednn_record():
    """`onednn_status()` and whether TensorFlow's oneDNN kernels are in fact on ("enabled"), for the
    records of runs and evaluations; imports TensorFlow (call it once TensorFlow is running)."""
    try:  # TensorFlow has no public query
        from tensorflow.python.util import _pywrap_util_port

        enabled = bool(_pywrap_util_port.IsMklEnabled())
    except (ImportError, AttributeError):
        enabled = None
    return {**onednn_status(), "enabled": enabled}
