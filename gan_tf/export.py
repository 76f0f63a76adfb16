"""Exports a trained run's generator for use without gan_tf:
`python -m gan_tf.export --run_dir RUN [--format keras|saved_model|both] [--out DIR] [--raw]`.

    python -m gan_tf.export --run_dir runs/mnist                 # runs/mnist/export/generator.keras + saved_model/
    python -m gan_tf.export --run_dir runs/mnist --format saved_model --out /tmp/mnist_generator

It writes the EMA generator where the run kept one (`--raw`: the trained weights
themselves; a VAE run's generator is its decoder, z ~ N(0, I) to pixel means), as

- `generator.keras`: `keras.models.load_model(path)` gives a functional model taking
  noise [n, latent_dim] (conditional runs: `[noise, condition]`) to images in [-1, 1];
- `saved_model/`: a TensorFlow SavedModel whose `serving_default` signature takes
  `noise` (float32 [n, latent_dim]) and, for conditional runs, `condition` (int32
  labels [n], or caption token ids [n, length] for text runs) and returns `images`
  (float32 [n, H, W, C] in [-1, 1]); `tf.saved_model.load(path).signatures["serving_default"]`;
- `export.json`: what the model takes and gives, and what loading it needs.

The same noise gives the same images as `gan.generate` (which draws its noise from
`tf.random.stateless_normal((n, latent_dim), seed=[seed, 0])`).
Flags are parsed and the run directory checked before TensorFlow is imported.
"""
import json
import os
import sys

from absl import app, flags

from gan_tf import cli, cpu

FORMATS = ("keras", "saved_model", "both")
KERAS_FILE = "generator.keras"
SAVED_MODEL_DIR = "saved_model"
SIGNATURE = "serving_default"


ExportError = cli.CommandError  # this module's name for it (a bad request, or not a run directory)


def define_flags():
    flags.DEFINE_string("run_dir", None, "Run directory of a training run (has config.json and checkpoints/).")
    flags.DEFINE_enum("format", "both", FORMATS, "What to write: keras (a .keras file), saved_model, or both.")
    flags.DEFINE_string("out", None, "Output directory (default: RUN_DIR/export).")
    flags.DEFINE_bool("raw", False, "Export the trained generator's own weights, not their moving average (EMA).")
    flags.DEFINE_string("checkpoint", None, "Checkpoint file to export (default: the run's newest).")
    flags.mark_flag_as_required("run_dir")


def check_request(run_dir, out=None, checkpoint=None):
    """Checks the run directory and the output place without TensorFlow; returns the output directory.

    Raises:
      ExportError: not a run directory, no checkpoint, or an output path that is a file.
    """
    if not os.path.isfile(os.path.join(run_dir, "config.json")):
        raise ExportError(
            f"--run_dir={run_dir!r} has no config.json: expected the --out_dir of a training run, e.g. runs/mnist.")
    if checkpoint:
        if not os.path.isfile(checkpoint):
            raise ExportError(f"--checkpoint={checkpoint!r} does not exist: expected a file in {run_dir}/checkpoints.")
    else:
        directory = os.path.join(run_dir, "checkpoints")
        if not os.path.isdir(directory) or not any(name.endswith(".npz") for name in os.listdir(directory)):
            raise ExportError(
                f"--run_dir={run_dir!r} has no checkpoint yet: train it first (or wait for its first epoch).")
    out = out or os.path.join(run_dir, "export")
    if os.path.exists(out) and not os.path.isdir(out):
        raise ExportError(f"--out={out!r} is a file: expected a directory to write into.")
    return out


def _custom_modules(model):
    """Modules whose registered layers `model` uses: a plain `keras.models.load_model`
    needs them imported first (their classes are registered on import)."""
    import keras

    modules = set()
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if ">" in keras.saving.get_registered_name(type(layer)):
            modules.add(type(layer).__module__)
    return sorted(modules)


def _serving_function(generator):
    """(function, input signature) of the serving endpoint: noise, or noise and condition."""
    import tensorflow as tf

    noise_spec = tf.TensorSpec([None, generator.inputs[0].shape[-1]], tf.float32, name="noise")
    if len(generator.inputs) == 1:
        def serve(noise):
            return {"images": tf.cast(generator(noise, training=False), tf.float32)}

        return serve, [noise_spec]
    given = generator.inputs[1]
    condition_spec = tf.TensorSpec([None, *given.shape[1:]], given.dtype, name="condition")

    def serve(noise, condition):
        return {"images": tf.cast(generator([noise, condition], training=False), tf.float32)}

    return serve, [noise_spec, condition_spec]


def export_run(run_dir, out=None, format="both", raw=False, checkpoint=None):
    """Writes a run's generator (see the module docstring); returns the `export.json` record.

    Args:
      run_dir: a run directory written by `gan_tf.experiments.runner.run`.
      out: output directory (default `run_dir/export`).
      format: "keras", "saved_model" or "both".
      raw: the trained weights instead of their EMA.
      checkpoint: a checkpoint path (default: the newest).
    """
    if format not in FORMATS:
        raise ExportError(f"--format={format!r}: expected one of {', '.join(FORMATS)}.")
    out = check_request(run_dir, out, checkpoint)
    cli.check_raw(run_dir, raw)
    # TensorFlow only now: the request is known to be good.
    import keras

    from gan_tf.experiments.runner import restore_gan
    from gan_tf.networks.batch_norm import with_keras_batch_norm

    gan, run_flags = restore_gan(run_dir, checkpoint)
    ema = getattr(gan, "ema_generator", None)
    weights = "raw" if raw or ema is None else "ema"
    # Keras's BatchNorm in place of gan_tf's fused one (the same in inference): loads without gan_tf.
    generator = with_keras_batch_norm(gan.generator if weights == "raw" else ema)
    os.makedirs(out, exist_ok=True)
    needs = _custom_modules(generator)
    record = {
        "run_dir": os.path.abspath(run_dir),
        "model": run_flags.get("model", "gan"),
        "checkpoint": run_flags["checkpoint_used"],
        "weights": weights,
        "latent_dim": int(gan.latent_dim),
        "image_shape": [int(s) for s in generator.output_shape[1:]],
        "value_range": [-1.0, 1.0],
        "noise": "float32 [n, latent_dim]; gan.generate(n, seed=s) uses "
                 "tf.random.stateless_normal((n, latent_dim), seed=[s, 0])",
        "condition": None,
        "load_needs_import": needs,
        "files": {},
    }
    if gan.conditioning is not None:
        given = generator.inputs[1]
        record["condition"] = {
            "kind": gan.conditioning.kind,
            "dtype": str(given.dtype),
            "shape": [None, *[int(s) for s in given.shape[1:]]],
            "num_classes": int(gan.conditioning.num_classes),
        }
    if format in ("keras", "both"):
        path = os.path.join(out, KERAS_FILE)
        generator.save(path)
        record["files"]["keras"] = path
    if format in ("saved_model", "both"):
        path = os.path.join(out, SAVED_MODEL_DIR)
        archive = keras.export.ExportArchive()
        archive.track(generator)
        serve, signature = _serving_function(generator)
        archive.add_endpoint(SIGNATURE, serve, input_signature=signature)
        archive.write_out(path, verbose=False)
        record["files"]["saved_model"] = path
        record["signature"] = SIGNATURE
    record["data_source_used"] = run_flags.get("data_source_used")
    with open(os.path.join(out, "export.json"), "w") as f:
        json.dump(record, f, indent=2)
    return record


def describe(record):
    """How to load what `export_run` wrote, for the terminal."""
    lines = [f"Exported the {record['weights']} generator of {record['run_dir']}:"]
    if "keras" in record["files"]:
        prefix = "".join(f"import {module}; " for module in record["load_needs_import"])
        lines.append(f"  {record['files']['keras']}  ({prefix}keras.models.load_model(path))")
    if "saved_model" in record["files"]:
        arguments = "noise=..." + (", condition=..." if record["condition"] else "")
        lines.append(f"  {record['files']['saved_model']}  "
                     f"(tf.saved_model.load(path).signatures[{SIGNATURE!r}]({arguments})['images'])")
    return "\n".join(lines)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
    values = flags.FLAGS

    def export():
        check_request(values.run_dir, values.out, values.checkpoint)
        # TensorFlow reads TF_ENABLE_ONEDNN_OPTS once, when it is imported: choose it as training does.
        cpu.apply_onednn_choice()
        record = export_run(values.run_dir, values.out, values.format, values.raw, values.checkpoint)
        print(describe(record))

    return cli.exit_status(export)  # ExportError, and restore_gan's errors about the run


def _run_command():
    define_flags()
    if any(argument in ("--help", "-h", "-help", "--helpshort", "-?") for argument in sys.argv[1:]):
        # absl's own --help exits with status 1; help that was asked for is not an error.
        print(__doc__.rstrip() + "\n\n" + flags.FLAGS.main_module_help())
        sys.exit(0)
    app.run(main)


if __name__ == "__main__":
    _run_command()
