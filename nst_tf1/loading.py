"""Getting the model for a run: check ``--precision bf16`` on this CPU, download the VGG-19
file if it is missing, read it, start TensorFlow, say what the run computes on and what
``--fast``/``--precision auto`` chose. Reports :mod:`nst_tf1.events`; prints nothing.
"""

from __future__ import annotations

import collections
import concurrent.futures
import functools
import os
import signal
from typing import Callable

from . import conv_cache, events, graph, vgg
from .config import cache_dir, model_location, model_source
from .device import describe_device, device_line
from .errors import InputError, Interrupted, RunFailed
from .model_file import format_mib, manual_model_hint, missing_model_message
from .settings import Settings
from .tf1 import graph_mode
from .weights import DownloadError, fetch_vgg_model, file_digests, part_path

__all__ = ["Model", "load_model", "ensure_model", "choose"]

Model = collections.namedtuple("Model", "weights info device choices")
Model.__doc__ = """The model of a run: :class:`~nst_tf1.vgg.VGGWeights`, the file's size/SHA256/
layout, :func:`~nst_tf1.device.describe_device`'s dict and :func:`choose`'s, for run.json."""


def load_model(
    settings: Settings,
    report: Callable[[events.Event], object],
    note: str | None = None,
    should_stop: Callable[[], object] | None = None,
) -> Model:
    """Check that the CPU can do ``--precision bf16``, download a missing model, read
    it, import TensorFlow (after reporting Loading, so that a front end can keep its
    start-up noise off the terminal), report the device (the run's first line) and ``note``
    (what happens to an existing result), and check TensorFlow's bf16 support.

    The .mat is read before TensorFlow is imported (the first time; later runs read the copy
    of its convolutions, :mod:`nst_tf1.conv_cache`): loadmat briefly holds the whole file
    (fully connected layers included) and TensorFlow alone takes about 0.6 GB, so the two
    peaks do not add up. The file's SHA256 for run.json is computed meanwhile in a second
    thread (hashlib and file reads release the GIL): 0.35 s for the 575 MB benchmark
    file, hidden behind the read and the import.

    Returns:
        :class:`Model`: the weights, and the model file, device and choices for run.json.
    """
    s = settings
    graph.check_precision(s.precision, check_tensorflow=False)
    ensure_model(s, report, should_stop)
    vgg.check_model_file(s.model)  # a device or FIFO would keep the hash reading forever
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="sha256") as pool:
        digests = pool.submit(file_digests, s.model, md5=False)
        weights = conv_cache.read_weights(s.model, functools.partial(_copied, report, s.model))
        report(events.Loading("tensorflow"))
        graph_mode()
        # The run's first line on standard output says what it runs on.
        device = describe_device()
        report(events.Note("device", device_line(device), data=device))
        if note:
            report(events.Note("existing-result", note, data={"folder": s.output_dir}))
        info = {
            "size_bytes": os.path.getsize(s.model),
            "sha256": digests.result().sha256,
            "layout": weights.layout,
        }
    graph.check_precision(s.precision, check_tensorflow=True)
    return Model(weights, info, device, choose(s, report))


def _copied(report, model, path, size):
    """The ``model-copied`` note: the first run kept the model's convolutions."""
    report(
        events.Note(
            "model-copied",
            f"Kept a copy of the convolutions of {model} in {path} ({format_mib(size)}): "
            "later runs read it instead of inflating the whole compressed file",
            "note",
            {"model": model, "copy": path, "bytes": size},
        )
    )


def choose(settings: Settings, report: Callable[[events.Event], object]) -> dict:
    """Say (and return, for run.json) what --fast and --precision auto chose, and which
    options given do not act with the others (:attr:`Settings.ignored`)."""
    s = settings
    precision, why = graph.resolve_precision(s.precision)
    choices = {"precision": {"asked": s.precision, "ran": precision, "why": why}}
    if s.chosen_by_fast:
        choices["fast"] = dict(s.chosen_by_fast)
        chosen = " ".join(
            f"--{name.replace('_', '-')}" + ("" if value is True else f" {value}")
            for name, value in s.chosen_by_fast.items()
        )
        report(
            events.Note(
                "fast-chose",
                f"--fast chose: {chosen} (options given explicitly win)",
                "note",
                dict(s.chosen_by_fast),
            )
        )
    if s.ignored:
        ignored = ", ".join(
            f"--{name.replace('_', '-')} {_shown(getattr(s, name))} (acts only with {needs})"
            for name, needs in s.ignored.items()
        )
        report(
            events.Note(
                "options-ignored",
                f"ignored: {ignored}",
                "note",
                {name: getattr(s, name) for name in s.ignored},
            )
        )
    if s.precision == "auto":
        report(
            events.Note(
                "precision-chosen",
                f"--precision auto: {precision} ({why})",
                "note",
                {"precision": precision, "why": why},
            )
        )
    return choices


def _shown(value):
    """An option's value as the command line takes it (3000, not 3000.0)."""
    return f"{value:g}" if isinstance(value, float) else value


def ensure_model(
    settings: Settings,
    report: Callable[[events.Event], object],
    should_stop: Callable[[], object] | None = None,
) -> None:
    """Download the model file if it is missing (unless --no-download); ``should_stop``
    (see :func:`nst_tf1.running.run`), polled at each piece received, ends the download as
    Ctrl-C does: its ``.part`` kept for the next run to resume."""
    s = settings
    location = model_location()
    if location.source == "local" and s.model == location.path:
        cache = os.path.join(cache_dir(), "models")
        report(
            events.Note(
                "model-in-folder",
                f"using {s.model} in this folder; the per-user cache {cache}, shared by "
                "every folder, is where a new download goes",
                "note",
                {"model": s.model, "cache": cache},
            )
        )
    if os.path.lexists(s.model):
        return
    url, sha256 = model_source()
    if s.no_download:
        raise InputError(missing_model_message(s.model, url))
    report(
        events.Note(
            "model-downloading",
            f"VGG-19 model file not found: {s.model}; downloading it from "
            f"{url} (--no-download to stop instead)",
            "note",
            {"model": s.model, "url": url},
        )
    )
    report(events.DownloadStarted(url, s.model))

    def progress(fetched):
        if should_stop is not None and should_stop():
            # A KeyboardInterrupt, as Ctrl-C: the download keeps its .part (the message is
            # made below, where Ctrl-C's is).
            raise Interrupted(getattr(should_stop, "signum", None))
        report(events.DownloadProgress(*fetched))

    try:
        digests = fetch_vgg_model(s.model, url, sha256, report=progress)
    except DownloadError as exc:  # a failed download, as in fetch-model: exit status 1
        raise RunFailed(f"{exc}; {manual_model_hint(s.model, url)}") from None
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signum", signal.SIGINT)
        what = "stopped on request" if signum is None else "interrupted"
        raise Interrupted(
            signum, f"{what}; {part_path(s.model)} is kept and the next run resumes it"
        ) from None
    report(
        events.Note(
            "model-downloaded",
            f"Downloaded {s.model} ({format_mib(digests.size)}, SHA256 verified)",
            data={"model": s.model, "bytes": digests.size, "sha256": digests.sha256},
        )
    )
