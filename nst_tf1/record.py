"""The run record ``<output_dir>/run.json``: what a run did, so a figure can be regenerated.

The command line writes it when the run starts and rewrites it at every save and at the end,
so an interrupted run leaves a record of what it had done. It holds::

    format          1 (the version of this layout)
    status          "running"; then "finished", "stopped" (by a signal: the final image is
                    the current one), "diverged" (a NaN/Inf cost), "failed" (an image could
                    not be read or written, out of memory, any other error) or
                    "interrupted" (no final image);
                    "killed" when the next run into the folder finds a "running" record whose
                    process has gone (SIGKILL, power cut), and :func:`read_run_record` reads it
                    so as long as no process holds the folder's lock
    settings        every setting of the run: each command-line option's value, file paths
                    as given (``seed`` is null here when the user gave none)
    seed            the seed of the initial noise (drawn and recorded when none was given)
    image_size      [height, width] of the generated image
    files           absolute paths: content, style (the first), styles (all), model and
                    output_dir (where it was written; a moved run folder is read from where
                    it is now); sha256: {"content": ..., "styles": [...]} of the inputs
    model           the model file's size, SHA256 and layout ("new" or "old")
    versions        Python, nst-tf1, TensorFlow, NumPy, SciPy, Pillow
    device          what ran it (nst_tf1.device): CPU model and logical CPUs, its bfloat16
                    instructions (avx512_bf16, amx_bf16), the GPUs TensorFlow sees, the
                    TensorFlow version and package, CUDA build, oneDNN on or off, and
                    $GLIBC_TUNABLES (malloc's settings, see nst_tf1.allocator) and the
                    BLAS thread variables set ($OPENBLAS_NUM_THREADS, ...: NumPy's threads)
    started_utc     ISO 8601 start time; finished_utc once it ends
    wall_time_seconds   seconds from the start to the last write
    saves           one entry per saved image: iteration, file (relative to the run folder),
                    total/content/style cost
    costs           every iteration's costs: {"iteration": [...], "total_cost": [...],
                    "content_cost": [...], "style_cost": [...], "seconds": [...]} (seconds:
                    when each was known, from the record's start, as wall_time_seconds;
                    the three costs null on a detail-phase evaluation that did not compute
                    them, --detail-iterations: all but every save_every-th)
    choices         what ran: "precision" {"asked", "ran", "why"} (--precision auto is bf16
                    or fp32), "fast": the options --fast chose (those not given), and
                    "content_bound" (L-BFGS's content trust region at the output size):
                    {"bound", "scale", "fraction", and "course_preview", "preview_size"
                    and "margin" (b = margin fraction J_content(S)) or "factor"}, as
                    printed (nst_tf1.pair), and "detail" (the detail phase,
                    --detail-iterations): {"iterations", "layers"}
    final           the final image's file and costs (as optimised), once finished; its
                    "saved" maps generated_image.png and generated_image.jpg to the costs of
                    each file as written (8 bits a channel; JPEG-compressed), absent when a
                    second signal ended the run while they were computed. A --multires
                    run stopped at a coarser scale saves that scale's image upsampled to
                    image_size; its final then has "scale": {"scale": k, "scales": K,
                    "image_size": [h, w]}, and its costs, and saved's (each file read back
                    and resized to [h, w]), are that scale's

Costs are J, J_content and J_style as the course prints them (J_content and J_style
unweighted, J = alpha J_content + beta J_style).

The file is first written with the run's first saved image (nothing is written before the
first iteration), then rewritten atomically at every save. Its ``status`` value is padded
with spaces to the longest status, so that when the disk is full and no new file can be
written, the status alone is overwritten in place (:meth:`RunRecord.interrupt`).
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import re
import secrets
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .device import TENSORFLOW_DISTRIBUTIONS
from .errors import InputError, is_whole_number

if TYPE_CHECKING:
    from .optimize import Step

__all__ = [
    "RUN_FILE",
    "STATUSES",
    "effective_status",
    "mark_killed",
    "pair_folders",
    "REQUIRED_FIELDS",
    "RunRecord",
    "draw_seed",
    "library_versions",
    "read_run_record",
    "RunRecordError",
]

#: File name of the record inside the output directory.
RUN_FILE = "run.json"

#: Top-level fields every record has (``finished_utc`` and ``final`` only once finished).
REQUIRED_FIELDS = (
    "format",
    "status",
    "settings",
    "seed",
    "image_size",
    "files",
    "model",
    "versions",
    "started_utc",
    "wall_time_seconds",
    "saves",
    "costs",
)

_COST_KEYS = ("total_cost", "content_cost", "style_cost")

#: Every value of ``status``.
STATUSES = ("running", "finished", "stopped", "diverged", "failed", "interrupted", "killed")
_STATUS_WIDTH = max(len(status) for status in STATUSES) + 2  # with the quotes


class RunRecordError(InputError):
    """A run directory has no usable run.json; the message names the file."""


def draw_seed() -> int:
    """A fresh seed in 0 .. 2**32 - 1, for a run whose user gave none (it is recorded)."""
    return secrets.randbelow(2**32)


def library_versions() -> dict[str, str | None]:
    """Versions of Python and of the libraries the result depends on, as strings."""
    from importlib import metadata

    from . import __version__

    versions = {"python": platform.python_version(), "nst_tf1": __version__}
    # Read from the installed distributions' metadata: no library is imported for it.
    # TensorFlow is published under several distribution names.
    for key, names in (
        ("tensorflow", TENSORFLOW_DISTRIBUTIONS),
        ("numpy", ("numpy",)),
        ("scipy", ("scipy",)),
        ("pillow", ("pillow",)),
    ):
        versions[key] = None
        for name in names:
            try:
                versions[key] = metadata.version(name)
                break
            except metadata.PackageNotFoundError:
                continue
    return versions


def _utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


class RunRecord:
    """Builds and writes ``run.json`` as a run goes.

    Args:
        output_dir: where ``run.json`` is written.
        settings: dict of every setting of the run (JSON-serialisable).
        seed: the seed actually used.
        files: dict of absolute paths (content, style, model, output_dir).
        model: dict describing the model file (size, sha256, layout).
        versions: dict from :func:`library_versions`.
        image_size: (height, width) of the generated image.
        device: dict from :func:`nst_tf1.device.describe_device` (``{}`` when not known).
        choices: what ran where the settings leave a choice (see ``choices`` above).
    """

    def __init__(
        self,
        output_dir: str | os.PathLike[str],
        settings: Mapping[str, Any],
        seed: int,
        files: Mapping[str, Any],
        model: Mapping[str, Any],
        versions: Mapping[str, str | None],
        image_size: Sequence[int],
        device: Mapping[str, Any] | None = None,
        choices: Mapping[str, Any] | None = None,
    ) -> None:
        self.path = os.path.join(output_dir, RUN_FILE)
        self.written = False  # nothing is on disk before the first save
        self._start = time.monotonic()
        self.data = {
            "format": 1,
            "status": "running",
            "settings": dict(settings),
            "seed": seed,
            "image_size": [int(image_size[0]), int(image_size[1])],
            "files": dict(files),
            "model": dict(model),
            "versions": dict(versions),
            "device": dict(device or {}),
            "started_utc": _utc_now(),
            "wall_time_seconds": 0.0,
            "saves": [],
            "costs": {"iteration": [], **{key: [] for key in _COST_KEYS}, "seconds": []},
        }
        if choices:
            self.data["choices"] = dict(choices)

    def add_step(self, step: Step) -> None:
        """Record one :class:`nst_tf1.transfer.Step`'s costs (every iteration)."""
        costs = self.data["costs"]
        costs["iteration"].append(step.iteration)
        costs["seconds"].append(round(time.monotonic() - self._start, 3))
        for key in _COST_KEYS:
            value = getattr(step, key)
            costs[key].append(None if value is None else float(value))

    def add_save(self, step: Step, filename: str) -> None:
        """Record a saved image (``filename`` relative to the output dir) and write the file."""
        entry = {"iteration": step.iteration, "file": filename}
        entry.update({key: float(getattr(step, key)) for key in _COST_KEYS})
        self.data["saves"].append(entry)
        self.write()

    def finish(
        self,
        step: Step,
        filename: str,
        status: str = "finished",
        saved: dict | None = None,
        scale: Any = None,
    ) -> None:
        """Record the final image and its costs, set ``status`` and write the file; the
        record holds them once the file does (a write ended by a signal leaves neither).

        Args:
            step: the final image's Step (its costs as optimised).
            filename: the final image, relative to the output dir.
            status: see the module's docstring.
            saved: file name -> (J, J_content, J_style) of that file as saved (read back:
                clipped to 0..255, rounded to 8 bits, JPEG-compressed for ``.jpg``).
            scale: a run stopped at a coarser scale of ``multires``: that scale's
                :class:`~nst_tf1.transfer.Progress`, whose costs the step's and ``saved``'s
                are (each file resized to its size).
        """
        final = {"iteration": step.iteration, "file": filename}
        final.update({key: float(getattr(step, key)) for key in _COST_KEYS})
        if saved:
            final["saved"] = {
                name: dict(zip(_COST_KEYS, map(float, costs))) for name, costs in saved.items()
            }
        if scale is not None:
            final["scale"] = {"scale": scale.scale, "scales": scale.scales}
            final["scale"]["image_size"] = [scale.height, scale.width]
        self.write({**self.data, "final": final, "status": status, "finished_utc": _utc_now()})

    def interrupt(self, status: str = "interrupted", write: bool = False) -> bool:
        """Set ``status`` on a run that ends without a final image and write the file.

        What was done so far stays. A record never written (the run ended before its first
        save) stays unwritten unless ``write``. When the file cannot be rewritten (a full
        disk), the status alone is overwritten in place, which needs no new disk space.
        Best effort: the run is ending with an error of its own, so a failure here is not
        raised.

        Returns:
            bool: whether the file on disk now says ``status`` (or nothing was to be written).
        """
        self.data["status"] = status
        self.data["finished_utc"] = _utc_now()
        if not (self.written or write):
            return True
        try:
            self.write()
            return True
        except OSError:
            return self.written and _patch_status(self.path, status)

    def write(self, data: dict | None = None) -> None:
        """Write ``run.json`` atomically (temporary file renamed into place).

        Args:
            data: what to write instead of the record's data; it becomes the record's data
                once it is on disk, so that a write ended by a signal (or an error) leaves
                the record saying what the file says (:meth:`finish`: no final image).
        """
        from .images import write_atomically

        data = self.data if data is None else data
        data["wall_time_seconds"] = round(time.monotonic() - self._start, 3)
        write_atomically(self.path, _encode(data))
        self.data, self.written = data, True


def _encode(data: Mapping[str, Any]) -> bytes:
    """``data`` as indented JSON whose ``status`` value is padded to :data:`_STATUS_WIDTH`."""
    text = json.dumps(data, indent=2) + "\n"
    value = json.dumps(data["status"])
    key = '"status": '
    return text.replace(key + value, key + value.ljust(_STATUS_WIDTH), 1).encode("utf-8")


def _patch_status(path: str, status: str) -> bool:
    """Overwrite the status of ``path`` in place (same length, no new blocks); success."""
    value = json.dumps(status).ljust(_STATUS_WIDTH).encode("utf-8")
    try:
        with open(path, "r+b") as f:
            head = f.read(4096)
            match = re.search(rb'"status": ("[a-z]+" *)', head)
            if match is None or len(match.group(1)) != len(value):
                return False
            f.seek(match.start(1))
            f.write(value)
            f.flush()
            os.fsync(f.fileno())
    except OSError:
        return False
    return True


def effective_status(run_dir: str | os.PathLike[str], record: Mapping[str, Any]) -> str:
    """The record's status, but ``"killed"`` for a ``"running"`` record whose run has ended
    without saying so: no process holds the lock of its folder (or of the batch folder
    above it)."""
    from .lock import LOCK_FILE, lock_holder

    status = record.get("status")
    if status != "running":
        return str(status)
    run_dir = os.path.abspath(os.fspath(run_dir))
    for folder in (run_dir, os.path.dirname(run_dir)):
        if lock_holder(os.path.join(folder, LOCK_FILE)) is not None:
            return "running"
    return "killed"


def mark_killed(run_dir: str | os.PathLike[str]) -> bool:
    """Rewrite a ``"running"`` run.json in ``run_dir`` as ``"killed"``; whether it was one.

    Called by a run that holds the folder's lock: a record still "running" then belongs to
    a process that ended without a word (SIGKILL, a power cut).
    """
    from .images import write_atomically

    path = os.path.join(os.fspath(run_dir), RUN_FILE)
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return False
    if not isinstance(data, dict) or data.get("status") != "running":
        return False
    data["status"] = "killed"
    try:
        write_atomically(path, _encode(data))
    except OSError:
        return _patch_status(path, "killed")
    return True


def pair_folders(batch_dir: str | os.PathLike[str]) -> list[str]:
    """The pair folders of a batch's output folder: its subfolders holding a ``run.json``,
    by name (a pair appears once its run has written its record, at its first save)."""
    batch_dir = os.fspath(batch_dir)
    try:
        entries = list(os.scandir(batch_dir))
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(
        entry.name
        for entry in entries
        if entry.is_dir() and os.path.isfile(os.path.join(entry.path, RUN_FILE))
    )


def read_run_record(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and check ``<run_dir>/run.json``.

    Every field a figure reads is checked for its type, so a truncated, hand-edited or
    foreign file is one line rather than an error deep inside a figure. Records of every
    earlier version of this package (without ``files.sha256``) are read as they are.

    Args:
        run_dir: a run's output directory.

    Returns:
        dict: the record.

    Raises:
        RunRecordError: the file is missing, not JSON, or not a run record of this package;
            the message names the file and the field.
    """
    path = os.path.join(os.fspath(run_dir), RUN_FILE)
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        raise RunRecordError(
            f"{path}: no such file; run 'nst-tf1 --output-dir {run_dir} ...' first"
        ) from None
    except (OSError, ValueError) as exc:
        detail = " ".join(str(exc).split())[:120]
        raise RunRecordError(f"{path}: not a readable run record ({detail})") from None
    problem = _record_problem(data)
    if problem:
        raise RunRecordError(f"{path}: not a run record of nst-tf1 ({problem})")
    return data


def _entry_problem(entry: Any, where: str) -> str | None:
    """What is wrong with one entry of run.json's ``saves`` (or its ``final``), or ``None``."""
    if not isinstance(entry, dict):
        return f"{where} is not an object"
    if not is_whole_number(entry.get("iteration")):
        return f"{where} has no whole iteration"
    name = entry.get("file")
    if (
        not isinstance(name, str)
        or not name
        or os.path.isabs(name)
        or ".." in name.replace("\\", "/").split("/")
    ):
        return f"{where} has no file name inside the run folder"
    return None


def _record_problem(data: Any) -> str | None:
    """What is wrong with a decoded run.json, or ``None``."""
    if not isinstance(data, dict):
        return f"a JSON {type(data).__name__}, not an object"
    missing = [key for key in REQUIRED_FIELDS if key not in data]
    if missing:
        return f"missing {', '.join(missing)}"
    number = (int, float)
    checks = (
        (data["format"] == 1, f"format {data['format']!r}, this version reads 1"),
        (data["status"] in STATUSES, f"unknown status {data['status']!r}"),
        (isinstance(data["settings"], dict), "settings is not an object"),
        (isinstance(data["files"], dict), "files is not an object"),
        (is_whole_number(data["seed"]), "seed is not a whole number"),
        (
            isinstance(data["image_size"], list)
            and len(data["image_size"]) == 2
            and all(is_whole_number(v) and v > 0 for v in data["image_size"]),
            "image_size is not [height, width]",
        ),
        (isinstance(data["saves"], list), "saves is not a list"),
        (
            isinstance(data["costs"], dict)
            and all(
                isinstance(data["costs"].get(key), list)
                and all(
                    isinstance(v, number) or v is None and key != "iteration"
                    for v in data["costs"][key]
                )
                for key in ("iteration", *_COST_KEYS)
            ),
            "costs is not four lists of numbers (or null costs)",
        ),
    )
    for ok, problem in checks:
        if not ok:
            return problem
    settings = data["settings"]
    for key in ("alpha", "beta", "noise_ratio"):
        if not isinstance(settings.get(key), number):
            return f"settings.{key} is not a number"
    for key in ("content", "style"):
        if not isinstance(data["files"].get(key), str):
            return f"files.{key} is not a path"
    for k, entry in enumerate(data["saves"]):
        problem = _entry_problem(entry, f"saves[{k}]")
        if problem:
            return problem
    if "final" in data:
        return _entry_problem(data["final"], "final")
    return None
