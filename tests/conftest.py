"""Test-wide set-up that must happen before TensorFlow initialises.

Two logical CPU devices let MirroredStrategy tests run without GPUs; they can only
be configured before the first op runs, hence here and not in a fixture.
"""
import os
import tempfile

_home = tempfile.mkdtemp(prefix="gan_tf_tests_")
os.environ.setdefault("KERAS_HOME", os.path.join(_home, "keras"))
os.environ.setdefault("MPLCONFIGDIR", os.path.join(_home, "mpl"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")
# Tests never touch the network, nor data or caches a developer has prepared.
os.environ["GAN_TF_OFFLINE"] = "1"
os.environ["TFDS_DATA_DIR"] = os.path.join(_home, "tensorflow_datasets")
os.environ["GAN_TF_CACHE"] = os.path.join(_home, "gan_tf_cache")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

_cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    _cpu, [tf.config.LogicalDeviceConfiguration()] * 2
)


# --- Commands as documented: extracting them from text, parsing them with the real flags ---
import argparse  # noqa: E402
import functools  # noqa: E402
import importlib  # noqa: E402
import inspect  # noqa: E402
import re  # noqa: E402
import runpy  # noqa: E402
import shlex  # noqa: E402
import warnings  # noqa: E402

import pytest  # noqa: E402

_COMMAND = re.compile(r"python3? (-m gan_tf(?:\.\w+)+|experiments/[\w/]+\.py)\b")
_SHELL_END = {"&&", "||", "|", ";", ">", ">>", "<", "&"}


def shell_commands(text):
    """[(target, argv)] of every `python -m gan_tf...` / `python experiments/....py` command in `text`.

    Backslash-continued lines are joined; a command ends at a shell operator or a comment.
    `target` is the module name or the script path.
    """
    text = re.sub(r"\\\n\s*", " ", text)
    found = []
    for line in text.splitlines():
        for match in _COMMAND.finditer(line):
            rest = line[match.end():].split("`")[0]  # inline code ends at its backtick
            try:
                tokens = shlex.split(rest, comments=True)
            except ValueError:  # an unbalanced quote: take the words as they are
                tokens = rest.split()
            argv = []
            for token in tokens:
                if token in _SHELL_END:
                    break
                # Usage notation: [--optional value], a|b alternatives, [--flags] for "any flags".
                token = token.strip("[]")
                if token in ("--flags", "--flag=value", "..."):
                    continue
                argv.append(token.split("|")[0])
            target = match.group(1)
            found.append((target[3:] if target.startswith("-m ") else target, argv))
    return found


class _StopBeforeRunning(Exception):
    pass


def command_parser(target):
    """A function argv -> parsed flags, built from the command's own flag declarations.

    Runs the module (or script) as `__main__` until it hands over to `absl.app.run` or
    `argparse`'s `parse_args`, with absl's flags defined into a fresh `FlagValues`, so
    nothing runs and the process's global flags stay untouched. The returned function
    raises (absl `Error`, or `SystemExit` from argparse) when argv does not parse.
    """
    from absl import app
    from absl import flags as absl_flags

    fresh = absl_flags.FlagValues()
    captured = {}

    def parse_absl(argv):
        leftover = fresh([target] + list(argv))
        if len(leftover) > 1:
            raise absl_flags.Error(f"unexpected arguments {leftover[1:]}")
        return fresh

    if target in ("gan_tf.generate", "gan_tf.conditional_eval"):  # flags of their own, parsed by `parse`
        command = importlib.import_module(target)
        if hasattr(command, "parse"):
            return command.parse
    if target.startswith("gan_tf.experiments.") and target.rsplit(".", 1)[1] not in ("flags_doc",):
        from gan_tf.experiments import flags as experiment_flags
        from gan_tf.experiments import recipes

        module = recipes.experiment_module(target.rsplit(".", 1)[1])
        if hasattr(module, "DEFAULTS"):  # an experiment: its flags come from the one declaration
            experiment_flags.define_flags(module, flag_values=fresh)
            return parse_absl

    def stop_parse(self, args=None, namespace=None):
        captured["parser"] = self
        raise _StopBeforeRunning

    def stop_app(*args, **kwargs):
        raise _StopBeforeRunning

    with pytest.MonkeyPatch.context() as patch:
        for name in dir(absl_flags):
            function = getattr(absl_flags, name)
            if not callable(function) or inspect.isclass(function):
                continue
            try:
                parameters = inspect.signature(function).parameters
            except (TypeError, ValueError):
                continue
            if "flag_values" in parameters:
                patch.setattr(absl_flags, name, functools.partial(function, flag_values=fresh))
        patch.setattr(app, "run", stop_app)
        patch.setattr(argparse.ArgumentParser, "parse_args", stop_parse)
        if target.endswith(".py"):
            patch.syspath_prepend(os.path.dirname(os.path.abspath(target)))  # as `python script.py` does
        try:
            with warnings.catch_warnings():
                # runpy notes that the module was imported before; it is run afresh all the same.
                warnings.filterwarnings("ignore", "'.*' found in sys.modules", RuntimeWarning)
                if target.endswith(".py"):
                    runpy.run_path(target, run_name="__main__")
                else:
                    runpy.run_module(target, run_name="__main__", alter_sys=False)
        except _StopBeforeRunning:
            pass
    if "parser" in captured:
        return captured["parser"].parse_args
    return parse_absl


@pytest.fixture
def no_tensorflow(tmp_path):
    """(env, seen): an environment in which importing `tensorflow` or `keras` raises, after writing to
    the file `seen` the TF_ENABLE_ONEDNN_OPTS it was imported with."""
    fake = tmp_path / "fake_packages"
    seen = tmp_path / "onednn_at_import.txt"
    for name in ("tensorflow", "keras"):
        (fake / name).mkdir(parents=True)
        (fake / name / "__init__.py").write_text(
            "import os\n"
            f"open({str(seen)!r}, 'w').write(os.environ.get('TF_ENABLE_ONEDNN_OPTS', '<unset>'))\n"
            f"raise ImportError('fake {name}: the command imported it')\n"
        )
    repository = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {key: value for key, value in os.environ.items() if key != "TF_ENABLE_ONEDNN_OPTS"}
    env["PYTHONPATH"] = os.pathsep.join([str(fake), repository])
    return env, seen


@pytest.fixture
def cli():
    """`cli.commands(text)` and `cli.parser(target)` (see `shell_commands`, `command_parser`)."""
    import types

    return types.SimpleNamespace(commands=shell_commands, parser=command_parser)


# --- Tiny data sets: an mnist.npz in the layout of Keras's MNIST file, which `--data_dir` reads ---
class TinyMnist:
    """`tiny_mnist(train=32, test=8, pattern="random", seed=0)`: a data directory holding an mnist.npz of
    `train` + `test` uint8 28×28 images (made once per set of arguments; `directory=` writes a fresh one
    there instead) with labels cycling 0..9. `pattern`: "random" pixels (a `np.random.RandomState(seed)`
    draw of all train + test images, train first) or "bars" (a white bar whose row moves with the image's
    index, something a tiny GAN can learn).

    `tiny_mnist.write(directory, x_train, y_train, x_test, y_test)` writes given arrays (any content, any
    mismatch a test needs) and returns the directory as a string.
    """

    def __init__(self, tmp_path_factory):
        self._factory = tmp_path_factory
        self._made = {}

    @staticmethod
    def write(directory, x_train, y_train, x_test, y_test):
        import numpy as np

        os.makedirs(directory, exist_ok=True)
        np.savez(os.path.join(directory, "mnist.npz"), x_train=x_train, y_train=y_train, x_test=x_test,
                 y_test=y_test)
        return str(directory)

    @staticmethod
    def digits(n, pattern="random", seed=0):
        """n uint8 [28, 28] images of `pattern` (see the class) and labels cycling 0..9."""
        import numpy as np

        if pattern == "random":
            images = np.random.RandomState(seed).randint(0, 256, (n, 28, 28)).astype(np.uint8)
        elif pattern == "bars":
            images = np.zeros((n, 28, 28), np.uint8)
            for i, image in enumerate(images):
                image[4 + i % 20 : 8 + i % 20, 6:22] = 255
        else:
            raise ValueError(f"pattern={pattern!r}: expected 'random' or 'bars'")
        return images, (np.arange(n) % 10).astype(np.uint8)

    def __call__(self, train=32, test=8, pattern="random", seed=0, directory=None):
        key = (train, test, pattern, seed)
        if directory is None and key in self._made:
            return self._made[key]
        images, labels = self.digits(train + test, pattern, seed)
        written = self.write(directory or self._factory.mktemp("mnist"), images[:train], labels[:train],
                             images[train:], labels[train:])
        if directory is None:
            self._made[key] = written
        return written


@pytest.fixture(scope="session")
def tiny_mnist(tmp_path_factory):
    """See `TinyMnist`."""
    return TinyMnist(tmp_path_factory)


@pytest.fixture(autouse=True)
def float32_policy_after_each_test():
    """Keras's global dtype policy back to float32 after every test: code that sets a run's
    precision (`restore_gan`; `--mixed_precision=auto` is bfloat16 on CPUs that have it natively)
    must not change what later tests build."""
    yield
    keras.mixed_precision.set_global_policy("float32")


@pytest.fixture
def deterministic_ops():
    """TensorFlow's deterministic ops for one test (bitwise resume comparisons). TF has no public
    switch back; the private one keeps the other tests at full speed."""
    from tensorflow.python.framework import config as tf_config

    tf.config.experimental.enable_op_determinism()
    yield
    tf_config.disable_op_determinism()


@pytest.fixture
def event_tags():
    """tags(directory): every summary tag in the TensorBoard event files under `directory`."""
    import glob

    def tags(directory):
        found = set()
        for path in glob.glob(os.path.join(directory, "**", "events.out.tfevents.*"), recursive=True):
            for event in tf.compat.v1.train.summary_iterator(path):
                found.update(value.tag for value in event.summary.value)
        return found

    return tags
