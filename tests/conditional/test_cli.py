"""`python -m gan_tf.generate` on tiny trained runs, and every bad input it must refuse cleanly."""
import json
import os
import subprocess
import sys

import matplotlib.image
import numpy as np
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


# ------------------------------------------------------------------ --interpolate
def _png_shape(path):
    from PIL import Image

    with Image.open(path) as picture:
        return picture.size[1], picture.size[0]


def test_class_run_interpolates_one_row_per_class_with_shared_noise(class_run, tmp_path):
    out = tmp_path / "classes.png"
    assert generate.main(["--run_dir", class_run, "--interpolate", "5", "--out", str(out)]) == 0
    assert _png_shape(out) == (10 * 28, 5 * 28)
    images, columns = generate.interpolate(class_run, 5, str(tmp_path / "again.png"))
    rows = images.reshape(10, 5, 28, 28, 1)
    assert not np.allclose(rows[0], rows[1])  # the class changes down a column


def test_interpolation_between_two_classes_starts_and_ends_at_them(class_run, tmp_path):
    from gan_tf import latent
    from gan_tf.experiments.runner import restore_gan

    images, columns = generate.interpolate(class_run, 4, str(tmp_path / "3to8.png"), rows=2, labels=[3, 8],
                                           gap=1, upscale=2)
    assert columns == 4 and _png_shape(tmp_path / "3to8.png") == (2 * 56 + 1, 4 * 56 + 3)
    gan, _ = restore_gan(class_run)
    noise = latent.endpoint_noise(gan.latent_dim, 2, seed=0)[0].astype(np.float32)
    for label, column in ((3, 0), (8, 3)):
        expected = gan.generator([noise, np.full(2, label, np.int32)], training=False).numpy()
        np.testing.assert_allclose(images.reshape(2, 4, 28, 28, 1)[:, column], expected, atol=1e-5)


def test_walk_gif_on_a_fixed_label(class_run, tmp_path):
    from PIL import Image

    out = tmp_path / "walk.gif"
    assert generate.main(["--run_dir", class_run, "--label", "2", "--interpolate", "4", "--rows", "4",
                          "--gif", "--out", str(out)]) == 0
    with Image.open(out) as gif:
        assert gif.n_frames == 4 + 2  # there and back: 0 1 2 3 2 1
        assert gif.size == (2 * 28, 2 * 28)  # 4 walks side by side


def test_text_run_interpolates_between_two_prompts(text_run, tmp_path, capsys):
    out = tmp_path / "prompts.png"
    assert generate.main(["--run_dir", text_run, "--prompt", "a handwritten three", "--prompt",
                          "a handwritten eight", "--interpolate", "3", "--rows", "2", "--out", str(out)]) == 0
    assert _png_shape(out) == (2 * 28, 3 * 28)
    assert "'a handwritten three' to 'a handwritten eight'" in capsys.readouterr().out


@pytest.fixture(scope="module")
def trained_unconditional_run(tmp_path_factory, tiny_config):
    from gan_tf.experiments.runner import run

    out = tmp_path_factory.mktemp("trained") / "plain"
    run(tiny_config(out, conditional="none"))
    return str(out)


def test_unconditional_run_interpolates_noise_pairs_spherically_or_linearly(trained_unconditional_run, tmp_path):
    spherical, _ = generate.interpolate(trained_unconditional_run, 3, str(tmp_path / "s.png"), rows=2)
    linear, _ = generate.interpolate(trained_unconditional_run, 3, str(tmp_path / "l.png"), rows=2, linear=True)
    ends = [0, 2, 3, 5]  # endpoints agree, the middles differ
    np.testing.assert_allclose(spherical[ends], linear[ends], atol=1e-5)
    assert not np.allclose(spherical[1], linear[1])


@pytest.mark.parametrize("run, args, message", [
    ("class", ["--interpolate", "1"], "--interpolate=1: expected at least 2"),
    ("class", ["--interpolate", "3", "--label", "1", "--label", "2", "--label", "3"], "--label given 3 times"),
    ("class", ["--interpolate", "3", "--label", "1", "--label", "12"], r"--label=12 is out of range"),
    ("class", ["--interpolate", "3", "--gif"], r"--out='.*x.png': expected a .gif file name"),
    ("class", ["--interpolate", "3", "--rows", "0"], "--rows=0: expected a positive number"),
    ("class", ["--label", "1", "--label", "2"], "--label given 2 times: expected one .two only with --interpolate"),
    ("class", ["--label", "1", "--linear"], "--linear needs --interpolate N"),
    ("class", ["--label", "1", "--gap", "-1"], "--gap=-1: expected an integer >= 0"),
    ("text", ["--interpolate", "3"], "is a text-to-image run: expected --prompt"),
    ("text", ["--interpolate", "3", "--prompt", "a seven", "--prompt", "a zebra"], "unknown word 'zebra'"),
    ("class", ["--bogus"], "Unknown command line flag 'bogus'"),
    ("class", ["--n", "many"], "flag --n=many"),
])
def test_bad_interpolation_input_gets_one_clear_line(run, args, message, text_run, class_run, tmp_path, capsys):
    run_dir = {"text": text_run, "class": class_run}[run]
    status = generate.main(["--run_dir", run_dir, "--out", str(tmp_path / "x.png"), *args])
    error = capsys.readouterr().err
    assert status == 1 and error.startswith("error: ")
    assert __import__("re").search(message, error), error
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("run, prompt, message", [
    ("text", "a " * 9000, r"prompt='a a a .*'\.\.\. \(18,000 characters\) has 9,000 words: expected at most 12"),
    ("text", " ".join(f"zebra{i}" for i in range(9000)),
     r"unknown words 'zebra0', .*'zebra9' and 8,990 more; the text encoder only knows"),
    ("class", "seven " * 9000, r"--prompt='seven seven .*'\.\.\. \(54,000 characters\): run .* is conditioned"),
])
def test_a_very_long_prompt_is_not_echoed_whole(run, prompt, message, text_run, class_run, tmp_path, capsys):
    run_dir = {"text": text_run, "class": class_run}[run]
    status = generate.main(["--run_dir", run_dir, "--out", str(tmp_path / "x.png"), "--prompt", prompt])
    error = capsys.readouterr().err
    assert status == 1 and __import__("re").search(message, error), error[:2000]
    assert len(error) < 1000


# ------------------------------------------------------------------ without TensorFlow
@pytest.fixture
def no_tensorflow(tmp_path):
    """An environment whose first PYTHONPATH entry holds a `tensorflow` that raises on import."""
    fake = tmp_path / "fake" / "tensorflow"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('the fake tensorflow was imported')\n")
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return dict(os.environ, PYTHONPATH=os.pathsep.join([str(fake.parent), repo]))


def _without_tensorflow(env, *args, cwd):
    return subprocess.run([sys.executable, "-m", "gan_tf.generate", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_fake_tensorflow_does_raise(no_tensorflow, tmp_path):
    result = subprocess.run([sys.executable, "-c", "import tensorflow"], env=no_tensorflow, cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "the fake tensorflow was imported" in result.stderr


def test_help_lists_the_flags_without_tensorflow(no_tensorflow, tmp_path):
    result = _without_tensorflow(no_tensorflow, "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for flag in ("--run_dir", "--interpolate", "--linear", "--gif", "--label", "--prompt", "--upscale"):
        assert f"  {flag}" in result.stdout or f"  --[no]{flag[2:]}" in result.stdout, flag
    assert "(default: '16')" in result.stdout  # --n's own default
    assert "--flagfile" not in result.stdout  # absl's own flags are not this command's


@pytest.mark.parametrize("args, message", [
    (["--bogus"], "Unknown command line flag 'bogus'"),
    ([], "Flag --run_dir must have a value"),
    (["--run_dir", "CLASS", "--label", "10"], "--label=10 is out of range"),
    (["--run_dir", "TEXT", "--prompt", "a zebra"], "unknown word 'zebra'"),
    # 1.5 TB of images: refused before TensorFlow starts, let alone allocates them.
    (["--run_dir", "CLASS", "--label", "1", "--n", "100000000"], "--n=100000000: 100,000,000 images of 28x28x1 "
                                                                 "need about 1,489.6 GB to draw and lay out"),
    (["--run_dir", "CLASS", "--interpolate", "3", "--label", "1", "--gif", "--out", "x.png"], "expected a .gif"),
])
def test_argument_errors_answer_without_tensorflow(args, message, no_tensorflow, class_run, text_run, tmp_path):
    args = [{"CLASS": class_run, "TEXT": text_run}.get(a, a) for a in args]
    result = _without_tensorflow(no_tensorflow, *args, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_text_run_interpolates_noise_with_one_prompt_fixed(text_run, tmp_path):
    images, columns = generate.interpolate(text_run, 2, str(tmp_path / "seven.png"), rows=3,
                                           prompts=["a handwritten seven"])
    assert columns == 2 and images.shape == (6, 28, 28, 1)
    assert _png_shape(tmp_path / "seven.png") == (3 * 28, 2 * 28)


@pytest.mark.parametrize("args, code, text", [
    (["--help"], 0, "--samples_per_class"),
    (["--run_dir", "x", "--samples_per_class", "0"], 1, "--samples_per_class=0: 0 is not a positive integer"),
    (["--bogus", "1"], 1, "Unknown command line flag 'bogus'"),
    ([], 1, "Flag --run_dir must have a value"),
])
def test_conditional_eval_parses_with_absl_before_tensorflow(no_tensorflow, tmp_path, args, code, text):
    result = subprocess.run([sys.executable, "-m", "gan_tf.conditional_eval", *args], cwd=tmp_path,
                            env=no_tensorflow, capture_output=True, text=True, timeout=120)
    assert result.returncode == code, result.stderr
    assert text in (result.stdout if code == 0 else result.stderr)
    assert "Traceback" not in result.stderr
