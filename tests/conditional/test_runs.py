"""`run(config)` with --conditional and --text on tiny data: artefacts, exact resume, refusals."""
import json
import os

import matplotlib.image
import numpy as np
import pytest

from gan_tf.experiments.config import ExperimentConfig
from gan_tf.experiments.runner import restore_gan, run


def test_class_run_draws_one_row_per_class(class_run):
    record = json.load(open(os.path.join(class_run, "config.json")))
    assert record["flags"]["conditional"] == "projection" and record["data"]["num_classes"] == 10
    grid = matplotlib.image.imread(os.path.join(class_run, "samples", "final.png"))
    gap = 2  # the thin gap between tiles of a run's grids
    assert grid.shape[:2] == (10 * 28 + 9 * gap, 2 * 28 + gap)  # sample_grid=20: 10 classes × 2 columns
    gan, flags = restore_gan(class_run)
    assert gan.conditioning.kind == "class" and gan.conditioning.mode == "projection"
    assert gan.generate(3, labels=4, seed=0).shape == (3, 28, 28, 1)


def test_a_run_leaves_its_progress_gif_and_loss_curves(class_run):
    from PIL import Image

    samples = os.path.join(class_run, "samples")
    with Image.open(os.path.join(samples, "progress.gif")) as gif:
        assert gif.n_frames == len([n for n in os.listdir(samples) if n.startswith("epoch_")]) == 1
    with Image.open(os.path.join(samples, "losses.png")) as picture:
        assert picture.format == "PNG"


def test_text_run_records_its_captions_and_logs_the_mismatch_term(text_run):
    with open(os.path.join(text_run, "text.json")) as f:
        recorded = json.load(f)
    assert "a handwritten seven" in recorded["captions"]["train"][7]
    assert "seven" in recorded["vocabulary"]["words"]
    lines = [json.loads(line) for line in open(os.path.join(text_run, "metrics.jsonl"))]
    assert np.isfinite(lines[-1]["d_wrong"])
    gan, _ = restore_gan(text_run)
    assert gan.conditioning.kind == "text"
    assert gan.conditioning.vocabulary.words == tuple(recorded["vocabulary"]["words"])
    assert gan.generate(2, prompts="a handwritten 7", seed=0).shape == (2, 28, 28, 1)


def test_conditional_flag_on_an_unconditional_run_directory_is_refused(tiny_config, tmp_path):
    out = tmp_path / "unconditional"
    (out / "checkpoints").mkdir(parents=True)
    (out / "checkpoints" / "ckpt-000001.npz").write_bytes(b"")  # only a run with checkpoints is protected
    (out / "config.json").write_text(json.dumps({"flags": tiny_config(out, conditional="none").to_dict()}))
    with pytest.raises(ValueError, match="conditional: 'none' there, 'projection' now"):
        run(tiny_config(out))
    assert sorted(os.listdir(out)) == ["checkpoints", "config.json"]  # nothing written
    (out / "config.json").write_text(json.dumps({"flags": tiny_config(out).to_dict()}))  # class labels
    with pytest.raises(ValueError, match="text: False there, True now"):
        run(tiny_config(out, text=True))


def test_a_run_without_conditioning_fields_in_its_config_counts_as_unconditional(tiny_config, tmp_path):
    out = tmp_path / "old"
    (out / "checkpoints").mkdir(parents=True)
    (out / "checkpoints" / "ckpt-000001.npz").write_bytes(b"")
    flags = tiny_config(out, conditional="none").to_dict()
    for key in ("conditional", "text", "text_encoder", "embedding_dim", "class_loss_weight"):
        del flags[key]  # written before conditioning existed
    (out / "config.json").write_text(json.dumps({"flags": flags}))
    with pytest.raises(ValueError, match="conditional: 'none' there, 'acgan' now"):
        run(tiny_config(out, conditional="acgan"))


@pytest.mark.parametrize("changes, message", [
    (dict(conditional="acgan", text=True),
     "--text with --conditional=acgan: expected --conditional=projection or concat"),
    (dict(conditional="none", text=True), "--text with --conditional=none"),
    (dict(dataset="celeba", conditional="projection"), "dataset 'celeba' has none"),
    (dict(conditional="cgan"), "--conditional='cgan': expected one of none, concat, projection, acgan"),
    (dict(conditional="projection", text=True, text_encoder="lstm"), "--text_encoder='lstm': expected one of gru"),
    (dict(mode_seeking_weight=0.5), "--mode_seeking_weight=0.5 with --conditional=none"),
    (dict(conditional="projection", mode_seeking_weight=-0.5), "--mode_seeking_weight=-0.5: expected -1 (auto"),
])
def test_bad_conditioning_settings_are_refused(changes, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ExperimentConfig(**changes).validate()


def test_mode_seeking_is_on_by_default_for_conditional_runs_only():
    assert ExperimentConfig(conditional="projection").resolved_mode_seeking_weight == 0.2
    assert ExperimentConfig(conditional="projection", mode_seeking_weight=0).resolved_mode_seeking_weight == 0
    assert ExperimentConfig().resolved_mode_seeking_weight == 0
