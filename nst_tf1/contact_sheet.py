"""The contact sheet of a batch: every pair's content, style and result, side by side.

A batch writes one folder per (content, style) pair under its output folder, each with its
``run.json`` (:mod:`nst_tf1.record`) and its images. :func:`write_contact_sheet` reads those
records and writes two files into the batch folder, each atomically (a temporary file
renamed into place, :func:`nst_tf1.images.write_atomically`), so it can be called again
after every pair while a browser or an image viewer has the old ones open:

    index.html          one row per pair: thumbnails of the content, the style and the
                        result, the pair's status and wall time from its run.json, and
                        relative links to the pair's folder and its full-size result
                        (percent-encoded from the names' bytes on disk, so a name that is
                        not UTF-8 links to its file; the page shows each such byte as
                        U+FFFD). The thumbnails are inside the page (``data:`` URIs): it
                        loads nothing else, and can be moved or mailed with or without the
                        folder.
    contact_sheet.png   the same rows as one picture, content | style | result, each row
                        labelled with the pair's folder, status and time.

The result is the pair's final image, or while it runs (or after it stopped without one)
its latest saved image, labelled with its iteration. A file that is missing or unreadable
is an empty tile saying so: the sheet is drawn whatever state the pairs are in.
"""

from __future__ import annotations

import base64
import html
import io
import os
import re
import urllib.parse
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    import PIL.Image

__all__ = [
    "HTML_FILE",
    "PNG_FILE",
    "THUMBNAIL",
    "Pair",
    "read_pairs",
    "write_contact_sheet",
]

#: File names of the contact sheet inside the batch folder.
HTML_FILE = "index.html"
PNG_FILE = "contact_sheet.png"

#: Thumbnails are scaled to fit a THUMBNAIL x THUMBNAIL box, their aspect ratio kept.
THUMBNAIL = 200

_PAD, _GAP, _CAPTION, _LABEL = 16, 12, 24, 28  # pixels of the grid PNG
_COLUMNS = ("content", "style", "result")


class Pair(NamedTuple):
    """One pair of a batch, as its run.json tells it.

    Attributes:
        folder: the pair's folder name inside the batch folder.
        status: its run's status (``"unreadable"`` when run.json cannot be read).
        seconds: its run's wall time, or ``None``.
        images: {"content", "style", "result"} -> path of the file to show, or ``None``.
        result_label: what the result is ("final image", "iteration 40", "no image yet").
        result_file: the result's file name inside the pair folder (``/``-separated), or
            ``None``.
    """

    folder: str
    status: str
    seconds: float | None
    images: dict[str, str | None]
    result_label: str
    result_file: str | None


def _pair(batch_dir: str, folder: str) -> Pair:
    from .record import effective_status, read_run_record

    run_dir = os.path.join(batch_dir, folder)
    try:
        record = read_run_record(run_dir)
    except ValueError:
        return Pair(folder, "unreadable", None, dict.fromkeys(_COLUMNS), "no image", None)
    images = {key: record["files"].get(key) for key in ("content", "style")}
    final, saves = record.get("final"), record["saves"]
    if final:
        entry, label = final, "final image"
    elif saves:
        entry, label = saves[-1], f"iteration {saves[-1]['iteration']}"
    else:
        entry, label = None, "no image yet"
    images["result"] = os.path.join(run_dir, entry["file"]) if entry else None
    seconds = record.get("wall_time_seconds")
    return Pair(
        folder,
        effective_status(run_dir, record),
        float(seconds) if isinstance(seconds, (int, float)) else None,
        images,
        label,
        entry["file"].replace(os.sep, "/") if entry else None,
    )


def read_pairs(batch_dir: str | os.PathLike[str]) -> list[Pair]:
    """Every pair folder of a batch (a subfolder holding a run.json), by folder name."""
    from .record import pair_folders

    batch_dir = os.fspath(batch_dir)
    return [_pair(batch_dir, folder) for folder in pair_folders(batch_dir)]


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, seconds = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _thumbnail(path: str | None) -> tuple[PIL.Image.Image | None, str]:
    """(thumbnail, problem): the image scaled to fit THUMBNAIL x THUMBNAIL, or None and why."""
    from PIL import Image, ImageOps

    if path is None:
        return None, ""
    try:
        with Image.open(path) as img:
            img = ImageOps.exif_transpose(img).convert("RGB")
            # Small results are enlarged too: the three tiles of a row compare at one size.
            return ImageOps.contain(img, (THUMBNAIL, THUMBNAIL), Image.LANCZOS), ""
    except FileNotFoundError:
        return None, "missing"
    except (OSError, ValueError, Image.DecompressionBombError):
        return None, "unreadable"


def _data_uri(img: PIL.Image.Image) -> str:
    data = io.BytesIO()
    img.save(data, format="JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(data.getvalue()).decode("ascii")


# Lone surrogates: how Python holds the bytes of a file name that are not UTF-8
# (os.listdir's "surrogateescape"); UTF-8 text cannot hold them.
_SURROGATE = re.compile("[\ud800-\udfff]")


def _shown(text: str) -> str:
    """``text`` as the sheet shows it: each byte of a file name that is not UTF-8 (a lone
    surrogate) as U+FFFD, the replacement character, as a terminal shows it."""
    return _SURROGATE.sub("\ufffd", text)


def _quoted(part: str) -> str:
    """A path component percent-encoded from its bytes on disk (:func:`os.fsencode`), so a
    name that is not UTF-8 links to its real file."""
    try:
        data = os.fsencode(part)
    except UnicodeEncodeError:  # a surrogate no file name decodes to (a hand-edited run.json)
        data = _shown(part).encode("utf-8")
    return urllib.parse.quote(data)


def _link(*parts: str) -> str:
    """A relative link to ``parts`` joined by ``/``, each quoted, escaped for an attribute."""
    return html.escape("/".join(_quoted(p) for p in parts), quote=True)


def _html_row(pair: Pair, row: dict[str, Any]) -> str:
    """One pair's row of the sheet's table: its folder, thumbnails, status and time."""
    cells = [
        f'<td class="name"><a href="{_link(pair.folder)}/">'
        f"{html.escape(_shown(pair.folder))}</a></td>"
    ]
    for key in _COLUMNS:
        img, problem = row[key]
        path = pair.images[key]
        caption = pair.result_label if key == "result" else key
        if img is None:
            text = problem or caption
            cells.append(f'<td class="empty">{html.escape(text)}</td>')
            continue
        tag = (
            f'<img src="{_data_uri(img)}" width="{img.width}" height="{img.height}" '
            f'alt="{html.escape(key, quote=True)}" '
            f'title="{html.escape(_shown(os.path.basename(path)), quote=True)}">'
        )
        if key == "result":
            tag = f'<a href="{_link(pair.folder, *pair.result_file.split("/"))}">{tag}</a>'
        cells.append(
            f"<td>{tag}<br><small>{html.escape(caption)}</small></td>"
            if key == "result"
            else f"<td>{tag}</td>"
        )
    cells.append(f'<td class="status {html.escape(pair.status)}">{html.escape(pair.status)}</td>')
    cells.append(f'<td class="time">{html.escape(_duration(pair.seconds))}</td>')
    return "<tr>" + "".join(cells) + "</tr>"


def _html(pairs: Sequence[Pair], thumbs: Sequence[dict[str, Any]], title: str) -> str:
    rows = [_html_row(pair, row) for pair, row in zip(pairs, thumbs)]
    counts: dict[str, int] = {}
    for pair in pairs:
        counts[pair.status] = counts.get(pair.status, 0) + 1
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{html.escape(title)}</title>
<style>
body {{ font-family: sans-serif; margin: 16px; }}
table {{ border-collapse: collapse; }}
th, td {{ border: 1px solid #ccc; padding: 6px; text-align: center; vertical-align: middle; }}
td.name {{ text-align: left; max-width: 16em; overflow-wrap: anywhere; }}
td.status, td.time {{ white-space: nowrap; }}
td.empty {{ width: {THUMBNAIL}px; height: {THUMBNAIL // 2}px; color: #888; }}
td.finished {{ color: #080; }}
td.failed, td.diverged, td.killed, td.unreadable {{ color: #b00; }}
</style>
</head>
<body>
<h1>{html.escape(title)}</h1>
<p>{len(pairs)} pairs: {html.escape(summary)}. The whole sheet as one picture:
<a href="{_link(PNG_FILE)}">{PNG_FILE}</a>.</p>
<table>
<tr><th>pair</th><th>content</th><th>style</th><th>result</th><th>status</th><th>time</th></tr>
{chr(10).join(rows)}
</table>
</body>
</html>
"""


def _png(pairs: Sequence[Pair], thumbs: Sequence[dict[str, Any]], title: str) -> bytes:
    from PIL import Image, ImageDraw

    from .figures import _centered_text, _fitting_font, _font

    width = 2 * _PAD + 3 * THUMBNAIL + 2 * _GAP
    row_height = _LABEL + THUMBNAIL + _CAPTION
    height = 2 * _PAD + _LABEL + len(pairs) * row_height + (len(pairs) - 1) * _GAP
    sheet = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    font = _font(14)
    _centered_text(
        draw, (0, _PAD, width, _PAD + _LABEL), title, _fitting_font(draw, title, width - 2 * _PAD)
    )
    for k, (pair, row) in enumerate(zip(pairs, thumbs)):
        top = _PAD + _LABEL + k * (row_height + _GAP)
        label = f"{_shown(pair.folder)}: {pair.status}, {_duration(pair.seconds)}"
        _centered_text(
            draw,
            (_PAD, top, width - _PAD, top + _LABEL),
            label,
            _fitting_font(draw, label, width - 2 * _PAD, 16),
        )
        for column, key in enumerate(_COLUMNS):
            x = _PAD + column * (THUMBNAIL + _GAP)
            y = top + _LABEL
            img, problem = row[key]
            if img is None:
                draw.rectangle(
                    (x, y, x + THUMBNAIL - 1, y + THUMBNAIL - 1), outline=(200, 200, 200)
                )
            else:
                sheet.paste(
                    img, (x + (THUMBNAIL - img.width) // 2, y + (THUMBNAIL - img.height) // 2)
                )
            caption = pair.result_label if key == "result" else key
            if problem:
                caption = f"{caption}: {problem}"
            _centered_text(
                draw, (x, y + THUMBNAIL, x + THUMBNAIL, y + THUMBNAIL + _CAPTION), caption, font
            )
    data = io.BytesIO()
    sheet.save(data, format="PNG")
    return data.getvalue()


def write_contact_sheet(batch_dir: str | os.PathLike[str]) -> tuple[str, str]:
    """Write ``index.html`` and ``contact_sheet.png`` of a batch into its folder.

    Args:
        batch_dir: a batch's output folder (pair subfolders, each with its run.json).

    Returns:
        (path of index.html, path of contact_sheet.png).

    Raises:
        nst_tf1.errors.InputError: ``batch_dir`` holds no pair folder with a run.json.
        OSError: a file cannot be written (the previous sheet, if any, is left whole).
    """
    from .errors import InputError
    from .images import write_atomically

    batch_dir = os.fspath(batch_dir)
    pairs = read_pairs(batch_dir)
    if not pairs:
        raise InputError(f"{batch_dir}: no pair folder with a run.json (not a batch's output)")
    cache: dict[str | None, tuple[Any, str]] = {}
    thumbs = []
    for pair in pairs:
        row = {}
        for key in _COLUMNS:
            path = pair.images[key]
            if path not in cache or key == "result":
                cache[path] = _thumbnail(path)
            row[key] = cache[path]
        thumbs.append(row)
    title = f"nst-tf1 batch: {_shown(os.path.basename(os.path.abspath(batch_dir)))}"
    png_path = os.path.join(batch_dir, PNG_FILE)
    html_path = os.path.join(batch_dir, HTML_FILE)
    write_atomically(png_path, _png(pairs, thumbs, title))
    write_atomically(html_path, _html(pairs, thumbs, title).encode("utf-8"))
    return html_path, png_path
