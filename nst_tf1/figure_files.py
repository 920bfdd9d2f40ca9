"""The figures ``nst-tf1`` writes: a finished run's, read from its folder and ``run.json``
(``nst-tf1 figure``), and one layer's activations for an image (``nst-tf1 activations``).

The drawing is :mod:`nst_tf1.figures`'; here the inputs are found and checked (the run
record, the recorded images and their SHA-256, the output folder) and the PNGs written
atomically.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from .config import CONFIG
from .errors import InputError
from .figures import (
    FIGURES,
    PlotsUnavailableError,
    activation_grid,
    cost_curve,
    iteration_strip,
    layer_activations,
    noise_figure,
    panel,
    require_matplotlib,
    to_uint8,
)

if TYPE_CHECKING:
    import PIL.Image

__all__ = [
    "strip_entries",
    "not_applicable",
    "run_figure",
    "save_figure",
    "make_run_figures",
    "make_activation_figure",
]


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
            detail=record.get("choices", {}).get("detail", {}).get("iterations", 0),
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
    _check_matplotlib(names, every, note)
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


def _check_matplotlib(names, every, note):
    """Without matplotlib, refuse ``costs`` when asked for by name, else drop it with a note."""
    if "costs" not in names:
        return
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
    from .images import load_image
    from .model_file import read_existing_model
    from .preflight import check_memory, check_output_file
    from .tf1 import graph_mode

    output = output or os.path.join(CONFIG.OUTPUT_DIR, f"activations_{layer}.png")
    check_memory(height, width)
    image = load_image(image_path, height, width)
    check_output_file(output)
    weights = read_existing_model(model)
    graph_mode()
    activations = layer_activations(weights, image, layer)
    count = min(channels, activations.shape[-1])
    title = (
        f"{layer} of {os.path.basename(image_path)}: {count} of {activations.shape[-1]} channels"
    )
    figure = activation_grid(activations, channels, title=title)
    save_figure(output, figure)
    return output, figure, activations.shape, count
