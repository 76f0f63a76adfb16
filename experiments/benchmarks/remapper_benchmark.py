"""Does Grappler's failed oneDNN remapper pass cost gan_tf's step any speed?

With oneDNN on, TensorFlow logs `remapper failed: ... fanout '.../LeakyRelu/LeakyReluGrad' exist for
missing node '.../BiasAdd'` when a training step of the DCGAN discriminator is first traced: the
remapper tries to fuse Conv2D + BiasAdd + LeakyReLU although LeakyReLU's gradient still reads the
BiasAdd's output, the rewrite is refused, and the step runs without that pass (TensorFlow's tutorial
loop prints the same line). The pass succeeds when LeakyReLU is written as `max(x, 0.2 x)`, whose
gradient does not read its input's producer. This script times `GAN.fit` steps of the two versions
(the discriminator as built, and the same discriminator with its LeakyReLU layers replaced; the same
weights and the same generator), interleaved in one process, `--steps` steps each per round; medians
and the paired ratio. It first checks that both discriminators give the same logits bit for bit.

Run it with oneDNN on (the experiment commands' choice on AVX2 CPUs; TensorFlow's default on CPUs
with AVX-512 VNNI or AMX). Prints a Markdown table and writes
experiments/benchmarks/remapper_<device>.json.

    TF_ENABLE_ONEDNN_OPTS=1 python experiments/benchmarks/remapper_benchmark.py --rounds 12
"""
import argparse
import os
import statistics
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import records  # noqa: E402  (this folder)
from machine import cpu_info  # noqa: E402  (this folder)
from peers import fixed_batches  # noqa: E402  (this folder)
from throughput import LATENT_DIM, SHAPES, build_networks, fit_step_times  # noqa: E402  (this folder)

HERE = os.path.dirname(os.path.abspath(__file__))


def with_max_leaky_relu(model):
    """`model` with each LeakyReLU layer replaced by `max(x, alpha x)` (same weights)."""
    import keras
    import tensorflow as tf

    class MaxLeakyReLU(keras.layers.Layer):
        def __init__(self, negative_slope, **kwargs):
            super().__init__(**kwargs)
            self.negative_slope = negative_slope

        def call(self, x):
            return tf.maximum(x, self.negative_slope * x)

    def clone(layer):
        if isinstance(layer, keras.layers.LeakyReLU):
            return MaxLeakyReLU(layer.negative_slope, name=layer.name)
        return layer.__class__.from_config(layer.get_config())

    copy = keras.models.clone_model(model, clone_function=clone)
    copy.set_weights(model.get_weights())
    return copy


def make_gan(generator, discriminator):
    import keras

    from gan_tf import GAN

    gan = GAN(generator, discriminator, LATENT_DIM, seed=0)
    gan.compile(d_optimizer=keras.optimizers.Adam(1e-4), g_optimizer=keras.optimizers.Adam(1e-4),
                loss="non_saturating")
    return gan


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shape", default="28x28x1", choices=sorted(SHAPES))
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--steps", type=int, default=2, help="timed steps per version and round")
    parser.add_argument("--out_dir", default=HERE)
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.steps < 1:
        parser.error(f"--rounds={args.rounds}, --steps={args.steps}: expected >= 1")
    report = records.head("remapper_benchmark.py", argv)  # before TensorFlow: the load it found

    import keras
    import numpy as np
    import tensorflow as tf
    from tensorflow.python.util import _pywrap_util_port

    onednn = bool(_pywrap_util_port.IsMklEnabled())
    if not onednn:
        print("oneDNN is off: the remapper's failure does not occur; set TF_ENABLE_ONEDNN_OPTS=1.", file=sys.stderr)
    image_shape, batch_size = SHAPES[args.shape]
    batches = fixed_batches(image_shape, batch_size)
    generator, discriminator = build_networks(image_shape)
    variant = with_max_leaky_relu(discriminator)
    np.testing.assert_array_equal(discriminator(batches[0]).numpy(), variant(batches[0]).numpy())
    generator_copy = keras.models.clone_model(generator)
    generator_copy.set_weights(generator.get_weights())
    gans = {"LeakyReLU (as built; remapper fails)": make_gan(generator, discriminator),
            "max(x, 0.2x) (remapper succeeds)": make_gan(generator_copy, variant)}
    feed = tf.data.Dataset.from_tensor_slices(batches).repeat()
    for gan in gans.values():
        fit_step_times(gan, feed, 2)  # trace and warm up
    seconds = {name: [] for name in gans}
    for _ in range(args.rounds):
        for name, gan in gans.items():
            seconds[name].append(statistics.median(wall for wall, _ in fit_step_times(gan, feed, args.steps)))
    base = seconds[next(iter(gans))]
    rows = [{"version": name, "ms_per_step": 1000 * statistics.median(values),
             "images_per_second": batch_size / statistics.median(values),
             "speed_vs_as_built": statistics.median(b / v for b, v in zip(base, values)),
             "speed_vs_as_built_per_round": [b / v for b, v in zip(base, values)],
             "ms_per_step_per_round": [1000 * v for v in values]} for name, values in seconds.items()]

    lines = [f"Device: {report['device']} ({cpu_info()['model']}); oneDNN {'on' if onednn else 'off'}; "
             f"{args.shape}, batch {batch_size}, the tutorial's DCGAN (width 64) in `GAN.fit`; median of "
             f"{args.rounds} interleaved rounds of {args.steps} steps. Load average at the start: "
             f"{report['load_average_start'][0]}.", "",
             "| discriminator's activation | ms per step | images/s | speed vs as built (paired) |",
             "|---|---|---|---|"]
    lines += [f"| {r['version']} | {r['ms_per_step']:.0f} | {r['images_per_second']:.1f} | "
              f"{r['speed_vs_as_built']:.3f}x |" for r in rows]
    text = "\n".join(lines) + "\n"
    report.update(onednn=onednn, shape=args.shape, batch_size=batch_size, rounds=args.rounds, steps=args.steps,
                  versions=records.versions(), rows=rows, markdown=text, load_average_end=records.load_average())
    records.write_json(report, args.out_dir, "remapper", text)


if __name__ == "__main__":
    main()
