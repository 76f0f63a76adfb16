"""Decoding throughput of gan_tf.data's image pipelines on this machine, against the 64x64 training step.

Generates `--num_images` CelebA-like JPEGs (178x218, smooth content plus grain, ~10 KiB each) as a folder
and as a zip, then measures, as the median of `--repeats` interleaved repeats:

- scan:    the up-front check of every file (`load` before any decoding), images/s;
- stream:  one epoch of `load("celeba", "all", ...)` decoded on the fly (GAN_TF_CACHE_MB=0), images/s;
- memory:  `load(...)` decoding everything once into memory (the default for data that fits), images/s;
- stream, full decode: the same epoch with `tf.io.decode_image` instead of `decode_and_crop_jpeg`;
- train step: `GAN.fit` of the 64x64x3 DCGAN (gan_tf.networks "dcgan") at `--batch_size`, images/s
  consumed; skipped with `--no_train_step`.

Prints a Markdown table and writes experiments/benchmarks/decode_<device>.json.

    python experiments/benchmarks/decode_benchmark.py --num_images 2000 --repeats 5
"""
import argparse
import io
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import zipfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from machine import device_name  # noqa: E402  (this folder)


def make_images(folder, zip_path, count, seed=0):
    """CelebA-sized JPEGs with photo-like statistics: smooth shapes plus mild grain."""
    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    sizes = []
    with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for i in range(1, count + 1):
            low = rng.integers(0, 256, (7, 6, 3), dtype=np.uint8)
            image = np.asarray(Image.fromarray(low).resize((178, 218), Image.BICUBIC), np.float32)
            image += rng.normal(0, 6, image.shape)
            buffer = io.BytesIO()
            Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=90)
            blob = buffer.getvalue()
            sizes.append(len(blob))
            name = f"{i:06d}.jpg"
            with open(os.path.join(folder, name), "wb") as f:
                f.write(blob)
            zf.writestr("img_align_celeba/" + name, blob)
    return float(np.mean(sizes))


def time_epoch(ds, batch_size=128):
    start = time.perf_counter()
    count = 0
    for batch in ds.batch(batch_size):
        count += int(batch.shape[0])
    return count, time.perf_counter() - start


def measure_stream(data_dir, full_decode=False):
    from gan_tf import data
    from gan_tf.data import decode

    os.environ["GAN_TF_CACHE_MB"] = "0"
    original = decode.decode
    if full_decode:
        import tensorflow as tf

        def generic(contents, image_size, channels, crop_fraction=1.0, formats=None):
            image = tf.io.decode_image(contents, channels=3, expand_animations=False, dtype=tf.uint8)
            image = decode.crop_and_resize(image, image_size, channels, crop_fraction)
            return tf.ensure_shape(image, tuple(image_size) + (channels,))

        decode.decode = generic
    try:
        ds = data.load("celeba", "all", data_dir=data_dir)
        count, seconds = time_epoch(ds)
    finally:
        decode.decode = original
        del os.environ["GAN_TF_CACHE_MB"]
    return count / seconds


def measure_scan(data_dir):
    from gan_tf.data import celeba, images

    start = time.perf_counter()
    found = images.scan(celeba.locate(data_dir), strict=False)
    return len(found.names) / (time.perf_counter() - start)


def measure_memory(data_dir):
    from gan_tf import data

    start = time.perf_counter()
    ds, info = data.load("celeba", "all", data_dir=data_dir, return_info=True)
    seconds = time.perf_counter() - start
    assert "kept in memory" in info.note, info.note
    return info.num_examples / seconds


def measure_train_step(batch_size, steps):
    """Images/s consumed by GAN.fit of the 64x64x3 DCGAN (median over steps after one warm-up)."""
    import keras
    import tensorflow as tf

    import gan_tf
    from gan_tf import networks

    generator, discriminator = networks.build("dcgan", 100, (64, 64, 3))
    gan = gan_tf.GAN(generator, discriminator, latent_dim=100, seed=0)
    gan.compile(d_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
                g_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5))
    images = tf.random.uniform((batch_size, 64, 64, 3), -1, 1)
    ds = tf.data.Dataset.from_tensors(images).repeat()
    times = []

    class Timer(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            self.start = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            times.append(time.perf_counter() - self.start)

    gan.fit(ds, epochs=1, steps_per_epoch=steps + 1, callbacks=[Timer()], verbose=0, shuffle=False)
    return batch_size / statistics.median(times[1:]), statistics.median(times[1:])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--num_images", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch_size", type=int, default=128)
    parser.add_argument("--train_steps", type=int, default=6)
    parser.add_argument("--no_train_step", action="store_true")
    parser.add_argument("--out", default=None, help="JSON path (default experiments/benchmarks/decode_<device>.json)")
    args = parser.parse_args(argv)

    load_before = os.getloadavg()[0]  # other processes share the cores: recorded with the results
    work = tempfile.mkdtemp(prefix="gan_tf_decode_bench_")
    try:
        folder = os.path.join(work, "img_align_celeba")
        zip_path = os.path.join(work, "zip", "img_align_celeba.zip")
        os.makedirs(os.path.dirname(zip_path))
        mean_bytes = make_images(folder, zip_path, args.num_images)
        import tensorflow as tf

        cases = {
            "scan, folder": lambda: measure_scan(folder),
            "scan, zip": lambda: measure_scan(zip_path),
            "stream, folder": lambda: measure_stream(folder),
            "stream, zip": lambda: measure_stream(zip_path),
            "memory, folder": lambda: measure_memory(folder),
            "memory, zip": lambda: measure_memory(zip_path),
            "stream, folder, full decode": lambda: measure_stream(folder, full_decode=True),
        }
        for fn in cases.values():  # warm-up: traces, file cache
            fn()
        results = {name: [] for name in cases}
        for _ in range(args.repeats):  # interleaved, so background load hits every case alike
            for name, fn in cases.items():
                results[name].append(fn())
        rows = [(name, statistics.median(v), min(v), max(v)) for name, v in results.items()]
        train = None
        if not args.no_train_step:
            rate, seconds = measure_train_step(args.batch_size, args.train_steps)
            train = {"images_per_s": rate, "ms_per_step": seconds * 1000, "batch_size": args.batch_size,
                     "network": "DCGAN 64x64x3, width 64, latent 100 (gan_tf.networks.build('dcgan'))",
                     "steps_timed": args.train_steps}
    finally:
        shutil.rmtree(work, ignore_errors=True)

    device = device_name()
    print(f"\nDecoding {args.num_images} JPEGs of 178x218 (mean {mean_bytes / 1024:.1f} KiB) to 64x64x3 on "
          f"{device} ({platform.processor() or platform.machine()}), median of {args.repeats}; "
          f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after:\n")
    print("| pipeline | images/s (median) | min | max |")
    print("|---|---|---|---|")
    for name, median, low, high in rows:
        print(f"| {name} | {median:,.0f} | {low:,.0f} | {high:,.0f} |")
    if train:
        print(f"| DCGAN 64x64 training step, batch {train['batch_size']} (consumption) | "
              f"{train['images_per_s']:,.0f} | | |")
    record = {
        "device": device,
        "cpu_count": os.cpu_count(),
        "tensorflow": tf.__version__,
        "python": sys.version.split()[0],
        "num_images": args.num_images,
        "mean_jpeg_bytes": mean_bytes,
        "repeats": args.repeats,
        "load_average_1m_before_after": [load_before, os.getloadavg()[0]],
        "images_per_s": {name: {"median": median, "min": low, "max": high} for name, median, low, high in rows},
        "train_step": train,
        "command": "python experiments/benchmarks/decode_benchmark.py " + " ".join(argv or sys.argv[1:]),
    }
    out = args.out or os.path.join(os.path.dirname(os.path.abspath(__file__)), f"decode_{device}.json")
    with open(out, "w") as f:
        json.dump(record, f, indent=2)
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
