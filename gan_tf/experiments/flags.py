"""absl flags for every experiment, generated from `ExperimentConfig` so that the
defaults live in one place, and checked when the command line is parsed."""
import dataclasses
import sys

from absl import app, flags

from gan_tf.experiments.config import FIELD_CHECKS, ExperimentConfig

_HELP = {
    "out_dir": "Run directory (config.json, logs/, samples/, checkpoints/, metrics.jsonl).",
    "epochs": "Total epochs; rerunning with more epochs continues the run.",
    "steps_per_epoch": "Cap on steps per epoch, for quick runs (0 = a full pass over the data).",
    "batch_size": "Global batch size (split across replicas).",
    "latent_dim": "Size of the generator's noise vector.",
    "architecture": "Networks: dcgan or mlp (the original fully connected GAN).",
    "width": "DCGAN width: channels of the generator's last hidden layer and the discriminator's first.",
    "loss": "Loss pair: minimax, non_saturating, least_squares, wasserstein, hinge.",
    "d_lr": "Discriminator learning rate (Adam).",
    "g_lr": "Generator learning rate (Adam).",
    "beta_1": "Adam beta_1 for both optimizers.",
    "d_steps": "Discriminator updates per generator update (5 for WGAN).",
    "gradient_penalty": "WGAN-GP weight lambda (10 in the paper; 0 = off).",
    "r1_gamma": "R1 penalty gamma (0 = off).",
    "weight_clip": "Clip discriminator weights to [-c, c] after each update, original WGAN (0 = off).",
    "seed": "Seed of everything random: weights, noise, data order.",
    "data_source": "Where the data comes from: auto or a named source (see README).",
    "data_dir": "Directory with local data files (tried first by --data_source=auto).",
    "image_size": "Resize images to this side (0 = the dataset's own size).",
    "channels": "Image channels, 1 or 3 (0 = the dataset's own); grayscale/RGBA are converted.",
    "strict_data": "Stop at the first unreadable image file instead of skipping and counting it.",
    "strategy": "auto, one_device, mirrored (several GPUs, or --cpu_devices), multi_worker (TF_CONFIG).",
    "cpu_devices": "Split the CPU into N logical devices, to try --strategy=mirrored without GPUs.",
    "jit_compile": "XLA: auto (on a single GPU only; slower on CPU), true, false.",
    "mixed_precision": "none, mixed_float16 (GPU), mixed_bfloat16.",
    "eval_every": "Evaluate the generator every N epochs and at the end (0 = never).",
    "time_budget": "Stop once this many minutes of training have passed (at a step; time before a kill "
                   "counts); rerun with a larger budget to continue the run (0 = off).",
    "eval_samples": "Generated images per evaluation.",
    "sample_grid": "Images in the fixed-noise sample grid.",
    "resume": "Resume from the newest checkpoint in --out_dir (--noresume refuses a used directory).",
    "verbose": "Keras fit verbosity: 0 silent, 1 progress bar, 2 one line per epoch.",
    "conditional": "Class-conditional GAN: none, concat (Mirza & Osindero 2014), projection (Miyato & Koyama "
                   "2018; the usual choice) or acgan (auxiliary classifier, Odena et al. 2017).",
    "text": "Condition on captions made from the labels (text-to-image, GAN-CLS) instead of on labels; "
            "needs --conditional=projection or concat.",
    "text_encoder": "Text runs: each network's caption encoder, gru or attention (one transformer block).",
    "mismatch_weight": "Text runs: weight w of real images with mismatched captions in the discriminator's loss, "
                       "real + (1-w) fake + w mismatched (GAN-CLS, Reed et al. 2016: 0.5; 0 = off).",
    "embedding_dim": "Size of the label or caption embedding given to the generator (and concat's discriminator).",
    "class_loss_weight": "ACGAN: weight of the auxiliary classification losses.",
    "mode_seeking_weight": "Conditional runs: weight of the mode-seeking term (MSGAN, Mao et al. 2019) that "
                           "makes the generator use its noise; -1 = auto (0.2 when conditional), 0 = off.",
}


def define_flags(dataset_choices=None, **defaults):
    """Defines one flag per `ExperimentConfig` field, with experiment-specific defaults.

    Args:
      dataset_choices: for experiments over several data sets: also define `--dataset`
        with these choices (the default is `defaults["dataset"]`).
      **defaults: `ExperimentConfig` fields.
    """
    unknown = set(defaults) - {f.name for f in dataclasses.fields(ExperimentConfig)}
    if unknown:
        raise ValueError(f"Unknown config fields {sorted(unknown)}.")
    base = ExperimentConfig(**defaults)
    for field in dataclasses.fields(ExperimentConfig):
        if field.name == "dataset":
            continue  # fixed by the experiment module
        default = getattr(base, field.name)
        define = {bool: flags.DEFINE_bool, int: flags.DEFINE_integer, float: flags.DEFINE_float}.get(
            type(default), flags.DEFINE_string
        )
        define(field.name, default, _HELP.get(field.name, field.name))
        if field.name in FIELD_CHECKS:
            ok, expected = FIELD_CHECKS[field.name]
            flags.register_validator(field.name, ok, message=f"expected {expected}")
    from gan_tf.data import sources

    if dataset_choices:
        flags.DEFINE_enum("dataset", base.dataset, list(dataset_choices), "Data set to train on.")
        flags.register_multi_flags_validator(
            ["dataset", "data_source"],
            lambda values: values["data_source"] in sources(values["dataset"]),
            message="--data_source is not a source of --dataset; expected one of: " + "; ".join(
                f"{name}: {', '.join(sources(name))}" for name in dataset_choices),
        )
        return base
    flags.register_validator(
        "data_source",
        lambda value: value in sources(base.dataset),
        message=f"expected one of {', '.join(sources(base.dataset))}",
    )
    return base


def config_from_flags(dataset):
    """The `ExperimentConfig` for the parsed flags."""
    values = {
        f.name: flags.FLAGS[f.name].value
        for f in dataclasses.fields(ExperimentConfig)
        if f.name not in ("dataset", "out_dir")
    }
    # An experiment over several data sets names its default run directory after the data set.
    out_dir = flags.FLAGS["out_dir"]
    values["out_dir"] = out_dir.value if out_dir.present or "{dataset}" not in out_dir.value else (
        out_dir.value.format(dataset=dataset))
    return ExperimentConfig(dataset=dataset, **values).validate()


def main(dataset, run):
    """Entry point: parse flags, build the config, run it; user errors exit 1 without a traceback.

    Args:
      dataset: the data set name, or None to take it from `--dataset` (see `define_flags`).
      run: the function that trains a config.
    """

    def _main(argv):
        if len(argv) > 1:
            raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
        try:
            config = config_from_flags(dataset or flags.FLAGS.dataset)
        except ValueError as error:  # combinations of flags (each flag alone was checked at parse time)
            print(f"error: {error}", file=sys.stderr)
            sys.exit(1)
        # Imported here: TensorFlow starts only once the flags are known to be good.
        from gan_tf.experiments.runner import USER_ERRORS

        try:
            run(config)
        except USER_ERRORS as error:
            print(f"error: {error}", file=sys.stderr)
            sys.exit(1)

    app.run(_main)
