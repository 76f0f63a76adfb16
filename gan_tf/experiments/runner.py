"""`run(config)`: train a GAN (or the VAE baseline) as an `ExperimentConfig` says, leaving a complete record.

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
from gan_tf import atomic, checkpoints, cpu, distribute, progress, time_budget
from gan_tf import callbacks as gan_callbacks
from gan_tf import data as gan_data
from gan_tf.experiments import conditional, recipes, run_record
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


class Interrupted(RuntimeError):
    """Training was stopped by Ctrl-C (SIGINT); the run resumes from its last checkpoint."""


USER_ERRORS += (Interrupted,)


def _recipe(config):
    """The fields that define what a run trains (stored in config.json and every checkpoint)."""
    return {key: getattr(config, key) for key in RECIPE_FIELDS}


def _refuse_symlinks(directory):
    """A run writes, resumes and prunes only inside its own directory: symlinks in it are refused."""
    for root, names, files in os.walk(directory):
        for name in names + files:
            path = os.path.join(root, name)
            if os.path.islink(path):
                raise ValueError(
                    f"--out_dir={directory!r} holds a symlink, {path} -> {os.readlink(path)}: a run directory "
                    "must hold its own files (a link could make it resume, write or delete another run's); "
                    "remove the link or choose another --out_dir (nothing was changed)."
                )


# Values of fields missing from records older than the field, where they differ from today's default:
# runs were made in float32 before --mixed_precision had "auto".
OLDER_RECORD_VALUES = {"mixed_precision": "none"}


def _recipe_differences(recorded, config):
    # A field missing from an older record had its default value then.
    before = {**ExperimentConfig().to_dict(), **OLDER_RECORD_VALUES, **recorded}
    return [
        f"{key}: {before[key]!r} there, {getattr(config, key)!r} now"
        for key in RECIPE_FIELDS
        if before[key] != getattr(config, key)
    ]


def _resolve_precision(config):
    """`config` with `--mixed_precision=auto` made concrete, and why it computes in its precision.

    A run that resumes keeps the precision it started in (so that it continues exactly, on any
    machine); a new unconditional GAN run takes `cpu.choose_precision`'s; conditional runs and the
    VAE baseline, whose samples were not measured in bfloat16, stay in float32. Called before the
    run directory is checked, which then compares concrete precisions.
    """
    if config.mixed_precision != "auto":
        if recipes.RECIPES.get(config.recipe, {}).get("mixed_precision") == config.mixed_precision:
            return config, f"the {config.recipe} recipe's precision ({config.mixed_precision})"
        return config, f"--mixed_precision={config.mixed_precision} was given"
    recorded = _recorded_precision(config.out_dir)
    if recorded is not None:
        policy, reason = recorded, f"auto: the precision this run started in ({recorded}), kept on resuming"
    elif config.model != "gan" or config.conditional != "none":
        what = f"--model={config.model}" if config.model != "gan" else f"--conditional={config.conditional}"
        policy, reason = "none", f"auto: float32 for {what} (bfloat16 was measured with the unconditional GAN only)"
    else:
        policy, reason = cpu.choose_precision()
    return dataclasses.replace(config, mixed_precision=policy), reason


def _recorded_precision(out_dir):
    """The precision of the run `out_dir` holds (from config.json, else its newest readable
    checkpoint), or None if it holds no run with checkpoints."""
    found = checkpoints.list_checkpoints(os.path.join(out_dir, "checkpoints")) if os.path.isdir(out_dir) else []
    if not found:
        return None
    try:
        recipe = run_record.read(out_dir)["flags"]
    except (run_record.RunRecordError, OSError):  # _check_run_directory reports a broken config.json
        recipe, _ = _newest_recipe(found)
    return {**OLDER_RECORD_VALUES, **recipe}["mixed_precision"] if isinstance(recipe, dict) else None


def _newest_recipe(found):
    """(recipe, path) of the newest readable checkpoint in `found` (`list_checkpoints`), or (None, None)."""
    for _, path in reversed(found):
        try:
            return checkpoints.read_meta(path).get("recipe"), path
        except checkpoints.READ_ERRORS:
            continue  # unreadable: restore_latest reports it and falls back
    return None, None


def _check_run_directory(config):
    """Refuses a run directory that holds a different run; returns its config.json record or None.

    Called before anything is written, so a mistake never overwrites an earlier run. Only
    checkpoints make a run worth protecting: a directory without any (a run that failed
    before its first one) is taken over by the corrected command. The recipe is checked
    against config.json and against the newest readable checkpoint, so deleting
    config.json does not let other flags resume the old checkpoints.
    """
    out_dir = config.out_dir
    if os.path.lexists(out_dir) and not os.path.isdir(out_dir):
        raise ValueError(f"--out_dir={out_dir!r} is a file, not a directory: choose a directory path.")
    if not os.path.isdir(out_dir):
        return None
    _refuse_symlinks(out_dir)
    found = checkpoints.list_checkpoints(os.path.join(out_dir, "checkpoints"))
    if not found:
        return None
    if not config.resume:
        raise ValueError(
            f"--out_dir={out_dir!r} already holds a run with checkpoints and --noresume was "
            "given: choose another --out_dir (nothing was changed)."
        )
    previous = None
    if os.path.exists(os.path.join(out_dir, run_record.CONFIG_NAME)):
        previous = run_record.read(out_dir)
        differences = _recipe_differences(previous["flags"], config)
        if differences:
            raise ValueError(
                f"--out_dir={out_dir!r} holds a different run ({'; '.join(differences)}): "
                "resume it with the same flags or choose another --out_dir (nothing was changed)."
            )
    recorded, path = _newest_recipe(found)
    differences = _recipe_differences(recorded, config) if isinstance(recorded, dict) else []
    if differences:
        raise ValueError(
            f"--out_dir={out_dir!r} holds checkpoints of a different run ({'; '.join(differences)}; "
            f"recorded in {path}): resume it with the same flags or choose another --out_dir "
            "(nothing was changed)."
        )
    return previous


def _probe_writable(directory):
    """Fails early, naming `directory`, if a run could not write there."""
    try:
        os.makedirs(directory, exist_ok=True)
        probe = os.path.join(directory, ".write_probe")
        if os.path.lexists(probe):  # left by a killed run; unlinking never follows a symlink
            os.remove(probe)
        # O_EXCL | O_NOFOLLOW: never write through a file or symlink planted under that name.
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            os.write(fd, b"ok")
        finally:
            os.close(fd)
        os.remove(probe)
    except OSError as error:
        raise OSError(f"--out_dir={directory!r} is not writable: {error}") from error


def _check_data(config, dataset, info):
    """Checks that need the data, before the run directory is written (so a fix can reuse it)."""
    if not info.num_examples:
        raise ValueError(f"the training data ({info.source}: {info.note}) holds no images.")
    if info.num_examples < config.batch_size:
        raise ValueError(
            f"--batch_size={config.batch_size} is larger than the data ({info.num_examples} images, "
            f"{info.source}): expected at most {info.num_examples}."
        )
    if config.conditional != "none":
        if not info.num_classes:
            raise ValueError(f"--conditional={config.conditional} needs class labels; the data has none.")
        low, high = None, None
        for _, labels in dataset.batch(8192).as_numpy_iterator():
            low = labels.min() if low is None else min(low, labels.min())
            high = labels.max() if high is None else max(high, labels.max())
        if low is not None and (low < 0 or high >= info.num_classes):
            raise ValueError(
                f"the training labels lie in [{low}, {high}], but --conditional={config.conditional} "
                f"expects {info.num_classes} classes, labels in [0, {info.num_classes - 1}] ({info.source})."
            )


def _write_config(config, info, strategy, jit_compile, start_epoch, precision_reason):
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
            "recipe": config.recipe,
            "strategy": distribute.strategy_name(strategy),
            "replicas": strategy.num_replicas_in_sync,
            "jit_compile": jit_compile,
            "precision": keras.mixed_precision.global_policy().name,
            "precision_reason": precision_reason,
            # TF_ENABLE_ONEDNN_OPTS as chosen before TensorFlow started (gan_tf.cpu), and whether
            # TensorFlow's oneDNN kernels are in fact on.
            "onednn": cpu.onednn_record(),
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
    atomic.write_json(os.path.join(config.out_dir, "config.json"), record)


def _read_metrics(path):
    """(records, torn) of `metrics.jsonl`: a torn last line (a kill or full disk mid-append) is dropped."""
    with open(path, "rb") as f:
        lines = f.read().split(b"\n")
    records, torn = [], False
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict) or not isinstance(record.get("step"), int):
                raise ValueError("expected a JSON object with an integer step")
        except (ValueError, UnicodeDecodeError) as error:
            if all(not rest.strip() for rest in lines[number:]):
                logging.warning("%s: dropping its torn last line %d (%s).", path, number, error)
                torn = True
                continue
            raise ValueError(
                f"{path}, line {number}, is not a metrics record ({error}): repair or remove that line "
                "(the run's checkpoints are intact)."
            ) from None
        records.append(record)
    return records, torn


def _keep_metrics_until(path, step, restored_record=None, drop_partial=False):
    """Rewrites `metrics.jsonl` to hold the records up to the resumed `step` (later ones are redone).

    A record lost with the file's tail is written again from the checkpoint that holds it, so
    the last record of a finished run can always be re-created. `drop_partial` drops the
    record of a mid-epoch stop, when training goes on to complete that epoch.
    """
    records, torn = _read_metrics(path) if os.path.exists(path) else ([], False)
    kept = [r for r in records if r["step"] <= step and not (drop_partial and r.get("stopped"))]
    if (restored_record and not (drop_partial and restored_record.get("stopped"))
            and not any(r["step"] == restored_record.get("step") for r in kept)):
        kept.append(restored_record)
        kept.sort(key=lambda r: r["step"])
    if kept == records and not torn and (os.path.exists(path) or not kept):
        return
    # Written aside and renamed, so that a kill during the rewrite loses no record.
    atomic.write_text(path, "".join(json.dumps(r) + "\n" for r in kept))


def _record_stop(out_dir, stop):
    """Adds where the time budget stopped training to config.json (`stopped`)."""
    path = os.path.join(out_dir, run_record.CONFIG_NAME)
    record = run_record.read(out_dir)
    record["stopped"] = stop
    atomic.write_json(path, record)


def _remove_leftovers(out_dir):
    """Removes the temporary files of writes a killed process never finished (we hold the lock)."""
    for directory in (out_dir, os.path.join(out_dir, "checkpoints"), os.path.join(out_dir, "samples")):
        if os.path.isdir(directory):
            for name in os.listdir(directory):
                path = os.path.join(directory, name)
                if name.endswith(atomic.PARTIAL_SUFFIX) and os.path.isfile(path) and not os.path.islink(path):
                    os.remove(path)


def _write_grids(gan, config, epoch):
    """Writes the fixed-noise grid of `epoch` if it is missing, and `final.png` (re-creatable artefacts)."""
    grid = gan_callbacks.SampleGrid(config.out_dir, None, config.sample_grid, seed=config.seed)
    grid.set_model(gan)
    epoch_png = os.path.join(config.out_dir, "samples", f"epoch_{epoch:04d}.png")
    if epoch > 0 and not (os.path.isfile(epoch_png) and os.path.getsize(epoch_png) > 0):
        grid.on_epoch_end(epoch - 1)
    grid.on_train_end()


def build_model(config, image_shape, replicas=1, jit_compile=False, conditioning=None):
    """The compiled model of a config, a GAN or (`--model=vae`) a VAE; call inside the strategy's scope."""
    if config.model == "vae":
        return build_vae(config, image_shape, replicas, jit_compile)
    return build_gan(config, image_shape, replicas, jit_compile, conditioning)


def build_vae(config, image_shape, replicas=1, jit_compile=False):
    """The compiled VAE of a config (`gan_tf.vae.VAE`); call inside the strategy's scope."""
    from gan_tf.networks.vae import vae_decoder, vae_encoder
    from gan_tf.vae import VAE

    keras.utils.set_random_seed(config.seed)  # initial weights
    vae = VAE(
        vae_encoder(image_shape, config.latent_dim, config.width),
        vae_decoder(config.latent_dim, image_shape, config.width, synchronized_batchnorm=replicas > 1),
        config.latent_dim, beta=config.kl_weight, reconstruction=config.reconstruction, seed=config.seed,
    )
    vae.compile(keras.optimizers.Adam(config.vae_lr, beta_1=config.beta_1, beta_2=config.beta_2, name="vae_adam"),
                jit_compile=jit_compile)
    return vae


# The VAE's held-out reconstructions each epoch: the first this many images of the test split.
HELD_OUT_IMAGES = 2000


def _held_out_evaluation(config):
    """The VAE's `HeldOutEvaluation` on the test split, or None (with a warning) for data without one."""
    if "test" not in gan_data.splits(config.dataset):  # `images`: one split, every file
        logging.warning("No held-out PSNR/SSIM: dataset %r has no test split.", config.dataset)
        return None
    try:
        held_out = gan_data.load(config.dataset, split="test", source=config.data_source,
                                 data_dir=config.data_dir or None, image_size=config.image_size or None,
                                 channels=config.channels or None)
    except ValueError as error:
        logging.warning("No held-out PSNR/SSIM: the %s data has no test split (%s).", config.dataset, error)
        return None
    images = np.concatenate(list(held_out.take(HELD_OUT_IMAGES).batch(HELD_OUT_IMAGES).as_numpy_iterator()))
    return gan_callbacks.HeldOutEvaluation(images, batch_size=500)


def build_gan(config, image_shape, replicas=1, jit_compile=False, conditioning=None):
    """The compiled GAN of a config; call inside the strategy's scope.

    `conditioning`: for `--conditional` runs, from `conditional.make_conditioning`.
    Options that are off (no EMA, no augmentation, no R2, regularisation every step) are not passed,
    so the GAN gets exactly the arguments of a run that predates them.
    """
    keras.utils.set_random_seed(config.seed)  # initial weights
    generator, discriminator = conditional.build_networks(config, image_shape, conditioning, replicas)
    options = {}
    if config.ema_kimg > 0:
        options.update(ema_kimg=config.ema_kimg, ema_rampup=config.ema_rampup or None)
    if config.augment_policy:
        options["augment"] = _augment(config)
    gan = GAN(generator, discriminator, config.latent_dim, seed=config.seed, conditioning=conditioning, **options)
    penalties = {}
    if config.r2_gamma:
        penalties["r2_gamma"] = config.r2_gamma
    if config.reg_interval != 1:
        penalties["regularization_interval"] = config.reg_interval
    gan.compile(
        d_optimizer=keras.optimizers.Adam(config.d_lr, beta_1=config.beta_1, beta_2=config.beta_2, name="d_adam"),
        g_optimizer=keras.optimizers.Adam(config.g_lr, beta_1=config.beta_1, beta_2=config.beta_2, name="g_adam"),
        loss=config.loss,
        d_steps=config.d_steps,
        gradient_penalty_weight=config.gradient_penalty,
        r1_gamma=config.r1_gamma,
        weight_clip=config.weight_clip or None,
        jit_compile=jit_compile,
        **penalties,
    )
    return gan


def _augment(config):
    """The GAN's `augment` argument: the DiffAugment policy, with a fixed probability or ADA's."""
    if not config.ada_target:
        return {"policy": config.augment_policy, "probability": config.augment_p}
    from gan_tf.augment import AdaptiveAugment

    if config.loss == "rpgan":
        # RpGAN's loss sees only D(x) - D(G(z)): D's outputs are free up to a constant, so ADA's
        # overfitting signal E[sign D(real)] says nothing and can drive p to 1.
        logging.warning("--loss=rpgan with adaptive augmentation (--ada_target=%g): ADA reads the sign of D on "
                        "real images, which the relativistic loss leaves undetermined; consider --ada_target=0 "
                        "(see docs/recipes.md).", config.ada_target)
    return {"policy": config.augment_policy,
            "probability": AdaptiveAugment(target=config.ada_target, initial_p=config.augment_p)}


def run(config: ExperimentConfig, callbacks=None):
    """Trains (or resumes) the run that `config` describes; returns a summary dict.

    Args:
      config: the run.
      callbacks: more `keras.callbacks.Callback`s for `fit`, e.g. `gan_tf.callbacks.LiveGrid`;
        they run after the run's own record of each epoch is written and before its checkpoint.
    """
    config.validate()
    callbacks = list(callbacks or ())
    wrong = [c for c in callbacks if not isinstance(c, keras.callbacks.Callback)]
    if wrong:
        raise ValueError(f"callbacks: {wrong!r} expected keras.callbacks.Callback objects.")
    if config.strategy == "multi_worker":
        if config.time_budget:
            raise ValueError(
                f"--time_budget={config.time_budget} with --strategy=multi_worker: each worker would read its "
                "own clock and stop at another step; expected --time_budget=0 for multi-worker runs."
            )
        subdirectory = distribute.worker_subdirectory()  # None on the chief
        if subdirectory:
            config = dataclasses.replace(config, out_dir=os.path.join(config.out_dir, subdirectory))
    if config.data_dir:  # recorded absolute, so that evaluate works from any working directory
        config = dataclasses.replace(config, data_dir=os.path.abspath(config.data_dir))
    distribute.configure_cpu_devices(config.cpu_devices)
    config, precision_reason = _resolve_precision(config)
    _check_run_directory(config)  # before the data is loaded: a refusal comes at once
    strategy = distribute.make_strategy(config.strategy)
    distribute.check_global_batch(config.batch_size, strategy)
    jit_compile = distribute.resolve_jit_compile(config.jit_compile, strategy)
    # The run's precision holds while it runs; the caller's (a notebook's, a test's) comes back after.
    caller_policy = keras.mixed_precision.global_policy()
    distribute.set_precision(config.mixed_precision)
    try:
        return _load_and_train(config, strategy, jit_compile, callbacks, precision_reason)
    finally:
        keras.mixed_precision.set_global_policy(caller_policy)


def _load_and_train(config, strategy, jit_compile, callbacks, precision_reason):
    """Loads and checks the data, then trains under the run directory's lock."""
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
    _check_data(config, dataset, info)
    _probe_writable(config.out_dir)
    with RunLock(config.out_dir):
        _check_run_directory(config)  # again, now that no other process can change it
        return _train(config, strategy, jit_compile, dataset, info, callbacks, precision_reason)


def _train(config, strategy, jit_compile, dataset, info, callbacks, precision_reason):
    """Builds, restores and fits; the run directory is checked, writable and locked."""
    _remove_leftovers(config.out_dir)
    conditioning = conditional.make_conditioning(config, info.num_classes, config.out_dir)
    with strategy.scope():
        gan = build_model(config, info.image_shape, strategy.num_replicas_in_sync, jit_compile, conditioning)
    manager = checkpoints.CheckpointManager(gan, os.path.join(config.out_dir, "checkpoints"), recipe=_recipe(config))
    start_epoch = manager.restore_latest(set_aside_unreadable=True) if config.resume else 0
    meta = manager.restored_meta
    start_step = int(meta.get("steps_into_epoch") or 0)  # a run stopped mid-epoch resumes there
    spent_seconds = float(meta.get("training_seconds") or 0.0)
    step = gan_callbacks.training_step(gan)
    budget_seconds = 60.0 * config.time_budget
    budget_spent = bool(budget_seconds) and spent_seconds >= budget_seconds
    will_train = (start_epoch, start_step) < (config.epochs, 0) and not budget_spent
    metrics_path = os.path.join(config.out_dir, "metrics.jsonl")
    _keep_metrics_until(metrics_path, step, meta.get("record"), drop_partial=will_train)
    _write_config(config, info, strategy, jit_compile, start_epoch, precision_reason)
    if config.text:
        conditional.save_text(conditioning, config.out_dir)
    summary = {"out_dir": config.out_dir, "start_epoch": start_epoch, "start_step": start_step,
               "epochs": config.epochs, "history": {}, "stopped": None}
    if not will_train:
        # Nothing to train, but every artefact of the finished (or budget-stopped) run is made
        # again if a kill lost it: the grids here, the last metrics line above.
        if budget_spent and (start_epoch, start_step) < (config.epochs, 0):
            summary["stopped"] = _stop_record(config, start_epoch, start_step, step, spent_seconds)
            _record_stop(config.out_dir, summary["stopped"])
            logging.info("%s: the time budget of %g min is spent (stopped at step %d); nothing to train.",
                         config.out_dir, config.time_budget, step)
        else:
            logging.info("%s already has %d of %d epochs; nothing to train.", config.out_dir, start_epoch,
                         config.epochs)
        _write_grids(gan, config, start_epoch)
        return summary

    batches, steps = gan_data.training_batches(
        dataset,
        config.batch_size,
        num_examples=info.num_examples,
        seed=config.seed,
        start_epoch=start_epoch,
        num_epochs=config.epochs,
        steps_per_epoch=config.steps_per_epoch or None,
    )
    tensorboard = gan_callbacks.TensorBoardLogger(
        os.path.join(config.out_dir, "logs"),
        hparams=config.to_dict(),
        every_steps=config.log_every_steps,
        image_every_steps=config.image_every_steps,
        batch_size=config.batch_size,
        num_images=config.sample_grid,
        seed=config.seed,
    )
    callback_list = [
        gan_callbacks.NonFiniteGuard(),
        gan_callbacks.Throughput(config.batch_size),
    ]
    evaluation = None
    if config.eval_every:
        from gan_tf.metrics import EvaluationCallback

        evaluation = EvaluationCallback(
            config.dataset,
            every=config.eval_every,
            num_samples=config.eval_samples,
            run_dir=config.out_dir,
            data_source=config.data_source,
            data_dir=config.data_dir or None,
            seed=config.seed,
            verbose=0,  # its progress bars would cut into the run's
        )
        callback_list.append(evaluation)
    held_out = _held_out_evaluation(config) if config.model == "vae" else None
    if held_out is not None:
        callback_list.append(held_out)
    if config.verbose:
        # Keras's own bar is off (fit verbose=0): see RunProgress.
        callback_list.append(progress.RunProgress(
            config.epochs, start_epoch, steps, bar=config.verbose == 1 and progress.interactive(),
            budget_seconds=budget_seconds - spent_seconds if budget_seconds else None,
            show_total=config.epochs < recipes.UNCAPPED_EPOCHS))
    callback_list += [
        gan_callbacks.MetricsJsonl(metrics_path),
        tensorboard,
        # The grid goes to TensorBoard once an epoch, unless the logger writes it every N steps.
        gan_callbacks.SampleGrid(config.out_dir, None if config.image_every_steps else tensorboard.train_writer,
                                 config.sample_grid, seed=config.seed),
        # User callbacks see everything the epoch recorded (metrics, the sample grid).
        *(callbacks or ()),
        # Last: a checkpoint marks its epoch done, so everything the epoch records must
        # exist first; a kill between them would otherwise lose that epoch's record, which
        # the rerun (resuming after the checkpoint) never writes again.
        gan_callbacks.Checkpoint(manager),
    ]
    clock = time_budget.TrainingClock(budget_seconds, spent_seconds, steps, manager, (start_epoch, start_step),
                                      start_record=meta.get("record") if start_step else None)
    # Right before the checkpoint: it hands the checkpoint the epoch's time and full record.
    callback_list.insert(_checkpoint_index(callback_list), clock)
    started = time.perf_counter()
    history = {}
    try:
        for fit_batches, first, last, fit_steps in _fits(config, dataset, info, batches, steps,
                                                         start_epoch, start_step):
            result = gan.fit(
                fit_batches,
                epochs=last,
                initial_epoch=first,
                steps_per_epoch=fit_steps,
                callbacks=callback_list,
                verbose=0,  # RunProgress draws the bar
                shuffle=False,  # training_batches already orders each epoch by (seed, epoch)
            )
            for key, values in result.history.items():
                history.setdefault(key, []).extend(values)
            if clock.stopped_at:
                break
    except time_budget.BudgetReached as stop:
        _stop_mid_epoch(gan, manager, metrics_path, stop, callback_list)
    except KeyboardInterrupt:
        done = manager.checkpoints()
        raise Interrupted(
            f"stopped by Ctrl-C at step {gan_callbacks.training_step(gan)}; rerun the same command to "
            f"resume from the last checkpoint ({os.path.basename(done[-1][1]) if done else 'none yet: from the start'})."
        ) from None
    finally:
        tensorboard.close()
    if clock.stopped_at:
        epoch, steps_into = clock.stopped_at
        summary["stopped"] = _stop_record(config, epoch, steps_into, gan_callbacks.training_step(gan),
                                          clock.spent_seconds)
        _record_stop(config.out_dir, summary["stopped"])
        logging.info("Time budget of %g min spent: stopped at step %d.", config.time_budget,
                     summary["stopped"]["step"])
    summary.update(seconds=time.perf_counter() - started, history=history, gan=gan)
    if config.verbose:
        metrics = evaluation.last_results if evaluation is not None else None
        print(progress.run_summary(config.out_dir, config.epochs, summary["seconds"], metrics, summary["stopped"]),
              flush=True)
    return summary


def _checkpoint_index(callback_list):
    for index, callback in enumerate(callback_list):
        if isinstance(callback, gan_callbacks.Checkpoint):
            return index
    return len(callback_list)


def _fits(config, dataset, info, batches, steps, start_epoch, start_step):
    """The `fit` calls that train from `(start_epoch, start_step)` to the end.

    Keras cannot start inside an epoch: a mid-epoch resume first fits the rest of that epoch
    as a shorter epoch, then the remaining epochs on a stream that starts at the next one.
    Yields `(batches, initial_epoch, epochs, steps_per_epoch)`.
    """
    if not start_step:
        yield batches, start_epoch, config.epochs, steps
        return

    def stream(first_epoch, last_epoch, first_step):
        return gan_data.training_batches(
            dataset, config.batch_size, num_examples=info.num_examples, seed=config.seed,
            start_epoch=first_epoch, num_epochs=last_epoch, steps_per_epoch=config.steps_per_epoch or None,
            start_step=first_step,
        )[0]

    yield stream(start_epoch, start_epoch + 1, start_step), start_epoch, start_epoch + 1, steps - start_step
    if start_epoch + 1 < config.epochs:
        yield stream(start_epoch + 1, config.epochs, 0), start_epoch + 1, config.epochs, steps


def _stop_record(config, epoch, steps_into_epoch, step, training_seconds):
    return {"reason": "time_budget", "time_budget_minutes": config.time_budget, "epoch": epoch,
            "steps_into_epoch": steps_into_epoch, "step": step, "training_seconds": round(training_seconds, 3)}


def _stop_mid_epoch(gan, manager, metrics_path, stop, callback_list):
    """After a budget stop inside an epoch: its evaluation and metrics line, the end-of-training
    callbacks (`final.png`, writers closed), then its checkpoint.

    In that order, as at an epoch's end: the checkpoint marks the stop done, so a kill before
    it makes the rerun redo (and record again) the steps since the previous checkpoint.
    """
    logs = dict(stop.logs)
    for callback in callback_list:
        if getattr(callback, "evaluator", None) is not None and hasattr(callback, "num_samples"):
            logs.update(callback.evaluator.evaluate_generator(gan, callback.num_samples))  # --eval_every
        if isinstance(callback, gan_callbacks.HeldOutEvaluation):
            logs.update(callback.evaluate(gan))  # a VAE's held-out PSNR/SSIM
    record = time_budget.epoch_record(gan, stop.epoch + 1, logs)
    record.update(steps_into_epoch=stop.steps_into_epoch, stopped="time_budget",
                  training_seconds=round(stop.training_seconds, 3))
    with open(metrics_path, "a") as f:
        f.write(json.dumps(record) + "\n")
    for callback in callback_list:  # Keras skips on_train_end when fit is left by an exception
        callback.on_train_end(logs)
    manager.save(stop.epoch, stop.steps_into_epoch, training_seconds=stop.training_seconds, record=record)


def restore_gan(run_dir, checkpoint=None):
    """Rebuilds a trained run's GAN (a VAE for a `--model=vae` run) from its config.json and checkpoint.

    Args:
      run_dir: a run directory written by `run`.
      checkpoint: a checkpoint path (default: the newest readable one).

    Returns:
      (gan, the run's flags), the flags with `data_source_used` (the data source training
      used) and `checkpoint_used` (the absolute path of the checkpoint restored).
    """
    record = run_record.read(run_dir, need_data=True)
    config = ExperimentConfig(**{**OLDER_RECORD_VALUES, **record["flags"]})
    distribute.set_precision(config.mixed_precision)
    conditioning = conditional.make_conditioning(config, record["data"].get("num_classes"), run_dir)
    gan = build_model(config, tuple(record["data"]["image_shape"]), conditioning=conditioning)
    manager = checkpoints.CheckpointManager(gan, os.path.join(run_dir, "checkpoints"))
    if checkpoint:
        try:
            manager.restore(checkpoint)
        except checkpoints.READ_ERRORS as error:
            raise ValueError(f"--checkpoint={checkpoint!r} cannot be restored: {error}") from None
    elif manager.restore_latest() == 0:
        raise ValueError(f"--run_dir={run_dir!r} has no checkpoint to evaluate.")
    return gan, dict(record["flags"], data_source_used=record["data"]["source"], checkpoint_used=manager.restored_path)
