"""The runs in the output folder, as the page's gallery shows them (from their run.json)."""

from __future__ import annotations

import json
import os
import re

from ..record import RUN_FILE, effective_status
from .uploads import DEMO

__all__ = ["RUN_NAME", "FILE_NAME", "run_folder", "run_file", "gallery"]

#: A run folder's name: what the page creates, or any plain name a command-line run used.
RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$")
#: The files of a run folder the page serves.
FILE_NAME = re.compile(r"^(generated_image\.(png|jpg)|run\.json|[0-9]{1,6}\.png)$")


def _inside(folder: str, path: str) -> bool:
    """Whether ``path`` resolves (symbolic links followed) to a place inside ``folder``."""
    folder, path = os.path.realpath(folder), os.path.realpath(path)
    return os.path.commonpath([folder, path]) == folder and path != folder


def run_folder(output_dir: str, name: str) -> str | None:
    """The folder of run ``name`` directly under ``output_dir``, or ``None`` for any name
    that is not a plain folder name there (``..``, slashes, links out of the folder)."""
    if not RUN_NAME.match(name or "") or ".." in name:
        return None
    path = os.path.join(output_dir, name)
    if not os.path.isdir(path) or not _inside(output_dir, path):
        return None
    return path


def run_file(output_dir: str, name: str, file: str) -> str | None:
    """A result file of a run (final images, saved iterations, run.json), or ``None``."""
    folder = run_folder(output_dir, name)
    if folder is None or not FILE_NAME.match(file or ""):
        return None
    path = os.path.join(folder, file)
    if not os.path.isfile(path) or not _inside(folder, path):
        return None
    return path


def _summary(output_dir, name, uploads):
    folder = os.path.join(output_dir, name)
    try:
        with open(os.path.join(folder, RUN_FILE), encoding="utf-8") as f:
            record = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or not isinstance(record.get("settings"), dict):
        return None
    settings = record["settings"]
    files = record.get("files") if isinstance(record.get("files"), dict) else {}
    image = next(
        (
            file
            for file in ("generated_image.jpg", "generated_image.png")
            if os.path.isfile(os.path.join(folder, file))
        ),
        None,
    )
    if image is None:
        saves = [s.get("file") for s in record.get("saves") or [] if isinstance(s, dict)]
        image = next(
            (f for f in reversed(saves) if isinstance(f, str) and FILE_NAME.match(f)), None
        )
    styles = files.get("styles") or [files.get("style")]
    final = record.get("final") if isinstance(record.get("final"), dict) else {}
    content_id = uploads.id_of(str(files.get("content", "")))
    style_ids = [uploads.id_of(str(s)) for s in styles if s]

    def shown_name(path, upload_id):
        """An upload by the name it was uploaded with, a demo image by the name the form
        gives it, anything else by its file name."""
        if upload_id in DEMO:
            return DEMO[upload_id][1]
        info = uploads.info(upload_id) if upload_id else None
        return info["name"] if info else os.path.basename(str(path))

    return {
        "id": name,
        "status": effective_status(folder, record),
        "started": record.get("started_utc"),
        "seconds": record.get("wall_time_seconds"),
        "image": image,
        "image_size": record.get("image_size"),
        "content": shown_name(files.get("content", ""), content_id),
        "styles": [shown_name(s, i) for s, i in zip([s for s in styles if s], style_ids)],
        "content_id": content_id,
        "style_ids": style_ids,
        "settings": settings,
        "seed": record.get("seed"),
        "iteration": final.get("iteration"),
        # Where a run stopped before the output size, its last image's scale (run.json).
        "scale": final.get("scale") if isinstance(final.get("scale"), dict) else None,
        "total_cost": final.get("total_cost"),
    }


def gallery(output_dir: str, uploads) -> list[dict]:
    """Every run folder directly under ``output_dir`` that has a run.json, newest first."""
    try:
        names = os.listdir(output_dir)
    except OSError:
        return []
    runs = []
    for name in names:
        if run_folder(output_dir, name) is None:
            continue
        summary = _summary(output_dir, name, uploads)
        if summary is not None:
            runs.append(summary)
    runs.sort(key=lambda run: str(run.get("started") or ""), reverse=True)
    return runs
