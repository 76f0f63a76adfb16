"""Records the real-data floor and the classifier accuracies for MNIST and Fashion-MNIST.

    python experiments/evaluation/real_data_floor.py [--datasets mnist,fashion_mnist]

The floor is what real images score: held-out images (the test split) against
the training split, through the same code as `python -m gan_tf.evaluate`. Prints
Markdown tables and writes `real_data_floor.json` beside this script.
"""
import json
import os
import platform
import time

from absl import app, flags

FLAGS = flags.FLAGS
flags.DEFINE_list("datasets", ["mnist", "fashion_mnist"], "Data sets to score.")
flags.DEFINE_integer("num_samples", 10000, "At most this many test images.")
flags.DEFINE_string("output", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                           "real_data_floor.json"), "JSON output.")


def main(argv):
    del argv
    import keras
    import tensorflow as tf

    from gan_tf.metrics import evaluation

    record = {"command": "python experiments/evaluation/real_data_floor.py "
                         f"--datasets {','.join(FLAGS.datasets)} --num_samples {FLAGS.num_samples}",
              "versions": {"tensorflow": tf.__version__, "keras": keras.__version__},
              "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
              "datasets": {}}
    for dataset in FLAGS.datasets:
        started = time.perf_counter()
        evaluator = evaluation.Evaluator(dataset, inception_weights=None, verbose=False)
        floor, n = evaluator.floor(FLAGS.num_samples)
        extractor = evaluator.extractors[0]
        record["datasets"][dataset] = {
            "floor": floor,
            "num_test_images": n,
            "reference": evaluator.reference_info,
            "classifier": extractor.record(),
            "inception_skipped": bool(evaluator.inception_skipped),
            "seconds": round(time.perf_counter() - started, 1),
        }
        classifier_record = extractor.record()
        print(f"\n### {dataset}: real-data floor ({n} test images vs "
              f"{evaluator.reference_info[f'{extractor.name}/train']['num_examples']} training "
              f"images, source {evaluator.reference_info[f'{extractor.name}/train']['source']})\n")
        print("| metric | real-data floor |\n|---|---|")
        for name, value in floor.items():
            print(f"| {name} | {value:.4g} |")
        print(f"\nClassifier held-out accuracy: {classifier_record.get('test_accuracy')} on "
              f"{classifier_record.get('num_test')} test images ({classifier_record.get('data_source')}).")
    with open(FLAGS.output, "w") as f:
        json.dump(record, f, indent=2, ensure_ascii=False)
        f.write("\n")
    print(f"\nWrote {FLAGS.output}.")


if __name__ == "__main__":
    app.run(main)
