"""Pictures of a GAN's progress: sample grids, the progress GIF and the training curves.

    from gan_tf import viz
    viz.save_grid(images, "grid.png", gap=2, upscale=2)   # images [n, H, W, C] in [-1, 1]
    viz.run_pictures("runs/mnist")   # samples/progress.gif and samples/losses.png, from the run's files

Needs no TensorFlow. matplotlib draws on its own `Figure` with an Agg canvas and
`matplotlib.use` is never called: a notebook keeps its inline backend (the
backend is global, and switching it turns inline display off for the session).
PIL writes the PNGs and the GIF.
"""
import glob
import io
import json
import math
import os
import re

import numpy as np
from matplotlib.figure import Figure

from gan_tf import atomic

GAP_VALUE = 255  # white separators: visible on the black backgrounds of MNIST-like data
RUN_GRID_GAP = 2  # pixels between the tiles of a run's sample grids
MAX_GIF_FRAMES = 50
EPOCH_GRID = re.compile(r"epoch_(\d+)\.png$")
# metrics.jsonl keys that are bookkeeping, not curves.
_NOT_CURVES = ("epoch", "step", "seconds", "ms_per_step", "images_per_second",
               "steps_into_epoch", "training_seconds")  # the last two: a --time_budget stop's record


def image_grid(images, columns=None, gap=0, upscale=1, gap_value=GAP_VALUE):
    """Tiles images in [-1, 1] into one uint8 picture.

    Args:
      images: array-like [n, H, W, C] with C in {1, 3}, values in [-1, 1].
      columns: images per row (default: the smallest square that holds n).
      gap: pixels between neighbouring tiles (not around the border).
      upscale: integer factor by which each tile is enlarged, nearest neighbour
        (2 or 3 make 28×28 digits readable); the gap is not scaled.
      gap_value: uint8 value of the gap pixels (and of empty cells of the last row: 0).

    Returns:
      uint8 array [rows*H*upscale + (rows-1)*gap, columns*W*upscale + (columns-1)*gap, C]
      (C=1 kept, for grayscale summaries).
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(f"images of shape {images.shape}: expected [n, H, W, 1 or 3].")
    for name, value, low in (("gap", gap, 0), ("upscale", upscale, 1)):
        if int(value) != value or value < low:
            raise ValueError(f"{name}={value!r}: expected an integer >= {low}.")
    n, height, width, channels = images.shape
    columns = int(columns or math.ceil(math.sqrt(n)))
    if columns < 1:
        raise ValueError(f"columns={columns!r}: expected a positive number of images per row.")
    rows = math.ceil(n / columns)
    pixels = np.clip(np.rint((images + 1.0) * 127.5), 0, 255).astype(np.uint8)
    if upscale > 1:
        pixels = pixels.repeat(upscale, axis=1).repeat(upscale, axis=2)
        height, width = height * upscale, width * upscale
    grid = np.full(
        (rows * height + (rows - 1) * gap, columns * width + (columns - 1) * gap, channels), gap_value, np.uint8
    )
    for i in range(rows * columns):
        r, c = divmod(i, columns)
        top, left = r * (height + gap), c * (width + gap)
        grid[top : top + height, left : left + width] = pixels[i] if i < n else 0
    return grid


def save_image(pixels, path):
    """Writes a uint8 [H, W, 1 or 3] array as a PNG (grayscale or RGB); directories created."""
    from PIL import Image

    pixels = np.asarray(pixels)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    extension = os.path.splitext(path)[1][1:].upper()
    image_format = {"": "PNG", "JPG": "JPEG"}.get(extension, extension)
    with atomic.replace_atomically(path, "wb") as f:  # a kill mid-write never leaves a torn picture
        Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels).save(f, format=image_format)
    return path


def save_grid(images, path, columns=None, gap=0, upscale=1):
    """Writes `image_grid(images, columns, gap, upscale)` to a PNG file (directories created)."""
    return save_image(image_grid(images, columns, gap=gap, upscale=upscale), path)


def frame_indices(count, max_frames=MAX_GIF_FRAMES):
    """Indices of at most `max_frames` of `count` frames, evenly spread, first and last kept."""
    if count <= max_frames:
        return list(range(count))
    if max_frames < 2:
        raise ValueError(f"max_frames={max_frames!r}: expected at least 2 (the first and last grids).")
    return sorted({round(i * (count - 1) / (max_frames - 1)) for i in range(max_frames)})


def save_gif(frames, path, frame_ms=200, last_frame_ms=2000, loop=True):
    """Writes uint8 [H, W, 1 or 3] frames (all one shape) as an animated GIF; returns the path.

    The last frame stays `last_frame_ms` on screen so that the end result can be seen.
    """
    from PIL import Image

    if not len(frames):
        raise ValueError(f"{path}: no frames to write.")
    shapes = {np.shape(frame) for frame in frames}
    if len(shapes) > 1:
        raise ValueError(f"{path}: frames of different shapes {sorted(shapes)}: expected one shape.")
    pictures = [Image.fromarray(f[..., 0] if f.shape[-1] == 1 else f) for f in map(np.asarray, frames)]
    durations = [frame_ms] * (len(pictures) - 1) + [last_frame_ms]
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with atomic.replace_atomically(path, "wb") as f:
        pictures[0].save(f, format="GIF", save_all=True, append_images=pictures[1:], duration=durations,
                         loop=0 if loop else None, optimize=False)
    return path


def epoch_grids(samples_dir):
    """[(epoch, path)] of the `epoch_NNNN.png` grids in a run's samples directory, by epoch."""
    found = []
    for path in glob.glob(os.path.join(samples_dir, "epoch_*.png")):
        match = EPOCH_GRID.search(os.path.basename(path))
        if match:
            found.append((int(match.group(1)), path))
    return sorted(found)


def progress_gif(samples_dir, out_path=None, max_frames=MAX_GIF_FRAMES, frame_ms=200, last_frame_ms=2000):
    """Animates a run's fixed-noise epoch grids into `progress.gif`; returns its path (None: no grids).

    Long runs are subsampled to at most `max_frames` frames (the first and the last
    epoch always kept), so the file size stays bounded whatever the epoch count.
    """
    from PIL import Image

    grids = epoch_grids(samples_dir)
    if not grids:
        return None
    out_path = out_path or os.path.join(samples_dir, "progress.gif")
    frames = []
    for index in frame_indices(len(grids), max_frames):
        with Image.open(grids[index][1]) as picture:
            frames.append(np.asarray(picture.convert("L" if picture.mode in ("L", "LA", "I", "1") else "RGB")))
    # An interrupted and resumed run may have grids of another size (e.g. another
    # --sample_grid): keep the frames shaped like the last one.
    frames = [frame[..., None] if frame.ndim == 2 else frame for frame in frames]
    frames = [frame for frame in frames if frame.shape == frames[-1].shape]
    return save_gif(frames, out_path, frame_ms, last_frame_ms)


def read_metrics(metrics_path):
    """The records of a run's `metrics.jsonl` (non-finite values, stored as strings, as floats)."""
    records = []
    with open(metrics_path) as f:
        for line in f:
            if line.strip():
                record = json.loads(line)
                records.append({key: _number(value) for key, value in record.items()})
    return records


def _number(value):
    if isinstance(value, str):
        try:
            return float(value)  # "nan", "inf"
        except ValueError:
            return value
    return value


class ShownFigure(Figure):
    """A `matplotlib.figure.Figure` that a notebook shows as a PNG when it is a cell's value
    (or passed to `display`), with or without `%matplotlib inline`: IPython renders only
    pyplot's figures by itself."""

    def _repr_png_(self):
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", dpi=100)
        return buffer.getvalue()


def new_figure(width, height):
    """A figure of `width` × `height` inches with its own Agg canvas: nothing touches
    pyplot or the global backend."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    figure = ShownFigure(figsize=(width, height))
    FigureCanvasAgg(figure)
    return figure


def curve_panels(records):
    """[(title, keys)] of the panels of a loss plot: losses, penalties, discriminator
    outputs, then one panel per other logged value (evaluation metrics, ...)."""
    keys = []
    for record in records:
        keys += [key for key, value in record.items()
                 if key not in keys and key not in _NOT_CURVES and isinstance(value, (int, float))]
    losses = [key for key in keys if key.endswith("_loss") and key != "val_loss"]  # val_loss: a VAE's
    penalties = [key for key in keys if key.endswith("_penalty")]
    outputs = [key for key in ("d_real", "d_fake", "d_wrong") if key in keys]
    # A VAE's negative ELBO and its two terms, in training and on held-out images (nats per image).
    # KL has a panel of its own: it is often a hundredth of the reconstruction term.
    vae = "kl" in keys
    elbo = [key for key in ("loss", "reconstruction", "val_loss", "val_reconstruction") if vae and key in keys]
    kl = [key for key in ("kl", "val_kl") if vae and key in keys]
    grouped = set(losses + penalties + outputs + elbo + kl)
    # A metric's *_std goes with the metric, as a band, not in a panel of its own.
    others = [key for key in keys if key not in grouped and not (key.endswith("_std") and key[:-4] in keys)]
    panels = [("losses", losses), ("penalties", penalties), ("discriminator output (mean)", outputs),
              ("negative ELBO and its reconstruction term (nats per image)", elbo), ("KL term (nats per image)", kl)]
    return [(title, group) for title, group in panels if group] + [(key, [key]) for key in others]


def plot_losses(metrics_path, out_path=None):
    """The training curves of a run against steps: D and G losses, penalties, d_real/d_fake,
    and every evaluated metric; returns the `matplotlib.figure.Figure` (written to
    `out_path` as PNG when given).
    """
    records = read_metrics(metrics_path)
    panels = curve_panels(records)
    if not panels:
        raise ValueError(f"{metrics_path}: no numeric values to plot (expected d_loss, g_loss, ...).")
    columns = 1 if len(panels) == 1 else 2
    rows = math.ceil(len(panels) / columns)
    figure = new_figure(6.0 * columns, 2.6 * rows)
    for i, (title, keys) in enumerate(panels):
        axis = figure.add_subplot(rows, columns, i + 1)
        for key in keys:
            logged = [r for r in records if isinstance(r.get(key), (int, float))]
            steps = np.array([r.get("step", r.get("epoch")) for r in logged], float)
            values = np.array([r[key] for r in logged], float)
            spread = np.array([r.get(f"{key}_std", np.nan) for r in logged], float)
            # Evaluated metrics exist at a few epochs only: markers show where.
            axis.plot(steps, values, marker="o" if len(logged) < 30 else None, markersize=3, label=key)
            if np.isfinite(spread).any():
                axis.fill_between(steps, values - spread, values + spread, alpha=0.25)
        axis.set_title(title, fontsize=9)
        axis.set_xlabel("step", fontsize=8)
        axis.tick_params(labelsize=7)
        if len(keys) > 1:
            axis.legend(fontsize=7)
        axis.grid(alpha=0.3)
    figure.tight_layout()
    if out_path:
        os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
        figure.savefig(out_path, dpi=100)
    return figure


def plot_curves(metrics_path, keys=("d_loss", "g_loss"), out_path=None):
    """Plots chosen values of a run's `metrics.jsonl` against the epoch; returns the figure."""
    records = read_metrics(metrics_path)
    figure = new_figure(6, 3.5)
    axis = figure.add_subplot()
    for key in keys:
        points = [(r["epoch"], r[key]) for r in records if key in r]
        if points:
            axis.plot(*zip(*points), label=key)
    axis.set_xlabel("epoch")
    axis.legend()
    figure.tight_layout()
    if out_path:
        figure.savefig(out_path, dpi=100)
    return figure


def run_pictures(run_dir, max_frames=MAX_GIF_FRAMES):
    """(Re)builds a run's `samples/progress.gif` and `samples/losses.png` from its files.

    Reads only the run directory (`samples/epoch_*.png`, `metrics.jsonl`), so it can be
    called on any run, finished or not; training calls it at its end.

    Returns:
      dict "gif" / "losses" -> path written, or None when the run has no grids / no metrics yet.
    """
    if not os.path.isdir(run_dir):
        raise ValueError(f"run_dir={run_dir!r} is not a directory: expected a training run's --out_dir.")
    samples = os.path.join(run_dir, "samples")
    metrics_path = os.path.join(run_dir, "metrics.jsonl")
    written = {"gif": progress_gif(samples, max_frames=max_frames), "losses": None}
    if os.path.isfile(metrics_path) and read_metrics(metrics_path):
        written["losses"] = os.path.join(samples, "losses.png")
        plot_losses(metrics_path, written["losses"])
    return written
