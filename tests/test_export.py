"""`python -m gan_tf.export`: the exported generator gives `gan.generate`'s images without
gan_tf, through plain Keras and through the SavedModel signature; the CLI checks its
arguments before TensorFlow."""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from gan_tf import export
from gan_tf.experiments import recipes
from gan_tf.experiments.config import ExperimentConfig
from gan_tf.experiments.runner import restore_gan, run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def data_dir(tiny_mnist):
    """A tiny MNIST-like mnist.npz: 40 train and 10 test images of bars, 10 classes."""
    return tiny_mnist(train=40, test=10, pattern="bars")


def _trained_run(data_dir, out, **changes):
    config = ExperimentConfig(dataset="mnist", out_dir=str(out), epochs=1, steps_per_epoch=2, batch_size=8,
                              latent_dim=8, width=4, sample_grid=4, data_dir=data_dir, verbose=0, seed=3,
                              embedding_dim=4, **changes)
    run(config)
    return str(out)


# Runs in a fresh interpreter: plain Keras and TensorFlow only.
_LOAD_WITHOUT_GAN_TF = textwrap.dedent("""
    import sys
    import numpy as np
    import keras
    import tensorflow as tf

    export_dir, inputs_path, outputs_path = sys.argv[1:]
    inputs = dict(np.load(inputs_path))
    model = keras.models.load_model(export_dir + "/generator.keras")
    given = [inputs["noise"], inputs["condition"]] if "condition" in inputs else inputs["noise"]
    keras_images = np.asarray(model.predict(given, verbose=0))
    serve = tf.saved_model.load(export_dir + "/saved_model").signatures["serving_default"]
    saved_images = serve(**{k: tf.constant(v) for k, v in inputs.items()})["images"].numpy()
    assert not [name for name in sys.modules if name.split(".")[0] == "gan_tf"], "gan_tf was imported"
    np.savez(outputs_path, keras=keras_images, saved_model=saved_images)
""")


def _load_elsewhere(export_dir, inputs, tmp_path):
    np.savez(tmp_path / "inputs.npz", **inputs)
    script = tmp_path / "load.py"
    script.write_text(_LOAD_WITHOUT_GAN_TF)
    # The script's own directory is sys.path[0]; nothing else of the project is on the path.
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    result = subprocess.run([sys.executable, str(script), export_dir, str(tmp_path / "inputs.npz"),
                             str(tmp_path / "outputs.npz")], capture_output=True, text=True, env=env,
                            cwd=str(tmp_path), timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    outputs = np.load(tmp_path / "outputs.npz")
    return outputs["keras"], outputs["saved_model"]


@pytest.mark.slow
@pytest.mark.parametrize("conditional", ["none", "projection"])
def test_exported_generator_gives_generate_images_without_gan_tf(data_dir, tmp_path, conditional):
    run_dir = _trained_run(data_dir, tmp_path / "run", conditional=conditional)
    record = export.export_run(run_dir)
    out = os.path.join(run_dir, "export")
    assert sorted(os.listdir(out)) == ["export.json", "generator.keras", "saved_model"]
    assert json.loads(open(os.path.join(out, "export.json")).read()) == record
    assert record["load_needs_import"] == []  # DCGAN generators use built-in Keras layers only

    gan, _ = restore_gan(run_dir)
    n, seed = 6, 11
    labels = np.array([0, 3, 9, 1, 1, 7], np.int32)
    kwargs = {"labels": labels} if conditional != "none" else {}
    expected = gan.generate(n, seed=seed, **kwargs).numpy()
    # gan.generate's documented noise for a seed; a class condition is the labels themselves.
    inputs = {"noise": tf.random.stateless_normal((n, gan.latent_dim), seed=[seed, 0]).numpy()}
    if conditional != "none":
        inputs["condition"] = labels
        assert record["condition"] == {"kind": "class", "dtype": "int32", "shape": [None], "num_classes": 10}
    keras_images, saved_images = _load_elsewhere(out, inputs, tmp_path)
    assert expected.shape == (n, 28, 28, 1) and expected.std() > 0
    np.testing.assert_allclose(keras_images, expected, atol=1e-5)
    np.testing.assert_allclose(saved_images, expected, atol=1e-5)


@pytest.mark.slow
def test_vae_run_exports_its_decoder_as_the_generator(data_dir, tmp_path):
    config = recipes.resolve("vae", dataset="mnist", out_dir=str(tmp_path / "vae"), epochs=1, steps_per_epoch=2,
                             batch_size=8, latent_dim=4, width=4, sample_grid=4, data_dir=data_dir, verbose=0,
                             seed=3)
    run(config)
    with pytest.raises(export.ExportError, match="--raw: run .* is a VAE, whose decoder has no EMA copy"):
        export.export_run(config.out_dir, out=str(tmp_path / "never"), raw=True)
    assert not (tmp_path / "never").exists()
    record = export.export_run(config.out_dir)
    assert record["model"] == "vae" and record["weights"] == "raw" and record["load_needs_import"] == []

    vae, _ = restore_gan(config.out_dir)
    noise = tf.random.stateless_normal((5, 4), seed=[7, 0])
    # The decoder's pixel means, computed here from its logits: 2 sigmoid(l) - 1.
    logits = vae.decoder(noise, training=False).numpy().astype(np.float64)
    expected = 2.0 / (1.0 + np.exp(-logits)) - 1.0
    np.testing.assert_allclose(vae.generate(5, seed=7).numpy(), expected, atol=1e-5)
    keras_images, saved_images = _load_elsewhere(os.path.join(config.out_dir, "export"),
                                                 {"noise": noise.numpy()}, tmp_path)
    assert expected.std() > 0
    np.testing.assert_allclose(keras_images, expected, atol=1e-5)
    np.testing.assert_allclose(saved_images, expected, atol=1e-5)


@pytest.mark.slow
def test_formats_and_raw_weights(data_dir, tmp_path):
    run_dir = _trained_run(data_dir, tmp_path / "run")
    only_keras = export.export_run(run_dir, out=str(tmp_path / "k"), format="keras", raw=True)
    assert sorted(os.listdir(tmp_path / "k")) == ["export.json", "generator.keras"]
    assert only_keras["weights"] == "raw"
    # The file exported: the newest checkpoint, the one training wrote after its only epoch.
    assert only_keras["checkpoint"] == os.path.join(os.path.abspath(run_dir), "checkpoints", "ckpt-000001.npz")
    export.export_run(run_dir, out=str(tmp_path / "s"), format="saved_model")
    assert sorted(os.listdir(tmp_path / "s")) == ["export.json", "saved_model"]
    with pytest.raises(export.ExportError, match="--format='onnx': expected one of keras, saved_model, both"):
        export.export_run(run_dir, format="onnx")


def test_request_errors_name_the_argument(tmp_path):
    with pytest.raises(export.ExportError, match="--run_dir='.*nowhere' has no config.json"):
        export.check_request(str(tmp_path / "nowhere"))
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(export.ExportError, match="has no checkpoint yet"):
        export.check_request(str(tmp_path))
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "ckpt-000001.npz").write_bytes(b"")
    (tmp_path / "afile").write_text("")
    with pytest.raises(export.ExportError, match="--out='.*afile' is a file"):
        export.check_request(str(tmp_path), out=str(tmp_path / "afile"))
    assert export.check_request(str(tmp_path)) == str(tmp_path / "export")


def _cli_without_tensorflow(tmp_path, *arguments):
    """`python -m gan_tf.export ARGS` with a `tensorflow` that raises on import first on the path."""
    fake = tmp_path / "fake"
    (fake / "tensorflow").mkdir(parents=True, exist_ok=True)
    (fake / "tensorflow" / "__init__.py").write_text('raise ImportError("the fake tensorflow was imported")\n')
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(fake), ROOT]))
    return subprocess.run([sys.executable, "-m", "gan_tf.export", *arguments], capture_output=True, text=True,
                          env=env, cwd=str(tmp_path), timeout=120)


def test_help_and_argument_errors_need_no_tensorflow(tmp_path):
    _cli_without_tensorflow(tmp_path, "--help")  # writes the fake package
    plain = subprocess.run([sys.executable, "-c", "import gan_tf"], capture_output=True, text=True, timeout=120,
                           env=dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path / "fake"), ROOT])))
    if plain.returncode != 0:
        pytest.xfail("gan_tf/__init__.py imports TensorFlow eagerly (the flags branch makes it lazy)")

    result = _cli_without_tensorflow(tmp_path, "--help")
    assert result.returncode == 0, result.stderr
    for flag in ("--run_dir", "--format", "--out", "--[no]raw", "--checkpoint"):
        assert flag in result.stdout, flag
    assert "keras|saved_model|both" in result.stdout or "<keras|saved_model|both>" in result.stdout

    result = _cli_without_tensorflow(tmp_path, "--run_dir", str(tmp_path), "--format", "onnx")
    assert result.returncode != 0 and "--format" in result.stderr and "onnx" in result.stderr
    assert "fake tensorflow" not in result.stderr

    result = _cli_without_tensorflow(tmp_path, "--run_dir", str(tmp_path / "nowhere"))
    assert result.returncode == 1
    assert result.stderr.strip() == f"error: --run_dir={str(tmp_path / 'nowhere')!r} has no config.json: " \
                                    "expected the --out_dir of a training run, e.g. runs/mnist."

    result = _cli_without_tensorflow(tmp_path)
    assert result.returncode != 0 and "--run_dir" in result.stderr and "fake tensorflow" not in result.stderr
