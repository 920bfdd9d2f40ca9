"""The package's errors, grouped by what the user has to do about them.

Every error a module raises for a user's mistake derives from :class:`InputError` (the
command line exits 2), every failure of a run that had started properly from
:class:`RunFailed` (exit 1), and a signal that ends a run is :class:`Interrupted`
(exit 128 + the signal's number). The messages are one line, naming the file or the flag,
so the command line prints them as they are.
"""

from __future__ import annotations

import math

__all__ = [
    "InputError",
    "SettingsError",
    "RunFailed",
    "Interrupted",
    "is_whole_number",
    "FLOAT32_MAX",
    "float32_problem",
    "starting_interrupted",
]


def is_whole_number(value: object) -> bool:
    """Whether ``value`` is an ``int`` (``True`` and ``False`` are not), as the checks of
    settings and of run records want it."""
    return isinstance(value, int) and not isinstance(value, bool)


#: float32's largest finite number. The graph holds its weights, rates and costs in float32: a
#: number that Python's float64 holds as finite but beyond this one would be inf there.
FLOAT32_MAX = 3.4028234663852886e38


def float32_problem(value: float, positive: bool = False) -> str | None:
    """What is wrong with ``value`` as a weight or rate the graph holds in float32 (a finite
    number >= 0, or > 0 when ``positive``, at most :data:`FLOAT32_MAX`), or ``None``."""
    if not (0 < value if positive else 0 <= value) or not value < math.inf:
        return f"must be a finite number {'>' if positive else '>='} 0"
    if value > FLOAT32_MAX:
        return f"must be at most {FLOAT32_MAX:.4g}, float32's largest number (the graph's)"
    return None


def starting_interrupted(signum: int | None) -> str:
    """The one line of a signal (``None``: SIGINT) that stopped the command before its run
    began, e.g. "interrupted by SIGINT while starting; nothing done"."""
    import signal

    name = signal.Signals(signum or signal.SIGINT).name
    return f"interrupted by {name} while starting; nothing done"


class InputError(ValueError):
    """Bad input: an argument, an image, the model file, the output directory.

    The base of :class:`nst_tf1.images.ImageInputError`, :class:`nst_tf1.vgg.ModelFileError`,
    :class:`nst_tf1.preflight.PreflightError`, :class:`nst_tf1.graph.PrecisionError`,
    :class:`SettingsError` and :class:`nst_tf1.record.RunRecordError`.
    """


class SettingsError(InputError):
    """A setting has a value no run can use; the message names the flag."""


class RunFailed(RuntimeError):
    """A run that had started could not finish: a cost became NaN or infinite, an image
    could not be written, memory ran out, or some pairs of a batch failed."""


class Interrupted(KeyboardInterrupt):
    """The run was stopped: its ``should_stop`` said so, or a signal (SIGINT, SIGTERM).

    A ``KeyboardInterrupt``, so that code which handles Ctrl-C (the model download keeps its
    partial file) handles SIGTERM the same way, and no ``except Exception`` swallows it.
    A caller tells it from a failure (:class:`RunFailed`, :class:`InputError`) by its type.

    Attributes:
        signum: the signal's number (``signal.SIGINT`` ...), or ``None`` when ``should_stop``
            asked without naming a signal.
        message: what was kept, one line (set by the run once it knows).
        kept: the image saved for the stopped pair, else ``None``.
        step: the step it stopped at, else ``None``.
    """

    def __init__(
        self,
        signum: int | None,
        message: str = "",
        kept: str | None = None,
        step: int | None = None,
    ) -> None:
        super().__init__(signum)
        self.signum = signum
        self.message = message
        self.kept = kept
        self.step = step

    def __str__(self) -> str:
        """The message, else who stopped it: "interrupted by SIGTERM" or "stopped"."""
        if self.message:
            return self.message
        if self.signum is None:
            return "stopped"
        import signal

        return f"interrupted by {signal.Signals(self.signum).name}"
