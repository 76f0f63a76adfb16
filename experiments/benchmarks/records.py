"""What every benchmark of this folder records beside its numbers: the command line, the load average,
the library versions, and the report files `<name>_<device>.json` and `.md`.

Shared by the benchmark scripts (`python experiments/benchmarks/<script>.py` puts the folder on sys.path).
"""
import json
import os
import platform
import statistics
import sys
import time


def command(script, argv=None):
    """The command line that reproduces a run of `script` (a file name in this folder), with the
    `TF_ENABLE_ONEDNN_OPTS` it ran under if one was set: it decides which kernels TensorFlow runs."""
    onednn = os.environ.get("TF_ENABLE_ONEDNN_OPTS")
    return " ".join([*([f"TF_ENABLE_ONEDNN_OPTS={onednn}"] if onednn is not None else []),
                     f"python experiments/benchmarks/{script}", *(sys.argv[1:] if argv is None else argv)])


def load_average():
    """The 1, 5 and 15 minute load averages: how busy the shared machine was."""
    return [round(x, 2) for x in os.getloadavg()]


def busy_note(report):
    """A warning line for the report when the machine was busy before the benchmark started, else None.

    Only the load at the start says so: by the end the 1-minute average holds the benchmark's own
    processes (a 2-thread TensorFlow step alone brings a 2-core machine to about 1.5)."""
    if report["load_average_start"][0] > 0.5 * report["machine"]["logical_cpus"]:
        return "**The machine was busy (load average above half its CPUs): these numbers are not a record.**"
    return None


def versions():
    """gan_tf's, TensorFlow's, Keras's and Python's versions (imports TensorFlow)."""
    import keras
    import tensorflow as tf

    import gan_tf

    return {"gan_tf": gan_tf.__version__, "tensorflow": tf.__version__, "keras": keras.__version__,
            "python": platform.python_version()}


def write(report, out_dir, name, text):
    """Prints `text` and writes `<out_dir>/<name>_<report["device"]>.json` (the report) and `.md` (`text`);
    returns that path without its suffix."""
    print(text)
    os.makedirs(out_dir, exist_ok=True)
    base = os.path.join(out_dir, f"{name}_{report['device']}")
    with open(base + ".json", "w") as f:
        json.dump(report, f, indent=1)
    with open(base + ".md", "w") as f:
        f.write(text)
    return base


def head(script, argv=None):
    """The first fields of a report: the command, the device, the machine and the load average at the start."""
    from machine import cpu_info, device_name

    return {"command": command(script, argv), "device": device_name(), "machine": cpu_info(),
            "load_average_start": load_average()}


def write_worker_result(path, result):
    """A worker process's answer to its parent (which reads it with `json.load`)."""
    with open(path, "w") as f:
        json.dump(result, f)


def write_json(report, out_dir, name, text):
    """Prints `text` and writes `report` (which holds `text` as well) to `<out_dir>/<name>_<device>.json`."""
    print(text)
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, f"{name}_{report['device']}.json")
    with open(path, "w") as f:
        json.dump(report, f, indent=1)
    print(f"wrote {path}", file=sys.stderr)
    return path


def ratio_text(entry, key):
    """`entry[key]` as a ratio with its quartiles (`<key>_quartiles`) where known, for a Markdown cell."""
    if key not in entry:
        return "-"
    quartiles = entry.get(key + "_quartiles")
    return f"{entry[key]:.2f}x" + (f" ({quartiles[0]:.2f}-{quartiles[1]:.2f})" if quartiles else "")


def require_positive(parser, args, names):
    """Refuses (through `parser.error`, exit status 2) any of the flags `names` below 1."""
    for name in names:
        if getattr(args, name) < 1:
            parser.error(f"--{name}={getattr(args, name)}: expected an integer >= 1")


def peak_line(machine, float32_gflops=()):
    """The report line that states the CPU's estimated float32 peak (see `machine.cpu_info`).

    `float32_gflops`: the rates the report measured in float32. A rate above the estimate proves the
    estimate low (a virtual machine's /proc/cpuinfo gives its base clock, and turbo runs faster), and
    the line says so, since a "% of peak" above 100 would otherwise read as a counting error.
    """
    peak = machine["peak_gflops"]
    if not peak:
        return "Peak: unknown."
    line = f"Estimated float32 peak: {machine['peak_formula']} = {peak:.0f} GFLOP/s."
    fastest = max((rate for rate in float32_gflops if rate), default=0)
    if fastest > peak:
        clock = fastest / peak * machine["mhz"] / 1000
        line += (f" A loop here ran float32 at {fastest:.0f} GFLOP/s, above it: the cores ran above the clock "
                 f"of the estimate ({machine['clock_source']}), at least {clock:.2f} GHz, so read \"% of peak\" "
                 f"as a comparison between the loops, not as a fraction of what the hardware can do.")
    return line


def interleaved_rows(calls, repeats, speedup_key, **fields):
    """Times each of `calls` ({version: callable without arguments, already traced}) once per repeat, in
    turn, so that the machine's drift hits all alike; one row per version: `fields`, the version, its
    median ms, its speed-up over the first version (median of the ratios paired by repeat) under
    `speedup_key`, and every repeat's ms. Prints each row as it is done."""
    times = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - start)
    base = next(iter(times.values()))
    rows = []
    for name, values in times.items():
        rows.append({**fields, "version": name, "ms": 1000 * statistics.median(values),
                     speedup_key: statistics.median(b / v for b, v in zip(base, values)),
                     "ms_per_repeat": [1000 * v for v in values]})
        label = " ".join(v for v in fields.values() if isinstance(v, str))
        print(f"  {label} {name:34s} {rows[-1]['ms']:8.2f} ms", file=sys.stderr, flush=True)
    return rows
