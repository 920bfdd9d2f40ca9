"""The output folder of a run: its file names, its lock, ``unfinished/`` staging, the atomic
saves of the final PNG + JPEG, and run.json's status.

Nothing lost: the output folder is locked for the whole run (a second run into it is refused
at once, naming the first); nothing is written into it before the first iteration's save;
a rerun into a folder that holds a finished result writes into ``OUTPUT_DIR/unfinished/``
and moves its files over the earlier result only once it has finished, so an interrupted
rerun leaves the finished result (and its run.json) as they were. Temporary files and a
"running" run.json left by a killed run are cleaned up (and reported) by the next run.

Names: ``<i>.png`` for the image saved at step i (:func:`step_image`, matched by
:data:`STEP_IMAGE`), ``generated_image.png`` and the course's ``generated_image.jpg`` for
the final image (:data:`~nst_tf1.preflight.FINAL_PNG`, :data:`~nst_tf1.preflight.FINAL_IMAGE`),
``run.json`` (:data:`~nst_tf1.record.RUN_FILE`).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from typing import TYPE_CHECKING, Any, Callable

from . import events, images
from .images import remove_temporaries
from .lock import LOCK_FILE, FileLock, lock_holder
from .preflight import (
    FINAL_IMAGE,
    FINAL_PNG,
    PreflightError,
    interrupted_at,
    interrupted_signature,
)
from .record import RUN_FILE, mark_killed

if TYPE_CHECKING:
    from .optimize import NonFiniteCostError

__all__ = [
    "UNFINISHED_DIR",
    "STEP_IMAGE",
    "step_image",
    "lock_output_dir",
    "clean_up",
    "check_staging_folder",
    "jobs_to_run",
    "JobFolder",
    "final_files",
    "saved_costs",
    "save_last_finite",
    "record_status",
    "move_into_place",
]

#: Where a rerun into a folder holding a finished result writes until it finishes.
UNFINISHED_DIR = "unfinished"

#: The file name of an image saved at a step: ``<step>.png``.
STEP_IMAGE = re.compile(r"\d+\.png")


def step_image(step: int) -> str:
    """The file name of the image saved at ``step``: ``"<step>.png"``."""
    return f"{step}.png"


def lock_output_dir(out: str, report: Callable[[events.Event], object]) -> FileLock:
    """Take the output folder's lock (refusing at once if another run holds it); say so
    when a killed run held it (the caller then cleans up with :func:`clean_up`)."""
    try:
        lock = FileLock(os.path.join(out, LOCK_FILE), f"output folder {out} is in use by").acquire()
    except OSError as exc:
        raise PreflightError(
            f"{out}: output directory is not writable ({exc.strerror or exc})"
        ) from None
    if lock.stale:
        pid = lock.stale.get("pid", "?")
        report(
            events.Note(
                "killed-run-found",
                f"An earlier run into {out} (pid {pid}) was killed; cleaning up after it",
                "note",
                {"folder": out, "pid": pid},
            )
        )
    return lock


def clean_up(out: str, report: Callable[[events.Event], object]) -> None:
    """After a killed run in ``out``: finish moving a finished rerun into place, remove
    temporary files, mark a "running" run.json "killed"; say what was done.

    Raises:
        PreflightError: ``out/unfinished`` is a symbolic link or not a folder: the run's
            staging folder is its own, and whatever a user put there is left alone.
    """
    unfinished = os.path.join(out, UNFINISHED_DIR)
    check_staging_folder(unfinished)
    if record_status(unfinished) == "finished":
        move_into_place(unfinished, out)
        report(
            events.Note(
                "rerun-moved",
                f"Moved the finished rerun in {unfinished} over the earlier "
                f"result in {out} (its run was killed while moving it)",
                "note",
                {"from": unfinished, "to": out},
            )
        )
    for folder in (out, unfinished):
        removed = remove_temporaries(folder)
        if removed:
            report(
                events.Note(
                    "temporaries-removed",
                    f"Removed {len(removed)} temporary file(s) a killed run "
                    f"left in {folder}: {', '.join(removed)}",
                    "note",
                    {"folder": folder, "files": list(removed)},
                )
            )
        if mark_killed(folder):
            record = os.path.join(folder, RUN_FILE)
            report(
                events.Note(
                    "killed-run-marked",
                    f"{record} said 'running', but its run was killed: marked it 'killed'",
                    "note",
                    {"record": record},
                )
            )


def check_staging_folder(unfinished: str) -> None:
    """Refuse an ``unfinished`` that is a symbolic link or not a folder (see :func:`clean_up`)."""
    if os.path.islink(unfinished):
        what = "a symbolic link"
    elif os.path.lexists(unfinished) and not os.path.isdir(unfinished):
        what = "not a folder"
    else:
        return
    raise PreflightError(
        f"{unfinished}: is {what}, where a rerun keeps its files until it finishes; "
        "not touching it: move it away"
    )


def jobs_to_run(
    jobs: list, batch: bool, overwrite: bool, report: Callable[[events.Event], object]
) -> list:
    """The jobs to run: in a batch, a pair whose result exists is skipped (unless
    --overwrite) and one saved by an interrupted run is rerun."""
    for job in jobs:
        if batch and lock_holder(os.path.join(job.out, LOCK_FILE)) is not None:
            continue  # another run works there: its files are its own (see the run's pair lock)
        clean_up(job.out, report)
    if not batch:
        return jobs
    todo = []
    for job in jobs:
        final = os.path.join(job.out, FINAL_IMAGE)
        if not os.path.exists(final):
            todo.append(job)
            continue
        stopped = interrupted_at(final)
        if stopped is not None:
            report(
                events.Note(
                    "pair-rerun",
                    f"Rerunning {job.out}: its generated_image.jpg was "
                    f"interrupted at iteration {stopped}",
                    data={"folder": job.out, "step": stopped},
                )
            )
            todo.append(job)
        elif overwrite:
            report(
                events.Note(
                    "pair-replaced",
                    f"Replacing {job.out}: generated_image.jpg exists (--overwrite)",
                    data={"folder": job.out},
                )
            )
            todo.append(job)
        else:
            report(
                events.Note(
                    "pair-exists",
                    f"Skipping {job.out}: generated_image.jpg exists (--overwrite reruns it)",
                    data={"folder": job.out},
                )
            )
    return todo


def final_files(folder: str) -> list[str]:
    """The final image's files in ``folder``, in the order they are written: the lossless
    generated_image.png, then the course's generated_image.jpg."""
    return [os.path.join(folder, FINAL_PNG), os.path.join(folder, FINAL_IMAGE)]


class JobFolder:
    """What one job has done so far: for its saves, its record and its error messages.

    ``folder`` is where the job writes (the output folder, or its ``unfinished`` folder
    when ``previous``, the finished result there, must stay until the job finishes).
    """

    def __init__(self, folder, previous=None):
        self.folder, self.previous = folder, previous
        self.final = self.writing = os.path.join(folder, FINAL_IMAGE)
        self.signature = self.record = self.step = self.stopped = None
        self.done, self.finished = 0, False
        self.evaluations = 0  # steps of the output scale so far
        self.final_saved = []  # the final_files written so far (finished, or a stop's)

    def save(self, path, image, comment=None):
        self.writing = path
        os.makedirs(self.folder, exist_ok=True)  # only now: nothing before the first save
        images.save_image(path, image, comment=comment)

    def save_final(self, image, comment):
        """Write the final image's files (:func:`final_files`), each atomically; each is
        listed in ``final_saved`` once written."""
        for path in final_files(self.folder):
            self.save(path, image, comment)
            self.final_saved.append(path)

    def record_write(self, write):
        self.writing = self.record.path
        write()

    @property
    def final_recorded(self):
        """Whether run.json on disk records a final image (finished, or a stop's): the
        record takes one only once the file holds it (:meth:`nst_tf1.record.RunRecord.finish`)."""
        return self.record is not None and "final" in self.record.data

    def interrupt(self, status="interrupted", write=False):
        """Record how the job ended; whether run.json says so (or was never written)."""
        if self.record is None:
            return True
        if write:
            os.makedirs(self.folder, exist_ok=True)
        return self.record.interrupt(status, write=write)

    def kept(self):
        """The end of a message about an unfinished rerun: the earlier result is kept."""
        if not self.previous:
            return ""
        return f"; the finished result {self.previous} and its run.json are kept as they were"


def saved_costs(folder: str, size: tuple, evaluate: Callable, scale: Any = None) -> dict:
    """File name -> ``evaluate(image)`` (J, J_content, J_style) of each of
    :func:`final_files`, read back at ``size``, or resized to the size of ``scale`` (a
    coarser scale's :class:`~nst_tf1.transfer.Progress`: the costs are that scale's)."""
    saved = {}
    for path in final_files(folder):
        rgb = images.load_image(path, *size)
        if scale is not None:
            rgb = images.resize_array(rgb, scale.height, scale.width)
        saved[os.path.basename(path)] = evaluate(rgb)
    return saved


def record_status(folder: str) -> str | None:
    """The ``status`` of ``folder/run.json``, or ``None``."""
    try:
        with open(os.path.join(folder, RUN_FILE), encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    return data.get("status") if isinstance(data, dict) else None


def move_into_place(unfinished: str, out: str) -> None:
    """Move a finished rerun's files from ``unfinished`` over the earlier result in ``out``.

    The earlier run's saved images that the rerun did not save again go first (they belong
    to the record being replaced), then the rerun's images, ``generated_image.jpg``, and
    ``run.json`` last; ``unfinished`` is removed at the end. Each step is a rename, and a run
    killed halfway is completed by the next one (``unfinished/run.json`` says "finished"
    until the very end).
    """
    names = set(os.listdir(unfinished))
    try:
        with open(os.path.join(out, RUN_FILE), encoding="utf-8") as f:
            earlier = [entry.get("file") for entry in json.load(f).get("saves", [])]
    except (OSError, ValueError, AttributeError):
        earlier = []
    for name in earlier:
        if isinstance(name, str) and STEP_IMAGE.fullmatch(name) and name not in names:
            with contextlib.suppress(FileNotFoundError):
                os.remove(os.path.join(out, name))
    last = [name for name in (FINAL_IMAGE, RUN_FILE) if name in names]
    for name in sorted(names - set(last)) + last:
        os.replace(os.path.join(unfinished, name), os.path.join(out, name))
    os.rmdir(unfinished)


def save_last_finite(exc: NonFiniteCostError, final: str, signature: str) -> bool:
    """Write the last finite image of a :class:`NonFiniteCostError`; whether it was written.

    The image is marked as a stopped run (like an interrupted one), so a batch reruns it.
    """
    if exc.last_finite is None:
        return False
    comment = interrupted_signature(signature, exc.last_finite.iteration)
    try:
        for path in final_files(os.path.dirname(final)):
            images.save_image(path, exc.last_finite.image, comment=comment)
    except OSError:
        return False
    return True
