"""The course's figures, from a finished run (its ``run.json``) or from the network itself.

``nst-tf1 figure`` (:func:`make_run_figures`) draws them for one run, or for every pair of a
batch when given the batch's output folder.

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
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .config import CONFIG
from .errors import InputError

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
    "strip_entries",
    "not_applicable",
    "run_figure",
    "save_figure",
    "make_run_figures",
    "make_activation_figure",
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
) -> PIL.Image.Image:
    """J, J_content and J_style against the iteration, on a log scale (needs matplotlib).

    Drawn with matplotlib's object API on the Agg canvas: no pyplot state, no display.

    Args:
        costs: dict with lists ``iteration``, ``total_cost``, ``content_cost``,
            ``style_cost`` (``run.json``'s ``costs``).
        alpha, beta: the run's weights, for the title.
        saves: iterations at which images were saved, marked on the total cost.

    Returns:
        PIL.Image.Image: 800 x 500 pixels.

    Raises:
        PlotsUnavailableError: matplotlib is not installed.
    """
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from PIL import Image

    iterations = np.asarray(costs["iteration"])
    if iterations.size == 0:
        raise ValueError("the run recorded no costs yet")
    fig = Figure(figsize=COST_CURVE_SIZE, dpi=COST_CURVE_DPI)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    total = np.asarray(costs["total_cost"])
    ax.plot(iterations, total, label=f"J = {alpha:g} J_content + {beta:g} J_style", lw=2)
    ax.plot(iterations, costs["content_cost"], label="J_content")
    ax.plot(iterations, costs["style_cost"], label="J_style")
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


def _read_rgb(path):
    from PIL import Image

    try:
        with Image.open(path) as img:
            return np.asarray(img.convert("RGB"))
    except FileNotFoundError:
        raise ValueError(f"{path}: recorded in run.json but missing from the run folder") from None
    except OSError as exc:
        if exc.errno is not None:
            raise
        raise ValueError(f"{path}: not a readable image ({' '.join(str(exc).split())})") from None


def _input_image(record, role, height, width):
    """The run's content or (first) style image, as uint8, after checking that the file is
    the one the run used (its SHA-256 in run.json, when the record has it)."""
    from .images import load_image
    from .weights import file_digests

    path = record["files"][role]
    if not os.path.isfile(path):
        raise ValueError(
            f"the {role} image {path} recorded in run.json is missing (moved or "
            "deleted since the run)"
        )
    digests = record["files"].get("sha256")
    expected = None
    if isinstance(digests, dict):
        expected = (
            digests.get("content") if role == "content" else (digests.get("styles") or [None])[0]
        )
    if isinstance(expected, str) and file_digests(path, md5=False).sha256 != expected:
        raise ValueError(
            f"the {role} image {path} has changed since the run (its SHA-256 "
            "differs from the one in run.json)"
        )
    return load_image(path, height, width).astype(np.uint8)


def strip_entries(
    saves: Iterable[dict[str, Any]], final: dict[str, Any] | None = None, max_images: int = 12
) -> list[dict[str, Any]]:
    """The saved images the strip shows: all of them if they fit, else evenly spaced ones.

    Args:
        saves: run.json's ``saves`` (in iteration order).
        final: run.json's ``final`` entry, always shown last, or ``None``.
        max_images: at most this many tiles, the final image included (the course's run
            has 10 saves and the final image).

    Returns:
        list of the entries to show, first and last saves included.
    """
    room = max(1, max_images - (1 if final else 0))
    saves = list(saves)
    if len(saves) > room:
        picks = sorted({round(k) for k in np.linspace(0, len(saves) - 1, room)})
        saves = [saves[k] for k in picks]
    return saves + ([final] if final else [])


def not_applicable(name: str, record: Mapping[str, Any]) -> str | None:
    """Why figure ``name`` does not apply to the run of ``record``, or ``None`` when it does.

    Only the noise figure can fail to apply: it shows the course's start, the noisy content
    image, which a run with ``--init`` other than noise, ``--multires`` above 1 (``--fast``
    chooses 2) or ``--preserve-colors luminance`` does not start from.
    """
    if name != "noise":
        return None
    settings = record["settings"]
    init, multires = settings.get("init", "noise"), settings.get("multires", 1)
    why = {}
    if init != "noise":
        why["init"] = f"--init {init}"
    if isinstance(multires, int) and multires > 1:
        why["multires"] = f"--multires {multires}"
    if settings.get("preserve_colors") == "luminance":
        why["preserve_colors"] = "--preserve-colors luminance"
    if not why:
        return None
    chosen = (record.get("choices") or {}).get("fast") or {}
    fast = ", as --fast chose" if all(name in chosen for name in why) else ""
    return (
        "the run did not start from the course's noisy content image "
        f"({', '.join(why.values())}{fast})"
    )


def run_figure(
    name: str,
    record: Mapping[str, Any],
    columns: int = 4,
    max_images: int = 12,
    run_dir: str | os.PathLike[str] | None = None,
) -> PIL.Image.Image:
    """Make one of :data:`FIGURES` from a run record (see :mod:`nst_tf1.record`).

    The run's saved images are read from ``run_dir`` (by their names in the record, which
    are relative to it), so a moved or copied run folder shows its own images. The content
    and style images are read from their recorded paths and checked against their recorded
    SHA-256.

    Args:
        name: ``panel``, ``strip``, ``noise`` or ``costs``.
        record: dict read from ``run.json``.
        columns: tiles per row of the strip.
        max_images: most images in the strip (see :func:`strip_entries`).
        run_dir: the folder holding ``run.json`` (default: the record's ``output_dir``,
            where the run wrote it).

    Returns:
        PIL.Image.Image.

    Raises:
        ValueError: the run has not got that far (no final image, no saves), or a file has
            gone or changed (the message names it).
        PlotsUnavailableError: ``costs`` without matplotlib.
    """
    from .images import generate_noise_image, reshape_and_normalize_image

    settings = record["settings"]
    out = os.fspath(run_dir) if run_dir is not None else record["files"]["output_dir"]
    height, width = record["image_size"]
    if name == "costs":
        return cost_curve(
            record["costs"],
            settings["alpha"],
            settings["beta"],
            saves=[s["iteration"] for s in record["saves"]],
        )
    content = _input_image(record, "content", height, width)
    if name == "noise":
        reason = not_applicable(name, record)
        if reason is not None:
            raise ValueError(reason)
        # The run's initial G, made again from its seed: the same array as its 0.png.
        noisy = generate_noise_image(
            reshape_and_normalize_image(content), settings["noise_ratio"], seed=record["seed"]
        )
        return noise_figure(content, to_uint8(noisy), settings["noise_ratio"])
    final = record.get("final")
    if name == "panel":
        if final is None:
            from .record import effective_status

            raise ValueError(
                f"{out}: the run has no final image (status {effective_status(out, record)!r})"
            )
        style = _input_image(record, "style", height, width)
        return panel(content, style, _read_rgb(os.path.join(out, final["file"])))
    if name == "strip":
        entries = strip_entries(record["saves"], final, max_images)
        if not entries:
            raise ValueError(f"{out}: the run saved no images yet")
        images = [_read_rgb(os.path.join(out, e["file"])) for e in entries]
        return iteration_strip(
            images,
            [e["iteration"] for e in entries],
            final["iteration"] if final else None,
            columns=columns,
        )
    raise ValueError(f"unknown figure {name!r}; choose from {', '.join(FIGURES)}")


def save_figure(path: str | os.PathLike[str], figure: PIL.Image.Image) -> None:
    """Write a Pillow image as PNG atomically (temporary file renamed into place)."""
    import io

    from .images import write_atomically

    path = os.fspath(path)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    data = io.BytesIO()
    figure.save(data, format="PNG")
    write_atomically(path, data.getbuffer())


def make_run_figures(
    run_dir: str | os.PathLike[str],
    names: Collection[str] | None = None,
    out_dir: str | None = None,
    columns: int = 4,
    max_images: int = 12,
    note: Callable[[str], None] | None = None,
) -> Iterator[tuple[str, PIL.Image.Image]]:
    """``nst-tf1 figure``: draw figures of a run and write them as ``OUT_DIR/<name>.png``.

    ``run_dir`` is one run's folder (its ``run.json``), or a batch's output folder: no
    ``run.json`` of its own, a pair folder with one for every pair that has started. For a
    batch, every pair's figures are drawn, each into ``PAIR/figures`` (or
    ``OUT_DIR/PAIR``); a pair that cannot give a figure (it failed before its final image,
    say) does not stop the others, and is named in the error raised at the end.

    Every check comes first: matplotlib when ``costs`` is asked for, the run record, the
    output directory.

    Args:
        run_dir: the run's output directory, holding ``run.json``, or a batch's.
        names: which of :data:`FIGURES`, made in that table's order; ``None``: all of them
            but those that do not apply to the run (:func:`not_applicable`) or that this
            install cannot draw (``costs`` without matplotlib), each skipped with a note
            (for a batch, one note per figure and reason, naming the pairs).
        out_dir: where the PNGs go (default ``RUN_DIR/figures``).
        columns, max_images: of the strip (see :func:`run_figure`).
        note: receives the one-line note of each figure skipped (``None``: no notes).

    Yields:
        (path, figure) of each figure once it is written.

    Raises:
        nst_tf1.errors.InputError: no usable record, an unwritable ``out_dir``, a figure the
            run cannot give (the message names it, and for a batch the pairs), or no
            matplotlib for ``costs``.
    """
    from .record import RUN_FILE, pair_folders, read_run_record

    every = names is None
    names = [name for name in FIGURES if every or name in names]
    if "costs" in names:
        try:
            require_matplotlib()
        except PlotsUnavailableError as exc:
            if not every:
                others = " ".join(name for name in names if name != "costs")
                hint = f" (or make the others: nst-tf1 figure {others})" if others else ""
                raise InputError(f"{exc}{hint}") from None
            if note is not None:
                note(f"skipping costs.png: {exc}")
            names.remove("costs")
    skip_note = note if every else None
    run_dir = os.fspath(run_dir)
    pairs = [] if os.path.isfile(os.path.join(run_dir, RUN_FILE)) else pair_folders(run_dir)
    if not pairs:
        yield from _figures_of_one_run(run_dir, names, out_dir, columns, max_images, skip_note)
        return
    problems, skips = [], {}
    for pair in pairs:
        pair_dir = os.path.join(run_dir, pair)
        pair_out = os.path.join(out_dir, pair) if out_dir else None
        try:
            record = read_run_record(pair_dir)
        except InputError as exc:
            problems.append((pair, str(exc)))
            continue
        for name in names:  # a figure the pair cannot give does not stop the others
            reason = not_applicable(name, record) if every else None
            if reason:
                skips.setdefault((name, reason), []).append(pair)
                continue
            try:
                yield from _figures_of_one_run(pair_dir, [name], pair_out, columns, max_images)
            except InputError as exc:
                problems.append((pair, str(exc)))
    for (name, reason), skipped in skips.items():
        if note is not None:
            note(
                f"skipping {name}.png of {len(skipped)} of the {len(pairs)} pairs "
                f"({', '.join(skipped)}): {reason}"
            )
    if problems:
        failed = sorted({pair for pair, _ in problems})
        detail = "; ".join(f"{pair}: {problem}" for pair, problem in problems)
        raise InputError(
            f"{len(failed)} of the {len(pairs)} pairs in {run_dir} lack figures: "
            f"{detail} (one pair alone: nst-tf1 figure --run-dir "
            f"{os.path.join(run_dir, failed[0])})"
        )


def _figures_of_one_run(run_dir, names, out_dir, columns, max_images, skip_note=None):
    """:func:`make_run_figures` of one run's folder; with ``skip_note``, the figures that do
    not apply to the run are skipped, each with a note."""
    from .preflight import check_writable_dir
    from .record import read_run_record

    record = read_run_record(run_dir)
    if skip_note is not None:
        reasons = {name: not_applicable(name, record) for name in names}
        for name in names:
            if reasons[name]:
                skip_note(f"skipping {name}.png: {reasons[name]}")
        names = [name for name in names if not reasons[name]]
    out_dir = out_dir or os.path.join(run_dir, "figures")
    check_writable_dir(out_dir)
    for name in names:
        try:
            figure = run_figure(
                name, record, columns=columns, max_images=max_images, run_dir=run_dir
            )
        except (ValueError, OSError) as exc:
            message = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
            raise InputError(f"{name}: {where}{message}") from None
        path = os.path.join(out_dir, f"{name}.png")
        save_figure(path, figure)
        yield path, figure


def make_activation_figure(
    image_path: str | os.PathLike[str],
    layer: str,
    model: str,
    channels: int = 16,
    height: int = CONFIG.IMAGE_HEIGHT,
    width: int = CONFIG.IMAGE_WIDTH,
    output: str | None = None,
) -> tuple[str, PIL.Image.Image, tuple[int, ...], int]:
    """``nst-tf1 activations``: a grid of one layer's most active maps for an image, as PNG.

    The image, its size and the output directory are checked before the model is read; the
    model is never downloaded.

    Args:
        image_path: the input image, resized to height x width as in a run.
        layer: a key of the model dict other than ``input``.
        model: path of the VGG-19 .mat file.
        channels: how many maps.
        output: the PNG (default ``OUTPUT_DIR/activations_LAYER.png``).

    Returns:
        (path, figure, activations shape (h, w, n_C), count of maps drawn).

    Raises:
        nst_tf1.errors.InputError: a bad image, size, output (a directory, a special file, an
            unwritable folder) or model file; all checked before the model is read.
    """
    from .graph import import_tensorflow
    from .images import load_image
    from .preflight import check_memory, check_output_file
    from .weights import read_existing_model

    output = output or os.path.join(CONFIG.OUTPUT_DIR, f"activations_{layer}.png")
    check_memory(height, width)
    image = load_image(image_path, height, width)
    check_output_file(output)
    weights = read_existing_model(model)
    import_tensorflow()
    activations = layer_activations(weights, image, layer)
    count = min(channels, activations.shape[-1])
    title = (
        f"{layer} of {os.path.basename(image_path)}: {count} of {activations.shape[-1]} channels"
    )
    figure = activation_grid(activations, channels, title=title)
    save_figure(output, figure)
    return output, figure, activations.shape, count
