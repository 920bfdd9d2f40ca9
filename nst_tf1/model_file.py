"""The VGG-19 file a run or a command uses: placing it (verify, else fetch), reading one that
must already exist, and the messages that say what to do when it is missing.

The download itself (resumable, verified, renamed into place) is :mod:`nst_tf1.weights`';
``nst-tf1 fetch-model`` is :func:`place_model` with :func:`check_fetch_options`'s options.
"""

from __future__ import annotations

import collections
import os
import signal
from typing import TYPE_CHECKING, Any

from .config import VGG_SHA256, VGG_URL
from .errors import InputError, Interrupted
from .weights import (
    MAX_BACKOFF,
    MAX_RETRIES,
    MAX_TIMEOUT,
    SYNTHETIC_MODEL,
    ChecksumError,
    DownloadError,
    check_sha256,
    fetch_vgg_model,
    file_digests,
    known_layout,
    part_path,
)

if TYPE_CHECKING:
    from .vgg import VGGWeights

__all__ = [
    "format_mib",
    "manual_model_hint",
    "missing_model_message",
    "read_existing_model",
    "PlacedModel",
    "place_model",
    "check_fetch_options",
]


def format_mib(size: float) -> str:
    """A byte count in MiB for messages: ``'512.0 MiB'``."""
    return f"{size / 2**20:.1f} MiB"


def manual_model_hint(path: str, url: str = VGG_URL, fetch: bool = True) -> str:
    """How to get the VGG-19 file to ``path`` by hand, or do without it, one line.

    ``fetch`` includes ``nst-tf1 fetch-model`` (not for a failed fetch-model itself).
    """
    fetch_model = f"run 'nst-tf1 fetch-model --dest {path}', or " if fetch else ""
    return (
        f"{fetch_model}download imagenet-vgg-verydeep-19.mat (510 MB) from {url} and put it "
        f"at {path}, or pass --model PATH; to try the pipeline without the download: "
        f"'nst-tf1 make-vgg {SYNTHETIC_MODEL}' and --model {SYNTHETIC_MODEL} (random "
        "weights: noise, not art)"
    )


def missing_model_message(path: str, url: str = VGG_URL, why: str = "--no-download given") -> str:
    """The one line for a model file that is not there."""
    return f"VGG-19 model file not found: {path} ({why}); " + manual_model_hint(path, url)


def read_existing_model(path: str) -> VGGWeights:
    """Read a model file that must already be there (never downloaded: a 510 MB download
    just to look at the network would surprise).

    Returns:
        :class:`nst_tf1.vgg.VGGWeights`.

    Raises:
        nst_tf1.vgg.ModelFileError: missing or unusable; the message says how to get it.
    """
    from .config import model_source
    from .vgg import ModelFileError, read_vgg_weights

    if not os.path.exists(path):
        raise ModelFileError(
            missing_model_message(path, model_source()[0], why="this command never downloads it")
        )
    return read_vgg_weights(path)


PlacedModel = collections.namedtuple("PlacedModel", "digests layout downloaded")
PlacedModel.__doc__ = """What :func:`place_model` found or did.

Attributes:
    digests: :class:`Digests` of the file at the destination.
    layout: ``"current"`` or ``"older"`` for a published MatConvNet file, else ``None``.
    downloaded: whether it was downloaded now (else it was already in place).
"""


def place_model(
    dest: str, url: str = VGG_URL, sha256: str = VGG_SHA256, **options: Any
) -> PlacedModel:
    """``nst-tf1 fetch-model``: make sure the verified VGG-19 file is at ``dest``.

    A file already at ``dest`` is kept when it is a published VGG-19 file or has ``sha256``;
    any other file there is left alone and refused. A missing file is downloaded with
    :func:`fetch_vgg_model` (``options`` are its keyword arguments).

    Returns:
        PlacedModel.

    Ctrl-C (``KeyboardInterrupt``, or :class:`~nst_tf1.errors.Interrupted` raised by a
    front end's SIGTERM handler: the command line's fetch-model has one) ends the download
    cleanly (the lock released, the ``.part`` kept for the next call to resume).

    Raises:
        nst_tf1.errors.InputError: ``dest`` exists and is not a regular file, or is unreadable.
        DownloadError: ``dest`` holds another file, or the download failed.
        nst_tf1.errors.Interrupted: SIGINT or SIGTERM; its message says what was kept.
    """
    if not dest or dest.endswith(os.sep) or os.path.isdir(dest):
        raise InputError(f"--dest: {dest!r} is not a file name")
    if os.path.lexists(dest):
        if not os.path.isfile(dest):
            raise InputError(f"{dest}: exists and is not a regular file; not touching it")
        try:
            digests = file_digests(dest)
        except OSError as exc:
            raise InputError(f"{dest}: cannot read ({exc.strerror or exc})") from None
        layout = known_layout(digests)
        if digests.sha256 == sha256 or layout:
            return PlacedModel(digests, layout, False)
        raise DownloadError(
            f"{dest} exists but is not a known VGG-19 file (SHA256 {digests.sha256}, "
            f"expected {sha256}); not overwriting it: move it away or pass --dest"
        )
    try:
        return PlacedModel(fetch_vgg_model(dest, url, sha256, **options), None, True)
    except ChecksumError:
        raise  # its message says where to turn: not to the server that sent the wrong bytes
    except DownloadError as exc:
        raise type(exc)(f"{exc}; {manual_model_hint(dest, url, fetch=False)}") from None
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signum", signal.SIGINT)
        part = part_path(dest)
        size = os.path.getsize(part) if os.path.isfile(part) else 0
        kept = (
            f"{part} is kept ({format_mib(size)}) and the next fetch-model or run resumes it"
            if size
            else "nothing had arrived yet"
        )
        raise Interrupted(signum, f"interrupted by {signal.Signals(signum).name}; {kept}") from None


def check_fetch_options(
    *,
    dest: str,
    url: str,
    sha256: str,
    retries: int,
    backoff: float,
    connect_timeout: float,
    read_timeout: float,
) -> dict[str, Any]:
    """Check ``nst-tf1 fetch-model``'s options; return them as :func:`place_model`'s keyword
    arguments (the SHA256 in lower case).

    Raises:
        nst_tf1.errors.InputError: one line naming the flag.
    """
    if not dest or dest.endswith(os.sep) or os.path.isdir(dest):
        raise InputError(f"--dest: {dest!r} is not a file name")
    value = check_sha256(sha256, "--sha256")
    if not url.startswith(("http://", "https://")):
        raise InputError(f"--url: not an http:// or https:// URL: {url!r}")
    if not 0 <= retries <= MAX_RETRIES:
        raise InputError(
            f"--retries: must be a whole number from 0 to {MAX_RETRIES}, got {retries}"
        )
    if not 0 <= backoff <= MAX_BACKOFF:
        raise InputError(f"--backoff: must be a number from 0 to {MAX_BACKOFF:g}, got {backoff}")
    for flag, seconds in (("--connect-timeout", connect_timeout), ("--read-timeout", read_timeout)):
        if not 0 < seconds <= MAX_TIMEOUT:
            raise InputError(
                f"{flag}: must be a number > 0 and at most {MAX_TIMEOUT:g}, got {seconds}"
            )
    return {
        "dest": dest,
        "url": url,
        "sha256": value,
        "retries": retries,
        "backoff": backoff,
        "connect_timeout": connect_timeout,
        "read_timeout": read_timeout,
    }
