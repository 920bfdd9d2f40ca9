"""Images the page uploads: checked while they stream in, stored under names of our own.

An upload is written to a temporary file in ``OUTPUT_DIR/uploads`` while its bytes are
counted, and refused as soon as it passes :data:`MAX_UPLOAD_BYTES` (the temporary file is
removed: nothing oversized is stored). It is then checked as the run checks its images
(:mod:`nst_tf1.images`: not an image, empty, corrupt, a decompression bomb) and decoded once
for its thumbnail. It is stored as ``<id>.<format>``, the id being the start of the SHA256
of its name and bytes: the name the browser sends is shown on the page and never chooses a
path. The same image uploaded again under another name is stored again, under an id of its
own: the runs that used the earlier upload go on showing the name they were started with
(with the bytes' digest alone, the second upload renamed the first).

The two demo images shipped with the package are the ids ``demo-content`` and
``demo-style``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import unicodedata

from ..images import ImageInputError, image_size, load_image
from ..settings import DEFAULT_CONTENT, DEFAULT_STYLE

__all__ = ["MAX_UPLOAD_BYTES", "DEMO", "UploadError", "Uploads", "display_name"]

#: Largest upload accepted.
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
#: The demo pair: id -> (file, name shown).
DEMO = {
    "demo-content": (DEFAULT_CONTENT, "demo scene (content)"),
    "demo-style": (DEFAULT_STYLE, "demo painting (style)"),
}
#: Longest side of a thumbnail.
THUMB_SIDE = 256

_ID = re.compile(r"^[0-9a-f]{20}$")
_EXTENSIONS = {"JPEG": ".jpg", "PNG": ".png", "GIF": ".gif", "BMP": ".bmp", "TIFF": ".tif"}


class UploadError(Exception):
    """An upload refused; the message is one sentence for the page. ``status``: HTTP."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def display_name(name: str | None) -> str:
    """A browser's file name, made safe to show: its last part, printable, at most 80
    characters (it is never used as a path)."""
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C").strip()
    return (name[:77] + "...") if len(name) > 80 else (name or "upload")


class Uploads:
    """The uploads folder of one output folder."""

    def __init__(self, output_dir: str):
        self.root = os.path.join(output_dir, "uploads")

    def path(self, upload_id: str) -> str | None:
        """The stored image of ``upload_id`` (or a demo image), or ``None``."""
        if not isinstance(upload_id, str):
            return None
        if upload_id in DEMO:
            return DEMO[upload_id][0]
        if not isinstance(upload_id, str) or not _ID.match(upload_id):
            return None
        info = self.info(upload_id)
        if info is None:
            return None
        path = os.path.join(self.root, upload_id + info["ext"])
        return path if os.path.isfile(path) else None

    def thumbnail(self, upload_id: str) -> str | None:
        """The JPEG thumbnail of an upload, or ``None``."""
        if not isinstance(upload_id, str) or not _ID.match(upload_id):
            return None
        path = os.path.join(self.root, upload_id + ".thumb.jpg")
        return path if os.path.isfile(path) else None

    def info(self, upload_id: str) -> dict | None:
        """What is known of an upload (name, width, height, ext), or ``None``."""
        if not isinstance(upload_id, str):
            return None
        if upload_id in DEMO:
            path, name = DEMO[upload_id]
            height, width = image_size(path)
            return {"id": upload_id, "name": name, "width": width, "height": height}
        if not _ID.match(upload_id or ""):
            return None
        try:
            with open(os.path.join(self.root, upload_id + ".json"), encoding="utf-8") as f:
                info = json.load(f)
        except (OSError, ValueError):
            return None
        if not isinstance(info, dict) or info.get("ext") not in _EXTENSIONS.values():
            return None
        return {**info, "id": upload_id}

    def id_of(self, path: str) -> str | None:
        """The id of a stored image or demo image at ``path`` (from a run.json), or ``None``."""
        for upload_id, (demo, _) in DEMO.items():
            if os.path.abspath(path) == os.path.abspath(demo):
                return upload_id
        if os.path.dirname(os.path.abspath(path)) != os.path.abspath(self.root):
            return None
        upload_id = os.path.splitext(os.path.basename(path))[0]
        return upload_id if self.path(upload_id) else None

    def list(self) -> list[dict]:
        """Every stored upload, the newest first."""
        try:
            names = os.listdir(self.root)
        except OSError:
            return []
        found = []
        for name in names:
            stem, ext = os.path.splitext(name)
            if ext == ".json" and _ID.match(stem):
                info = self.info(stem)
                if info is not None and self.path(stem):
                    mtime = os.path.getmtime(os.path.join(self.root, name))
                    found.append((mtime, info))
        return [info for _, info in sorted(found, key=lambda pair: -pair[0])]

    def begin(self) -> tuple[str, object]:
        """A new temporary file to stream an upload into: (path, open binary file)."""
        os.makedirs(self.root, exist_ok=True)
        path = os.path.join(self.root, f".upload-{secrets.token_hex(8)}.tmp")
        return path, open(path, "xb")

    def finish(self, tmp: str, name: str) -> dict:
        """Check the streamed file ``tmp`` as an image and store it; its info.

        Raises:
            UploadError: not an image, corrupt, too many pixels (the run's messages, naming
                the file by the name the browser gave).
        """
        try:
            return self._store(tmp, name)
        finally:
            with contextlib.suppress(OSError):
                os.remove(tmp)

    def _store(self, tmp, name):
        from PIL import Image

        try:
            if os.path.getsize(tmp) == 0:
                raise UploadError(f"{name}: empty file (0 bytes)")
            height, width = image_size(tmp)  # the header checks: format, pixel limit
            thumb_h, thumb_w = (THUMB_SIDE, None) if height >= width else (None, THUMB_SIDE)
            thumb = load_image(tmp, thumb_h, thumb_w)  # decodes every pixel: corrupt data
            with Image.open(tmp) as img:
                ext = _EXTENSIONS.get(img.format, ".png")
        except ImageInputError as exc:
            raise UploadError(str(exc).replace(tmp, name)) from None
        # The name is part of the id: the same bytes under another name are another upload,
        # so a run started with the earlier one keeps showing the name it was started with.
        digest = hashlib.sha256(name.encode("utf-8") + b"\0")
        with open(tmp, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        upload_id = digest.hexdigest()[:20]
        info = {"name": name, "width": width, "height": height, "ext": ext}
        if ext == ".png" and Image.open(tmp).format != "PNG":
            # A format the browser may not show (WebP ...): stored as decoded, as PNG.
            Image.fromarray(load_image(tmp, height, width).astype("uint8")).save(
                os.path.join(self.root, upload_id + ext)
            )
        else:
            os.replace(tmp, os.path.join(self.root, upload_id + ext))
        Image.fromarray(thumb.astype("uint8")).save(
            os.path.join(self.root, upload_id + ".thumb.jpg"), quality=85
        )
        with open(os.path.join(self.root, upload_id + ".json"), "w", encoding="utf-8") as f:
            json.dump(info, f)
        return {**info, "id": upload_id}
