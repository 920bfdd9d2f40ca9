"""One run of the main job from start to end, reported as events.

:func:`run` takes a :class:`~nst_tf1.settings.Settings` and does, in this order::

    plan       the pairs to stylise (one, or a batch), their sizes; every image, size and
               the output directory checked before the 500 MB model is read (nst_tf1.plan)
    model      download it if missing; read the .mat (its SHA256 for run.json meanwhile);
               import TensorFlow
    graph      one TransferGraph per size (nst_tf1.graph), reused by every pair of that size
    optimise   Adam or L-BFGS (nst_tf1.optimize), coarse to fine with multires
    save       <i>.png every save_every iterations, generated_image.jpg at the end, run.json
               at every save, each written atomically

and reports what happens to a ``report`` callable, as the typed events of
:mod:`nst_tf1.events`, so that the command line, the web page, the notebook and the tests
drive it the same way; nothing here prints, and nothing here changes the process (signal
handlers, stderr, malloc: see :mod:`nst_tf1.process`, which front ends call), except
TensorFlow's own mode: the run uses ``tf.compat.v1`` with v2 behaviour disabled, as the
course does, and TensorFlow cannot enable it again in that process (no eager tensors or
Keras models after a run: a program that needs them runs nst_tf1 in a process of its own).

Stopping: ``should_stop`` (any zero-argument callable, e.g. ``threading.Event().is_set``)
is polled between steps; once it returns true the optimisation ends after the current step,
the current image is saved (run.json: "stopped") and :class:`~nst_tf1.errors.Interrupted`
says what was kept. It works from any thread. The command line turns SIGINT/SIGTERM into
that callable (a second signal, or one before the optimisation, raises ``Interrupted`` at
once wherever the run is; the run then says what was kept).

Faults: a NaN or infinite cost stops the run and saves the last finite image
(:class:`~nst_tf1.errors.RunFailed`). Bad input raises an
:class:`~nst_tf1.errors.InputError` before anything is written. Any other exception (a
fault of TensorFlow's or of this package's) is reported as ``Failed``, recorded as "failed"
in run.json and raised as it is; one raised by the caller's own ``report`` too, without
another call to ``report``.

Where the rest lives: the plan and its checks are :mod:`nst_tf1.plan`'s; getting the model
:mod:`nst_tf1.loading`'s; the graphs and the coarse-to-fine loop :mod:`nst_tf1.transfer`'s;
one pair's folder, loop and saves :mod:`nst_tf1.pair`'s, how it ends (and what it says it
kept) :mod:`nst_tf1.outcome`'s; the output folder's rules (its lock, ``unfinished/``
staging, atomic saves) :mod:`nst_tf1.outputs`'; a batch's pair locks and contact sheet
:mod:`nst_tf1.batch`'s.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import time
from typing import Callable

from . import events
from .batch import ContactSheet, pair_lock
from .errors import InputError, Interrupted, RunFailed
from .loading import load_model
from .lock import folders_missing, remove_if_empty
from .outputs import UNFINISHED_DIR, jobs_to_run, lock_output_dir
from .pair import Pair
from .plan import Job, make_plan, steps_per_job
from .preflight import FINAL_IMAGE, check_existing_output, check_writable_dir
from .record import draw_seed
from .settings import Settings, recheck
from .transfer import Runner

__all__ = ["Job", "UNFINISHED_DIR", "run"]


def run(
    settings: Settings,
    report: Callable[[events.Event], object] | None = None,
    should_stop: Callable[[], object] | None = None,
    *,
    preview_every: int = 0,
) -> None:
    """Run the main job: check, load the model, optimise every pair, save; report events.

    Args:
        settings: what to do.
        report: receives the :mod:`nst_tf1.events` values, in order (``None``: none).
        should_stop: zero-argument callable polled between steps, from the run's thread;
            once it returns something true the run stops as described above. It may return
            a :class:`signal.Signals` to say that a signal asked (the messages name it).
        preview_every: attach the current image to every ``preview_every``-th
            :class:`~nst_tf1.events.StepDone` (0: never).

    Raises:
        nst_tf1.errors.InputError: bad input, found before the model is read (or the model
            file itself); nothing was written.
        nst_tf1.errors.RunFailed: a cost became NaN/Inf, an image could not be written,
            memory ran out, or pairs of a batch failed.
        nst_tf1.errors.Interrupted: stopped (``should_stop`` or a signal); its message says
            what was kept.
    """
    report = _Report(report or _ignore)
    stop = _Stop(should_stop)
    try:
        recheck(settings)  # a Settings changed since it was built
    except InputError as exc:
        report(events.Failed(str(exc), kind="input"))
        raise
    this = _Run(settings, report, stop, preview_every)
    # The folders the run creates (output, --logdir): none is left behind empty.
    created = [folders_missing(d) for d in (settings.output_dir, settings.logdir) if d]
    try:
        this.execute()
    except Interrupted as exc:
        if not exc.message:  # raised by a signal handler, wherever the run was
            where = (
                "again; stopped without saving the current image"
                if stop()
                else "before the optimisation started; nothing saved"
            )
            exc.message = f"interrupted by {signal.Signals(exc.signum).name} {where}"
        name = None if exc.signum is None else signal.Signals(exc.signum).name
        report(events.Stopped(exc.kept, exc.step, exc.message, name))
        raise
    except MemoryError:
        failure = RunFailed("out of memory; try a smaller --height/--width")
        report(events.Failed(str(failure)))
        raise failure from None
    except InputError as exc:
        report(events.Failed(str(exc), kind="input"))
        raise
    except RunFailed as exc:
        report(events.Failed(str(exc), getattr(exc, "kept", None)))
        raise
    except Exception as exc:
        # A fault of nst_tf1's or TensorFlow's (run.json: "failed"), raised as it is; an
        # error of the caller's own report is raised without another call to it.
        if exc is not report.raised:
            report(events.Failed(f"the run failed unexpectedly: {type(exc).__name__}: {exc}"))
        raise
    else:
        report(events.Finished(tuple(this.folders)))
    finally:
        if this.lock is not None:
            this.lock.release()
        for folders in created:
            remove_if_empty(folders)


def _ignore(event):
    """The ``report`` of a caller that does not listen."""


class _Report:
    """The caller's ``report``, remembering the exception it raised, if it raised one."""

    def __init__(self, report):
        self._report = report
        self.raised = None

    def __call__(self, event):
        try:
            return self._report(event)
        except Exception as exc:
            self.raised = exc
            raise


class _Stop:
    """The run's view of ``should_stop``: polled on each call until it first answers true,
    then true for good. ``signum`` and ``what`` say who asked, for the messages."""

    def __init__(self, should_stop):
        self._poll = should_stop
        self.answer = None

    def __call__(self):
        if self.answer is None and self._poll is not None:
            answer = self._poll()
            if answer:
                self.answer = answer
        return self.answer is not None

    @property
    def signum(self):
        """The signal that asked, or ``None``."""
        return int(self.answer) if isinstance(self.answer, signal.Signals) else None

    @property
    def what(self):
        """ "interrupted by SIGINT" (a signal asked) or "stopped on request"."""
        if self.signum is None:
            return "stopped on request"
        return f"interrupted by {signal.Signals(self.signum).name}"


class _Run:
    """The state of one :func:`run`: settings, plan, model, seed; the pairs' outcomes."""

    def __init__(self, settings, report, stop, preview_every=0):
        self.s, self.report, self.stop = settings, report, stop
        self.preview_every = preview_every
        self.folders = []  # the output folder of each pair that ran
        self.started = time.monotonic()
        self.batch = settings.batch()
        self.images = {}  # path -> decoded array, for the single pair's images
        self.failures = 0
        self.lock = None  # the output folder's FileLock, held from the plan to the end
        self.sheet = ContactSheet(settings.output_dir, report) if self.batch else None

    def execute(self):
        """Plan, model, graphs, each pair's loop, outcome."""
        todo, note = self._plan()
        if not todo:
            self.report(events.Note("nothing-to-do", "Nothing to do: every output exists"))
            if self.batch:  # the sheet as the folders are now (deleted, or of an older run)
                self.sheet.write()
                self.sheet.report_written()
            return
        runner = self._start(todo, note)
        with runner:
            for number, job in enumerate(todo, start=1):
                self._pair(runner, job, number, len(todo))
        if self.batch:
            self.sheet.report_written()
        if self.failures:
            raise RunFailed(f"{self.failures} of {len(todo)} runs failed")

    def _plan(self):
        """The jobs to run and a note on an existing result: everything checked that needs
        no model, the output folder locked (:mod:`nst_tf1.plan`, :mod:`nst_tf1.outputs`)."""
        s = self.s
        if s.logdir and s.beyond_course():
            raise InputError(
                "--logdir writes the course's graph; it cannot be used with the "
                "options beyond the course or a batch"
            )
        planned = make_plan(s)
        self.images = planned.images
        for shape in planned.stretched:
            self.report(_stretched_note(shape))
        try:
            self.lock = lock_output_dir(s.output_dir, self.report)
            note = None
            if planned.signature is not None:
                note = check_existing_output(s.output_dir, planned.signature, s.overwrite)
        except OSError as exc:
            raise InputError(f"{exc.filename}: cannot read ({exc.strerror or exc})") from None
        jobs = planned.jobs
        if s.logdir:
            check_writable_dir(s.logdir)
        return jobs_to_run(jobs, self.batch, s.overwrite, self.report), note

    def _start(self, todo, note):
        """The model (:mod:`nst_tf1.loading`), the seed, and the Runner that builds the
        graphs (:mod:`nst_tf1.transfer`); reports :class:`~nst_tf1.events.RunBegun`."""
        s = self.s
        self._stop_before("the model was read")
        weights, self.model_info, self.device, self.choices = load_model(
            s, self.report, note, self.stop
        )
        self._stop_before("the graphs were built")
        # A run without --seed draws one and records it, so it can be repeated exactly.
        self.seed = draw_seed() if s.seed is None else s.seed
        # One pair: one graph open at a time (coarse to fine, each scale's graph is freed
        # before the next is built), and once the last is built its session holds the only
        # copy of the weights (unless a style of another size needs a graph of its own).
        single = len(todo) == 1
        ran = self.choices["precision"]["ran"]
        runner = Runner(
            weights,
            dataclasses.replace(s, seed=self.seed, precision=ran),
            graphs_needed=s.multires if single and s.style_scale == 1 else None,
            max_open=1 if single else None,
            logdir=s.logdir,
        )
        del weights
        self.report(
            events.RunBegun(
                len(todo) * steps_per_job(s),
                len(todo),
                *todo[0].size,
                self.device,
                s.optimizer,
                self.choices,
            )
        )
        return runner

    def _stop_before(self, what):
        """Stop here, where nothing is saved yet, if ``should_stop`` asked."""
        if self.stop():
            raise Interrupted(self.stop.signum, f"{self.stop.what} before {what}; nothing saved")

    def _pair(self, runner, job, number, pairs):
        """Run pair ``number`` of ``pairs`` (:mod:`nst_tf1.pair`); in a batch, in its
        folder's lock and with the contact sheet written after it (:mod:`nst_tf1.batch`)."""
        if self.batch:
            self.report(events.PairBegun(number, pairs, job.content, tuple(job.styles), job.out))
            lock = pair_lock(job.out, steps_per_job(self.s), self.report)
        else:
            lock = contextlib.nullcontext(True)
        try:
            with lock as free:
                if free:
                    Pair(self).run_job(runner, job)
        finally:
            if self.batch:  # finished, failed or stopped: the sheet shows it
                self.sheet.write()
        if self.stop() and (number < pairs or self.stop.signum is not None):
            raise self._batch_stopped(job, pairs - number)

    def _batch_stopped(self, job, remaining):
        """A batch stopped after ``job`` (by a signal in the last one's final save too)."""
        final = os.path.join(job.out, FINAL_IMAGE)
        failed = f" ({self.failures} failed)" if self.failures else ""
        rest = "before the remaining runs" if remaining else f"the last; every pair ran{failed}"
        what = f"{self.stop.what}; stopped after {final}, {rest}"
        return Interrupted(self.stop.signum, what, final)

    def failed(self, message, skipped_steps):
        """One pair failed (the run goes on with the others): say so, count it, move the
        progress on."""
        self.report(events.StepsSkipped(skipped_steps))
        self.failures += 1
        self.report(events.Note("pair-failed", message, "error"))


def _stretched_note(shape):
    """The :class:`~nst_tf1.events.Note` of a content image the run stretches
    (a :class:`~nst_tf1.plan.Stretched`), naming the flags that keep its shape."""
    longer = max(shape.to_height, shape.to_width)
    return events.Note(
        "stretched",
        f"{shape.path} is {shape.width}x{shape.height} (width x height): stretched to "
        f"{shape.to_width}x{shape.to_height} as the course does; --keep-aspect or "
        f"--max-size {longer} keeps its shape",
        "note",
        shape._asdict(),
    )
