"""gan_tf's default training step against the loops a user would otherwise run, on identical networks.

The networks are `gan_tf.networks.dcgan_generator` / `dcgan_discriminator` at width 64 (at 28x28x1
exactly the layers of TensorFlow's DCGAN tutorial; at 64x64x3 the DCGAN paper's 4x4x1024 -> ... ->
64x64x3 generator), batch 256 at 28x28x1 and 128 at 64x64x3, in these loops. Every TensorFlow loop
runs these builders, gan_tf's layers included (dropout masks from 16-bit draws since gan_tf 0.2.0,
a fused BatchNorm since 0.3.0: dropout_benchmark.py, batch_norm_benchmark.py), so that the loops,
not the layers, are compared; the tutorial's loop also runs on the layers its published code uses:

- `gan_tf`: `GAN.fit` as the experiment CLI builds and runs it (`gan_tf.experiments.runner.build_gan`
  on the CLI's default config with width 64, the shape's batch size and the tutorial discriminator's
  dropout, 0.3, where the modern recipe has none; its strategy, precision and
  `jit_compile` resolved as the CLI resolves them; its per-step callbacks `NonFiniteGuard` and
  `Throughput`; no progress bar). oneDNN as the CLI chooses it: `gan_tf.cpu.choose_onednn` where
  that module exists, else `TF_ENABLE_ONEDNN_OPTS=1` on CPUs with AVX2 + FMA where TensorFlow leaves
  oneDNN off (no AVX-512 VNNI/BF16, AVX-VNNI or AMX); a `TF_ENABLE_ONEDNN_OPTS` the user set wins.
- `gan_tf_float32`: the same in float32, timed only where the CLI's default precision is not
  float32 (`--mixed_precision=auto` is bfloat16 on CPUs with native bfloat16): the float32 GFLOP/s
  goal compares it, not the bfloat16 default, with the peers' float32.
- `tutorial`: the `train_step` of TensorFlow's DCGAN tutorial (`throughput.TutorialLoop`: one
  `tf.function`, two tapes, simultaneous updates) at TensorFlow's defaults: no `jit_compile`, oneDNN
  as TensorFlow decides (`TF_ENABLE_ONEDNN_OPTS` removed from its environment).
- `tutorial_keras_layers`: the same loop on the same builders with Keras's own `BatchNormalization`
  and `Dropout` (`throughput.keras_layers`): the tutorial's code as a user runs it. The goals are
  stated against both: `tutorial` measures what gan_tf's loop gains, this one what a user gains.
- `keras_io`: the `train_step` of keras-io's examples/generative/dcgan_overriding_train_step.py as
  published (fake and real images concatenated through D with noisy labels, then a fresh fake batch
  for G), Keras 3 `fit` with its own `jit_compile` default ("auto"), TensorFlow's oneDNN default,
  its Adam(3e-4) and BCE on logits. As published it calls the networks without `training=True`, so
  Keras runs BatchNormalization and Dropout in inference mode (harmless for the example's own
  networks, which have neither).
- `torch`: PyTorch on the CPU with the loop of pytorch/examples dcgan/main.py (D on real and on the
  detached fake, then G reusing the fake batch), the same network shapes (`peers_torch.py`) and
  `torch.set_num_threads` = TensorFlow's intra-op thread count (its default: the CPUs this process
  may run on). Needs `pip install -e ".[bench]"` (torch==2.13.0); skipped when torch is missing.

Every measurement is a fresh process (oneDNN and thread settings are per process): per round and
image size, each loop in turn (the order rotated from round to round) builds its networks, takes
`--warmup` untimed steps (tracing), then times `--steps` steps on the same four prepared batches
(uniform noise in [-1, 1]; the input pipeline is not timed). Reported per loop: medians over rounds
of images/s, CPU-seconds per image (user + system time of the process's threads during the timed
steps), GFLOP/s (FLOPs per step counted on the step itself: `throughput.count_flops` on the traced
TensorFlow graph, `torch.utils.flop_counter` for PyTorch; 2 per multiply-accumulate of
convolutions and matrix products) against the estimated float32 peak (`machine.cpu_info`), peak
RSS of the process (from `wait4`), and the ratio to `tutorial` paired within each round.

Writes experiments/benchmarks/peers_<device>.json and .md (`machine.device_name`). On a shared
machine the numbers say little: record them on an idle one.

    python experiments/benchmarks/peers.py                                   # the record
    python experiments/benchmarks/peers.py --rounds 1 --steps 1 --shapes 28x28x1 --out_dir /tmp/peers
"""
import argparse
import dataclasses
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import records  # noqa: E402  (this folder)
from throughput import (  # noqa: E402
    DROPOUT, LATENT_DIM, SHAPES, WIDTH, _per_shape, paired_quartiles, paired_ratio, shape_names)

LOOPS = ("gan_tf", "gan_tf_float32", "tutorial", "tutorial_keras_layers", "keras_io", "torch")
GAN_TF_LOOPS = ("gan_tf", "gan_tf_float32")  # the CLI's loop: they get its oneDNN choice
REFERENCE = "tutorial"
DEFAULT_STEPS = {"28x28x1": 10, "64x64x3": 4}
DEFAULT_ROUNDS = 5
ONEDNN_VARIABLE = "TF_ENABLE_ONEDNN_OPTS"
HERE = os.path.dirname(os.path.abspath(__file__))
# The issue's goals for gan_tf's default, as paired ratios: {peer: {shape: minimum}}.
TUTORIAL_GOALS = {"28x28x1": 1.4, "64x64x3": 1.3}
GOALS = {"tutorial": TUTORIAL_GOALS, "tutorial_keras_layers": TUTORIAL_GOALS,
         "keras_io": {"28x28x1": 1.0, "64x64x3": 1.0},
         "torch": {"28x28x1": 1.0, "64x64x3": 1.0}}


# ------------------------------------------------------------------ settings of each process
def cli_onednn_choice(environ):
    """(TF_ENABLE_ONEDNN_OPTS value to set or None, reason, where the rule came from) as the CLI decides."""
    from gan_tf.cpu import choose_onednn

    value, reason = choose_onednn(environ)
    return value, reason, "gan_tf.cpu.choose_onednn"


def worker_environment(loop, cli_choice):
    """The environment of a loop's process: the CLI's oneDNN choice for gan_tf, TensorFlow's default else."""
    env = dict(os.environ)
    if loop in GAN_TF_LOOPS:
        if cli_choice[0] is not None:
            env[ONEDNN_VARIABLE] = cli_choice[0]
    else:
        env.pop(ONEDNN_VARIABLE, None)
    return env


def cli_precision():
    """The precision the CLI gives a new run on this machine (`--mixed_precision=auto`)."""
    from gan_tf.cpu import choose_precision

    return choose_precision()[0]


def default_loops():
    """Every loop; `gan_tf_float32` only where it is not the same as `gan_tf`."""
    return [loop for loop in LOOPS if loop != "gan_tf_float32" or cli_precision() != "none"]


def default_threads():
    """TensorFlow's default intra-op thread count: the CPUs this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


# ------------------------------------------------------------------ the TensorFlow loops (worker side)
def fixed_batches(image_shape, batch_size):
    """Four batches of uniform noise in [-1, 1] (numpy, NHWC), the same for every loop (peers_torch too)."""
    import numpy as np

    rng = np.random.default_rng(0)
    return [rng.uniform(-1, 1, (batch_size, *image_shape)).astype(np.float32) for _ in range(4)]


def cli_config(**changes):
    """The MNIST CLI's default config (its default recipe where recipes exist), with `changes` on top."""
    try:
        from gan_tf.experiments import recipes
    except ImportError:
        from gan_tf.experiments.config import ExperimentConfig

        return ExperimentConfig(**changes).validate()
    return recipes.resolve("mnist", **changes)


class CliDefaultLoop:
    """gan_tf's `GAN.fit` as the experiment CLI (gan_tf.experiments.runner) builds and runs it."""

    def __init__(self, image_shape, batch_size, width=WIDTH, precision=None, dropout=None):
        """`width`, `dropout` (the discriminator's, `--d_dropout`): the CLI default's where None."""
        from gan_tf import callbacks, distribute
        from gan_tf.experiments import runner

        changes = {"width": width, "d_dropout": dropout}
        config = cli_config(batch_size=batch_size,
                            **{name: value for name, value in changes.items() if value is not None})
        if precision:
            config = dataclasses.replace(config, mixed_precision=precision)
        strategy = distribute.make_strategy(config.strategy)
        jit_compile = distribute.resolve_jit_compile(config.jit_compile, strategy)
        if config.mixed_precision == "auto":  # what the CLI gives a new run on this machine
            config = dataclasses.replace(config, mixed_precision=cli_precision())
        distribute.set_precision(config.mixed_precision)
        with strategy.scope():
            self.gan = runner.build_gan(config, image_shape, strategy.num_replicas_in_sync, jit_compile)
        self.generator, self.discriminator = self.gan.generator, self.gan.discriminator
        # The CLI's callbacks that act on every step; the rest act at epoch ends only.
        self.callbacks = [callbacks.NonFiniteGuard(), callbacks.Throughput(batch_size)]
        self.settings = {"recipe": getattr(config, "recipe", "(no recipes on this branch: the config's defaults)"),
                         "strategy": distribute.strategy_name(strategy), "jit_compile": jit_compile,
                         "mixed_precision": config.mixed_precision, "loss": config.loss,
                         "width": config.width, "d_lr": config.d_lr, "beta_1": config.beta_1,
                         "d_steps": config.d_steps, "d_dropout": getattr(config, "d_dropout", DROPOUT)}

    def concrete_step(self, spec):
        import tensorflow as tf

        return tf.function(self.gan.train_step).get_concrete_function(spec)

    def run(self, dataset, steps):
        from throughput import fit_step_times

        return fit_step_times(self.gan, dataset, steps, self.callbacks)


CLI_STEPS_PER_ROUND = {"28x28x1": 10, "64x64x3": 3}  # `cli_step_rows`' default: 3-6 s per model and round on Zen 5


def cli_step_arguments(argv, description, alone, step_rounds=10):
    """The flags of a benchmark that times one piece of the step alone (`alone`, e.g. "the layer"), then
    the whole CLI-default step (`cli_step_rows`): --repeats, --step_rounds, --step_steps, --out_dir.
    Refuses bad values (exit status 2) before any work."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--repeats", type=int, default=30, help=f"interleaved repeats of {alone} alone")
    parser.add_argument("--step_rounds", type=int, default=step_rounds, help="rounds of whole training steps (0: none)")
    parser.add_argument("--step_steps", type=int, default=0, help="training steps per model and round (0: "
                        + ", ".join(f"{n} at {shape}" for shape, n in CLI_STEPS_PER_ROUND.items()) + ")")
    parser.add_argument("--out_dir", default=HERE)
    args = parser.parse_args(argv)
    records.require_positive(parser, args, ["repeats"])
    if args.step_rounds < 0 or args.step_steps < 0:
        parser.error(f"--step_rounds={args.step_rounds}, --step_steps={args.step_steps}; expected >= 0")
    return args


def cli_step_rows(versions, rounds, steps, speedup_key, alternate=True):
    """gan_tf's CLI-default training step (`CliDefaultLoop`) on the peer networks in several versions,
    one model per version in this process, each built and run inside its own block; a row per image
    size and version: median of the round medians, and the speed-up over the first version paired by round.

    Args:
      versions: {name: function returning a context manager}, e.g. one that swaps a layer.
      rounds: timed rounds; round 0 traces and warms up every model, untimed.
      steps: steps of each model per round (0: `CLI_STEPS_PER_ROUND`'s, by image size).
      speedup_key: the rows' key for the paired speed-up over the first version.
      alternate: reverse the order of the models every other round (else always the given order).
    """
    import tensorflow as tf

    names = list(versions)
    rows = []
    for shape_name, (image_shape, batch_size) in SHAPES.items():
        feed = tf.data.Dataset.from_tensor_slices(fixed_batches(image_shape, batch_size)).repeat()
        loops = {}
        for name in names:
            with versions[name]():
                loops[name] = CliDefaultLoop(image_shape, batch_size, dropout=DROPOUT)
        times = {name: [] for name in names}
        for round_index in range(rounds + 1):
            order = names[::-1] if alternate and round_index % 2 == 0 else names
            for name in order:
                with versions[name]():
                    walls = [wall for wall, _ in loops[name].run(feed, steps or CLI_STEPS_PER_ROUND[shape_name])]
                if round_index:
                    times[name].append(statistics.median(walls))
        for name in names:
            rows.append({
                "shapes": f"{shape_name}, {batch_size}", "version": name,
                "precision": loops[name].settings["mixed_precision"],
                "ms": 1000 * statistics.median(times[name]),
                speedup_key: statistics.median(b / v for b, v in zip(times[names[0]], times[name])),
                "ms_per_round": [1000 * v for v in times[name]],
            })
            print(f"  step {shape_name} {name:34s} {rows[-1]['ms']:7.1f} ms", file=sys.stderr, flush=True)
    return rows


def cli_step_table(rows, rounds, version_column, speedup_key, speedup_label):
    """Markdown lines of `cli_step_rows`' rows: a sentence on the protocol, then one table row per row."""
    lines = ["", f"The whole training step of gan_tf's CLI default (peers.py's networks), two models in one "
             f"process; median over {rounds} rounds of each round's median step.", "",
             f"| image, batch | precision | {version_column} | ms per step | speed-up vs {speedup_label} (paired) |",
             "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['shapes']} | {r['precision']} | {r['version']} | {r['ms']:.1f} | {r[speedup_key]:.3f}x |")
    return lines


class KerasIoLoop:
    """keras-io's `GAN.train_step` (examples/generative/dcgan_overriding_train_step.py, fchollet) as
    published, on the benchmark's networks, run by Keras 3 `fit`."""

    def __init__(self, image_shape, batch_size):
        import keras
        import tensorflow as tf

        from throughput import build_networks

        class GAN(keras.Model):
            def __init__(self, discriminator, generator, latent_dim):
                super().__init__()
                self.discriminator = discriminator
                self.generator = generator
                self.latent_dim = latent_dim

            def compile(self, d_optimizer, g_optimizer, loss_fn):
                super().compile()
                self.d_optimizer = d_optimizer
                self.g_optimizer = g_optimizer
                self.loss_fn = loss_fn

            def train_step(self, real_images):
                # Sample random points in the latent space
                batch_size = tf.shape(real_images)[0]
                random_latent_vectors = tf.random.normal(shape=(batch_size, self.latent_dim))
                # Decode them to fake images
                generated_images = self.generator(random_latent_vectors)
                # Combine them with real images
                combined_images = tf.concat([generated_images, real_images], axis=0)
                # Assemble labels discriminating real from fake images
                labels = tf.concat([tf.ones((batch_size, 1)), tf.zeros((batch_size, 1))], axis=0)
                # Add random noise to the labels - important trick!
                labels += 0.05 * tf.random.uniform(tf.shape(labels))
                # Train the discriminator
                with tf.GradientTape() as tape:
                    predictions = self.discriminator(combined_images)
                    d_loss = self.loss_fn(labels, predictions)
                grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
                self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_weights))
                # Sample random points in the latent space
                random_latent_vectors = tf.random.normal(shape=(batch_size, self.latent_dim))
                # Assemble labels that say "all real images"
                misleading_labels = tf.zeros((batch_size, 1))
                # Train the generator (note that we should *not* update the weights
                # of the discriminator)!
                with tf.GradientTape() as tape:
                    predictions = self.discriminator(self.generator(random_latent_vectors))
                    g_loss = self.loss_fn(misleading_labels, predictions)
                grads = tape.gradient(g_loss, self.generator.trainable_weights)
                self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights))
                return {"d_loss": d_loss, "g_loss": g_loss}

        self.generator, self.discriminator = build_networks(image_shape)
        self.gan = GAN(discriminator=self.discriminator, generator=self.generator, latent_dim=LATENT_DIM)
        self.gan.compile(
            d_optimizer=keras.optimizers.Adam(learning_rate=0.0003),
            g_optimizer=keras.optimizers.Adam(learning_rate=0.0003),
            loss_fn=keras.losses.BinaryCrossentropy(from_logits=True),
        )
        self.settings = {"jit_compile": "auto (Keras's default)"}

    def concrete_step(self, spec):
        import tensorflow as tf

        return tf.function(self.gan.train_step).get_concrete_function(spec)

    def run(self, dataset, steps):
        from throughput import fit_step_times

        return fit_step_times(self.gan, dataset, steps)


def make_tf_loop(loop, image_shape, batch_size):
    if loop in GAN_TF_LOOPS:
        return CliDefaultLoop(image_shape, batch_size, precision="none" if loop == "gan_tf_float32" else None,
                              dropout=DROPOUT)
    if loop == "keras_io":
        return KerasIoLoop(image_shape, batch_size)
    from throughput import TutorialLoop

    # tf.function's default jit_compile
    runner = TutorialLoop(image_shape, batch_size, jit_compile=None, stock_layers=loop == "tutorial_keras_layers")
    runner.settings = {"jit_compile": "None (tf.function's default)"}
    return runner


def tf_worker(args):
    """One TensorFlow loop in this fresh process: build, warm up, time; returns a JSON-ready dict."""
    import keras
    import tensorflow as tf
    from tensorflow.python.util import _pywrap_util_port

    from throughput import count_flops

    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    image_shape, batch_size = SHAPES[args.shape]
    runner = make_tf_loop(args.worker, image_shape, batch_size)
    feed = tf.data.Dataset.from_tensor_slices(fixed_batches(image_shape, batch_size)).repeat()
    start = time.perf_counter()
    runner.run(feed, args.warmup)
    result = {"warmup_seconds": time.perf_counter() - start}
    times = runner.run(feed, args.steps)
    result.update(
        step_seconds=[wall for wall, _ in times], step_cpu_seconds=[cpu for _, cpu in times],
        onednn=bool(_pywrap_util_port.IsMklEnabled()), settings=runner.settings,
        threads=tf.config.threading.get_intra_op_parallelism_threads() or default_threads(),
        versions={"tensorflow": tf.__version__, "keras": keras.__version__},
        trainable_parameters={name: int(sum(v.numpy().size for v in net.trainable_variables))
                              for name, net in (("generator", runner.generator),
                                                ("discriminator", runner.discriminator))},
    )
    if args.count_flops:  # after the timed steps: tracing again must not disturb them
        spec = tf.TensorSpec([batch_size, *image_shape], tf.float32)
        result["flops_per_step"] = sum(count_flops(runner.concrete_step(spec)).values())
    return result


# ------------------------------------------------------------------ one process per measurement
def run_worker(loop, shape_name, steps, args, cli_choice, count_flops):
    """Runs one loop in a fresh process; its result plus the process's peak RSS (MiB)."""
    image_shape, batch_size = SHAPES[shape_name]
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "result.json")
        if loop == "torch":
            command = [sys.executable, os.path.join(HERE, "peers_torch.py"), "--shape", shape_name,
                       "--batch_size", str(batch_size), "--latent_dim", str(LATENT_DIM), "--width", str(WIDTH),
                       "--threads", str(args.threads or default_threads())]
        else:
            command = [sys.executable, os.path.abspath(__file__), "--worker", loop, "--shape", shape_name,
                       "--threads", str(args.threads)]
        command += ["--steps", str(steps), "--warmup", str(args.warmup), "--result", path]
        command += ["--count_flops"] if count_flops else []
        peak_rss = run_process(command, worker_environment(loop, cli_choice))
        with open(path) as f:
            result = json.load(f)
    result["peak_rss_mib"] = peak_rss
    return result


def run_process(command, env):
    """Runs a command to its end; its peak resident memory in MiB. Raises if it fails."""
    process = subprocess.Popen(command, env=env)
    # wait4, not wait: the child's own peak RSS (ru_maxrss, KiB on Linux), whatever it imported.
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"exit {process.returncode}: {' '.join(command)}")
    return usage.ru_maxrss / 1024


def summarise(shape_name, runs, peak_gflops):
    """Per loop: medians over rounds and ratios to the reference paired within each round."""
    _, batch_size = SHAPES[shape_name]
    loops = {}
    for loop, results in runs.items():
        flops = next((r["flops_per_step"] for r in results if "flops_per_step" in r), None)
        images = [len(r["step_seconds"]) * batch_size for r in results]
        entry = {
            "images_per_second_per_repeat": [n / sum(r["step_seconds"]) for n, r in zip(images, results)],
            "images_per_cpu_second_per_repeat": [n / sum(r["step_cpu_seconds"]) for n, r in zip(images, results)],
            "peak_rss_mib_per_repeat": [r["peak_rss_mib"] for r in results],
            "flops_per_step": flops,
            "onednn": [r["onednn"] for r in results],
            "threads": results[0]["threads"],
            "settings": results[0].get("settings", {}),
            "versions": results[0]["versions"],
            "trainable_parameters": results[0]["trainable_parameters"],
            "warmup_seconds": [r["warmup_seconds"] for r in results],
            "step_seconds": [r["step_seconds"] for r in results],
            "step_cpu_seconds": [r["step_cpu_seconds"] for r in results],
        }
        entry["images_per_second"] = statistics.median(entry["images_per_second_per_repeat"])
        entry["cpu_seconds_per_image"] = statistics.median(1 / x for x in entry["images_per_cpu_second_per_repeat"])
        entry["peak_rss_mib"] = max(entry["peak_rss_mib_per_repeat"])
        entry["gflops_per_second"] = flops * entry["images_per_second"] / batch_size / 1e9 if flops else None
        entry["percent_of_peak"] = (100 * entry["gflops_per_second"] / peak_gflops
                                    if entry["gflops_per_second"] and peak_gflops else None)
        loops[loop] = entry
    reference = loops.get(REFERENCE)
    if reference:
        for entry in loops.values():
            entry["vs_tutorial"] = paired_ratio(entry, reference)
            entry["vs_tutorial_quartiles"] = paired_quartiles(entry, reference)
            entry["cpu_vs_tutorial"] = paired_ratio(entry, reference, "images_per_cpu_second_per_repeat")
    return {"shape": shape_name, "batch_size": batch_size, "loops": loops,
            "same_networks": same_networks(loops), "goals": goals(shape_name, loops)}


def goals(shape_name, loops):
    """The issue's goals for gan_tf's default: paired images/s ratios to each peer, and GFLOP/s."""
    out = []
    if "gan_tf" not in loops:
        return out
    for peer, minimum in GOALS.items():
        if peer in loops and shape_name in minimum:
            value = paired_ratio(loops["gan_tf"], loops[peer])
            out.append({"what": f"gan_tf / {peer} images/s (paired)", "peer": peer, "value": value,
                        "minimum": minimum[shape_name], "met": value >= minimum[shape_name]})
    # float32 against float32: gan_tf's own float32 loop where its default is bfloat16.
    float32 = "gan_tf_float32" if "gan_tf_float32" in loops else "gan_tf"
    rates = {loop: e["gflops_per_second"] for loop, e in loops.items()
             if e["gflops_per_second"] and (loop not in GAN_TF_LOOPS or loop == float32)}
    if float32 in rates:
        best = max(rates, key=rates.get)
        value = rates[float32] / rates[best]
        out.append({"what": f"{float32} float32 GFLOP/s / best ({best})", "peer": best, "value": value,
                    "minimum": 0.9, "met": value >= 0.9})
    return out


def same_networks(loops):
    """True if every loop's networks have the same trainable parameter counts, else the counts."""
    counts = {loop: entry["trainable_parameters"] for loop, entry in loops.items()}
    return True if len({json.dumps(c, sort_keys=True) for c in counts.values()}) <= 1 else counts


# ------------------------------------------------------------------ report
def precision_name(entry):
    """float32, or the mixed policy a gan_tf loop ran in."""
    policy = entry.get("settings", {}).get("mixed_precision", "none")
    return "float32" if policy == "none" else policy


def markdown(report):
    machine = report["machine"]
    lines = [
        f"Device: {report['device']} ({machine['model']}, {machine['cores']} cores, {machine['simd']}); "
        f"TensorFlow {report['versions'].get('tensorflow')}, Keras {report['versions'].get('keras')}, "
        f"PyTorch {report['versions'].get('torch', 'not installed')}; threads {report['threads']}.",
        records.peak_line(machine, [e["gflops_per_second"] for shape in report["shapes"]
                                    for e in shape["loops"].values() if precision_name(e) == "float32"]),
        f"gan_tf's oneDNN: {report['gan_tf_onednn']['reason']} ({report['gan_tf_onednn']['rule']}).",
        f"Command: `{report['command']}`; {report['rounds']} round(s); load average at start "
        f"{report['load_average_start']}, at end {report['load_average_end']}.",
    ]
    if records.busy_note(report):
        lines.append(records.busy_note(report))
    lines += [
        "",
        "| image, batch | loop | images/s | vs tutorial* | CPU-s/image | vs tutorial, CPU time* | GFLOP/step "
        "| GFLOP/s | % of peak | peak RSS | oneDNN | precision |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]

    ratio = records.ratio_text

    def number(value, digits, suffix=""):
        return "-" if value is None else f"{value:.{digits}f}{suffix}"

    for shape in report["shapes"]:
        for loop in LOOPS:
            if loop not in shape["loops"]:
                continue
            e = shape["loops"][loop]
            onednn = "on" if all(e["onednn"]) else "off" if not any(e["onednn"]) else "mixed"
            flops = e["flops_per_step"] / 1e9 if e["flops_per_step"] else None
            lines.append(
                f"| {shape['shape']}, {shape['batch_size']} | {loop} | {e['images_per_second']:.0f} | "
                f"{ratio(e, 'vs_tutorial')} | {1000 * e['cpu_seconds_per_image']:.2f} ms | "
                f"{number(e.get('cpu_vs_tutorial'), 2, 'x')} | {number(flops, 1)} | "
                f"{number(e['gflops_per_second'], 1)} | {number(e['percent_of_peak'], 0, '%')} | "
                f"{e['peak_rss_mib']:.0f} MiB | {onednn} | {precision_name(e)} |"
            )
    for skipped in report["skipped"]:
        lines.append(f"| all | {skipped['loop']} | skipped: {skipped['reason']} | | | | | | | | | |")
    lines += ["", "*median over rounds of the ratio to `tutorial` in the same round (25th-75th percentiles "
              "in brackets from 4 rounds on); CPU time: the same for images per CPU-second of each process.",
              "", "Goals for gan_tf's default (paired images/s ratios):", ""]
    for shape in report["shapes"]:
        for goal in shape["goals"]:
            lines.append(f"- {shape['shape']}: {goal['what']} = {goal['value']:.2f} "
                         f"(goal >= {goal['minimum']}: {'met' if goal['met'] else 'NOT met'})")
        if shape["same_networks"] is not True:
            lines.append(f"- {shape['shape']}: WARNING, trainable parameter counts differ: {shape['same_networks']}")
    return "\n".join(lines) + "\n"


def record_name(report):
    """peers, or peers_threads<N> for a run at a thread count asked for (--threads), so that it does
    not replace the record at TensorFlow's default in the same folder (reports before the field: peers)."""
    return f"peers_threads{report['threads']}" if report.get("threads_pinned") else "peers"


def write(report, out_dir):
    base = records.write(report, out_dir, record_name(report), markdown(report))
    print(f"wrote {base}.json and {base}.md", file=sys.stderr)
    return base


# ------------------------------------------------------------------ main
def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shapes", default=",".join(SHAPES), help="comma-separated, from: " + ", ".join(SHAPES))
    parser.add_argument("--loops", default="", help="comma-separated, from: " + ", ".join(LOOPS) +
                        " (default: all; gan_tf_float32 only where the CLI's default is not float32)")
    parser.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS, help="rounds of one process per loop and size")
    parser.add_argument("--steps", default="", help="timed steps per process: N, or e.g. 28x28x1=10,64x64x3=4 "
                        "(defaults: " + ", ".join(f"{k}={v}" for k, v in DEFAULT_STEPS.items()) + ")")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps per process before timing")
    parser.add_argument("--threads", type=int, default=0,
                        help="TensorFlow intra-op threads = torch.set_num_threads (0: TensorFlow's default, "
                             "the CPUs this process may run on)")
    parser.add_argument("--out_dir", default=HERE)
    parser.add_argument("--from_json", default="", help="only re-render the table of a recorded JSON file")
    parser.add_argument("--worker", default="", help=argparse.SUPPRESS)  # internal: one TF loop
    parser.add_argument("--shape", default="", help=argparse.SUPPRESS)
    parser.add_argument("--count_flops", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--result", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.shape_list = shape_names(parser, args.shapes)
    args.loop_list = [x for x in args.loops.split(",") if x] or default_loops()
    for x in args.loop_list:
        if x not in LOOPS:
            parser.error(f"--loops: {x!r} is not one of {', '.join(LOOPS)}")
    if REFERENCE not in args.loop_list:
        parser.error(f"--loops must include {REFERENCE}: every ratio is to it")
    if args.rounds < 1 or args.warmup < 1 or args.threads < 0:
        parser.error("--rounds and --warmup: expected integers >= 1; --threads: >= 0")
    args.steps_text, args.steps = args.steps, _per_shape(parser, "--steps", args.steps)
    if args.worker:
        args.steps = int(args.steps_text)
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.worker:  # a process of its own, started by main
        return records.write_worker_result(args.result, tf_worker(args))
    if args.from_json:
        with open(args.from_json) as f:
            report = json.load(f)
        return write(report, os.path.dirname(os.path.abspath(args.from_json)))

    from machine import cpu_info, device_name

    started = time.time()
    machine = cpu_info()
    cli_choice = cli_onednn_choice(os.environ)
    loops = list(args.loop_list)
    skipped = []
    if "torch" in loops and importlib.util.find_spec("torch") is None:
        loops.remove("torch")
        skipped.append({"loop": "torch", "reason": 'torch is not installed (pip install -e ".[bench]")'})
    report = {
        "command": records.command("peers.py", argv),
        "device": device_name(), "machine": machine, "rounds": args.rounds, "warmup_steps": args.warmup,
        "threads": args.threads or default_threads(), "threads_pinned": bool(args.threads),
        "gan_tf_onednn": {ONEDNN_VARIABLE: cli_choice[0], "reason": cli_choice[1], "rule": cli_choice[2]},
        "load_average_start": records.load_average(),
        "versions": records.versions(),
        "skipped": skipped, "shapes": [],
    }
    runs = {shape: {loop: [] for loop in loops} for shape in args.shape_list}
    for round_index in range(args.rounds):
        for shape_name in args.shape_list:
            steps = args.steps.get(shape_name, DEFAULT_STEPS[shape_name])
            # Rotated each round, so that no loop always runs first (or right after another).
            order = loops[round_index % len(loops):] + loops[:round_index % len(loops)]
            for loop in order:
                result = run_worker(loop, shape_name, steps, args, cli_choice, count_flops=round_index == 0)
                runs[shape_name][loop].append(result)
                print(f"  round {round_index + 1}/{args.rounds} {shape_name} {loop:8s} "
                      f"{1000 * statistics.mean(result['step_seconds']):.0f} ms/step "
                      f"({1000 * statistics.mean(result['step_cpu_seconds']):.0f} ms CPU), "
                      f"peak RSS {result['peak_rss_mib']:.0f} MiB", file=sys.stderr, flush=True)
    for shape_name in args.shape_list:
        report["shapes"].append(summarise(shape_name, runs[shape_name], machine["peak_gflops"]))
    if "torch" in loops:
        report["versions"]["torch"] = runs[args.shape_list[0]]["torch"][0]["versions"]["torch"]
    report["load_average_end"] = records.load_average()
    report["wall_seconds"] = time.time() - started
    return write(report, args.out_dir)


if __name__ == "__main__":
    main()
