"""Pictures of a GAN's progress: sample grids and loss curves (matplotlib only)."""
import json
import math
import os

import numpy as np

from gan_tf import atomic


def image_grid(images, columns=None):
    """Tiles images in [-1, 1] into one uint8 picture.

    Args:
      images: array-like [n, H, W, C] with C in {1, 3}, values in [-1, 1].
      columns: images per row (default: the smallest square that holds n).

    Returns:
      uint8 array [rows*H, columns*W, C] (C=1 kept, for grayscale summaries).
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(f"images of shape {images.shape}: expected [n, H, W, 1 or 3].")
    n, height, width, channels = images.shape
    columns = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    pixels = np.clip(np.rint((images + 1.0) * 127.5), 0, 255).astype(np.uint8)
    grid = np.zeros((rows * height, columns * width, channels), np.uint8)
    for i, image in enumerate(pixels):
        r, c = divmod(i, columns)
        grid[r * height : (r + 1) * height, c * width : (c + 1) * width] = image
    return grid


def save_grid(images, path, columns=None):
    """Writes `image_grid(images, columns)` to a PNG file (directories created)."""
    import matplotlib.image

    grid = image_grid(images, columns)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    image_format = os.path.splitext(path)[1][1:].lower() or "png"
    with atomic.replace_atomically(path, "wb") as f:  # a kill mid-write never leaves a torn grid
        if grid.shape[-1] == 1:
            matplotlib.image.imsave(f, grid[..., 0], cmap="gray", vmin=0, vmax=255, format=image_format)
        else:
            matplotlib.image.imsave(f, grid, format=image_format)
    return path


def plot_curves(metrics_path, keys=("d_loss", "g_loss"), out_path=None):
    """Plots per-epoch values from a run's `metrics.jsonl`; returns the figure."""
    import matplotlib.pyplot as plt

    with open(metrics_path) as f:
        records = [json.loads(line) for line in f if line.strip()]
    figure, axis = plt.subplots(figsize=(6, 3.5))
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
