"""How a pair of a run ends, and what it says it kept.

A pair (one job, :mod:`nst_tf1.pair`) ends in one of five ways, each recorded in its
run.json and reported as events::

    finished     :func:`report_done`: the record, TensorBoard, the final image and its
                 cost; over an earlier result its files are moved into place
                 (:func:`complete_move`, completed even when a second Ctrl-C comes)
    diverged     a NaN or infinite cost: the last finite image is saved; a batch goes on
    failed       an image that cannot be read now (a batch goes on), a file that cannot
                 be written, memory that ran out
    stopped      by ``should_stop`` or a signal: the current image is saved (by the pair)
    interrupted  a second signal, or one before the first step: nothing more is saved

:func:`pair_failed` turns what ended a pair into the error the run ends with, its message
saying what was kept. Nothing here prints.
"""

from __future__ import annotations

import os
import signal

import numpy as np

from . import events
from .config import CONFIG
from .errors import Interrupted, RunFailed
from .images import ImageInputError
from .optimize import NonFiniteCostError
from .outputs import move_into_place, save_last_finite
from .plan import output_steps, steps_per_job
from .preflight import FINAL_IMAGE
from .record import RUN_FILE
from .settings import NEEDS

__all__ = ["complete_move", "image_saved", "pair_failed", "report_done"]

#: The span of a pixel's values (0 to 255 in each channel).
PIXEL_RANGE = 255.0


def complete_move(unfinished: str, out: str) -> Interrupted | None:
    """:func:`~nst_tf1.outputs.move_into_place`, completed even when a signal handler
    raises :class:`Interrupted` meanwhile (a second Ctrl-C): renames are quick, and a
    move left halfway would mix two runs' files. Returns that interruption, for the
    caller to raise once the run is recorded as done, or ``None``."""
    interrupted = None
    while True:
        try:
            move_into_place(unfinished, out)
            break
        except Interrupted as exc:
            interrupted = interrupted or exc
            if not os.path.isdir(unfinished):
                break
    if interrupted is not None:
        final = os.path.join(out, FINAL_IMAGE)
        interrupted.message = (
            f"interrupted by {signal.Signals(interrupted.signum or signal.SIGINT).name} "
            f"while moving the finished rerun into place; the move was completed: {final} "
            "and its run.json are the finished result"
        )
        interrupted.kept = final
    return interrupted


def pair_failed(exc, job, state, settings, batch, report, failed) -> None:
    """A job ended by ``exc``: record it, and raise what the run ends with; return only
    when a batch goes on with its other pairs.

    Args:
        exc: what ended it.
        job: the :class:`~nst_tf1.plan.Job`.
        state: its :class:`~nst_tf1.outputs.JobFolder`.
        settings: the run's :class:`~nst_tf1.settings.Settings`.
        batch: whether the run is a batch (one that goes on after a failed pair).
        report: the run's ``report``.
        failed: ``failed(message, skipped_steps)``: one pair failed, the run goes on.

    Raises:
        nst_tf1.errors.RunFailed: a write failed, memory ran out, or (outside a batch) a
            cost became NaN/Inf.
        BaseException: anything else is raised again (an :class:`Interrupted` with the
            message of what was kept).
    """
    remaining = steps_per_job(settings) - state.done
    if isinstance(exc, ImageInputError):
        # Found unreadable only now (the header was fine): report, go on with the rest.
        state.interrupt("failed")
        failed(str(exc), remaining)
        return
    if isinstance(exc, NonFiniteCostError):
        state.interrupt("diverged", write=True)
        saved = save_last_finite(exc, state.final, state.signature)
        acts, _ = NEEDS["learning_rate"]  # Adam's rate; L-BFGS has none to lower
        rate = settings.learning_rate if acts(settings) else None
        message = _non_finite_message(exc, state.final, rate, saved)
        message += state.kept()
        if saved:
            report(image_saved(state.final, exc.last_finite, final=True))
        if not batch:
            failure = RunFailed(message)
            failure.kept = state.final if saved else None
            raise failure from None
        failed(f"{job.out}: {message}", remaining)
        return
    if isinstance(exc, OSError):
        recorded = state.interrupt("failed")
        said = ""
        if state.record is not None and state.record.written:
            said = (
                "; run.json says 'failed'"
                if recorded
                else "; run.json could not be updated (it still says 'running')"
            )
        raise RunFailed(
            f"cannot write {state.writing} ({exc.strerror or exc}); the files "
            f"saved before it in {state.folder} are intact{said}"
            f"{state.kept()}"
        ) from None
    if _is_out_of_memory(exc):
        state.interrupt("failed")
        raise RunFailed(
            f"out of memory at {job.size[0]}x{job.size[1]}; try a smaller --height/--width"
        ) from None
    if not isinstance(exc, KeyboardInterrupt):
        state.interrupt("failed")  # any other error: the caller's report, or a fault
    elif not (isinstance(exc, Interrupted) and state.final_recorded):
        state.interrupt()  # a recorded final image keeps its status: the run made it
    if isinstance(exc, Interrupted) and not exc.message:
        exc.message = _interrupted_message(exc, job, state, batch)
        if exc.kept is None and state.final_saved:
            exc.kept = state.final_saved[-1]
    raise exc


def report_done(job, state, settings, seed, report) -> None:
    """Report a finished job: its record, TensorBoard, the final image.

    Args:
        job: the :class:`~nst_tf1.plan.Job`.
        state: its :class:`~nst_tf1.outputs.JobFolder`.
        settings: the run's :class:`~nst_tf1.settings.Settings`.
        seed: the run's seed, recorded in run.json.
        report: the run's ``report``.
    """
    final = os.path.join(job.out, FINAL_IMAGE)
    record = os.path.join(job.out, RUN_FILE)
    report(
        events.Note(
            "run-recorded",
            f"Recorded the run in {record} (seed {seed})",
            data={"record": record, "seed": seed},
        )
    )
    if settings.logdir:
        report(
            events.Note(
                "tensorboard",
                f"TensorBoard: tensorboard --logdir {settings.logdir}",
                data={"logdir": settings.logdir},
            )
        )
    done = f"{settings.iterations} iterations"
    if settings.optimizer == "lbfgs":
        # L-BFGS may end early (converged, or --stop-balance reached).
        budget = output_steps(settings)
        done = (
            f"at most {budget} L-BFGS evaluations"
            if state.evaluations == budget
            else f"{state.evaluations} of at most {budget} L-BFGS evaluations"
        )
    cost = np.float32(state.step.total_cost)
    report(
        events.Note(
            "result-saved",
            f"Saved {final} (after {done}: total cost = {cost!s})",
            data={"path": final, "steps": state.evaluations or output_steps(settings)},
        )
    )


def _interrupted_message(exc, job, state, batch):
    """What a signal handler's :class:`Interrupted` says, once the job knows what was
    kept ("" leaves it to :func:`run`)."""
    if not (state.previous or batch or state.step is not None):
        return ""
    name = signal.Signals(exc.signum).name
    if state.step is None:
        which = f" of {job.out}" if batch else ""
        return (
            f"interrupted by {name} before the optimisation{which} "
            f"started; nothing saved{state.kept()}"
        )
    if state.final_saved:
        # The second signal came after the image's files were written, while the run
        # computed their costs for run.json (or wrote it): they are whole, and kept.
        listed = (
            ", and run.json records it (without the costs of the files as saved)"
            if state.final_recorded
            else ", which run.json does not list"
        )
        return (
            f"interrupted by {name} again; the current image had been saved as "
            f"{' and '.join(state.final_saved)}{listed}{state.kept()}"
        )
    return f"interrupted by {name} again; stopped without saving the current image{state.kept()}"


def image_saved(path, step, final=False) -> events.ImageSaved:
    """The :class:`~nst_tf1.events.ImageSaved` of ``step``'s image written to ``path``."""
    costs = (step.total_cost, step.content_cost, step.style_cost)
    return events.ImageSaved(path, step.iteration, *costs, final)


def _non_finite_message(exc, final, learning_rate, saved):
    """The one line for a NaN/Inf cost (``saved``: the last finite image was written;
    ``learning_rate``: Adam's, or ``None`` for L-BFGS, which has none to lower)."""
    bad, good = exc.step, exc.last_finite
    weights = "lower --alpha/--beta"
    if learning_rate is None:
        lower = first = weights
    else:
        rate = _lower_rate(learning_rate)
        lower = f"try a lower --learning-rate than {learning_rate:g}, such as {rate:g}"
        first = f"{weights}, or {lower}"
    if good is None:
        return f"the total cost is {bad.total_cost} for the initial image: nothing saved; {first}"
    if not saved:
        return (
            f"the total cost became {bad.total_cost} at iteration {bad.iteration}, and the "
            f"last image with a finite cost could not be written to {final}; {lower}"
        )
    return (
        f"the total cost became {bad.total_cost} at iteration {bad.iteration}; stopped and "
        f"saved the last image with a finite cost (iteration {good.iteration}) as {final}; "
        f"{lower}"
    )


def _lower_rate(learning_rate):
    """The --learning-rate a diverged Adam run is told to try: a tenth of it, or the course's
    own rate where a tenth would still move a pixel by more than its whole range in one
    update (Adam moves each pixel by about the rate; the pixels span 255 levels)."""
    lower = learning_rate / 10
    return lower if lower <= PIXEL_RANGE else CONFIG.LEARNING_RATE


def _is_out_of_memory(exc):
    """Whether ``exc`` is TensorFlow's out-of-memory error (without importing TensorFlow)."""
    return type(exc).__name__ == "ResourceExhaustedError"
