"""The run record ``<output_dir>/run.json``: what a run did, so a figure can be regenerated.

The command line writes it when the run starts and rewrites it at every save and at the end,
so an interrupted run leaves a record of what it had done. It holds::

    format          1 (the version of this layout)
    status          "running"; then "finished", "stopped" (by a signal: the final image is
                    the current one), "diverged" (a NaN/Inf cost), "failed" (an image could
                    not be read or written, out of memory) or "interrupted" (no final image)
    settings        every setting of the run: each command-line option's value, file paths
                    as given (``seed`` is null here when the user gave none)
    seed            the seed of the initial noise (drawn and recorded when none was given)
    image_size      [height, width] of the generated image
    files           absolute paths: content, style (the first), styles (all), model and
                    output_dir
    model           the model file's size, SHA256 and layout ("new" or "old")
    versions        Python, nst-tf1, TensorFlow, NumPy, SciPy, Pillow
    device          what ran it (nst_tf1.device): CPU model and logical CPUs, its bfloat16
                    instructions (avx512_bf16, amx_bf16), the GPUs TensorFlow sees, the
                    TensorFlow version and package, CUDA build, oneDNN on or off
    started_utc     ISO 8601 start time; finished_utc once it ends
    wall_time_seconds   seconds from the start to the last write
    saves           one entry per saved image: iteration, file, total/content/style cost
    costs           every iteration's costs: {"iteration": [...], "total_cost": [...],
                    "content_cost": [...], "style_cost": [...], "seconds": [...]} (seconds:
                    when each was known, from the record's start, as wall_time_seconds)
    choices         what ran: "precision" {"asked", "ran", "why"} (--precision auto is bf16
                    or fp32), and "fast": the options --fast chose (those not given)
    final           the final image's file and costs (as optimised), once finished; its
                    "saved" maps generated_image.png and generated_image.jpg to the costs of
                    each file as written (8 bits a channel; JPEG-compressed)

Costs are J, J_content and J_style as the course prints them (J_content and J_style
unweighted, J = alpha J_content + beta J_style).
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import secrets
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .device import TENSORFLOW_DISTRIBUTIONS
from .errors import InputError

if TYPE_CHECKING:
    from .optimize import Step

__all__ = [
    "RUN_FILE",
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
    "format", "status", "settings", "seed", "image_size", "files", "model", "versions",
    "started_utc",
    "wall_time_seconds", "saves", "costs",
)

_COST_KEYS = ("total_cost", "content_cost", "style_cost")


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
    for key, names in (("tensorflow", TENSORFLOW_DISTRIBUTIONS),
                       ("numpy", ("numpy",)), ("scipy", ("scipy",)), ("pillow", ("pillow",))):
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

    def __init__(self, output_dir: str | os.PathLike[str], settings: Mapping[str, Any], seed: int,
                 files: Mapping[str, Any], model: Mapping[str, Any],
                 versions: Mapping[str, str | None], image_size: Sequence[int],
                 device: Mapping[str, Any] | None = None,
                 choices: Mapping[str, Any] | None = None) -> None:
        self.path = os.path.join(output_dir, RUN_FILE)
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
            costs[key].append(float(getattr(step, key)))

    def add_save(self, step: Step, filename: str) -> None:
        """Record a saved image (``filename`` relative to the output dir) and write the file."""
        entry = {"iteration": step.iteration, "file": filename}
        entry.update({key: float(getattr(step, key)) for key in _COST_KEYS})
        self.data["saves"].append(entry)
        self.write()

    def finish(self, step: Step, filename: str, status: str = "finished",
               saved: dict | None = None) -> None:
        """Record the final image and its costs, set ``status`` and write the file.

        Args:
            step: the final image's Step (its costs as optimised).
            filename: the final image, relative to the output dir.
            status: see the module's docstring.
            saved: file name -> (J, J_content, J_style) of that file as saved (read back:
                clipped to 0..255, rounded to 8 bits, JPEG-compressed for ``.jpg``).
        """
        final = {"iteration": step.iteration, "file": filename}
        final.update({key: float(getattr(step, key)) for key in _COST_KEYS})
        if saved:
            final["saved"] = {name: dict(zip(_COST_KEYS, map(float, costs)))
                              for name, costs in saved.items()}
        self.data["final"] = final
        self.data["status"] = status
        self.data["finished_utc"] = _utc_now()
        self.write()

    def interrupt(self, status: str = "interrupted") -> None:
        """Set ``status`` on a run that ends without a final image and write the file.

        What was done so far stays. Best effort: the run is ending with an error of its
        own, so a failure to write here is not raised.
        """
        self.data["status"] = status
        self.data["finished_utc"] = _utc_now()
        try:
            self.write()
        except OSError:
            pass

    def write(self) -> None:
        """Write ``run.json`` atomically (temporary file renamed into place)."""
        from .images import write_atomically

        self.data["wall_time_seconds"] = round(time.monotonic() - self._start, 3)
        write_atomically(self.path, (json.dumps(self.data, indent=2) + "\n").encode("utf-8"))


def read_run_record(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Read ``<run_dir>/run.json``.

    Args:
        run_dir: a run's output directory.

    Returns:
        dict: the record.

    Raises:
        RunRecordError: the file is missing, not JSON, or lacks a field.
    """
    path = os.path.join(os.fspath(run_dir), RUN_FILE)
    try:
        with open(path) as f:
            data = json.load(f)
    except FileNotFoundError:
        raise RunRecordError(
            f"{path}: no such file; run 'nst-tf1 --output-dir {run_dir} ...' first"
        ) from None
    except (OSError, ValueError) as exc:
        raise RunRecordError(f"{path}: not a readable run record ({exc})") from None
    missing = [key for key in REQUIRED_FIELDS if key not in data] if isinstance(data, dict) \
        else list(REQUIRED_FIELDS)
    if missing:
        raise RunRecordError(f"{path}: not a run record (missing {', '.join(missing)})")
    return data
