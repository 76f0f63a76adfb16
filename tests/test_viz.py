"""gan_tf.viz: grid layout, the progress GIF, the loss plot, and no global matplotlib backend switch."""
import ast
import json
import os
import pathlib

import matplotlib
import numpy as np
import pytest
from PIL import Image

from gan_tf import viz

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "gan_tf"


def _pixels(images):
    return np.clip(np.rint((np.asarray(images) + 1.0) * 127.5), 0, 255).astype(np.uint8)


def test_grid_places_upscaled_tiles_between_gaps():
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (5, 3, 4, 1)).astype(np.float32)
    grid = viz.image_grid(images, columns=2, gap=1, upscale=3, gap_value=200)
    # Built independently: a (rows, cols) block layout with np.kron for the upscale.
    tile_h, tile_w = 3 * 3, 4 * 3
    expected = np.full((3 * tile_h + 2, 2 * tile_w + 1), 200, np.uint8)
    for i in range(6):
        r, c = divmod(i, 2)
        tile = np.kron(_pixels(images[i, ..., 0]), np.ones((3, 3), np.uint8)) if i < 5 else 0
        expected[r * (tile_h + 1) : r * (tile_h + 1) + tile_h, c * (tile_w + 1) : c * (tile_w + 1) + tile_w] = tile
    np.testing.assert_array_equal(grid[..., 0], expected)


def test_grid_without_gap_or_upscale_is_plain_tiling():
    images = np.linspace(-1, 1, 4 * 2 * 2 * 3).reshape(4, 2, 2, 3)
    grid = viz.image_grid(images)
    expected = _pixels(images).reshape(2, 2, 2, 2, 3).transpose(0, 2, 1, 3, 4).reshape(4, 4, 3)
    np.testing.assert_array_equal(grid, expected)


@pytest.mark.parametrize("kwargs, message", [({"gap": -1}, "gap=-1"), ({"upscale": 0}, "upscale=0"),
                                             ({"upscale": 1.5}, "upscale=1.5")])
def test_grid_refuses_bad_layout(kwargs, message):
    with pytest.raises(ValueError, match=message):
        viz.image_grid(np.zeros((1, 2, 2, 1)), **kwargs)


def test_save_grid_writes_a_grayscale_png(tmp_path):
    images = np.full((4, 5, 5, 1), 1.0)
    path = viz.save_grid(images, str(tmp_path / "a" / "grid.png"), gap=2)
    with Image.open(path) as picture:
        assert picture.mode == "L" and picture.size == (12, 12)
        assert np.asarray(picture)[0, 5] == viz.GAP_VALUE and np.asarray(picture)[0, 0] == 255


def _epoch_grids(directory, count, size=6):
    directory.mkdir(parents=True, exist_ok=True)
    for epoch in range(1, count + 1):
        Image.fromarray(np.full((size, size), epoch % 256, np.uint8)).save(directory / f"epoch_{epoch:04d}.png")


def _gif_frames(path):
    with Image.open(path) as gif:
        frames, durations = [], []
        for index in range(gif.n_frames):
            gif.seek(index)
            frames.append(np.asarray(gif.convert("L")))
            durations.append(gif.info["duration"])
    return frames, durations


def test_progress_gif_has_one_frame_per_epoch_grid(tmp_path):
    _epoch_grids(tmp_path / "samples", 7)
    path = viz.progress_gif(str(tmp_path / "samples"))
    frames, durations = _gif_frames(path)
    assert path == str(tmp_path / "samples" / "progress.gif")
    assert [int(f[0, 0]) for f in frames] == list(range(1, 8))  # the epochs, in order
    assert durations[-1] > durations[0]  # the end result is held longer


def test_progress_gif_of_a_long_run_is_subsampled_keeping_first_and_last(tmp_path):
    _epoch_grids(tmp_path / "samples", 120)
    frames, _ = _gif_frames(viz.progress_gif(str(tmp_path / "samples"), max_frames=50))
    epochs = [int(f[0, 0]) for f in frames]
    assert len(epochs) == 50 and epochs[0] == 1 and epochs[-1] == 120
    assert epochs == sorted(set(epochs))


def test_frame_indices_are_evenly_spread():
    assert viz.frame_indices(5, 10) == [0, 1, 2, 3, 4]
    assert viz.frame_indices(11, 3) == [0, 5, 10]
    with pytest.raises(ValueError, match="max_frames=1"):
        viz.frame_indices(5, 1)


def test_no_grids_no_gif(tmp_path):
    assert viz.progress_gif(str(tmp_path)) is None


def _metrics(path):
    records = [
        {"epoch": 1, "step": 10, "d_loss": 1.3, "g_loss": 0.7, "d_real": 0.2, "d_fake": -0.1, "seconds": 3.0,
         "images_per_second": 100.0, "ms_per_step": 30.0},
        {"epoch": 2, "step": 20, "d_loss": 1.1, "g_loss": 0.9, "d_real": 0.4, "d_fake": -0.3, "r1_penalty": 0.2,
         "fd_mnist_classifier": 40.0, "kid_mnist_classifier": 0.05, "kid_mnist_classifier_std": 0.01,
         "seconds": 3.0, "images_per_second": 100.0, "ms_per_step": 30.0},
        {"epoch": 3, "step": 30, "d_loss": "nan", "g_loss": 0.8, "d_real": 0.5, "d_fake": -0.4, "seconds": 3.0},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_loss_plot_panels_from_a_handmade_metrics_file(tmp_path):
    records = viz.read_metrics(str(_metrics(tmp_path / "metrics.jsonl")))
    assert np.isnan(records[2]["d_loss"])
    assert viz.curve_panels(records) == [
        ("losses", ["d_loss", "g_loss"]),
        ("penalties", ["r1_penalty"]),
        ("discriminator output (mean)", ["d_real", "d_fake"]),
        ("fd_mnist_classifier", ["fd_mnist_classifier"]),
        ("kid_mnist_classifier", ["kid_mnist_classifier"]),
    ]


def test_loss_plot_is_written_as_png(tmp_path):
    out = tmp_path / "samples" / "losses.png"
    figure = viz.plot_losses(str(_metrics(tmp_path / "metrics.jsonl")), str(out))
    assert len(figure.axes) == 5
    steps = figure.axes[0].lines[0].get_xdata()
    np.testing.assert_array_equal(steps, [10, 20, 30])  # against steps, not epochs
    with Image.open(out) as picture:
        assert picture.size[0] > 100 and picture.size[1] > 100


def test_run_pictures_rebuilds_both_from_the_run_directory(tmp_path):
    _epoch_grids(tmp_path / "samples", 3)
    _metrics(tmp_path / "metrics.jsonl")
    written = viz.run_pictures(str(tmp_path))
    assert written == {"gif": str(tmp_path / "samples" / "progress.gif"),
                       "losses": str(tmp_path / "samples" / "losses.png")}
    assert len(_gif_frames(written["gif"])[0]) == 3 and os.path.getsize(written["losses"]) > 0
    with pytest.raises(ValueError, match="is not a directory"):
        viz.run_pictures(str(tmp_path / "missing"))


def _calls_matplotlib_use(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "use":
            owner = node.func.value
            if isinstance(owner, ast.Name) and owner.id in ("matplotlib", "mpl"):
                yield node.lineno
        imports_use = isinstance(node, ast.ImportFrom) and node.module == "matplotlib"
        if imports_use and any(alias.name == "use" for alias in node.names):
            yield node.lineno


def test_no_module_of_gan_tf_calls_matplotlib_use():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        lines = _calls_matplotlib_use(ast.parse(path.read_text()))
        offenders += [f"{path.relative_to(PACKAGE)}:{line}" for line in lines]
    assert not offenders, f"matplotlib.use switches a notebook's inline backend off: {offenders}"
    # The scan itself finds such a call.
    assert list(_calls_matplotlib_use(ast.parse("import matplotlib\nmatplotlib.use('Agg')\n"))) == [2]


def test_saving_pictures_leaves_pyplot_alone(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    from gan_tf.conditional_eval import save_prompt_grid

    def refuse(*args, **kwargs):
        raise AssertionError("matplotlib.use was called")

    monkeypatch.setattr(matplotlib, "use", refuse)
    monkeypatch.setattr(plt, "switch_backend", refuse)
    backend, open_figures = matplotlib.get_backend(), plt.get_fignums()
    _epoch_grids(tmp_path / "samples", 2)
    _metrics(tmp_path / "metrics.jsonl")
    viz.run_pictures(str(tmp_path))
    viz.plot_curves(str(tmp_path / "metrics.jsonl"), out_path=str(tmp_path / "curves.png"))
    viz.save_grid(np.zeros((4, 3, 3, 1)), str(tmp_path / "grid.png"))
    save_prompt_grid([("a seven", np.zeros((2, 4, 4, 1))), ("a one", np.ones((2, 4, 4, 1)))],
                     str(tmp_path / "prompts.png"), title="t")
    assert matplotlib.get_backend() == backend
    assert plt.get_fignums() == open_figures  # no pyplot figure left open in a notebook
    assert (tmp_path / "prompts.png").stat().st_size > 0


def test_a_returned_figure_renders_as_png_for_notebooks(tmp_path):
    figure = viz.plot_losses(str(_metrics(tmp_path / "metrics.jsonl")))
    png = figure._repr_png_()  # what IPython's display calls for a cell's value
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_vae_loss_plot_groups_the_elbo_terms_and_leaves_out_a_budget_stops_bookkeeping():
    records = [
        {"epoch": 1, "step": 70, "loss": 120.0, "reconstruction": 95.0, "kl": 25.0, "val_loss": 125.0,
         "val_reconstruction": 99.0, "val_kl": 26.0, "val_psnr": 18.0, "val_ssim": 0.8, "seconds": 9.0},
        {"epoch": 2, "step": 90, "loss": 110.0, "reconstruction": 86.0, "kl": 24.0, "val_loss": 115.0,
         "val_reconstruction": 90.0, "val_kl": 25.0, "val_psnr": 19.0, "val_ssim": 0.85, "steps_into_epoch": 20,
         "training_seconds": 600.0, "stopped": "time_budget"},
    ]
    assert viz.curve_panels(records) == [
        ("negative ELBO and its reconstruction term (nats per image)",
         ["loss", "reconstruction", "val_loss", "val_reconstruction"]),
        ("KL term (nats per image)", ["kl", "val_kl"]),
        ("val_psnr", ["val_psnr"]),
        ("val_ssim", ["val_ssim"]),
    ]
