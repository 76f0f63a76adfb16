"""The one reader of a run directory's `config.json` (training, `generate`, `evaluate`).

Kept free of TensorFlow so that a wrong `--run_dir` is reported before any device starts.
"""
import json
import os

from gan_tf import cli
from gan_tf.experiments.config import ExperimentConfig

CONFIG_NAME = "config.json"

# A run directory whose config.json is missing or not one a training run writes: a mistake in the
# command's --run_dir, the one error class of the commands that read run directories.
RunRecordError = cli.CommandError


def config_path(run_dir):
    """`<run_dir>/config.json`; raises `RunRecordError` if `run_dir` has none."""
    expected = "expected the --out_dir of a training run, e.g. runs/mnist."
    if not run_dir or not os.path.isdir(run_dir):
        raise RunRecordError(f"--run_dir={run_dir!r} is not a directory, so it has no config.json: {expected}")
    path = os.path.join(run_dir, CONFIG_NAME)
    if not os.path.isfile(path):
        raise RunRecordError(f"--run_dir={run_dir!r} has no config.json: {expected}")
    return path


def read(run_dir, need_data=False):
    """The checked config.json record of `run_dir`.

    Args:
      run_dir: a run directory.
      need_data: also require `data.image_shape` and `data.source` (needed to rebuild the GAN).

    Raises:
      RunRecordError: naming the file and what was expected.
    """
    path = config_path(run_dir)
    try:
        with open(path) as f:
            record = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise RunRecordError(
            f"{path} is not valid JSON ({error}): expected the config.json a training run writes."
        ) from None
    holds = ""
    if not isinstance(record, dict):
        holds = f" (it holds a JSON {type(record).__name__}, not an object)"
        record = {}
    missing = [] if isinstance(record.get("flags"), dict) else ["flags"]
    if need_data or "data" in record:
        data = record.get("data") if isinstance(record.get("data"), dict) else None
        missing += [] if data is not None else ["data"]
        if need_data:
            missing += [f"data.{key}" for key in ("image_shape", "source") if key not in (data or {})]
    if missing:
        raise RunRecordError(
            f"{path} lacks {', '.join(missing)}{holds}: expected the config.json a training run writes."
        )
    unknown = sorted(set(record["flags"]) - set(ExperimentConfig().to_dict()))
    if unknown:
        raise RunRecordError(
            f"{path} has flags this version of gan_tf does not know ({', '.join(unknown)}): "
            "it was written by a different version."
        )
    return record
