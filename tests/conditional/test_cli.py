"""`python -m gan_tf.generate` on tiny trained runs, and every bad input it must refuse cleanly."""
import json
import os
import subprocess
import sys

import matplotlib.image
import pytest

from gan_tf import generate


def test_prompt_on_a_text_run_writes_a_grid(text_run, tmp_path, capsys):
    out = tmp_path / "seven.png"
    assert generate.main(["--run_dir", text_run, "--prompt", "a handwritten seven", "--n", "4",
                          "--out", str(out)]) == 0
    assert matplotlib.image.imread(out).shape[:2] == (56, 56)  # 4 images, 2 × 2
    assert "a handwritten seven" in capsys.readouterr().out


def test_label_on_a_class_run_is_deterministic_under_a_seed(class_run, tmp_path):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    assert generate.main(["--run_dir", class_run, "--label", "7", "--n", "3", "--out", str(a)]) == 0
    assert generate.main(["--run_dir", class_run, "--label", "7", "--n", "3", "--out", str(b)]) == 0
    assert (matplotlib.image.imread(a) == matplotlib.image.imread(b)).all()


@pytest.fixture(scope="module")
def unconditional_run(tmp_path_factory, tiny_config):
    """A directory whose config.json is an unconditional run's (no training needed to refuse)."""
    out = tmp_path_factory.mktemp("unconditional")
    config = tiny_config(out, conditional="none")
    (out / "config.json").write_text(json.dumps({"flags": config.to_dict(), "data": {"num_classes": 10}}))
    return str(out)


@pytest.mark.parametrize("run, args, message", [
    ("text", ["--prompt", "a handwritten zebra"], "unknown word 'zebra'; the text encoder only knows"),
    ("text", ["--prompt", ""], "prompt='' is empty"),
    ("text", ["--prompt", "a " * 20], "has 20 words: expected at most 12"),
    ("text", ["--label", "7"], "--label=7: run .* is a text-to-image run; expected --prompt"),
    ("text", [], "is a text-to-image run: expected --prompt"),
    ("class", ["--label", "10"], r"--label=10 is out of range: expected an integer in \[0, 9\]"),
    ("class", ["--label", "-1"], r"--label=-1 is out of range"),
    ("class", ["--prompt", "a seven"], "is conditioned on class labels, not text; expected --label"),
    ("class", ["--label", "3", "--n", "0"], "--n=0: expected a positive number"),
    ("class", ["--label", "3", "--out", "/no/such/dir/x.png"], "--out='/no/such/dir/x.png'"),
    ("unconditional", ["--label", "3"], "--label=3: run .* is unconditional .*expected neither"),
    ("unconditional", ["--prompt", "a seven"], "is unconditional"),
    ("missing", ["--label", "3"], "has no config.json: expected the --out_dir of a training run"),
])
def test_bad_input_gets_one_clear_line(run, args, message, text_run, class_run, unconditional_run, tmp_path, capsys):
    run_dir = {"text": text_run, "class": class_run, "unconditional": unconditional_run,
               "missing": str(tmp_path / "nothing")}[run]
    status = generate.main(["--run_dir", run_dir, "--out", str(tmp_path / "x.png"), *args])
    error = capsys.readouterr().err
    assert status == 1
    assert error.startswith("error: ")
    assert __import__("re").search(message, error), error
    assert not (tmp_path / "x.png").exists()


def _module(name, *args, cwd):
    env = dict(os.environ, GAN_TF_OFFLINE="1")
    return subprocess.run([sys.executable, "-m", name, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.slow
def test_generate_command_reports_errors_without_a_traceback(text_run, tmp_path):
    result = _module("gan_tf.generate", "--run_dir", text_run, "--prompt", "a handwritten zebra", cwd=tmp_path)
    assert result.returncode == 1
    assert "error: prompt='a handwritten zebra': unknown word 'zebra'" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_text_to_image_command_refuses_acgan_before_touching_anything(tmp_path):
    result = _module("gan_tf.experiments.text_to_image", "--conditional=acgan", "--out_dir=run", cwd=tmp_path)
    assert result.returncode == 1
    assert "--text with --conditional=acgan: expected --conditional=projection or concat" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "run").exists()
