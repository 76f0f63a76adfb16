"""Times the evaluation of 10,000 generated MNIST samples with the MNIST classifier.

    python experiments/evaluation/time_evaluation.py [--num_samples 10000] [--repeats 3]

The generator is the default MNIST recipe's DCGAN generator (untrained: its
weights do not change the cost). Times are medians over `--repeats` runs, each
after one warm-up: generation, feature extraction, and each metric on the
extracted features, plus the one-off reference statistics of the training
split (cold cache, in a fresh temporary cache directory). Prints a Markdown
table and writes `timing.json` beside this script.
"""
import json
import os
import platform
import statistics
import tempfile
import time

from absl import app, flags

FLAGS = flags.FLAGS
flags.DEFINE_integer("num_samples", 10000, "Generated images per evaluation.")
flags.DEFINE_integer("repeats", 3, "Timed repeats (median reported).")
flags.DEFINE_integer("batch_size", 500, "Images per generator/extractor call.")
flags.DEFINE_string("output", os.path.join(os.path.dirname(os.path.abspath(__file__)), "timing.json"),
                    "JSON output.")


def _timed(fn):
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started


def main(argv):
    del argv
    import keras
    import tensorflow as tf

    from gan_tf.experiments.config import ExperimentConfig
    from gan_tf.experiments.runner import build_gan
    from gan_tf.metrics import evaluation, features
    from gan_tf.metrics.frechet import frechet_distance
    from gan_tf.metrics.classifier_score import inception_score
    from gan_tf.metrics.mmd import kid
    from gan_tf.metrics.manifold import precision_recall

    config = ExperimentConfig()
    gan = build_gan(config, (28, 28, 1))
    n = FLAGS.num_samples
    with tempfile.TemporaryDirectory() as cache:
        evaluator = evaluation.Evaluator("mnist", inception_weights=False, cache_dir=cache,
                                         batch_size=FLAGS.batch_size, verbose=False)
        extractor = evaluator.extractors[0]
        _, reference_seconds = _timed(lambda: evaluator.real_features(extractor, "train"))
        real = evaluator.real_features(extractor, "train")
        info = evaluator.reference_info[f"{extractor.name}/train"]

        def one_run():
            t = {}
            images, t["generate"] = _timed(lambda: gan.generate(n, seed=0, batch_size=FLAGS.batch_size))
            fake, t["extract features"] = _timed(lambda: features.extract(
                extractor, features.batched(images, FLAGS.batch_size), n))
            _, t["Fréchet distance"] = _timed(lambda: frechet_distance(
                fake.mean, fake.covariance, real.mean, real.covariance))
            _, t["KID (100 subsets of 1000)"] = _timed(lambda: kid(
                real.features, fake.features, 100, min(1000, len(real.features))))
            _, t["Inception Score (10 splits)"] = _timed(lambda: inception_score(fake.probabilities, 10))
            m = min(len(real.features), len(fake.features))
            _, t[f"precision/recall (k=3, {m}×{m})"] = _timed(lambda: precision_recall(
                real.features[:m], fake.features[:m], k=3))
            _, t["total: Evaluator.evaluate_generator"] = _timed(
                lambda: evaluator.evaluate_generator(gan, n))
            return t

        one_run()  # warm-up: tf.function tracing, first allocation
        runs = [one_run() for _ in range(FLAGS.repeats)]
    medians = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    record = {
        "num_samples": n,
        "repeats": FLAGS.repeats,
        "batch_size": FLAGS.batch_size,
        "extractor": extractor.name,
        "reference": {"split": "train", "source": info["source"],
                      "num_examples": info["num_examples"],
                      "seconds_cold_cache": round(reference_seconds, 2)},
        "median_seconds": {k: round(v, 3) for k, v in medians.items()},
        "all_seconds": [{k: round(v, 3) for k, v in r.items()} for r in runs],
        "command": "python experiments/evaluation/time_evaluation.py "
                   f"--num_samples {n} --repeats {FLAGS.repeats}",
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, load average "
                   f"{os.getloadavg()[0]:.1f} at the end",
        "versions": {"tensorflow": tf.__version__, "keras": keras.__version__},
    }
    with open(FLAGS.output, "w") as f:
        json.dump(record, f, indent=2, ensure_ascii=False)
        f.write("\n")
    print(f"Evaluation of {n} generated MNIST samples with the MNIST classifier "
          f"(median of {FLAGS.repeats}):\n")
    print("| stage | seconds |\n|---|---|")
    for k, v in medians.items():
        print(f"| {k} | {v:.3f} |")
    print(f"| one-off: reference statistics of {info['num_examples']} training images "
          f"({info['source']}), cold cache | {reference_seconds:.2f} |")
    print(f"\nWrote {FLAGS.output}.")


if __name__ == "__main__":
    app.run(main)
