"""Checks made before the model is loaded: memory for the graph, the output directory.

Each check either passes or raises :class:`PreflightError` whose message names the path or
the flag and the problem on one line; the command line prints it and exits 2.

* Memory: :func:`estimate_memory` for a height x width run, compared with
  :func:`available_memory`.
* Output directory: created if needed, proved writable, and checked for enough free space
  for every image the run saves (:func:`check_output_dir`).
* Existing results: ``generated_image.jpg`` carries a comment naming the content and style
  files (and their SHA-256) that produced it; :func:`check_existing_output` lets a run
  replace it only when it comes from the same pair, or with ``--overwrite``.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence

from .errors import InputError
from .weights import file_digests

__all__ = [
    "PreflightError",
    "ACTIVATION_FACTOR",
    "BASE_MEMORY",
    "estimate_memory",
    "available_memory",
    "check_memory",
    "check_output_dir",
    "check_writable_dir",
    "check_output_file",
    "run_signature",
    "interrupted_signature",
    "interrupted_at",
    "check_existing_output",
    "FINAL_IMAGE",
    "FINAL_PNG",
]

#: Name of the final image in the output directory (the course's).
FINAL_IMAGE = "generated_image.jpg"
#: The same final image, lossless, beside it.
FINAL_PNG = "generated_image.png"

#: Peak memory of a run per byte of forward activations (:func:`nst_tf1.vgg.activation_bytes`):
#: the activations kept for the backward pass, their gradients, and the convolutions' im2col
#: buffers. Measured as the slope of peak RSS between 300x400 and 600x800 runs at the real
#: VGG-19 widths (TensorFlow 2.21 on CPU: 2694 MB and 5537 MB for 158 MB and 633 MB of
#: activations, a slope of 6.0).
ACTIVATION_FACTOR = 6

#: Memory a run takes whatever the image size: Python, the TensorFlow runtime and the
#: convolution weights, in bytes (the intercept of the same measurement: 1.74 GB).
BASE_MEMORY = 1_750_000_000

# Header of the comment stored in generated_image.jpg.
_SIGNATURE_PREFIX = "nst-tf1 run "


class PreflightError(InputError):
    """A run cannot start: not enough memory or disk, or an output it would destroy."""


def _size(n):
    """``n`` bytes for people: ``'1.5 GB'``."""
    for unit in ("bytes", "kB", "MB", "GB", "TB", "PB"):
        if abs(n) < 1000 or unit == "PB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000.0
    return f"{n:.1f} PB"  # pragma: no cover


def estimate_memory(height: int, width: int) -> int:
    """Estimated peak memory (bytes) of a height x width run at VGG-19's real widths.

    ``BASE_MEMORY + ACTIVATION_FACTOR * activation_bytes(height, width)``, with the channel
    widths of :data:`nst_tf1.vgg.VGG19_CONV_LAYERS`. About 2.7 GB for 300x400.
    """
    from .vgg import activation_bytes

    return BASE_MEMORY + ACTIVATION_FACTOR * activation_bytes(height, width)


def available_memory() -> tuple[int | None, str]:
    """(bytes, where the figure comes from) of memory available to a new run.

    ``MemAvailable`` of ``/proc/meminfo`` (Linux: free memory plus reclaimable caches);
    where that is missing, ``os.sysconf('SC_AVPHYS_PAGES') * SC_PAGE_SIZE`` (free physical
    pages, an underestimate); where neither exists, ``(None, reason)`` and no memory check is
    made. Container limits (cgroups) are not read.
    """
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024, "MemAvailable in /proc/meminfo"
    except (OSError, ValueError, IndexError):
        pass
    try:
        pages, page = os.sysconf("SC_AVPHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        if pages > 0 and page > 0:
            return pages * page, "free physical pages (sysconf)"
    except (AttributeError, ValueError, OSError):
        pass
    return None, "no memory figure on this system"


def check_memory(
    height: int,
    width: int,
    what: str | None = None,
    need: tuple[int, str] | None = None,
) -> None:
    """Refuse a size whose estimated memory exceeds what is available.

    Args:
        height, width: the size of a graph's input.
        what: how the message names that size (default: ``--height H --width W``).
        need: (bytes, how they are estimated) of work other than a run at that size
            (default: :func:`estimate_memory`'s figure for a run).

    Raises:
        PreflightError: with the estimate and the available figure.
    """
    from .vgg import activation_bytes

    if need is None:
        need = (
            estimate_memory(height, width),
            f"{ACTIVATION_FACTOR} x {_size(activation_bytes(height, width))} of VGG-19 "
            f"activations + {_size(BASE_MEMORY)}",
        )
    available, source = available_memory()
    if available is not None and need[0] > available:
        raise PreflightError(
            f"{what or f'--height {height} --width {width}'} needs about {_size(need[0])} of "
            f"memory (estimate: {need[1]}), but only {_size(available)} is available "
            f"({source}); use a smaller size"
        )


def check_writable_dir(path: str | os.PathLike[str]) -> None:
    """Create directory ``path`` if needed and prove it writable.

    Raises:
        PreflightError: it cannot be created or written.
    """
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise PreflightError(f"{path}: directory is not writable ({exc.strerror or exc})") from None


def check_output_file(
    path: str | os.PathLike[str], flag: str = "--output", example: str = "figure.png"
) -> None:
    """Check, before any work, that a file can be written at ``path``: not an existing
    directory or special file (a device, a FIFO), in a writable directory (created if
    needed). ``example`` is the file name a message about a directory suggests.

    Raises:
        PreflightError: one line naming the path and the flag.
    """
    import stat

    path = os.fspath(path)
    if not path or path.endswith(os.sep):
        raise PreflightError(f"{flag}: {path!r} is not a file name")
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise PreflightError(f"{path}: cannot use it as {flag} ({exc.strerror or exc})") from None
    if mode is not None and stat.S_ISDIR(mode):
        raise PreflightError(
            f"{path}: {flag} is a directory; give a file name in it, such as "
            f"{os.path.join(path, example)}"
        )
    if mode is not None and not stat.S_ISREG(mode):
        raise PreflightError(f"{path}: {flag} exists and is not a regular file; not replacing it")
    check_writable_dir(os.path.dirname(path) or ".")


def check_output_dir(path: str | os.PathLike[str], height: int, width: int, n_images: int) -> None:
    """Create ``path`` if needed, prove it writable and check its free space.

    Args:
        path: the output directory.
        height, width: image size.
        n_images: number of images the run saves.

    Raises:
        PreflightError: the directory cannot be created or written, or its file system has
            less free space than ``n_images`` uncompressed images (plus one temporary file).
    """
    import shutil

    if os.path.exists(path) and not os.path.isdir(path):
        raise PreflightError(f"{path}: output directory is a file, not a directory")
    if os.path.islink(path) and not os.path.exists(path):
        raise PreflightError(
            f"{path}: output directory is a symbolic link to {os.readlink(path)}, "
            "which does not exist"
        )
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise PreflightError(
            f"{path}: output directory is not writable ({exc.strerror or exc})"
        ) from None
    # A PNG of raw pixels is the worst case; JPEGs are smaller. One more for the temporary
    # file each save writes before renaming it into place.
    need = (n_images + 1) * (height * width * 3 + 4096)
    free = shutil.disk_usage(path).free
    if free < need:
        raise PreflightError(
            f"{path}: only {_size(free)} free on its disk, and this run writes up to "
            f"{_size(need)} ({n_images} images of {height}x{width}); free some space or "
            "choose another --output-dir"
        )


def run_signature(
    content_path: str | os.PathLike[str],
    style_paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
) -> str:
    """The text stored in ``generated_image.jpg``: the content and style files of the run.

    Args:
        content_path: the content image.
        style_paths: the style image, or a list of them (blended styles).

    Returns:
        str: ``nst-tf1 run {"content": [{"name": ..., "sha256": ...}], "style": [...]}``.
    """
    if isinstance(style_paths, (str, os.PathLike)):
        style_paths = [style_paths]
    record = {
        role: [
            {"name": os.path.basename(p), "sha256": file_digests(p, md5=False).sha256}
            for p in paths
        ]
        for role, paths in (("content", [content_path]), ("style", list(style_paths)))
    }
    return _SIGNATURE_PREFIX + json.dumps(record, sort_keys=True)


def interrupted_signature(signature: str, iteration: int) -> str:
    """``signature`` marked as the record of a run stopped (by a signal) at ``iteration``."""
    record = json.loads(signature[len(_SIGNATURE_PREFIX) :])
    record["interrupted_at"] = int(iteration)
    return _SIGNATURE_PREFIX + json.dumps(record, sort_keys=True)


def interrupted_at(path: str | os.PathLike[str]) -> int | None:
    """The iteration at which the run that wrote image ``path`` was stopped by a signal, or
    ``None`` (it finished, or the image carries no record of this package)."""
    from .images import read_comment

    text = read_comment(path)
    if not text or not text.startswith(_SIGNATURE_PREFIX):
        return None
    try:
        value = json.loads(text[len(_SIGNATURE_PREFIX) :]).get("interrupted_at")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, int) else None


def _parse_signature(text):
    """{"content": (names, digests), "style": (names, digests)} or None."""
    if not text or not text.startswith(_SIGNATURE_PREFIX):
        return None
    try:
        record = json.loads(text[len(_SIGNATURE_PREFIX) :])
        return {
            role: (
                " + ".join(str(item["name"]) for item in record[role]),
                tuple(str(item["sha256"]) for item in record[role]),
            )
            for role in ("content", "style")
        }
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def check_existing_output(
    output_dir: str | os.PathLike[str], signature: str, overwrite: bool = False
) -> str | None:
    """Apply the existing-output policy to ``output_dir/generated_image.jpg``.

    * absent: nothing to say;
    * from the same content/style pair (same file contents, by SHA-256): replaced, with a
      note (re-running a pair refines its own result);
    * from another pair, or of unknown origin: refused, unless ``overwrite``, in which case
      it is replaced with a note.

    Only ``generated_image.jpg`` is checked; ``<i>.png`` files of an allowed run are
    rewritten as the run reaches them, and the others are left as they are.

    Args:
        output_dir: the output directory.
        signature: :func:`run_signature` of this run.
        overwrite: the user passed ``--overwrite``.

    Returns:
        str or None: a note saying what will happen to the existing file.

    Raises:
        PreflightError: the file exists, is not from this pair, and ``overwrite`` is false.
    """
    from .images import read_comment

    final = os.path.join(output_dir, FINAL_IMAGE)
    if not os.path.lexists(final):
        return None
    previous = _parse_signature(read_comment(final))
    mine = _parse_signature(signature)
    if previous is not None and all(previous[r][1] == mine[r][1] for r in mine):
        return (
            f"Replacing {final}: an earlier result of the same content/style pair "
            "(pass another --output-dir to keep it)"
        )
    origin = (
        f"from content {previous['content'][0]} and style {previous['style'][0]}"
        if previous
        else "of unknown origin"
    )
    if overwrite:
        return f"Replacing {final} ({origin}) as --overwrite asks"
    raise PreflightError(
        f"{final} exists ({origin}, not this content/style pair); pass --overwrite to "
        "replace it, or choose another --output-dir"
    )
