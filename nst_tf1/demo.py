"""A procedural content/style pair, so the main job runs before a user brings images.

The course's ``louvre.jpg`` and ``monet.jpg`` cannot be shipped. :func:`make_demo_content`
draws a scene in their spirit (evening sky, sun, a glass pyramid on a paved square) and
:func:`make_demo_style` a painting of short coloured brush strokes. The pair ships inside the
package, as ``nst_tf1/data/demo_content.jpg`` and ``nst_tf1/data/demo_style.jpg`` (so the main
job runs from any folder, installed from a wheel too), written by::

    nst-tf1 make-demo nst_tf1/data/ --force   # or: python -m nst_tf1 make-demo ...

at JPEG quality 75, before :data:`nst_tf1.images.JPEG_QUALITY` was raised; the command now
writes the same drawing at that quality (larger files, mean pixel difference 7 levels in
the painting, 1.6 in the scene). They are kept as shipped, so the figures made with them
stay reproducible.
"""

from __future__ import annotations

import os

import numpy as np

from .config import CONFIG

__all__ = [
    "DEMO_NAMES",
    "DEMO_BYTES_PER_PIXEL",
    "make_demo_content",
    "make_demo_style",
    "write_demo_images",
]

#: The files :func:`write_demo_images` writes.
DEMO_NAMES = ("demo_content.jpg", "demo_style.jpg")

#: Peak memory of :func:`write_demo_images` per pixel of the images: the float64 arrays the
#: drawing holds at once. Measured (peak RSS of the process): 1000x1000 186 MB, 2000x2000
#: 686 MB, a slope of 167 bytes a pixel; the figure adds room for Python and the JPEG
#: encoder (about 30 MB).
DEMO_BYTES_PER_PIXEL = 180


def make_demo_content(
    height: int = CONFIG.IMAGE_HEIGHT, width: int = CONFIG.IMAGE_WIDTH
) -> np.ndarray:
    """A sky, a sun and a glass pyramid on a paved square.

    Returns:
        np.ndarray: (height, width, 3) uint8 RGB.
    """
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    v, u = y / max(height - 1, 1), x / max(width - 1, 1)
    horizon = 0.62
    # Sky: deep blue at the top to warm orange at the horizon.
    t = np.clip(v / horizon, 0, 1)[..., None]
    image = (1 - t) * np.array([40, 70, 150]) + t * np.array([250, 170, 110])
    # Sun: a bright disc with a soft glow.
    d = np.hypot((u - 0.78) * width, (v - 0.28) * height) / min(height, width)
    image += (np.exp(-((d / 0.18) ** 2)) * 90)[..., None] * np.array([1.0, 0.8, 0.4])
    image[d < 0.07] = [255, 240, 190]
    # Paved square below the horizon: stone colour with a grid of joints.
    ground = v >= horizon
    stone = np.array([150, 140, 125]) * (0.85 + 0.15 * (1 - v))[..., None]
    joints = ((x % max(width // 16, 2)) < 1) | ((y % max(height // 20, 2)) < 1)
    stone[joints] *= 0.7
    image[ground] = stone[ground]
    # Pyramid: base on the horizon, apex above it; two glass faces and a frame grid.
    apex_u, apex_v, half_base = 0.42, 0.25, 0.28
    height_v = horizon - apex_v
    inside = (
        (v >= apex_v) & (v <= horizon) & (np.abs(u - apex_u) <= half_base * (v - apex_v) / height_v)
    )
    glass = np.where((u < apex_u)[..., None], [[90, 130, 170]], [[150, 185, 210]])
    glass = glass + 40 * np.sin(v * 40)[..., None] * 0.3
    frame = (np.abs(((u - apex_u) / max(v.max(), 1e-9) * 30) % 1) < 0.08) | (
        np.abs((v * 25) % 1) < 0.06
    )
    glass[frame] = [60, 60, 70]
    image[inside] = glass[inside]
    return np.clip(image, 0, 255).astype(np.uint8)


def _strokes(height: int, width: int) -> tuple[int, float]:
    """(number, length) of :func:`make_demo_style`'s brush strokes: each is an ellipse 1/18
    of the longer side long and a quarter of that wide. Up to the course's size, one stroke
    per 60 pixels (the shipped pair); above it, as many as keep each pixel painted as often
    as at that size (about 6 times), so a larger painting is the same painting, drawn in
    time proportional to its pixels rather than to their square."""
    length = max(height, width) / 18
    course_length = max(CONFIG.IMAGE_HEIGHT, CONFIG.IMAGE_WIDTH) / 18
    shrink = min(1.0, (course_length / length) ** 2)
    return max(200, int(height * width / 60 * shrink)), length


def make_demo_style(
    height: int = CONFIG.IMAGE_HEIGHT, width: int = CONFIG.IMAGE_WIDTH, seed: int = 1
) -> np.ndarray:
    """An impressionist-like painting of short coloured brush strokes.

    Returns:
        np.ndarray: (height, width, 3) uint8 RGB.
    """
    rng = np.random.default_rng(seed)
    palette = np.array(
        [
            [38, 76, 140],
            [70, 130, 180],
            [120, 170, 200],
            [230, 200, 120],
            [240, 160, 90],
            [200, 90, 70],
            [90, 150, 90],
            [250, 240, 210],
        ],
        dtype=np.float64,
    )
    image = np.zeros((height, width, 3)) + palette[1]
    strokes, length = _strokes(height, width)
    reach = int(np.ceil(length)) + 1
    for _ in range(strokes):
        cy, cx = rng.uniform(0, height), rng.uniform(0, width)
        angle = rng.uniform(0, np.pi) if rng.random() < 0.3 else rng.normal(0.3, 0.2)
        colour = palette[rng.integers(len(palette))] + rng.normal(0, 12, 3)
        # A stroke is an ellipse elongated along its direction, drawn in its bounding box.
        y0, y1 = max(int(cy) - reach, 0), min(int(cy) + reach, height)
        x0, x1 = max(int(cx) - reach, 0), min(int(cx) + reach, width)
        y, x = np.mgrid[y0:y1, x0:x1].astype(np.float64)
        dx, dy = x - cx, y - cy
        along = dx * np.cos(angle) + dy * np.sin(angle)
        across = -dx * np.sin(angle) + dy * np.cos(angle)
        mask = (along / length) ** 2 + (across / (length / 4)) ** 2 < 1
        window = image[y0:y1, x0:x1]
        window[mask] = 0.25 * window[mask] + 0.75 * colour
    return np.clip(image, 0, 255).astype(np.uint8)


def write_demo_images(
    directory: str | os.PathLike[str],
    height: int = CONFIG.IMAGE_HEIGHT,
    width: int = CONFIG.IMAGE_WIDTH,
    overwrite: bool = False,
) -> tuple[str, ...]:
    """Write ``demo_content.jpg`` and ``demo_style.jpg`` into ``directory``.

    Checked first, before ``directory`` is created: the memory the drawing needs
    (:data:`DEMO_BYTES_PER_PIXEL`, by :func:`nst_tf1.preflight.check_memory`), and that
    neither file exists (unless ``overwrite``) nor is a folder or special file.

    Args:
        directory: where the two files go (created if needed).
        height, width: their size.
        overwrite: replace existing demo files.

    Returns:
        tuple: the two paths written.

    Raises:
        nst_tf1.errors.InputError: too large for the available memory, a file exists and
            ``overwrite`` is false, or a path cannot be written.
    """
    from .errors import InputError
    from .images import save_image
    from .preflight import check_memory, check_output_file

    check_memory(
        height,
        width,
        what=f"make-demo --height {height} --width {width}",
        need=(DEMO_BYTES_PER_PIXEL * height * width, f"{DEMO_BYTES_PER_PIXEL} bytes a pixel"),
    )
    paths = [os.path.join(directory, name) for name in DEMO_NAMES]
    for path in paths:
        if os.path.lexists(path) and not overwrite:
            raise InputError(
                f"{path} exists; not overwriting it: pass --force to replace it, or choose "
                "another folder"
            )
    for path in paths:
        check_output_file(path, "a demo image", os.path.basename(path))
    for path, array in zip(
        paths, (make_demo_content(height, width), make_demo_style(height, width))
    ):
        # save_image takes a normalised (1, H, W, 3) image and adds the means back.
        save_image(path, array[None].astype(np.float32) - CONFIG.MEANS)
    return tuple(paths)
