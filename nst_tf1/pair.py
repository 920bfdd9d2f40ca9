"""One pair of a run (one job): its folder, its images, the optimisation loop, its saves.

:class:`Pair` does, for one content image and its styles::

    folder     job.out, or job.out/unfinished over a finished result (the result stays
               until the rerun finishes; an earlier rerun's leftovers go first)
    inputs     the images (decoded by the plan, or read again now), their digests, the
               run.json record (written at the first save, not before)
    loop       the Runner's steps (:mod:`nst_tf1.transfer`): a StepDone each, with the
               current image every ``preview_every`` steps
    saves      <i>.png every save_every steps, the final image as generated_image.png and
               .jpg, each file's cost read back, and run.json at every save; after a stop,
               the current image as the final one (upsampled from a coarse scale)

How it ends (finished, diverged, failed, stopped) is :mod:`nst_tf1.outcome`'s.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time

from . import events, images
from .config import CONFIG
from .costs import detail_layers
from .course_preview import BOUND_MARGIN, preview_size
from .errors import Interrupted, RunFailed
from .images import ImageInputError, load_image, reshape_and_normalize_image, resize_array
from .outcome import complete_move, image_saved, pair_failed, report_done
from .outputs import UNFINISHED_DIR, JobFolder, check_staging_folder, saved_costs, step_image
from .preflight import FINAL_IMAGE, interrupted_at, interrupted_signature, run_signature
from .record import RunRecord, library_versions
from .weights import file_digests

__all__ = ["Pair", "run_record"]


class Pair:
    """One pair (one job) of a run: its folder, optimisation and saves.

    Args:
        run: the run's state (:mod:`nst_tf1.running`): its settings ``s``, ``report``,
            ``stop``, ``batch``, ``seed``, decoded ``images``, ``started`` (monotonic
            seconds), ``preview_every``, ``model_info``, ``device``, ``choices``, the
            ``folders`` of the pairs done and ``failed(message, skipped_steps)``.
    """

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
                moved = complete_move(state.folder, job.out)
        except BaseException as exc:
            # Raises, unless a batch goes on.
            pair_failed(exc, job, state, self.s, self.batch, self.report, self.run.failed)
            return
        if state.stopped is not None:
            raise Interrupted(self.stop.signum, state.stopped, state.final, state.step.iteration)
        self.run.folders.append(job.out)
        report_done(job, state, self.s, self.seed, self.report)
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

    def _read_inputs(self, job, state):
        """The pair's images, their digests and its record; a file that cannot be read now
        (removed or changed since the plan read it) is an input failure of this pair, not a
        write failure: a batch goes on with its other pairs."""
        try:
            state.signature = run_signature(job.content, job.styles)
            content = self.images.get(job.content)
            if content is None:
                content = load_image(job.content, *job.size)
            state.record = run_record(self.run, job, state.folder)
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
        was upsampled from, whose costs these are (a run stopped there).

        A second signal while the files' costs are computed (Interrupted, raised by the
        command line's handler) ends the run there; the files are whole, so run.json records
        them all the same, without those costs."""
        state.save_final(image, comment)
        try:
            saved = saved_costs(state.folder, job.size, runner.evaluate, scale)
        except Interrupted:
            state.record_write(lambda: state.record.finish(step, FINAL_IMAGE, status, None, scale))
            raise
        state.record_write(lambda: state.record.finish(step, FINAL_IMAGE, status, saved, scale))
        self.report(image_saved(state.final, step, final=True))

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
        if step.iteration == 0 and last and progress.bound is not None:
            note = _bound_note(s, progress)
            state.record.data.setdefault("choices", {})["content_bound"] = note.data
            self.report(note)
        if step.iteration == 0 and last and progress.detail:
            note = _detail_note(s, progress)
            state.record.data.setdefault("choices", {})["detail"] = note.data
            self.report(note)
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
            self.report(image_saved(path, step))

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


def _bound_note(settings, progress) -> events.Note:
    """The ``content-bound`` note: J_content's bound b at the output size and where it came
    from (``--course-preview``: the fraction of J_content(S) that the course's run reached
    in its preview; ``--content-bound``: F times the course's start's J_content)."""
    b = float(progress.bound[0])
    data = {"bound": b, "scale": progress.scale, "fraction": progress.fraction}
    if progress.fraction is not None:
        h, w = preview_size(progress.height, progress.width)
        data.update(
            course_preview=settings.course_preview, preview_size=[h, w], margin=BOUND_MARGIN
        )
        styles = "style image's" if len(settings.style) == 1 else "style images' (weighted)"
        text = (
            f"The course's run, {settings.course_preview} iterations of it at {h}x{w}, kept "
            f"J_content at {progress.fraction:.3f} of the {styles}; L-BFGS holds it at or "
            f"below {b:.5g} ({BOUND_MARGIN:g} of that)"
        )
    else:
        data["factor"] = settings.content_bound
        text = (
            f"L-BFGS holds J_content at or below {b:.5g} ({settings.content_bound:g} times "
            "the course's noisy start's)"
        )
    return events.Note("content-bound", text, "out", data)


def _detail_note(settings, progress) -> events.Note:
    """The ``detail-phase`` note: what the first evaluations at the output size minimise."""
    layers = detail_layers(settings.style_layers)
    data = {"iterations": progress.detail, "layers": layers}
    text = (
        f"The first {progress.detail} evaluations minimise the style terms of "
        f"{', '.join(layers)} alone (the style's fine detail; costs shown where saved), "
        f"then J from evaluation {progress.detail} on (where J may rise at first: the "
        f"detail phase leaves the content aside, and J brings it back)"
    )
    return events.Note("detail-phase", text, "out", data)


def run_record(run, job, folder) -> RunRecord:
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


def _sha256(path):
    return file_digests(path, md5=False).sha256
