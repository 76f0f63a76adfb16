"""Training throughput of gan_tf's `GAN.fit` against the canonical loop of TensorFlow's DCGAN tutorial.

For DCGAN at 28x28x1 (batch 256, width 64: exactly the tutorial's layer sizes) and 64x64x3 (batch 128,
width 64: the DCGAN paper's 4x4x1024 -> ... -> 64x64x3 generator), both built by
`gan_tf.networks.dcgan_generator/dcgan_discriminator` so that the two loops train identical networks
on identical batches, it measures:

- images/s of `GAN.fit` (alternating updates, the fake batch reused) and of the tutorial's
  `train_step` (one `tf.function`, two tapes, simultaneous updates, noise drawn inside), for each
  precision (`none`, `mixed_bfloat16`) and `jit_compile` (false, true). Each repeat times `--steps`
  steps (default 1) of every configuration in turn (interleaved, so that load from other processes
  and the drifting speed of a virtual machine hit all configurations alike); the table gives the
  median over `--repeats` repeats, and ratios paired within each repeat. Steps are timed from
  the start to the end of each step (fetching the batch included), after one untimed warm-up
  step per configuration (tracing, XLA compilation).
- FLOPs per step, counted on the traced step graph of each loop: 2 x the multiply-accumulates of
  every Conv2D, Conv2DBackpropInput (also the forward pass of Conv2DTranspose), Conv2DBackpropFilter
  and MatMul op, from their static shapes. Element-wise work (BatchNorm, activations, Adam) is not
  counted; it is a few per cent. GFLOP/s = FLOPs per step x steps per second.
- The machine's peak float32 FLOP/s, estimated by `machine.cpu_info` (cores x GHz x FLOPs per
  cycle; an estimate: a virtual machine reports its base clock).
- The input pipeline alone (`gan_tf.data.training_batches` over the MNIST offline default, and over
  in-memory 64x64x3 uint8 images) in images/s, against what the training step consumes.
- Peak resident memory (VmHWM) of the process that measured each image size (each size runs in
  its own process; all of that size's configurations are alive in it).

Two kinds of configuration are so slow on a CPU that they are skipped unless `--include_slow` is
given (and then timed with one step per repeat); the table lists them with the reason:
- bfloat16 without XLA on CPUs without native bfloat16 (avx512_bf16 / amx_bf16): emulated kernels,
  12-20x slower than float32 (one 28x28x1 step took 43-59 s against about 3 s on 2 EPYC cores);
- XLA at 64x64x3 on a CPU: XLA:CPU compiled the step in 200-270 s and then took 235 s per step
  against 24 s without XLA (2 AMD EPYC cores, AVX2, oneDNN off); on 2 Intel Xeon cores with AMX
  it compiled in 124 s (bfloat16: 144 s) and took 116 s per step (bfloat16: 125 s) against
  about 3.7 s without XLA.

Prints a Markdown table and writes experiments/benchmarks/throughput_<device>.json and .md, the
device named by `machine.device_name` (e.g. cpu2-intel-amx, cpu2-amd-avx2, gpu1-<model>).

    python experiments/benchmarks/throughput.py                    # all of the above
    python experiments/benchmarks/throughput.py --repeats 5 --steps 28x28x1=3,64x64x3=2
    python experiments/benchmarks/throughput.py --shapes 28x28x1 --precisions none --jit false
"""
import argparse
import collections
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import records  # noqa: E402  (this folder)
from machine import cpu_info, device_name, memory_mib  # noqa: E402  (this folder)

SHAPES = {"28x28x1": ((28, 28, 1), 256), "64x64x3": ((64, 64, 3), 128)}
# One step per configuration per repeat, many repeats: the configurations of a repeat then run
# within seconds of each other, and the paired ratios cancel the drift of a shared or virtual
# machine's speed (on these VMs even a numpy matmul varies by +-20% from one second to the next).
DEFAULT_STEPS = {"28x28x1": 1, "64x64x3": 1}
DEFAULT_REPEATS = {"28x28x1": 15, "64x64x3": 7}
LATENT_DIM = 100  # the tutorial's noise_dim
WIDTH = 64
DROPOUT = 0.3  # the tutorial discriminator's (gan_tf's modern recipe has none: the peers run the tutorial's networks)
LOOPS = ("gan_tf", "tutorial")
HERE = os.path.dirname(os.path.abspath(__file__))


# ------------------------------------------------------------------ FLOPs
def _dims(shape):
    dims = shape.as_list() if shape.rank is not None else None
    if dims is None or any(d is None for d in dims):
        raise ValueError(f"unknown shape {shape}: trace the step with a fixed batch size")
    return dims


def _macs(op):
    """Multiply-accumulates of one convolution or matrix product op (NHWC), else 0."""
    if op.type in ("Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter"):
        if op.get_attr("data_format") != b"NHWC":
            raise ValueError(f"{op.name}: only NHWC is counted")
        if op.type == "Conv2D":
            n, h, w, c_out = _dims(op.outputs[0].shape)
            kh, kw, c_in, _ = _dims(op.inputs[1].shape)
            return n * h * w * c_out * kh * kw * c_in
        # Both backprops cost what the forward convolution whose output gradient they take does.
        out_grad = _dims(op.inputs[2].shape)
        kernel = _dims(op.inputs[1].shape if op.type == "Conv2DBackpropInput" else op.outputs[0].shape)
        kh, kw, c_in, c_out = kernel
        n, h, w, c = out_grad
        assert c == c_out, op.name
        return n * h * w * c_out * kh * kw * c_in
    if op.type == "MatMul":
        a, b = (_dims(t.shape) for t in op.inputs)
        m, k = a[::-1] if op.get_attr("transpose_a") else a
        n = b[0] if op.get_attr("transpose_b") else b[1]
        return m * n * k
    if op.type in ("BatchMatMul", "BatchMatMulV2", "BatchMatMulV3", "Einsum", "Conv3D", "DepthwiseConv2dNative"):
        raise ValueError(f"{op.name}: op type {op.type} is not counted by this benchmark")
    return 0


# Op types `_macs` counts or refuses: a branch holding none of them adds no FLOPs to the count.
_COUNTED_OPS = {"Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter", "MatMul", "BatchMatMul", "BatchMatMulV2",
                "BatchMatMulV3", "Einsum", "Conv3D", "DepthwiseConv2dNative"}


def _branches_hold(library, op, op_types):
    """Whether a conditional's branches (and the functions they call) hold an op of `op_types`."""
    pending = [op.get_attr(name).name for name in ("then_branch", "else_branch")]
    seen = set()
    while pending:
        name = pending.pop()
        if name in seen or name not in library:
            continue
        seen.add(name)
        for node in library[name].node_def:
            if node.op in op_types:
                return True
            pending += [value.func.name for value in node.attr.values() if value.HasField("func")]
    return False


def _live_ops(graph):
    """Ops that run: those the outputs, control outputs or stateful ops (variable updates) depend on.

    A traced step also holds gradient ops nobody uses (e.g. the filter gradients of the
    discriminator when differentiating the generator's loss); TensorFlow prunes them before
    running, so they are not counted.
    """
    roots = [t.op for t in graph.outputs] + list(getattr(graph, "control_outputs", []))
    roots += [op for op in graph.get_operations() if op._is_stateful]
    live, stack = set(), list(roots)
    while stack:
        op = stack.pop()
        if op in live:
            continue
        live.add(op)
        stack.extend(t.op for t in op.inputs)
        stack.extend(op.control_inputs)
    return live


def count_flops(concrete_function):
    """{op type: FLOPs} of one traced step (2 FLOPs per multiply-accumulate), of the ops that run."""
    totals = collections.Counter()
    graph = concrete_function.graph
    library = {f.signature.name: f for f in graph.as_graph_def().library.function}
    for op in _live_ops(graph):
        if op.type in ("If", "StatelessIf") and not _branches_hold(library, op, _COUNTED_OPS):
            continue  # e.g. the augmentation skipped while ADA's p is 0: elementwise ops only, no MACs
        if op.type in ("PartitionedCall", "StatefulPartitionedCall", "While", "StatelessWhile", "If", "StatelessIf"):
            raise ValueError(f"{op.name}: nested function ops are not counted; the step must be one flat graph")
        macs = _macs(op)
        if macs:
            totals[op.type] += 2 * macs
    return dict(totals)


def forward_macs(model):
    """Analytic multiply-accumulates of one forward pass per example (Conv2D, Conv2DTranspose, Dense)."""
    import keras

    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2DTranspose):
            _, h, w, c_in = layer.input.shape
            kh, kw = layer.kernel_size
            total += h * w * c_in * layer.filters * kh * kw
        elif isinstance(layer, keras.layers.Conv2D):
            _, h, w, c_out = layer.output.shape
            kh, kw = layer.kernel_size
            total += h * w * c_out * kh * kw * layer.input.shape[-1]
        elif isinstance(layer, keras.layers.Dense):
            total += layer.input.shape[-1] * layer.units
    return int(total)


# ------------------------------------------------------------------ the loops
@contextlib.contextmanager
def keras_layers(batch_norm=True, dropout=True):
    """gan_tf's network builders make Keras's own BatchNormalization and/or Dropout inside this block,
    the layers the TensorFlow tutorial's published code uses, instead of gan_tf's (fused BatchNorm;
    dropout masks from 16-bit draws). Same variables, so the same networks to a parameter."""
    import keras

    from gan_tf.networks import dcgan
    from gan_tf.networks import layers as gan_layers

    swaps = [(module, name, stock) for module, name, stock, wanted in (
        (dcgan, "BatchNormalization", keras.layers.BatchNormalization, batch_norm),
        (gan_layers, "Dropout", keras.layers.Dropout, dropout)) if wanted]
    originals = [getattr(module, name) for module, name, _ in swaps]
    try:
        for module, name, stock in swaps:
            setattr(module, name, stock)
        yield
    finally:
        for (module, name, _), original in zip(swaps, originals):
            setattr(module, name, original)


def build_networks(image_shape):
    import keras

    from gan_tf import networks

    keras.utils.set_random_seed(0)
    generator = networks.dcgan_generator(LATENT_DIM, image_shape, width=WIDTH)
    discriminator = networks.dcgan_discriminator(image_shape, width=WIDTH, dropout=DROPOUT)
    return generator, discriminator


class GanTfLoop:
    """gan_tf's `GAN.fit`: alternating updates, the fake batch reused, timed by a callback."""

    def __init__(self, image_shape, batch_size, jit_compile):
        import keras

        from gan_tf import GAN

        self.generator, self.discriminator = build_networks(image_shape)
        self.gan = GAN(self.generator, self.discriminator, LATENT_DIM, seed=0)
        # The tutorial's optimizers and loss (BCE on logits = gan_tf's non_saturating pair).
        self.gan.compile(
            d_optimizer=keras.optimizers.Adam(1e-4),
            g_optimizer=keras.optimizers.Adam(1e-4),
            loss="non_saturating",
            jit_compile=jit_compile,
        )
        self.batch_size = batch_size

    def concrete_step(self, spec):
        import tensorflow as tf

        return tf.function(self.gan.train_step).get_concrete_function(spec)

    def run(self, dataset, steps):
        return fit_step_times(self.gan, dataset, steps)


def fit_step_times(model, dataset, steps, callbacks=()):
    """[(wall, CPU) seconds] of each step of one `model.fit` over `steps` steps, timed by a callback
    (from the start to the end of each batch; `fit`'s per-call set-up is not counted)."""
    import keras

    times = []

    class Timer(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            self.start = (time.perf_counter(), time.process_time())

        def on_train_batch_end(self, batch, logs=None):
            times.append((time.perf_counter() - self.start[0], time.process_time() - self.start[1]))

    # The timer last: it then also counts the other callbacks' work at the end of each batch.
    model.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0, callbacks=[*callbacks, Timer()], shuffle=False)
    return times


class TutorialLoop:
    """The `train_step` of TensorFlow's DCGAN tutorial (tensorflow.org/tutorials/generative/dcgan),
    verbatim but for the networks (shared builders; with `stock_layers`, built with Keras's own
    BatchNormalization and Dropout, as the tutorial's code is) and, for XLA, `jit_compile=True`."""

    def __init__(self, image_shape, batch_size, jit_compile, stock_layers=False):
        import keras
        import tensorflow as tf

        with keras_layers() if stock_layers else contextlib.nullcontext():
            generator, discriminator = build_networks(image_shape)
        cross_entropy = keras.losses.BinaryCrossentropy(from_logits=True)

        def discriminator_loss(real_output, fake_output):
            real_loss = cross_entropy(tf.ones_like(real_output), real_output)
            fake_loss = cross_entropy(tf.zeros_like(fake_output), fake_output)
            return real_loss + fake_loss

        def generator_loss(fake_output):
            return cross_entropy(tf.ones_like(fake_output), fake_output)

        generator_optimizer = keras.optimizers.Adam(1e-4)
        discriminator_optimizer = keras.optimizers.Adam(1e-4)
        # Built up front: XLA cannot create the slots inside the compiled step.
        generator_optimizer.build(generator.trainable_variables)
        discriminator_optimizer.build(discriminator.trainable_variables)

        def train_step(images):
            noise = tf.random.normal([batch_size, LATENT_DIM])
            with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
                generated_images = generator(noise, training=True)
                real_output = discriminator(images, training=True)
                fake_output = discriminator(generated_images, training=True)
                gen_loss = generator_loss(fake_output)
                disc_loss = discriminator_loss(real_output, fake_output)
            gradients_of_generator = gen_tape.gradient(gen_loss, generator.trainable_variables)
            gradients_of_discriminator = disc_tape.gradient(disc_loss, discriminator.trainable_variables)
            generator_optimizer.apply_gradients(zip(gradients_of_generator, generator.trainable_variables))
            discriminator_optimizer.apply_gradients(
                zip(gradients_of_discriminator, discriminator.trainable_variables)
            )

        self.generator, self.discriminator = generator, discriminator
        self.train_step = tf.function(train_step, jit_compile=jit_compile)

    def concrete_step(self, spec):
        return self.train_step.get_concrete_function(spec)

    def run(self, dataset, steps):
        times = []
        iterator = iter(dataset)
        for _ in range(steps):
            start = (time.perf_counter(), time.process_time())
            self.train_step(next(iterator))  # for image_batch in dataset: train_step(image_batch)
            times.append((time.perf_counter() - start[0], time.process_time() - start[1]))
        return times


# ------------------------------------------------------------------ one image size
def slow_on_cpu(shape_name, precision, jit, machine):
    """Why a configuration is too slow to time by default on a CPU, or None."""
    if precision == "mixed_bfloat16" and not jit and not machine["native_bf16"]:
        return ("bfloat16 without XLA is emulated on a CPU without avx512_bf16/amx_bf16: 12-20x slower "
                "than float32 (28x28x1: 43-59 s per step)")
    if jit and shape_name == "64x64x3":
        return ("XLA:CPU at 64x64x3: 2-4 min to compile, then 30x slower than without XLA "
                "(116 s against 3.7 s per step on 2 Xeon cores with AMX; 235 s against 24 s on 2 EPYC cores)")
    return None


def pipeline_images_per_second(batches, batch_size, num_batches):
    """Images/s of iterating a batched dataset alone (first batch, which fills buffers, excluded)."""
    iterator = iter(batches)
    next(iterator)
    start = time.perf_counter()
    for _ in range(num_batches):
        next(iterator)
    return num_batches * batch_size / (time.perf_counter() - start)


def training_data(shape_name, image_shape, batch_size, seed=0):
    """(unbatched dataset, number of examples, source) through gan_tf.data, as a run would load it."""
    import numpy as np

    from gan_tf import data
    from gan_tf.data.pipeline import from_arrays

    if shape_name == "28x28x1":
        dataset, info = data.load("mnist", split="train", source="auto", return_info=True)
        return dataset, info.num_examples, f"MNIST offline default ({info.source}, {info.num_examples} images)"
    # No 64x64 dataset offline: smooth random uint8 images held in memory, as CelebA in memory.
    rng = np.random.default_rng(seed)
    count = 20 * batch_size
    low = rng.integers(0, 256, (count, 8, 8, image_shape[-1]), dtype=np.uint8)
    images = np.repeat(np.repeat(low, image_shape[0] // 8, axis=1), image_shape[1] // 8, axis=2)
    return from_arrays(images), count, "synthetic 64x64x3 uint8 images in memory"


def measure_shape(shape_name, args):
    """All configurations of one image size, interleaved; returns a JSON-ready dict."""
    import keras
    import tensorflow as tf

    from gan_tf import data

    from tensorflow.python.util import _pywrap_util_port

    image_shape, batch_size = SHAPES[shape_name]
    steps = args.steps.get(shape_name, DEFAULT_STEPS[shape_name])
    repeats = args.repeats.get(shape_name, DEFAULT_REPEATS[shape_name])
    machine = cpu_info()
    result = {"shape": shape_name, "batch_size": batch_size, "steps_per_repeat": steps,
              "repeats": repeats, "configs": [], "skipped": [],
              "onednn": bool(_pywrap_util_port.IsMklEnabled())}

    # --- input pipeline alone
    dataset, num_examples, source = training_data(shape_name, image_shape, batch_size)
    batches, _ = data.training_batches(dataset, batch_size, num_examples=num_examples, seed=0, num_epochs=10_000)
    result["pipeline"] = {
        "source": source,
        "images_per_second": pipeline_images_per_second(batches, batch_size, args.pipeline_batches),
    }
    # Both loops are fed the same few prepared batches, so that only the step is timed.
    feed = batches.take(4).cache().repeat()

    # --- configurations
    configs = []
    on_cpu = not tf.config.list_physical_devices("GPU")
    for precision in args.precisions:
        for jit in args.jit:
            slow = slow_on_cpu(shape_name, precision, jit, machine) if on_cpu else None
            for loop in LOOPS:
                name = dict(loop=loop, precision=precision, jit_compile=jit)
                if slow and not args.include_slow:
                    result["skipped"].append(dict(name, reason=slow))
                    continue
                keras.mixed_precision.set_global_policy("float32" if precision == "none" else precision)
                loop_class = GanTfLoop if loop == "gan_tf" else TutorialLoop
                configs.append(dict(name, runner=loop_class(image_shape, batch_size, jit), times=[],
                                    steps=1 if slow else steps))
                keras.mixed_precision.set_global_policy("float32")

    # --- FLOPs per step of each loop (the same for every precision and jit setting)
    spec = tf.TensorSpec([batch_size, *image_shape], tf.float32)
    result["flops_per_step"] = {}
    for loop in LOOPS:
        keras.mixed_precision.set_global_policy("float32")
        counter = (GanTfLoop if loop == "gan_tf" else TutorialLoop)(image_shape, batch_size, False)
        by_op = count_flops(counter.concrete_step(spec))
        result["flops_per_step"][loop] = {"total": sum(by_op.values()), "by_op": by_op}
        result["forward_macs_per_image"] = {"generator": forward_macs(counter.generator),
                                            "discriminator": forward_macs(counter.discriminator)}
        del counter

    # --- warm-up (tracing, XLA compilation), then interleaved repeats
    for config in configs:
        start = time.perf_counter()
        config["runner"].run(feed, 1)
        config["warmup_seconds"] = time.perf_counter() - start
        print(f"  warm-up {shape_name} {config['loop']:8s} {config['precision']:14s} jit={config['jit_compile']!s:5s} "
              f"{config['warmup_seconds']:.1f} s", file=sys.stderr, flush=True)
    for repeat in range(repeats):
        for config in configs:
            times = config["runner"].run(feed, config["steps"])
            config["times"].append(times)
            print(f"  repeat {repeat + 1}/{repeats} {shape_name} {config['loop']:8s} {config['precision']:14s} "
                  f"jit={config['jit_compile']!s:5s} {1000 * statistics.mean(t[0] for t in times):.0f} ms/step "
                  f"({1000 * statistics.mean(t[1] for t in times):.0f} ms CPU)",
                  file=sys.stderr, flush=True)

    for config in configs:
        per_repeat = [len(t) * batch_size / sum(wall for wall, _ in t) for t in config["times"]]
        per_cpu_second = [len(t) * batch_size / sum(cpu for _, cpu in t) for t in config["times"]]
        flops = result["flops_per_step"][config["loop"]]["total"]
        median = statistics.median(per_repeat)
        result["configs"].append({
            "loop": config["loop"], "precision": config["precision"], "jit_compile": config["jit_compile"],
            "steps_per_repeat": config["steps"],
            "images_per_second": median,
            "images_per_second_per_repeat": per_repeat,
            "images_per_cpu_second_per_repeat": per_cpu_second,
            "cpu_ms_per_step": 1000 * batch_size / statistics.median(per_cpu_second),
            "ms_per_step": 1000 * batch_size / median,
            "gflops_per_second": flops * median / batch_size / 1e9,
            "warmup_seconds": config["warmup_seconds"],
            "step_seconds": [[wall for wall, _ in t] for t in config["times"]],
            "step_cpu_seconds": [[cpu for _, cpu in t] for t in config["times"]],
        })
    result["memory_mib"] = dict(zip(("rss", "peak_rss"), memory_mib()))
    return result


# ------------------------------------------------------------------ report
def _find(configs, **match):
    for c in configs:
        if all(c[k] == v for k, v in match.items()):
            return c
    return None


def paired_ratio(config, reference, key="images_per_second_per_repeat"):
    """Median over repeats of config's images/s / reference's images/s in the same repeat.

    The configurations of one repeat run back to back, so pairing them cancels most of the
    drift in load from other processes that would skew a ratio of two separate medians.
    With key="images_per_cpu_second_per_repeat", the same for images per CPU-second of the
    process, which depends much less on how much of the machine other processes take.
    """
    pairs = zip(config[key], reference[key])
    return statistics.median(a / b for a, b in pairs)


def paired_quartiles(config, reference, key="images_per_second_per_repeat"):
    """(25th, 75th) percentile over repeats of the paired ratio: how much it moves between repeats."""
    ratios = [a / b for a, b in zip(config[key], reference[key])]
    if len(ratios) < 4:
        return None
    q = statistics.quantiles(ratios, n=4)
    return q[0], q[2]


def summarise(shape):
    """Ratios the issue's goals are stated in (paired per repeat, see `paired_ratio`)."""
    configs = shape["configs"]
    default = _find(configs, loop="gan_tf", precision="none", jit_compile=False)
    tutorial = _find(configs, loop="tutorial", precision="none", jit_compile=False)
    out = {}
    if tutorial:
        for c in configs:
            c["vs_tutorial"] = paired_ratio(c, tutorial)
            c["vs_tutorial_quartiles"] = paired_quartiles(c, tutorial)
            if "images_per_cpu_second_per_repeat" in c:
                c["cpu_vs_tutorial"] = paired_ratio(c, tutorial, "images_per_cpu_second_per_repeat")
    for c in configs:
        # gan_tf's algorithm against the tutorial's, each with the same precision and jit setting.
        same = _find(configs, loop="tutorial", precision=c["precision"], jit_compile=c["jit_compile"])
        if same and c["loop"] == "gan_tf":
            c["vs_tutorial_same_setting"] = paired_ratio(c, same)
            c["vs_tutorial_same_setting_quartiles"] = paired_quartiles(c, same)
    gan_tf = [c for c in configs if c["loop"] == "gan_tf"]
    if default and tutorial:
        out["default_vs_tutorial"] = default["vs_tutorial"]
        out["default_vs_tutorial_cpu_time"] = default.get("cpu_vs_tutorial")
    if gan_tf and tutorial:
        best = max(gan_tf, key=lambda c: c["vs_tutorial"])
        out["best_gan_tf"] = {k: best[k] for k in ("precision", "jit_compile")}
        out["best_vs_tutorial"] = best["vs_tutorial"]
    if default:
        out["pipeline_vs_default_step"] = shape["pipeline"]["images_per_second"] / default["images_per_second"]
    return out


def markdown(report):
    machine = report["machine"]
    peak = machine["peak_gflops"]
    lines = [
        f"Device: {report['device']} ({machine['model']}, {machine['cores']} cores, {machine['simd']}, "
        f"native bfloat16: {'yes' if machine['native_bf16'] else 'no'}); TensorFlow {report['versions']['tensorflow']}, "
        f"Keras {report['versions']['keras']}; oneDNN {'on' if report['onednn'] else 'off'} (--onednn={report['onednn_flag']}).",
        records.peak_line(machine, [c["gflops_per_second"] for shape in report["shapes"] for c in shape["configs"]
                                    if c["precision"] == "none"]),
        f"Command: `{report['command']}`; load average at start {report['load_average_start']}.",
        "",
        "| image, batch | loop | precision | jit_compile | images/s (median) | ms/step | GFLOP/s | % of peak "
        "| vs tutorial (float32, no XLA)* | vs tutorial, same setting* | CPU ms/step | vs tutorial, CPU time** |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]

    ratio = records.ratio_text

    for shape in report["shapes"]:
        for c in sorted(shape["configs"], key=lambda c: (c["precision"], c["jit_compile"], c["loop"])):
            note = " (1 step/repeat)" if c["steps_per_repeat"] == 1 and shape["steps_per_repeat"] > 1 else ""
            share = f"{100 * c['gflops_per_second'] / peak:.0f}%" if peak else "-"
            cpu_ms = f"{c['cpu_ms_per_step']:.0f}" if "cpu_ms_per_step" in c else "-"
            lines.append(
                f"| {shape['shape']}, {shape['batch_size']} | {c['loop']} | {c['precision']} | "
                f"{str(c['jit_compile']).lower()} | "
                f"{c['images_per_second']:.{0 if c['images_per_second'] >= 100 else 1}f}{note} | "
                f"{c['ms_per_step']:.0f} | {c['gflops_per_second']:.1f} | {share} | {ratio(c, 'vs_tutorial')} | "
                f"{ratio(c, 'vs_tutorial_same_setting')} | {cpu_ms} | {ratio(c, 'cpu_vs_tutorial')} |"
            )
        for s in shape["skipped"]:
            lines.append(f"| {shape['shape']}, {shape['batch_size']} | {s['loop']} | {s['precision']} | "
                         f"{str(s['jit_compile']).lower()} | skipped: {s['reason']} | | | | | | | |")
    lines += ["", "*median over repeats of the ratio of images/s within the same repeat (paired, so that drifting load "
              "from other processes, or the speed of a virtual machine's cores, cancels), with its 25th-75th "
              "percentiles over repeats in brackets; the images/s column is the median of each configuration alone.",
              "**the same ratio for images per CPU-second of the process (user + system time of all its threads): "
              "it depends much less on the share of the machine other processes take.",
              "", "| image | FLOPs/step gan_tf | FLOPs/step tutorial | pipeline alone, images/s | pipeline / gan_tf default step | peak RSS |",
              "|---|---|---|---|---|---|"]
    for shape in report["shapes"]:
        flops = shape["flops_per_step"]
        summary = shape["summary"]
        lines.append(
            f"| {shape['shape']} | {flops['gan_tf']['total'] / 1e9:.1f} G | {flops['tutorial']['total'] / 1e9:.1f} G | "
            f"{shape['pipeline']['images_per_second']:.0f} ({shape['pipeline']['source']}) | "
            f"{summary.get('pipeline_vs_default_step', float('nan')):.0f}x | {shape['memory_mib']['peak_rss']:.0f} MiB |"
        )
    lines += ["", "Goals (gan_tf default >= 0.95x the tutorial loop; best setting >= 1.5x):", ""]
    for shape in report["shapes"]:
        s = shape["summary"]
        if "default_vs_tutorial" in s:
            cpu = s.get("default_vs_tutorial_cpu_time")
            by_cpu = f" (by CPU time {cpu:.3f}x)" if cpu else ""
            best = s["best_gan_tf"]
            lines.append(
                f"- {shape['shape']}: default {s['default_vs_tutorial']:.3f}x{by_cpu} "
                f"({'met' if s['default_vs_tutorial'] >= 0.95 else 'NOT met'}); best gan_tf setting "
                f"(precision={best['precision']}, jit_compile={str(best['jit_compile']).lower()}) "
                f"{s['best_vs_tutorial']:.3f}x ({'met' if s['best_vs_tutorial'] >= 1.5 else 'NOT met'})."
            )
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ main
def _per_shape(parser, flag, text):
    """{shape: N} from "N" (every shape) or "SHAPE=N,SHAPE=N"; {} for ""."""
    if text.isdigit():
        text = ",".join(f"{shape}={text}" for shape in SHAPES)
    values = {}
    for item in filter(None, text.split(",")):
        key, _, value = item.partition("=")
        if key not in SHAPES or not value.isdigit() or int(value) < 1:
            parser.error(f"{flag}: {item!r}; expected N or SHAPE=N with SHAPE in {', '.join(SHAPES)} and N >= 1")
        values[key] = int(value)
    return values


def shape_names(parser, text):
    """The image sizes a --shapes value names (comma-separated), each one of `SHAPES`."""
    names = [s for s in text.split(",") if s]
    for s in names:
        if s not in SHAPES:
            parser.error(f"--shapes: {s!r} is not one of {', '.join(SHAPES)}")
    return names


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shapes", default="28x28x1,64x64x3", help="comma-separated, from: " + ", ".join(SHAPES))
    parser.add_argument("--repeats", default="",
                        help="interleaved repeats, N or e.g. 28x28x1=40,64x64x3=15; the table gives medians "
                             "(defaults: " + ", ".join(f"{k}={v}" for k, v in DEFAULT_REPEATS.items()) + ")")
    parser.add_argument("--steps", default="", help="timed steps per repeat, e.g. 28x28x1=4,64x64x3=2 (defaults)")
    parser.add_argument("--precisions", default="none,mixed_bfloat16")
    parser.add_argument("--jit", default="false,true")
    parser.add_argument("--pipeline_batches", type=int, default=100, help="batches timed for the pipeline alone")
    parser.add_argument("--include_slow", action="store_true",
                        help="also time the configurations that are very slow on a CPU (emulated bfloat16; "
                             "XLA at 64x64x3), one step per repeat: adds about an hour on 2 cores")
    parser.add_argument("--onednn", choices=("default", "on", "off"), default="default",
                        help="TF_ENABLE_ONEDNN_OPTS for the measuring processes (TensorFlow leaves oneDNN off on "
                             "some CPUs, e.g. AMD without AVX-512); applies to both loops alike")
    parser.add_argument("--out_dir", default=HERE)
    parser.add_argument("--from_json", default="", help="only re-render the tables of a recorded JSON file")
    parser.add_argument("--worker", default="", help=argparse.SUPPRESS)  # internal: one shape, JSON to --result
    parser.add_argument("--result", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.shape_list = shape_names(parser, args.shapes)
    args.steps_text, args.steps = args.steps, _per_shape(parser, "--steps", args.steps)
    args.repeats_text, args.repeats = args.repeats, _per_shape(parser, "--repeats", args.repeats)
    args.jit_text = args.jit
    args.precisions = [p for p in args.precisions.split(",") if p]
    for p in args.precisions:
        if p not in ("none", "mixed_bfloat16", "mixed_float16"):
            parser.error(f"--precisions: {p!r}; expected none, mixed_bfloat16 or mixed_float16")
    try:
        args.jit = [{"false": False, "true": True}[j] for j in args.jit.split(",") if j]
    except KeyError:
        parser.error(f"--jit={args.jit!r}; expected a comma-separated list of false and true")
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.worker:  # a process of its own, started by main
        return records.write_worker_result(args.result, measure_shape(args.worker, args))
    if args.from_json:
        with open(args.from_json) as f:
            report = json.load(f)
        for shape in report["shapes"]:
            shape["summary"] = summarise(shape)
        write(report, os.path.dirname(os.path.abspath(args.from_json)))
        return

    started = time.time()
    report = {
        "command": records.command("throughput.py", argv),
        "device": device_name(),
        "machine": cpu_info(),
        "onednn_flag": args.onednn,
        "load_average_start": records.load_average(),
        "versions": records.versions(),
        "shapes": [],
    }
    forwarded = ["--repeats", args.repeats_text, "--steps", args.steps_text, "--precisions", ",".join(args.precisions),
                 "--jit", args.jit_text, "--pipeline_batches", str(args.pipeline_batches)]
    forwarded += ["--include_slow"] if args.include_slow else []
    for shape_name in args.shape_list:
        # One process per image size: clean peak memory, and no state shared between sizes.
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "result.json")
            env = dict(os.environ)
            if args.onednn != "default":
                env["TF_ENABLE_ONEDNN_OPTS"] = "1" if args.onednn == "on" else "0"
            subprocess.run([sys.executable, os.path.abspath(__file__), *forwarded, "--shapes", shape_name,
                            "--worker", shape_name, "--result", path], check=True, env=env)
            with open(path) as f:
                shape = json.load(f)
        shape["summary"] = summarise(shape)
        report["shapes"].append(shape)
    report["onednn"] = all(shape["onednn"] for shape in report["shapes"])
    report["load_average_end"] = records.load_average()
    report["wall_seconds"] = time.time() - started
    write(report, args.out_dir)


def write(report, out_dir):
    base = records.write(report, out_dir, "throughput", markdown(report))
    print(f"wrote {base}.json and {base}.md ({report['wall_seconds'] / 60:.1f} min of measuring)", file=sys.stderr)


if __name__ == "__main__":
    main()
