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
handlers, stderr, malloc: see :mod:`nst_tf1.process`, which front ends call).

Stopping: ``should_stop`` (any zero-argument callable, e.g. ``threading.Event().is_set``)
is polled between steps; once it returns true the optimisation ends after the current step,
the current image is saved (run.json: "stopped") and :class:`~nst_tf1.errors.Interrupted`
says what was kept. It works from any thread. The command line turns SIGINT/SIGTERM into
that callable (a second signal, or one before the optimisation, raises ``Interrupted`` at
once wherever the run is; the run then says what was kept).

Faults: a NaN or infinite cost stops the run and saves the last finite image
(:class:`~nst_tf1.errors.RunFailed`). Bad input raises an
:class:`~nst_tf1.errors.InputError` before anything is written.

Nothing lost: the output folder's rules (its lock, ``unfinished/`` staging, atomic saves)
are :mod:`nst_tf1.outputs`'; the plan and its checks are :mod:`nst_tf1.plan`'s.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import signal
import time
from typing import Callable

import numpy as np

from . import events, images
from .config import CONFIG
from .contact_sheet import write_contact_sheet
from .errors import InputError, Interrupted, RunFailed
from .images import ImageInputError, load_image, reshape_and_normalize_image, resize_array
from .loading import load_model
from .lock import LOCK_FILE, FileLock, LockBusy
from .optimize import NonFiniteCostError
from .outputs import (
    UNFINISHED_DIR,
    JobFolder,
    check_staging_folder,
    folders_missing,
    jobs_to_run,
    lock_output_dir,
    move_into_place,
    remove_if_empty,
    save_last_finite,
    saved_costs,
    step_image,
)
from .plan import Job, make_plan, steps_per_job
from .preflight import (
    FINAL_IMAGE,
    check_existing_output,
    check_writable_dir,
    interrupted_at,
    interrupted_signature,
    run_signature,
)
from .record import RUN_FILE, RunRecord, draw_seed, library_versions
from .settings import Settings
from .transfer import Runner
from .weights import file_digests

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
    report = report or _ignore
    stop = _Stop(should_stop)
    this = _Run(settings, report, stop, preview_every)
    created = folders_missing(settings.output_dir)  # the run creates them: none left empty
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
    else:
        report(events.Finished(tuple(this.folders)))
    finally:
        if this.lock is not None:
            this.lock.release()
        remove_if_empty(created)


def _ignore(event):
    """The ``report`` of a caller that does not listen."""


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
    """The state of one :func:`run`: settings, plan, model, seed."""

    def __init__(self, settings, report, stop, preview_every=0):
        self.s, self.report, self.stop = settings, report, stop
        self.preview_every = preview_every
        self.folders = []  # the output folder of each pair that ran
        self.started = time.monotonic()
        self.batch = settings.batch()
        self.images = {}  # path -> decoded array, for the single pair's images
        self.failures = 0
        self.lock = None  # the output folder's FileLock, held from the plan to the end
        self.sheet = None  # (index.html, contact_sheet.png) of a batch, once written
        self.sheet_failed = False

    def execute(self):
        s = self.s
        jobs, note = self._plan()
        todo = jobs_to_run(jobs, self.batch, s.overwrite, self.report)
        if not todo:
            self.report(events.Note("nothing-to-do", "Nothing to do: every output exists"))
            return
        weights, self.model_info, self.device, self.choices = load_model(s, self.report, note)
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
        with runner:
            for number, job in enumerate(todo, start=1):
                if self.batch:
                    self.report(
                        events.PairBegun(number, len(todo), job.content, tuple(job.styles), job.out)
                    )
                try:
                    with self._pair_lock(job) as free:
                        if free:
                            _Pair(self).run_job(runner, job)
                finally:
                    if self.batch:  # finished, failed or stopped: the sheet shows it
                        self._contact_sheet()
                if self.stop() and (number < len(todo) or self.stop.signum is not None):
                    raise self._batch_stopped(job, len(todo) - number)
        if self.batch and self.sheet is not None:
            html, png = self.sheet
            self.report(
                events.Note(
                    "contact-sheet",
                    f"Contact sheet of the batch: {html} and {png}",
                    data={"html": html, "png": png},
                )
            )
        if self.failures:
            raise RunFailed(f"{self.failures} of {len(todo)} runs failed")

    def _batch_stopped(self, job, remaining):
        """A batch stopped after ``job`` (by a signal in the last one's final save too)."""
        final = os.path.join(job.out, FINAL_IMAGE)
        failed = f" ({self.failures} failed)" if self.failures else ""
        rest = "before the remaining runs" if remaining else f"the last; every pair ran{failed}"
        what = f"{self.stop.what}; stopped after {final}, {rest}"
        return Interrupted(self.stop.signum, what, final)

    def _contact_sheet(self):
        """Write (again) the batch's contact sheet (:mod:`nst_tf1.contact_sheet`); one that
        cannot be written is said once and does not stop the batch."""
        try:
            self.sheet = write_contact_sheet(self.s.output_dir)
        except InputError:  # no pair has a run.json yet
            pass
        except OSError as exc:
            if not self.sheet_failed:
                self.sheet_failed = True
                self.report(
                    events.Note(
                        "contact-sheet-failed",
                        f"cannot write the contact sheet into {self.s.output_dir} "
                        f"({exc.strerror or exc}); the pairs' folders are not affected",
                        "note",
                    )
                )

    def _plan(self):
        """The jobs and a note on an existing result: everything checked that needs no
        model, the output folder locked (:mod:`nst_tf1.plan`, :mod:`nst_tf1.outputs`)."""
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
        return jobs, note

    @contextlib.contextmanager
    def _pair_lock(self, job):
        """In a batch, hold the lock of the pair's folder while working in it.

        A single run into that folder is then refused, as a second run into any folder in
        use is; and a pair whose folder another run holds is skipped with a note naming it,
        its files left alone. Yields whether the pair is free (always true outside a batch).
        """
        if not self.batch:
            yield True
            return
        created = not os.path.isdir(job.out)
        try:
            os.makedirs(job.out, exist_ok=True)
            lock = FileLock(
                os.path.join(job.out, LOCK_FILE),
                f"Skipping {job.out}: it is in use by",
                "the same batch run again once it has ended does this pair",
            ).acquire()
        except LockBusy as exc:
            self.report(events.StepsSkipped(steps_per_job(self.s)))
            self.report(events.Note("pair-busy", str(exc), "note", {"folder": job.out}))
            yield False
            return
        except OSError as exc:
            raise RunFailed(f"cannot write {job.out} ({exc.strerror or exc})") from None
        try:
            yield True
        finally:
            lock.release()
            if created:
                with contextlib.suppress(OSError):
                    os.rmdir(job.out)  # only when empty: the pair stopped before its first save

    def _failed(self, message, skipped_steps):
        """One pair of a batch failed: say so, count it, move the progress on."""
        self.report(events.StepsSkipped(skipped_steps))
        self.failures += 1
        self.report(events.Note("pair-failed", message, "error"))


class _Pair:
    """One pair (one job) of a :class:`_Run`: its folder, optimisation, saves and outcome."""

    def __init__(self, run):
        self.run = run
        self.s, self.report, self.stop, self.batch = run.s, run.report, run.stop, run.batch
        self.seed, self.images, self.started = run.seed, run.images, run.started

    def run_job(self, runner, job):
        """Optimise one pair, saving as it goes; a batch goes on after a failed pair.

        Over a finished result the pair's files go to ``job.out/unfinished`` and are moved
        over it only once the run has finished.
        """
        state = self._job_folder(job)
        moved = None  # an interruption that came during the final move
        try:
            content = self._read_inputs(job, state)
            self._optimise(runner, job, content, state)
            if state.previous and state.finished:
                state.writing = job.out
                moved = self._move_into_place(state.folder, job.out)
        except BaseException as exc:
            self._job_failed(exc, job, state)  # raises, unless a batch goes on
            return
        if state.stopped is not None:
            raise Interrupted(self.stop.signum, state.stopped, state.final, state.step.iteration)
        self._report_done(job, state)
        if moved is not None:
            raise moved
        if not self.batch and state.finished and self.stop() and self.stop.signum is not None:
            # A signal during the final save or move: the result is whole and in place, and
            # the command still ends as the signal asked.
            final = os.path.join(job.out, FINAL_IMAGE)
            raise Interrupted(
                self.stop.signum,
                f"{self.stop.what} after the run had finished; {final} and its run.json are "
                "the finished result",
                final,
                state.step.iteration,
            )

    def _move_into_place(self, unfinished, out):
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

    def _read_inputs(self, job, state):
        """The pair's images, their digests and its record; a file that cannot be read now
        (removed or changed since the plan read it) is an input failure of this pair, not a
        write failure: a batch goes on with its other pairs."""
        try:
            state.signature = run_signature(job.content, job.styles)
            content = self.images.get(job.content)
            if content is None:
                content = load_image(job.content, *job.size)
            state.record = _run_record(self.run, job, state.folder)
        except FileNotFoundError as exc:
            raise ImageInputError(f"{exc.filename}: no such file") from None
        except OSError as exc:
            raise ImageInputError(f"{exc.filename}: cannot read ({exc.strerror or exc})") from None
        return content

    def _job_folder(self, job):
        """Where the job writes (:class:`~nst_tf1.outputs.JobFolder`): ``job.out``, or its
        ``unfinished`` folder over a finished result; an earlier rerun's leftovers go."""
        final = os.path.join(job.out, FINAL_IMAGE)
        staged = os.path.lexists(final) and interrupted_at(final) is None
        unfinished = os.path.join(job.out, UNFINISHED_DIR)
        check_staging_folder(unfinished)  # checked at the start too; not followed, ever
        if os.path.lexists(unfinished):
            shutil.rmtree(unfinished, ignore_errors=True)
            if os.path.lexists(unfinished):
                raise RunFailed(
                    f"cannot remove {unfinished}, left by an earlier rerun that did not "
                    f"finish; {final} is kept as it was"
                )
            self.report(
                events.Note(
                    "unfinished-removed",
                    f"Removed {unfinished}, left by an earlier rerun that did not finish",
                    "note",
                    {"folder": unfinished},
                )
            )
        if staged:
            self.report(
                events.Note(
                    "staging",
                    f"Until this run finishes its files go to {unfinished}; {final} stays as it is",
                    data={"folder": unfinished, "kept": final},
                )
            )
        return JobFolder(unfinished if staged else job.out, final if staged else None)

    def _job_failed(self, exc, job, state):
        """A job ended by ``exc``: record it, and raise what the run ends with; return only
        when a batch goes on with its other pairs."""
        remaining = steps_per_job(self.s) - state.done
        if isinstance(exc, ImageInputError):
            # Found unreadable only now (the header was fine): report, go on with the rest.
            state.interrupt("failed")
            self.run._failed(str(exc), remaining)
            return
        if isinstance(exc, NonFiniteCostError):
            state.interrupt("diverged", write=True)
            saved = save_last_finite(exc, state.final, state.signature)
            message = _non_finite_message(exc, state.final, self.s.learning_rate, saved)
            message += state.kept()
            if saved:
                self.report(_saved(state.final, exc.last_finite, final=True))
            if not self.batch:
                failure = RunFailed(message)
                failure.kept = state.final if saved else None
                raise failure from None
            self.run._failed(f"{job.out}: {message}", remaining)
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
        state.interrupt()
        if isinstance(exc, Interrupted) and not exc.message:
            exc.message = _interrupted_message(exc, job, state, self.batch)
        raise exc

    def _report_done(self, job, state):
        """The lines of a finished job: its record, TensorBoard, the final image."""
        self.run.folders.append(job.out)
        final = os.path.join(job.out, FINAL_IMAGE)
        record = os.path.join(job.out, RUN_FILE)
        self.report(
            events.Note(
                "run-recorded",
                f"Recorded the run in {record} (seed {self.seed})",
                data={"record": record, "seed": self.seed},
            )
        )
        if self.s.logdir:
            self.report(
                events.Note(
                    "tensorboard",
                    f"TensorBoard: tensorboard --logdir {self.s.logdir}",
                    data={"logdir": self.s.logdir},
                )
            )
        done = f"{self.s.iterations} iterations"
        if self.s.optimizer == "lbfgs":
            # L-BFGS-B may end early (converged, or --stop-balance reached).
            done = (
                f"at most {self.s.iterations} L-BFGS evaluations"
                if state.evaluations == self.s.iterations
                else f"{state.evaluations} of at most {self.s.iterations} L-BFGS evaluations"
            )
        cost = np.float32(state.step.total_cost)
        self.report(
            events.Note(
                "result-saved",
                f"Saved {final} (after {done}: total cost = {cost!s})",
                data={"path": final, "steps": state.evaluations or self.s.iterations},
            )
        )

    def _optimise(self, runner, job, content, state):
        """The optimisation loop of one job: progress, saves, the final or stopped image."""
        s = self.s
        progress = None
        # closing(): an error ends the generator (and an L-BFGS worker) before the sessions.
        with contextlib.closing(
            runner.run(
                content,
                job.styles,
                s.style_weights,
                should_stop=self.stop,
                preview_every=self.run.preview_every,
            )
        ) as steps:
            for progress in steps:
                self._step(runner, job, progress, state)
        if self.stop() and not state.finished:
            self._save_stopped(runner, job, progress, state)

    def _save_final(self, runner, job, state, step, image, comment, status="finished", scale=None):
        """Write the final image as the lossless generated_image.png, then as the course's
        generated_image.jpg, and record both with the cost of each file as saved (read back:
        8 bits a channel, the JPEG compressed); ``scale``: the coarser scale (a Progress) it
        was upsampled from, whose costs these are (a run stopped there)."""
        state.save_final(image, comment)
        saved = saved_costs(state.folder, job.size, runner.evaluate, scale)
        state.record_write(lambda: state.record.finish(step, FINAL_IMAGE, status, saved, scale))
        self.report(_saved(state.final, step, final=True))

    def _step(self, runner, job, progress, state):
        """One optimisation step: record, report, and save it when it is due."""
        s = self.s
        step, last = progress.step, progress.scale == progress.scales
        state.step = step
        if last:  # run.json holds the costs of the output size's scale
            state.record.add_step(step)
        if step.iteration == 0 and progress.scales > 1:
            self.report(
                events.ScaleBegun(progress.scale, progress.scales, progress.height, progress.width)
            )
        if step.iteration == progress.budget:  # the final image of a scale
            if last:
                self._save_final(runner, job, state, step, step.image, state.signature)
                state.finished = True
            return
        logged = step.image is not None and step.iteration % s.save_every == 0
        preview = None
        if (
            self.run.preview_every
            and step.image is not None
            and step.iteration % self.run.preview_every == 0
        ):
            preview = images.to_uint8(step.image)
        self.report(
            events.StepDone(
                step.iteration,
                progress.budget,
                "evaluation" if s.optimizer == "lbfgs" else "iteration",
                step.total_cost,
                step.content_cost,
                step.style_cost,
                time.monotonic() - self.started,
                preview,
                logged,
                progress.scale,
                progress.scales,
            )
        )
        state.done += 1
        state.evaluations = step.iteration + 1 if last else 0
        if logged and last:
            name = step_image(step.iteration)
            path = os.path.join(state.folder, name)
            state.save(path, step.image)
            state.record_write(lambda: state.record.add_save(step, name))
            self.report(_saved(path, step))

    def _save_stopped(self, runner, job, progress, state):
        """After a signal: save the current image as the final one, marked as stopped."""
        step, image, where = progress.step, progress.step.image, ""
        if progress.scale < progress.scales:
            # A coarse scale: the saved image has the output's size all the same.
            rgb = resize_array(image[0] + CONFIG.MEANS[0], *job.size)
            image = reshape_and_normalize_image(rgb)
            where = (
                f" of scale {progress.scale}/{progress.scales} "
                f"({progress.height}x{progress.width}, upsampled)"
            )
        self._save_final(
            runner,
            job,
            state,
            step,
            image,
            interrupted_signature(state.signature, step.iteration),
            "stopped",
            scale=progress if progress.scale < progress.scales else None,
        )
        beside = " (with its run.json)" if state.previous else ""
        state.stopped = (
            f"{self.stop.what} at iteration {step.iteration} of "
            f"{progress.budget}{where}; saved the current image as "
            f"{state.final}{beside}{state.kept()}"
        )


def _run_record(run, job, folder):
    """A :class:`nst_tf1.record.RunRecord` of one job in ``folder``; written at the first
    save, not before."""
    s = run.s
    files = {
        "content": os.path.abspath(job.content),
        "style": os.path.abspath(job.styles[0]),
        "styles": [os.path.abspath(path) for path in job.styles],
        "model": os.path.abspath(s.model),
        "output_dir": os.path.abspath(job.out),
        "sha256": {
            "content": _sha256(job.content),
            "styles": [_sha256(path) for path in job.styles],
        },
    }
    return RunRecord(
        folder,
        s.record(),
        run.seed,
        files,
        run.model_info,
        library_versions(),
        job.size,
        run.device,
        run.choices,
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
    return f"interrupted by {name} again; stopped without saving the current image{state.kept()}"


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


def _saved(path, step, final=False):
    """The :class:`~nst_tf1.events.ImageSaved` of ``step``'s image written to ``path``."""
    costs = (step.total_cost, step.content_cost, step.style_cost)
    return events.ImageSaved(path, step.iteration, *costs, final)


def _sha256(path):
    return file_digests(path, md5=False).sha256


def _non_finite_message(exc, final, learning_rate, saved):
    """The one line for a NaN/Inf cost (``saved``: the last finite image was written)."""
    bad, good = exc.step, exc.last_finite
    lower = f"try a lower --learning-rate than {learning_rate:g}, such as {learning_rate / 10:g}"
    if good is None:
        return (
            f"the total cost is {bad.total_cost} for the initial image: nothing saved; "
            f"lower --alpha/--beta, or {lower}"
        )
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


def _is_out_of_memory(exc):
    """Whether ``exc`` is TensorFlow's out-of-memory error (without importing TensorFlow)."""
    return type(exc).__name__ == "ResourceExhaustedError"
