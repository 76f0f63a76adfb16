"""Does oneDNN speed up `python -m gan_tf.evaluate` as it speeds up training?

TensorFlow reads `TF_ENABLE_ONEDNN_OPTS` once per process, so the two settings cannot share one:
this script runs the evaluate command on one run directory in fresh processes, with the variable
at 0 (off) and at 1 (on), alternating which goes first over `--rounds` rounds, and reports the
median seconds of each (the command's own timer: restoring the generator, drawing and scoring the
samples, the real-data floor; and the wall time of the whole process, TensorFlow's start-up
included), the paired ratio off/on per round, and how far the scores moved (oneDNN sums in another
order). The reference statistics are computed once before the timed rounds, as after a user's first
evaluation.

Without `--run_dir` it first trains one: the MNIST experiment's default recipe for `--train_steps`
steps on the offline digits (the networks decide the cost of scoring, not how well they trained).

    python experiments/benchmarks/evaluate_onednn.py --rounds 3

Prints a Markdown table and writes experiments/benchmarks/evaluate_onednn_<device>.json and .md.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import records  # this folder

HERE = os.path.dirname(os.path.abspath(__file__))
SETTINGS = ("0", "1")  # TF_ENABLE_ONEDNN_OPTS: off, on


def train_run(run_dir, steps):
    """The MNIST experiment's default recipe for `steps` steps into `run_dir`, offline."""
    subprocess.run([sys.executable, "-m", "gan_tf.experiments.mnist", "--epochs=1", f"--steps_per_epoch={steps}",
                    f"--out_dir={run_dir}", "--verbose=0"], check=True, env=_env(None), stdout=subprocess.DEVNULL)


def evaluate_once(run_dir, setting, num_samples, cache_dir, output):
    """One `python -m gan_tf.evaluate` process; its seconds, wall seconds, CPU seconds and scores."""
    before = os.times()
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "gan_tf.evaluate", f"--run_dir={run_dir}", f"--num_samples={num_samples}",
                    f"--cache_dir={cache_dir}", f"--output={output}"], check=True, env=_env(setting),
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after = os.times()
    with open(output) as f:
        record = json.load(f)
    return {"seconds": record["seconds"], "wall_seconds": round(wall, 2),
            "cpu_seconds": round(after.children_user + after.children_system
                                 - before.children_user - before.children_system, 2),
            "onednn_enabled": record["onednn"]["enabled"], "metrics": record["metrics"]}


def _env(setting):
    env = dict(os.environ, GAN_TF_OFFLINE="1", TF_CPP_MIN_LOG_LEVEL="2")
    if setting is None:
        env.pop("TF_ENABLE_ONEDNN_OPTS", None)  # the experiment's own choice
    else:
        env["TF_ENABLE_ONEDNN_OPTS"] = setting
    return env


def summarise(rounds):
    """Medians per setting, the paired ratio off/on of `seconds` per round, and the scores' largest move."""
    rows = {}
    for setting in SETTINGS:
        timed = [r[setting] for r in rounds]
        rows[setting] = {key: statistics.median(t[key] for t in timed)
                         for key in ("seconds", "wall_seconds", "cpu_seconds")}
        rows[setting]["onednn_enabled"] = sorted({t["onednn_enabled"] for t in timed}, key=str)
    ratios = [r["0"]["seconds"] / r["1"]["seconds"] for r in rounds]
    quartiles = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratios[0], ratios[0]]
    moved = {name: max(abs(r["1"]["metrics"][name] - r["0"]["metrics"][name]) / max(abs(r["0"]["metrics"][name]),
                                                                                     1e-12) for r in rounds)
             for name in rounds[0]["0"]["metrics"]}
    return rows, {"median": statistics.median(ratios), "quartiles": [quartiles[0], quartiles[-1]],
                  "per_round": ratios}, moved


def markdown(report):
    rows, ratio = report["rows"], report["speed_on_vs_off"]
    lines = [f"# `python -m gan_tf.evaluate` with oneDNN off and on ({report['device']})", "",
             f"`{report['command']}`: {report['rounds']} rounds, {report['num_samples']:,} samples, "
             f"load average {report['load_average_start'][0]} at the start.", "",
             "| TF_ENABLE_ONEDNN_OPTS | oneDNN on | evaluate's own seconds | wall seconds (with start-up) "
             "| CPU seconds |", "|---|---|---|---|---|"]
    for setting in SETTINGS:
        row = rows[setting]
        lines.append(f"| {setting} | {', '.join(map(str, row['onednn_enabled']))} | {row['seconds']:.1f} "
                     f"| {row['wall_seconds']:.1f} | {row['cpu_seconds']:.1f} |")
    lines += ["", f"Speed with oneDNN on over off, evaluate's own seconds paired per round: **{ratio['median']:.2f}×** "
              f"({ratio['quartiles'][0]:.2f}–{ratio['quartiles'][1]:.2f}). Largest relative change of a score "
              f"between the two settings: {max(report['scores_moved'].values()):.1e} "
              f"({max(report['scores_moved'], key=report['scores_moved'].get)})."]
    note = records.busy_note(report)
    return "\n".join(lines + ([note] if note else [])) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run_dir", help="a trained run to evaluate (default: train one, see --train_steps)")
    parser.add_argument("--train_steps", type=int, default=30)
    parser.add_argument("--num_samples", type=int, default=10000, help="evaluate's own default")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out_dir", default=HERE)
    args = parser.parse_args(argv)
    records.require_positive(parser, args, ("train_steps", "num_samples", "rounds"))
    if args.run_dir is not None and not os.path.isfile(os.path.join(args.run_dir, "config.json")):
        parser.error(f"--run_dir={args.run_dir}: expected a training run's directory (with a config.json)")
    report = records.head("evaluate_onednn.py", argv)  # before any TensorFlow process: the load it found
    with tempfile.TemporaryDirectory() as scratch:
        run_dir = args.run_dir or os.path.join(scratch, "run")
        if args.run_dir is None:
            print(f"training a run for {args.train_steps} steps ...", file=sys.stderr)
            train_run(run_dir, args.train_steps)
        cache_dir, output = os.path.join(scratch, "cache"), os.path.join(scratch, "eval.json")
        evaluate_once(run_dir, "1", args.num_samples, cache_dir, output)  # computes the reference statistics
        rounds = []
        for index in range(args.rounds):
            order = SETTINGS if index % 2 == 0 else SETTINGS[::-1]
            rounds.append({s: evaluate_once(run_dir, s, args.num_samples, cache_dir, output) for s in order})
            print(f"round {index + 1}/{args.rounds}: " + ", ".join(
                f"TF_ENABLE_ONEDNN_OPTS={s} {rounds[-1][s]['seconds']:.1f} s" for s in SETTINGS), file=sys.stderr)
    rows, ratio, moved = summarise(rounds)
    report.update(rounds=args.rounds, num_samples=args.num_samples, per_round=rounds, rows=rows,
                  speed_on_vs_off=ratio, scores_moved=moved, versions=records.versions(),
                  load_average_end=records.load_average())
    records.write(report, args.out_dir, "evaluate_onednn", markdown(report))


if __name__ == "__main__":
    main()
