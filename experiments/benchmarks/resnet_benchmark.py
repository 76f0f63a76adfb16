"""Cost of a GAN training step with gan_tf's residual networks against its DCGAN networks.

Issue 12 asks for a residual architecture sized for a CPU: at width 32 and 28x28 a training
step should cost within about 2x of `dcgan_generator`/`dcgan_discriminator` at the same width.
This script times the step gan_tf's `GAN.train_step` performs with one discriminator step (the
fake batch generated once; discriminator forward and backward on real and fake images; the
generator's update through the updated discriminator; Adam on both), for each architecture,
with and without spectral normalisation, and optionally DiffAugment on every discriminator
input. Configurations are interleaved, one step each per repeat; medians and the ratio to DCGAN
paired per repeat.

Prints a Markdown table and writes experiments/benchmarks/resnet_<device>.json.

    python experiments/benchmarks/resnet_benchmark.py --repeats 15
"""
import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import records  # noqa: E402  (this folder)
from machine import cpu_info, device_name  # noqa: E402  (this folder)

HERE = os.path.dirname(os.path.abspath(__file__))
LATENT_DIM = 100


def configurations(augment):
    configs = {
        "dcgan": dict(architecture="dcgan"),
        "dcgan + SN": dict(architecture="dcgan", spectral_norm=True),
        "resnet": dict(architecture="resnet"),
        "resnet + SN": dict(architecture="resnet", spectral_norm=True),
    }
    if augment:
        configs["dcgan + DiffAugment"] = dict(architecture="dcgan", augment=True)
        configs["resnet + DiffAugment"] = dict(architecture="resnet", augment=True)
    return configs


def make_step(architecture, image_shape, width, batch_size, spectral_norm=False, augment=False):
    """A tf.function running one GAN training step (non-saturating loss) on a fixed batch."""
    import keras
    import tensorflow as tf

    from gan_tf import networks
    from gan_tf.augment import diff_augment
    from gan_tf.networks.layers import stateless_normal, stateless_uniform

    generator, discriminator = networks.build(architecture, LATENT_DIM, image_shape, width=width,
                                              spectral_norm=spectral_norm)
    d_optimizer, g_optimizer = keras.optimizers.Adam(2e-4, 0.5), keras.optimizers.Adam(2e-4, 0.5)
    d_optimizer.build(discriminator.trainable_variables)
    g_optimizer.build(generator.trainable_variables)
    real = tf.random.stateless_uniform((batch_size, *image_shape), [0, 1], -1.0, 1.0)

    def view(images, seed):
        if not augment:
            return images
        return diff_augment(images, lambda shape: stateless_uniform([batch_size, *shape], seed))

    @tf.function
    def step(seed):
        noise = stateless_normal((batch_size, LATENT_DIM), seed)
        with tf.GradientTape() as g_tape:
            fake = generator(noise, training=True)
            with tf.GradientTape() as d_tape:
                real_logits = discriminator(view(real, seed + 1), training=True)
                fake_logits = discriminator(view(tf.stop_gradient(fake), seed + 2), training=True)
                d_loss = tf.reduce_mean(tf.nn.softplus(-real_logits) + tf.nn.softplus(fake_logits))
            d_grads = d_tape.gradient(d_loss, discriminator.trainable_variables)
            d_optimizer.apply_gradients(zip(d_grads, discriminator.trainable_variables))
            g_loss = tf.reduce_mean(tf.nn.softplus(-discriminator(view(fake, seed + 3), training=True)))
        g_grads = g_tape.gradient(g_loss, generator.trainable_variables)
        g_optimizer.apply_gradients(zip(g_grads, generator.trainable_variables))
        return d_loss, g_loss

    return step, generator.count_params(), discriminator.count_params()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--batch_size", type=int, default=64, help="gan_tf's default batch")
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--size", type=int, default=28, help="image side (28, 32, 64)")
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--augment", action="store_true", help="also time DiffAugment on every D input")
    parser.add_argument("--out_dir", default=HERE)
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"--repeats={args.repeats}; expected >= 1")

    import keras
    import tensorflow as tf

    image_shape = (args.size, args.size, args.channels)
    steps, params = {}, {}
    for name, options in configurations(args.augment).items():
        steps[name], *params[name] = make_step(image_shape=image_shape, width=args.width,
                                               batch_size=args.batch_size, **options)
    seed = tf.constant([3, 4], tf.int64)
    for step in steps.values():
        step(seed)  # trace
        step(seed)
    times = {name: [] for name in steps}
    for repeat in range(args.repeats):
        for name, step in steps.items():
            start = time.perf_counter()
            step(seed + repeat)[0].numpy()
            times[name].append(time.perf_counter() - start)
    base = times["dcgan"]
    rows = []
    for name, values in times.items():
        rows.append({
            "configuration": name, "ms": 1000 * statistics.median(values),
            "ratio_to_dcgan": statistics.median(v / b for v, b in zip(values, base)),
            "generator_params": params[name][0], "discriminator_params": params[name][1],
            "ms_per_repeat": [1000 * v for v in values],
        })

    device = device_name()
    shape = "x".join(map(str, image_shape))
    lines = [f"Device: {device} ({cpu_info()['model']}); TensorFlow {tf.__version__}, Keras {keras.__version__}. "
             f"One GAN training step (D on real and fake, G through the updated D, Adam), {shape}, "
             f"width {args.width}, batch {args.batch_size}, float32; median of {args.repeats} interleaved repeats.",
             "",
             "| networks | ms/step | ratio to dcgan (paired median) | G params | D params |",
             "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['configuration']} | {r['ms']:.1f} | {r['ratio_to_dcgan']:.2f}x | "
                     f"{r['generator_params']:,} | {r['discriminator_params']:,} |")
    text = "\n".join(lines) + "\n"
    records.write_json({"device": device, "machine": cpu_info(), "image_shape": image_shape, "width": args.width,
                        "batch_size": args.batch_size, "repeats": args.repeats,
                        "command": records.command("resnet_benchmark.py", argv or None),
                        "versions": records.versions(), "rows": rows, "markdown": text}, args.out_dir, "resnet", text)


if __name__ == "__main__":
    main()
