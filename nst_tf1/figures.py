"""The course's figures, from a finished run (its ``run.json``) or from the network itself.

``nst-tf1 figure`` (:func:`nst_tf1.figure_files.make_run_figures`) draws them for one run, or
for every pair of a batch when given the batch's output folder; this module only draws.

Every figure is a PNG; all but the cost curve are drawn with Pillow alone:

    panel        "content image + style image = generated image", three images with captions
    strip        the saved images (0, 20, ..., 180) and the final one, labelled with iterations
    noise        the content image C next to the noisy initial generated image G
    costs        J, J_content and J_style against the iteration, log scale (needs matplotlib,
                 a dependency of the package)
    activations  a grid of one layer's activation maps for an image (what the layer "sees")

Layout (all sizes in pixels): images are tiles enlarged by a whole factor (nearest neighbour,
so pixels stay visible) until they are at least ``MIN_TILE_WIDTH`` wide. A grid of ``rows`` x
``columns`` tiles of size (tile_h, tile_w) is

    width  = 2 PAD + columns tile_w + (columns - 1) GAP
    height = 2 PAD + [TITLE] + rows (tile_h + CAPTION) + (rows - 1) GAP

(``TITLE`` only when the figure has a title); the panel is one row of three tiles with an
``OPERATOR``-wide column holding "+" or "=" between them instead of ``GAP``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from .config import CONFIG

if TYPE_CHECKING:
    import PIL.Image

    from .vgg import VGGWeights

__all__ = [
    "FIGURES",
    "PAD",
    "GAP",
    "CAPTION",
    "TITLE",
    "OPERATOR",
    "MIN_TILE_WIDTH",
    "MIN_MAP_WIDTH",
    "PlotsUnavailableError",
    "require_matplotlib",
    "to_uint8",
    "tile_scale",
    "panel",
    "grid",
    "iteration_strip",
    "noise_figure",
    "cost_curve",
    "layer_activations",
    "activation_grid",
]

#: Figures ``nst-tf1 figure`` makes from a run, in the order it makes them.
FIGURES = ("panel", "strip", "noise", "costs")

PAD = 16  # margin around a figure
GAP = 12  # between tiles
CAPTION = 30  # band under each tile holding its caption
TITLE = 36  # band above the tiles holding the title, if any
OPERATOR = 48  # column holding "+" or "=" in the panel
MIN_TILE_WIDTH = 256  # images are enlarged by a whole factor to at least this width
MIN_MAP_WIDTH = 96  # the same for activation maps

COST_CURVE_SIZE = (8.0, 5.0)  # inches; at COST_CURVE_DPI, 800 x 500 pixels
COST_CURVE_DPI = 100


class PlotsUnavailableError(RuntimeError):
    """matplotlib, needed for the cost curve, is not installed."""


def require_matplotlib() -> None:
    """Import matplotlib, or raise :class:`PlotsUnavailableError` saying how to install it."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise PlotsUnavailableError(
            "the cost curve needs matplotlib, which is not installed (an install with "
            "--no-deps?): pip install matplotlib"
        ) from None


def to_uint8(image: np.ndarray) -> np.ndarray:
    """A normalised (1, n_H, n_W, 3) image as (n_H, n_W, 3) uint8, as ``save_image`` writes it.

    Adds ``CONFIG.MEANS`` back and clips to 0..255.
    """
    return np.clip(np.asarray(image) + CONFIG.MEANS, 0, 255).astype(np.uint8)[0]


def tile_scale(width: int, min_width: int = MIN_TILE_WIDTH) -> int:
    """The whole factor an image ``width`` pixels wide is enlarged by: at least 1."""
    return max(1, math.ceil(min_width / width))


def _font(size):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: a fixed-size bitmap font
        return ImageFont.load_default()


def _fitting_font(draw, text, width, largest=18, smallest=8):
    """The largest default font size (down to ``smallest``) at which ``text`` fits ``width``."""
    for size in range(largest, smallest, -1):
        font = _font(size)
        left, _, right, _ = draw.textbbox((0, 0), text, font=font)
        if right - left <= width:
            return font
    return _font(smallest)


def _tile(array, scale):
    """(h, w, 3) or (h, w) uint8 array -> Pillow image enlarged ``scale`` times (nearest)."""
    from PIL import Image

    img = Image.fromarray(np.asarray(array, dtype=np.uint8))
    if scale != 1:
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    return img.convert("RGB")


def _centered_text(draw, box, text, font):
    """Draw ``text`` centred in ``box`` = (left, top, right, bottom)."""
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    x = (box[0] + box[2] - (right - left)) / 2 - left
    y = (box[1] + box[3] - (bottom - top)) / 2 - top
    draw.text((x, y), text, fill=(0, 0, 0), font=font)


def grid(
    images: Sequence[np.ndarray],
    captions: Sequence[str],
    columns: int = 4,
    title: str | None = None,
    scale: int | None = None,
    min_width: int = MIN_TILE_WIDTH,
) -> PIL.Image.Image:
    """Images of one size in a grid, each with a caption under it.

    Args:
        images: list of (h, w, 3) or (h, w) uint8 arrays, all the same size.
        captions: one string per image.
        columns: tiles per row (fewer if there are fewer images).
        title: optional line above the grid.
        scale: enlargement factor; default :func:`tile_scale` of the width.
        min_width: the minimum tile width the default scale aims for.

    Returns:
        PIL.Image.Image: RGB; size as in the module docstring.
    """
    from PIL import Image, ImageDraw

    if not images:
        raise ValueError("no images to put in a grid")
    shapes = {np.shape(a)[:2] for a in images}
    if len(shapes) != 1:
        raise ValueError(f"grid images differ in size: {sorted(shapes)}")
    h, w = shapes.pop()
    scale = scale or tile_scale(w, min_width)
    th, tw = h * scale, w * scale
    columns = max(1, min(columns, len(images)))
    rows = math.ceil(len(images) / columns)
    top = PAD + (TITLE if title else 0)
    size = (
        2 * PAD + columns * tw + (columns - 1) * GAP,
        top + PAD + rows * (th + CAPTION) + (rows - 1) * GAP,
    )
    figure = Image.new("RGB", size, (255, 255, 255))
    draw = ImageDraw.Draw(figure)
    font = _font(16)
    if title:
        _centered_text(
            draw, (0, PAD, size[0], top), title, _fitting_font(draw, title, size[0] - 2 * PAD)
        )
    for k, (array, caption) in enumerate(zip(images, captions)):
        row, col = divmod(k, columns)
        x = PAD + col * (tw + GAP)
        y = top + row * (th + CAPTION + GAP)
        figure.paste(_tile(array, scale), (x, y))
        _centered_text(draw, (x, y + th, x + tw, y + th + CAPTION), caption, font)
    return figure


def panel(
    content: np.ndarray,
    style: np.ndarray,
    generated: np.ndarray,
    captions: Sequence[str] = ("content image", "style image", "generated image"),
) -> PIL.Image.Image:
    """The course's "content + style = generated" panel.

    Args:
        content, style, generated: (h, w, 3) uint8 arrays of one size.
        captions: the three captions.

    Returns:
        PIL.Image.Image: width 2 PAD + 3 tile_w + 2 OPERATOR, height 2 PAD + tile_h + CAPTION.
    """
    from PIL import Image, ImageDraw

    images = (content, style, generated)
    shapes = {np.shape(a)[:2] for a in images}
    if len(shapes) != 1:
        raise ValueError(f"panel images differ in size: {sorted(shapes)}")
    h, w = shapes.pop()
    scale = tile_scale(w)
    th, tw = h * scale, w * scale
    size = (2 * PAD + 3 * tw + 2 * OPERATOR, 2 * PAD + th + CAPTION)
    figure = Image.new("RGB", size, (255, 255, 255))
    draw = ImageDraw.Draw(figure)
    font, big = _font(16), _font(36)
    for k, (array, caption) in enumerate(zip(images, captions)):
        x = PAD + k * (tw + OPERATOR)
        figure.paste(_tile(array, scale), (x, PAD))
        _centered_text(draw, (x, PAD + th, x + tw, PAD + th + CAPTION), caption, font)
        if k < 2:
            _centered_text(draw, (x + tw, PAD, x + tw + OPERATOR, PAD + th), "+="[k], big)
    return figure


def iteration_strip(
    images: Sequence[np.ndarray],
    iterations: Sequence[int],
    final_iteration: int | None = None,
    columns: int = 4,
) -> PIL.Image.Image:
    """The generated image as the optimisation goes, in a grid labelled with iterations.

    Args:
        images: (h, w, 3) uint8 arrays, in iteration order.
        iterations: the iteration of each image.
        final_iteration: the iteration whose image is the final one, labelled "final".
        columns: tiles per row.

    Returns:
        PIL.Image.Image: see :func:`grid`.
    """
    captions = [
        f"final (iteration {i})" if i == final_iteration else f"iteration {i}" for i in iterations
    ]
    return grid(images, captions, columns=columns)


def noise_figure(content: np.ndarray, noisy: np.ndarray, noise_ratio: float) -> PIL.Image.Image:
    """The content image C next to the initial generated image G, as the course shows it.

    Args:
        content: (h, w, 3) uint8 content image.
        noisy: (h, w, 3) uint8 initial generated image.
        noise_ratio: the noise weight used, for the caption.

    Returns:
        PIL.Image.Image: a 1 x 2 :func:`grid`.
    """
    return grid(
        [content, noisy],
        ["content image C", f"initial generated image G (noise ratio {noise_ratio:g})"],
        columns=2,
    )


def cost_curve(
    costs: Mapping[str, Sequence[float]],
    alpha: float = CONFIG.ALPHA,
    beta: float = CONFIG.BETA,
    saves: Collection[int] = (),
    detail: int = 0,
) -> PIL.Image.Image:
    """J, J_content and J_style against the iteration, on a log scale (needs matplotlib).

    Drawn with matplotlib's object API on the Agg canvas: no pyplot state, no display.

    Args:
        costs: dict with lists ``iteration``, ``total_cost``, ``content_cost``,
            ``style_cost`` (``run.json``'s ``costs``).
        alpha, beta: the run's weights, for the title.
        saves: iterations at which images were saved, marked on the total cost.
        detail: the evaluations of the detail phase (``--detail-iterations``, ``run.json``'s
            ``choices.detail.iterations``), shaded: they minimise the shallow style terms
            alone and have costs only where saved; J rises after them as the content trust
            region pulls J_content back.

    Returns:
        PIL.Image.Image: 800 x 500 pixels.

    Raises:
        PlotsUnavailableError: matplotlib is not installed.
    """
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from PIL import Image

    # A detail-phase evaluation (--detail-iterations) recorded no costs (null): left out.
    known = [k for k, value in enumerate(costs["total_cost"]) if value is not None]
    iterations = np.asarray(costs["iteration"])[known]
    if iterations.size == 0:
        raise ValueError("the run recorded no costs yet")
    fig = Figure(figsize=COST_CURVE_SIZE, dpi=COST_CURVE_DPI)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    total, content, style = (
        np.asarray([costs[key][k] for k in known], dtype=np.float64)
        for key in ("total_cost", "content_cost", "style_cost")
    )
    ax.plot(iterations, total, label=f"J = {alpha:g} J_content + {beta:g} J_style", lw=2)
    ax.plot(iterations, content, label="J_content")
    ax.plot(iterations, style, label="J_style")
    if detail:
        label = "detail phase: conv1_1..conv3_1 style terms only"
        ax.axvspan(0, detail, color="0.85", alpha=0.6, lw=0, label=label)
    marked = [k for k, i in enumerate(iterations) if i in set(saves)]
    if marked:
        ax.plot(iterations[marked], total[marked], "o", color="C0", ms=4, label="saved images")
    ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("cost (log scale)")
    ax.set_title("Costs during the optimisation")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    canvas.draw()
    rgba = np.asarray(canvas.buffer_rgba())
    return Image.fromarray(rgba[..., :3].copy())


def layer_activations(
    weights: VGGWeights | str | os.PathLike[str], image: np.ndarray, layer: str
) -> np.ndarray:
    """One layer's activations for an image, in a fresh graph and session.

    Args:
        weights: :class:`nst_tf1.vgg.VGGWeights` (or a path of the .mat file).
        image: (n_H, n_W, 3) RGB array in 0..255.
        layer: a key of the model dict other than ``input``, e.g. ``conv4_2``.

    Returns:
        np.ndarray: (h, w, n_C) float32 activations.
    """
    from .images import reshape_and_normalize_image
    from .vgg import evaluate_on_image, read_vgg_weights

    if not hasattr(weights, "layers"):
        weights = read_vgg_weights(weights)
    image = reshape_and_normalize_image(np.asarray(image))
    return evaluate_on_image(weights, image, lambda model: model[layer])[0]


def activation_grid(
    activations: np.ndarray,
    channels: int = 16,
    columns: int | None = None,
    title: str | None = None,
) -> PIL.Image.Image:
    """A grid of the ``channels`` most active maps of a layer.

    Channels are ranked by their mean activation (highest first, ties by index); each map is
    stretched to its own 0..max range and coloured from dark purple (0) to yellow (max).

    Args:
        activations: (h, w, n_C) array from :func:`layer_activations`.
        channels: how many maps (at most n_C).
        columns: tiles per row; default the ceiling of the square root of the count.
        title: line above the grid.

    Returns:
        PIL.Image.Image: see :func:`grid`; maps enlarged to at least ``MIN_MAP_WIDTH``.
    """
    from PIL import Image, ImageOps

    activations = np.asarray(activations, dtype=np.float64)
    n_C = activations.shape[-1]
    count = max(1, min(channels, n_C))
    means = activations.reshape(-1, n_C).mean(axis=0)
    order = sorted(range(n_C), key=lambda c: (-means[c], c))[:count]
    maps, captions = [], []
    for c in order:
        a = activations[..., c]
        top = a.max()
        gray = np.zeros(a.shape, np.uint8) if top <= 0 else np.clip(a / top * 255, 0, 255)
        colored = ImageOps.colorize(
            Image.fromarray(gray.astype(np.uint8), "L"),
            black="#440154",
            mid="#21918c",
            white="#fde725",
        )
        maps.append(np.asarray(colored))
        captions.append(f"channel {c}")
    columns = columns or math.ceil(math.sqrt(count))
    return grid(maps, captions, columns=columns, title=title, min_width=MIN_MAP_WIDTH)
