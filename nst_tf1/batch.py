"""What a batch adds to a run: each pair's folder lock and the contact sheet.

A batch (a directory of contents or of styles, :mod:`nst_tf1.plan`) runs its pairs one
after the other, each in a folder of its own under the output folder. While a pair works
it holds its folder's lock (:func:`pair_lock`), so that a single run into that folder, or
the same batch started again, leaves it alone. After every pair, finished, failed or
stopped, the batch's contact sheet is written again (:class:`ContactSheet`,
:mod:`nst_tf1.contact_sheet`). Nothing here prints.
"""

from __future__ import annotations

import contextlib
import os
from typing import Callable

from . import events
from .contact_sheet import write_contact_sheet
from .errors import InputError, RunFailed
from .lock import LOCK_FILE, FileLock, LockBusy

__all__ = ["ContactSheet", "pair_lock"]


@contextlib.contextmanager
def pair_lock(folder: str, steps: int, report: Callable[[events.Event], object]):
    """Hold the lock of a batch pair's folder while working in it.

    A single run into that folder is then refused, as a second run into any folder in use
    is; and a pair whose folder another run holds is skipped with a note naming it, its
    files left alone.

    Args:
        folder: the pair's output folder (created if missing; removed again if it is still
            empty at the end: the pair stopped before its first save).
        steps: the pair's steps, reported as skipped when it is.
        report: the run's ``report``.

    Yields:
        bool: whether the pair is free to run.

    Raises:
        nst_tf1.errors.RunFailed: the folder cannot be created.
    """
    created = not os.path.isdir(folder)
    try:
        os.makedirs(folder, exist_ok=True)
        lock = FileLock(
            os.path.join(folder, LOCK_FILE),
            f"Skipping {folder}: it is in use by",
            "the same batch run again once it has ended does this pair",
        ).acquire()
    except LockBusy as exc:
        report(events.StepsSkipped(steps))
        report(events.Note("pair-busy", str(exc), "note", {"folder": folder}))
        yield False
        return
    except OSError as exc:
        raise RunFailed(f"cannot write {folder} ({exc.strerror or exc})") from None
    try:
        yield True
    finally:
        lock.release()
        if created:
            with contextlib.suppress(OSError):
                os.rmdir(folder)  # only when empty: the pair stopped before its first save


class ContactSheet:
    """A batch's index.html and contact_sheet.png, written again after every pair.

    Args:
        output_dir: the batch's output folder.
        report: the run's ``report``.
    """

    def __init__(self, output_dir: str, report: Callable[[events.Event], object]):
        self.output_dir, self.report = output_dir, report
        self.files = None  # (index.html, contact_sheet.png), once written
        self.failed = False

    def write(self) -> None:
        """Write (again) the contact sheet; one that cannot be written is said once and
        does not stop the batch."""
        try:
            self.files = write_contact_sheet(self.output_dir)
        except InputError:  # no pair has a run.json yet
            pass
        except OSError as exc:
            if not self.failed:
                self.failed = True
                self.report(
                    events.Note(
                        "contact-sheet-failed",
                        f"cannot write the contact sheet into {self.output_dir} "
                        f"({exc.strerror or exc}); the pairs' folders are not affected",
                        "note",
                    )
                )

    def report_written(self) -> None:
        """Say where the contact sheet is, once it has been written."""
        if self.files is not None:
            html, png = self.files
            self.report(
                events.Note(
                    "contact-sheet",
                    f"Contact sheet of the batch: {html} and {png}",
                    data={"html": html, "png": png},
                )
            )
