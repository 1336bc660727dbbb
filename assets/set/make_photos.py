"""Regenerate the procedural set photos in this folder: `python assets/set/make_photos.py`.

They stand in for real photos of a location (a street front and a wall): sky, facades with
windows, pavement, with soft shading and grain so a projection error shows up as a colour error.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def _smooth_noise(rng: np.random.Generator, height: int, width: int, cells: int) -> np.ndarray:
    """Value noise in [0, 1]: a coarse random grid, bilinearly upsampled."""
    grid = rng.random((cells + 1, cells + 1))
    y = np.linspace(0, cells, height, endpoint=False)
    x = np.linspace(0, cells, width, endpoint=False)
    y0, x0 = y.astype(int), x.astype(int)
    fy, fx = (y - y0)[:, None], (x - x0)[None, :]
    g = grid
    top = g[y0][:, x0] * (1 - fx) + g[y0][:, x0 + 1] * fx
    bottom = g[y0 + 1][:, x0] * (1 - fx) + g[y0 + 1][:, x0 + 1] * fx
    return top * (1 - fy) + bottom * fy


def street(width: int, height: int, seed: int = 1) -> np.ndarray:
    """(height, width, 3) sRGB floats, row 0 at the top."""
    rng = np.random.default_rng(seed)
    v = np.linspace(0.0, 1.0, height)[:, None, None]
    image = np.broadcast_to(np.array([0.45, 0.62, 0.85]) * (1.1 - 0.4 * v), (height, width, 3)).copy()
    horizon = int(0.62 * height)
    x = 0
    while x < width:
        w = int(rng.integers(width // 8, width // 4))
        top = int(rng.integers(height // 6, horizon - height // 8))
        colour = rng.uniform(0.3, 0.8, 3) * np.array([1.0, 0.85, 0.7])
        image[top:horizon, x : x + w] = colour
        for wy in range(top + 4, horizon - 6, 9):
            for wx in range(x + 3, x + w - 5, 8):
                image[wy : wy + 5, wx : wx + 4] = colour * 0.35 + np.array([0.1, 0.12, 0.2])
        x += w
    ground = np.linspace(0.55, 0.3, height - horizon)[:, None, None]
    image[horizon:] = np.array([0.5, 0.48, 0.45]) * ground / 0.55
    image[horizon:, ::16] *= 0.8  # paving joints
    image *= 0.85 + 0.3 * _smooth_noise(rng, height, width, 6)[..., None]
    image += rng.normal(0.0, 0.02, image.shape)
    return np.clip(image, 0.0, 1.0)


def wall(width: int, height: int, seed: int = 2) -> np.ndarray:
    """A brick wall with a poster: (height, width, 3) sRGB floats, row 0 at the top."""
    rng = np.random.default_rng(seed)
    image = np.empty((height, width, 3))
    brick_h, brick_w = 6, 14
    for row in range(0, height, brick_h):
        offset = (row // brick_h % 2) * brick_w // 2
        for col in range(-offset, width, brick_w):
            c = np.array([0.62, 0.3, 0.22]) * rng.uniform(0.75, 1.15)
            image[row : row + brick_h, max(col, 0) : col + brick_w] = c
        image[row : row + 1] = 0.72  # mortar
    image[height // 4 : height // 2, width // 4 : 3 * width // 4] = np.array([0.9, 0.85, 0.2])
    image[height // 3 : height // 3 + 4, width // 3 : 2 * width // 3] = 0.1
    image *= 0.8 + 0.4 * _smooth_noise(rng, height, width, 4)[..., None]
    image += rng.normal(0.0, 0.02, image.shape)
    return np.clip(image, 0.0, 1.0)


def save_png(pixels: np.ndarray, path: Path) -> None:
    import bpy

    height, width, _ = pixels.shape
    image = bpy.data.images.new(path.stem, width, height, alpha=False)
    rgba = np.concatenate([pixels[::-1], np.ones((height, width, 1))], axis=2)  # Blender rows go up
    image.pixels.foreach_set(rgba.astype(np.float32).ravel())
    image.filepath_raw = str(path)
    image.file_format = "PNG"
    image.save()
    bpy.data.images.remove(image)


if __name__ == "__main__":
    save_png(street(192, 128), HERE / "street.png")
    save_png(wall(96, 128), HERE / "wall.png")
