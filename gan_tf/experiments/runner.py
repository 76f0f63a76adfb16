"""`run(config)`: train a GAN as an `ExperimentConfig` says, leaving a complete record.

The run directory holds config.json, logs/ (TensorBoard), samples/,
checkpoints/, metrics.jsonl. Rerunning the same command resumes from the newest
checkpoint and continues exactly as an uninterrupted run would.
"""
import dataclasses
import json
import os
import platform
import time

import keras
import numpy as np
import tensorflow as tf
from absl import logging

import gan_tf
from gan_tf import callbacks as gan_callbacks
from gan_tf import checkpoints, distribute
from gan_tf import data as gan_data
from gan_tf.experiments import conditional
from gan_tf.experiments.config import RECIPE_FIELDS, ExperimentConfig
from gan_tf.gan import GAN
from gan_tf.run_lock import RunLock, RunLockedError

# Mistakes a user can fix: reported as one message, without a traceback.
USER_ERRORS = (
    ValueError,
    OSError,
    checkpoints.CheckpointError,
    gan_callbacks.NonFiniteLossError,
    RunLockedError,
)


def _check_run_directory(config):
    """Refuses a run directory that holds a different run; returns its old config or None.

    Called before anything is written, so a mistake never overwrites an earlier run.
    """
    path = os.path.join(config.out_dir, "config.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        previous = json.load(f)
    has_checkpoints = os.path.isdir(os.path.join(config.out_dir, "checkpoints")) and any(
        name.endswith(".npz") for name in os.listdir(os.path.join(config.out_dir, "checkpoints"))
    )
    if has_checkpoints and not config.resume:
        raise ValueError(
            f"--out_dir={config.out_dir!r} already holds a run with checkpoints and --noresume was "
            "given: choose another --out_dir (nothing was changed)."
        )
    # A field missing from an older config.json had its default value then.
    before = {**ExperimentConfig().to_dict(), **previous.get("flags", {})}
    differences = [
        f"{key}: {before[key]!r} there, {getattr(config, key)!r} now"
        for key in RECIPE_FIELDS
        if before[key] != getattr(config, key)
    ]
    if differences:
        raise ValueError(
            f"--out_dir={config.out_dir!r} holds a different run ({'; '.join(differences)}): "
            "resume it with the same flags or choose another --out_dir (nothing was changed)."
        )
    return previous


def _probe_writable(directory):
    os.makedirs(directory, exist_ok=True)
    probe = os.path.join(directory, ".write_probe")
    try:
        with open(probe, "w") as f:
            f.write("ok")
        os.remove(probe)
    except OSError as error:
        raise OSError(f"--out_dir={directory!r} is not writable: {error}") from error


def _write_config(config, info, strategy, jit_compile, start_epoch):
    record = {
        "flags": config.to_dict(),
        "data": {
            "source": info.source,
            "note": info.note,
            "num_examples": info.num_examples,
            "image_shape": list(info.image_shape),
            "num_classes": info.num_classes,
            "tried": [list(t) for t in info.tried],
        },
        "resolved": {
            "strategy": distribute.strategy_name(strategy),
            "replicas": strategy.num_replicas_in_sync,
            "jit_compile": jit_compile,
            "resumed_from_epoch": start_epoch,
        },
        "versions": {
            "gan_tf": gan_tf.__version__,
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
    }
    path = os.path.join(config.out_dir, "config.json")
    with open(path + ".partial", "w") as f:
        json.dump(record, f, indent=2)
    os.replace(path + ".partial", path)


def _keep_metrics_until(path, epoch):
    """Drops records of epochs after the resumed checkpoint (they will be redone)."""
    if not os.path.exists(path):
        return
    with open(path) as f:
        lines = [line for line in f if line.strip() and json.loads(line)["epoch"] <= epoch]
    # Written aside and renamed, so that a kill during the rewrite loses no record.
    partial = path + ".partial"
    with open(partial, "w") as f:
        f.writelines(lines)
        f.flush()
        os.fsync(f.fileno())
    os.replace(partial, path)


def build_gan(config, image_shape, replicas=1, jit_compile=False, conditioning=None):
    """The compiled GAN of a config; call inside the strategy's scope.

    `conditioning`: for `--conditional` runs, from `conditional.make_conditioning`.
    """
    keras.utils.set_random_seed(config.seed)  # initial weights
    generator, discriminator = conditional.build_networks(config, image_shape, conditioning, replicas)
    gan = GAN(generator, discriminator, config.latent_dim, seed=config.seed, conditioning=conditioning)
    gan.compile(
        d_optimizer=keras.optimizers.Adam(config.d_lr, beta_1=config.beta_1, name="d_adam"),
        g_optimizer=keras.optimizers.Adam(config.g_lr, beta_1=config.beta_1, name="g_adam"),
        loss=config.loss,
        d_steps=config.d_steps,
        gradient_penalty_weight=config.gradient_penalty,
        r1_gamma=config.r1_gamma,
        weight_clip=config.weight_clip or None,
        jit_compile=jit_compile,
    )
    return gan


def run(config: ExperimentConfig):
    """Trains (or resumes) the run that `config` describes; returns a summary dict."""
    config.validate()
    if config.strategy == "multi_worker":
        subdirectory = distribute.worker_subdirectory()  # None on the chief
        if subdirectory:
            config = dataclasses.replace(config, out_dir=os.path.join(config.out_dir, subdirectory))
    distribute.configure_cpu_devices(config.cpu_devices)
    previous = _check_run_directory(config)
    strategy = distribute.make_strategy(config.strategy)
    distribute.check_global_batch(config.batch_size, strategy)
    jit_compile = distribute.resolve_jit_compile(config.jit_compile, strategy)
    distribute.set_precision(config.mixed_precision)
    dataset, info = gan_data.load(
        config.dataset,
        split="train",
        source=config.data_source,
        data_dir=config.data_dir or None,
        return_info=True,
        with_labels=config.conditional != "none",
        image_size=config.image_size or None,
        channels=config.channels or None,
        strict=config.strict_data,
    )
    logging.info("Data: %s (%s), %d images.", info.source, info.note, info.num_examples)
    _probe_writable(config.out_dir)
    with RunLock(config.out_dir):
        return _train(config, strategy, jit_compile, dataset, info, previous)


def _train(config, strategy, jit_compile, dataset, info, previous):
    """Builds, restores and fits; the run directory is checked, writable and locked."""
    conditioning = conditional.make_conditioning(config, info.num_classes, config.out_dir)
    with strategy.scope():
        gan = build_gan(config, info.image_shape, strategy.num_replicas_in_sync, jit_compile, conditioning)
    manager = checkpoints.CheckpointManager(gan, os.path.join(config.out_dir, "checkpoints"))
    start_epoch = manager.restore_latest() if config.resume else 0
    if previous is not None and start_epoch == 0 and manager.checkpoints():
        raise checkpoints.CheckpointError(f"{config.out_dir}: checkpoints exist but none was restored.")
    metrics_path = os.path.join(config.out_dir, "metrics.jsonl")
    _keep_metrics_until(metrics_path, start_epoch)
    _write_config(config, info, strategy, jit_compile, start_epoch)
    if config.text:
        conditional.save_text(conditioning, config.out_dir)
    if start_epoch >= config.epochs:
        logging.info("%s already has %d of %d epochs; nothing to train.", config.out_dir, start_epoch, config.epochs)
        return {"out_dir": config.out_dir, "start_epoch": start_epoch, "epochs": config.epochs, "history": {}}

    batches, steps = gan_data.training_batches(
        dataset,
        config.batch_size,
        num_examples=info.num_examples,
        seed=config.seed,
        start_epoch=start_epoch,
        num_epochs=config.epochs,
        steps_per_epoch=config.steps_per_epoch or None,
    )
    writer = tf.summary.create_file_writer(os.path.join(config.out_dir, "logs", "train"))
    callback_list = [
        gan_callbacks.NonFiniteGuard(),
        gan_callbacks.Throughput(config.batch_size),
    ]
    if config.eval_every:
        from gan_tf.metrics import EvaluationCallback

        callback_list.append(
            EvaluationCallback(
                config.dataset,
                every=config.eval_every,
                num_samples=config.eval_samples,
                run_dir=config.out_dir,
                data_source=config.data_source,
                data_dir=config.data_dir or None,
                seed=config.seed,
            )
        )
    callback_list += [
        gan_callbacks.MetricsJsonl(metrics_path),
        gan_callbacks.ScalarLogger(
            writer, list(gan.trackers) + ["images_per_second", "ms_per_step"]
        ),
        gan_callbacks.SampleGrid(config.out_dir, writer, config.sample_grid, seed=config.seed),
        # Last: a checkpoint marks its epoch done, so everything the epoch records must
        # exist first; a kill between them would otherwise lose that epoch's record, which
        # the rerun (resuming after the checkpoint) never writes again.
        gan_callbacks.Checkpoint(manager),
    ]
    started = time.perf_counter()
    history = gan.fit(
        batches,
        epochs=config.epochs,
        initial_epoch=start_epoch,
        steps_per_epoch=steps,
        callbacks=callback_list,
        verbose=config.verbose,
        shuffle=False,  # training_batches already orders each epoch by (seed, epoch)
    )
    writer.close()
    return {
        "out_dir": config.out_dir,
        "start_epoch": start_epoch,
        "epochs": config.epochs,
        "seconds": time.perf_counter() - started,
        "history": history.history,
        "gan": gan,
    }


def _read_run_record(run_dir):
    """config.json of a finished run, checked enough to rebuild its GAN from it."""
    path = os.path.join(run_dir, "config.json")
    if not os.path.exists(path):
        raise ValueError(f"--run_dir={run_dir!r} has no config.json: expected a directory written by a training run.")
    try:
        with open(path) as f:
            record = json.load(f)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON ({error}): expected the config.json a training run writes.") from error
    if not isinstance(record, dict):
        record = {}
    missing = [key for key in ("flags", "data") if not isinstance(record.get(key), dict)]
    data = record.get("data") if isinstance(record.get("data"), dict) else {}
    missing += [f"data.{key}" for key in ("image_shape", "source") if key not in data]
    if missing:
        raise ValueError(f"{path} lacks {', '.join(missing)}: expected the config.json a training run writes.")
    unknown = sorted(set(record["flags"]) - set(ExperimentConfig().to_dict()))
    if unknown:
        raise ValueError(
            f"{path} has flags this version of gan_tf does not know ({', '.join(unknown)}): "
            "it was written by a different version."
        )
    return record


def restore_gan(run_dir, checkpoint=None):
    """Rebuilds a trained run's GAN from its config.json and checkpoint.

    Args:
      run_dir: a run directory written by `run`.
      checkpoint: a checkpoint path (default: the newest readable one).

    Returns:
      (gan, flags dict of the run).
    """
    record = _read_run_record(run_dir)
    config = ExperimentConfig(**record["flags"])
    distribute.set_precision(config.mixed_precision)
    conditioning = conditional.make_conditioning(config, record["data"].get("num_classes"), run_dir)
    gan = build_gan(config, tuple(record["data"]["image_shape"]), conditioning=conditioning)
    manager = checkpoints.CheckpointManager(gan, os.path.join(run_dir, "checkpoints"))
    if checkpoint:
        manager.restore(checkpoint)
    elif manager.restore_latest() == 0:
        raise ValueError(f"--run_dir={run_dir!r} has no checkpoint to evaluate.")
    return gan, dict(record["flags"], data_source_used=record["data"]["source"])
