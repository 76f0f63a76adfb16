"""TensorFlow Datasets as a source: data already prepared on disk, or a download guarded by a network probe.

`tfds.load(name)` with its default `download=True` retries for minutes when offline, so this module never
calls it blindly: prepared data is found by looking for `dataset_info.json` on disk (without even
importing tensorflow_datasets, which is slow to import), and a download happens only after
`network.is_online` says the host answers.
"""
import glob
import os

from gan_tf.data import network
from gan_tf.data.base import SourceUnavailable


def default_data_dir():
    """TFDS's data directory: $TFDS_DATA_DIR, else ~/tensorflow_datasets (read at call time)."""
    return os.environ.get("TFDS_DATA_DIR") or os.path.join(os.path.expanduser("~"), "tensorflow_datasets")


def candidate_dirs(data_dir):
    """TFDS data directories to search: `data_dir` (when given) and then TFDS's default."""
    dirs = [d for d in (data_dir, default_data_dir()) if d]
    return list(dict.fromkeys(os.path.abspath(d) for d in dirs if os.path.isdir(d)))


def _prepared_in(tfds_name, directory):
    # <dir>/<name>/<version>/dataset_info.json, or <dir>/<name>/<config>/<version>/dataset_info.json
    root = os.path.join(directory, tfds_name)
    return sorted(glob.glob(os.path.join(root, "*", "dataset_info.json"))
                  + glob.glob(os.path.join(root, "*", "*", "dataset_info.json")))


def load_prepared(tfds_name, split, data_dir, **as_dataset_kwargs):
    """Loads `split` of TFDS dataset `tfds_name` if it is already prepared in one of `candidate_dirs`.

    Args:
      tfds_name: TFDS name ("mnist", "fashion_mnist", "celeb_a").
      split: TFDS split name.
      data_dir: user's data directory (searched first), or None.
      **as_dataset_kwargs: passed to `builder.as_dataset`.

    Returns:
      `(tf.data.Dataset, num_examples, note)`.

    Raises:
      SourceUnavailable: no prepared copy of that split anywhere.
    """
    dirs = candidate_dirs(data_dir)
    reasons = []
    for directory in dirs:
        if not _prepared_in(tfds_name, directory):
            reasons.append(f"no prepared {tfds_name} in {directory}")
            continue
        import tensorflow_datasets as tfds  # slow import: only when there is something to read

        try:
            builder = tfds.builder(tfds_name, data_dir=directory)
            parts = split.split("+")  # "train+validation+test"
            missing = [p for p in parts if p not in builder.info.splits]
            if missing:
                reasons.append(f"{tfds_name} in {directory} has no split {missing[0]!r}")
                continue
            num_examples = sum(builder.info.splits[p].num_examples for p in parts)
            ds = builder.as_dataset(split=split, shuffle_files=False, **as_dataset_kwargs)
        except Exception as e:  # TFDS raises AssertionError, FileNotFoundError, ... for partial data
            reasons.append(f"{tfds_name} in {directory} is not usable ({type(e).__name__}: {e})")
            continue
        return ds, num_examples, f"TFDS {tfds_name} {builder.info.version} prepared in {directory}"
    if not dirs:
        reasons.append(f"no TFDS data directory ({default_data_dir()} does not exist)")
    raise SourceUnavailable("; ".join(reasons))


def download(tfds_name, split, data_dir, probe_host, **as_dataset_kwargs):
    """Downloads and prepares `tfds_name` with TFDS, only when `probe_host` answers quickly.

    Returns:
      `(tf.data.Dataset, num_examples, note)`.

    Raises:
      SourceUnavailable: the network is down or the download failed.
    """
    ok, why = network.is_online(probe_host)
    if not ok:
        raise SourceUnavailable(f"network unavailable ({why}); no download attempted")
    import tensorflow_datasets as tfds

    directory = data_dir or default_data_dir()
    try:
        builder = tfds.builder(tfds_name, data_dir=directory)
        builder.download_and_prepare()
        num_examples = sum(builder.info.splits[p].num_examples for p in split.split("+"))
        ds = builder.as_dataset(split=split, shuffle_files=False, **as_dataset_kwargs)
    except Exception as e:
        raise SourceUnavailable(f"TFDS download of {tfds_name} failed ({type(e).__name__}: {e})") from e
    return ds, num_examples, f"TFDS {tfds_name} {builder.info.version} downloaded into {directory}"
