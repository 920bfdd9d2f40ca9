"""What a run reports, as data: the typed events of :func:`nst_tf1.run`.

A front end (the command line, the web page, the notebook, a Python caller) receives these
values through the ``report`` callable it hands to ``run()`` and renders them its own way;
nothing in a run prints. Every event is a frozen dataclass whose fields are plain data
(numbers, strings, tuples, dicts of those), so :func:`to_dict` can send it as JSON, except the
optional preview image of :class:`StepDone`, a NumPy array that :func:`to_dict` leaves out.

The order of one run::

    Note*  (DownloadStarted DownloadProgress*)?  Loading  Note(device)  Note*  RunBegun
    ( PairBegun?  ScaleBegun*  (StepDone | ImageSaved | Note)*  ImageSaved(final)  Note* )+
    Finished | Stopped | Failed

(a pair of a batch that is skipped or fails reports ``StepsSkipped`` and a ``Note`` instead
of its steps and images; the ``Note`` after the final image says where run.json and the
result are; a run refused or stopped early ends with ``Failed`` or ``Stopped`` where it is,
even before ``Loading``; an exception raised by the ``report`` callable itself ends the run
with no further event).

``Note`` carries everything else a run has to say (a killed run cleaned up after, what
``--fast`` chose, a pair of a batch skipped ...): a stable ``code`` a front end can switch on,
its ``data``, and a default English ``text`` (the command line's wording).
"""

from __future__ import annotations

import dataclasses
from typing import Any

__all__ = [
    "Event",
    "Note",
    "DownloadStarted",
    "DownloadProgress",
    "Loading",
    "RunBegun",
    "PairBegun",
    "ScaleBegun",
    "StepDone",
    "StepsSkipped",
    "ImageSaved",
    "Finished",
    "Stopped",
    "Failed",
    "to_dict",
]


@dataclasses.dataclass(frozen=True)
class Event:
    """Base class of every event (for ``isinstance`` and type hints)."""


@dataclasses.dataclass(frozen=True)
class Note(Event):
    """A fact a run reports besides its progress.

    Attributes:
        code: stable identifier, e.g. ``"fast-chose"``, ``"killed-run-cleaned"``,
            ``"pair-skipped"``, ``"pair-failed"``.
        text: the command line's wording of it (one line).
        level: ``"out"`` (a result line, standard output), ``"note"`` (a status line) or
            ``"error"`` (one pair of a batch failed; the others go on).
        data: the facts in ``text`` as values (paths, numbers, flags).
    """

    code: str
    text: str
    level: str = "out"
    data: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class DownloadStarted(Event):
    """The model file is missing and is being downloaded from ``url`` to ``dest``."""

    url: str
    dest: str


@dataclasses.dataclass(frozen=True)
class DownloadProgress(Event):
    """Progress of the download: ``kind`` is one of :class:`nst_tf1.weights.FetchEvent`'s
    kinds (``"resume"``, ``"start"``, ``"data"``, ``"retry"``, ``"done"``); ``done`` and
    ``total`` are bytes (``total`` None when unknown); ``message`` the reason of a retry."""

    kind: str
    done: int | None = None
    total: int | None = None
    message: str | None = None


@dataclasses.dataclass(frozen=True)
class Loading(Event):
    """The run starts loading ``what`` (``"tensorflow"``), which takes a few seconds; the
    device :class:`Note` follows once it is loaded."""

    what: str


@dataclasses.dataclass(frozen=True)
class RunBegun(Event):
    """The optimisation is about to start.

    Attributes:
        total_steps: steps of the whole run (every pair, every scale): a progress bar's length.
        pairs: how many (content, styles) pairs the run stylises.
        height, width: the output size of the first pair.
        device: what the run computes on (:func:`nst_tf1.device.describe_device`).
        optimizer: ``"adam"`` or ``"lbfgs"``.
        choices: what ``--precision auto`` and ``--fast`` chose, as written to run.json.
    """

    total_steps: int
    pairs: int
    height: int
    width: int
    device: dict
    optimizer: str
    choices: dict


@dataclasses.dataclass(frozen=True)
class PairBegun(Event):
    """A batch starts pair ``number`` of ``pairs``, writing into ``folder``."""

    number: int
    pairs: int
    content: str
    styles: tuple
    folder: str


@dataclasses.dataclass(frozen=True)
class ScaleBegun(Event):
    """Coarse to fine (``--multires``): scale ``scale`` of ``scales`` starts at this size."""

    scale: int
    scales: int
    height: int
    width: int


@dataclasses.dataclass(frozen=True)
class StepDone(Event):
    """One optimisation step is done (an Adam iteration or an L-BFGS evaluation).

    Attributes:
        step: its number, from 0 (the costs of the initial image) within its scale.
        steps: the scale's budget of steps.
        unit: ``"iteration"`` (Adam) or ``"evaluation"`` (L-BFGS).
        total_cost, content_cost, style_cost: J, J_content and J_style at this step; ``None``
            all three on a detail-phase evaluation (``--detail-iterations``) that did not
            compute them (all but the ``logged`` ones).
        seconds: wall time since the optimisation began.
        image: only when the receiver asked for previews (``preview_every``) and this step is
            one of them: the current image as uint8 RGB, shape (height, width, 3), as it
            would be saved. ``None`` otherwise.
        logged: the course shows this step's costs (every ``save_every``-th step, at every
            scale); the command line prints its "Iteration i :" lines.
        scale, scales: the ``--multires`` scale this step belongs to (1 of 1 without it).
    """

    step: int
    steps: int
    unit: str
    total_cost: float | None
    content_cost: float | None
    style_cost: float | None
    seconds: float
    image: Any = dataclasses.field(default=None, repr=False, compare=False)
    logged: bool = False
    scale: int = 1
    scales: int = 1


@dataclasses.dataclass(frozen=True)
class StepsSkipped(Event):
    """``steps`` steps of the run will not be done (a pair of a batch was skipped or
    failed): a progress bar moves on by that many."""

    steps: int


@dataclasses.dataclass(frozen=True)
class ImageSaved(Event):
    """An image was written (atomically) to ``path``: a step's ``<i>.png`` or, with
    ``final``, ``generated_image.png`` and ``generated_image.jpg`` (``path`` is the JPEG)."""

    path: str
    step: int
    total_cost: float
    content_cost: float
    style_cost: float
    final: bool = False


@dataclasses.dataclass(frozen=True)
class Finished(Event):
    """The run ended normally. ``folders``: the output folder of each pair that ran;
    ``text``: the command line's closing line (or ``""``)."""

    folders: tuple
    text: str = ""


@dataclasses.dataclass(frozen=True)
class Stopped(Event):
    """The run was asked to stop (``should_stop``, Ctrl-C, SIGTERM).

    Attributes:
        kept: the image saved for the stopped pair, or ``None`` when it stopped before
            the optimisation (nothing saved) or at once on a second request.
        step: the step it stopped at (``None`` before the optimisation).
        text: the command line's wording of what happened and what was kept.
        signal: the signal's name (``"SIGINT"``) when a signal stopped it, else ``None``.
    """

    kept: str | None
    step: int | None
    text: str
    signal: str | None = None


@dataclasses.dataclass(frozen=True)
class Failed(Event):
    """The run failed: ``text`` in one line; ``kept``: an image saved all the same (the last
    finite one after a NaN cost), else ``None``; ``kind``: ``"input"`` (bad input, nothing
    written) or ``"run"``."""

    text: str
    kept: str | None = None
    kind: str = "run"


def to_dict(event: Event) -> dict:
    """``event`` as a JSON-ready dict: ``{"type": "StepDone", ...fields}``, without the
    preview image (send that as a file of its own)."""
    fields = {
        field.name: getattr(event, field.name)
        for field in dataclasses.fields(event)
        if field.name != "image"
    }
    for name, value in fields.items():
        if isinstance(value, tuple):
            fields[name] = list(value)
    return {"type": type(event).__name__, **fields}
