"""The page's runs: one at a time, each in a worker process, its history kept for the page.

:class:`Jobs` starts a run (:mod:`nst_tf1.serve.worker` in a process of its own), keeps every
event the run sends (so a page opened in the middle of a run replays it) and the latest
preview image, stops it on request, and notices a worker that died without a word (killed,
out of memory) as a failed run. A second Start while a run goes on is refused.
"""

from __future__ import annotations

import contextlib
import datetime
import multiprocessing
import os
import threading
import time

__all__ = ["Busy", "Job", "Jobs", "new_run_folder"]

#: What a worker that died without reporting its end is said to have done.
_DIED = "the run's process ended unexpectedly ({how}); the server is still running"
#: What a run hurried by a second Ctrl-C is said to have done when its process ended without
#: a word (killed before it could handle the signal, or held past HURRIED_WAIT).
_HURRIED = "interrupted by SIGINT again; the run's process was ended before it said what it kept"
#: The events that end a run -> its status after them.
_END_STATUS = {"Finished": "finished", "Stopped": "stopped", "Failed": "failed"}
#: How long a run hurried by a second Ctrl-C has to end before its process is killed
#: (seconds): it ends at its next Python instruction, unless TensorFlow holds it.
HURRIED_WAIT = 10.0


class Busy(Exception):
    """A run is already going on."""


def new_run_folder(output_dir: str) -> str:
    """A new, empty folder for one run under ``output_dir`` (created, with ``output_dir``
    itself if need be), its path: ``run-YYYYMMDD-HHMMSS`` (UTC), with ``-2``, ``-3`` ...
    when that exists.

    Choosing is creating (``os.mkdir`` fails on a name that exists, whoever made it): two
    servers sharing ``output_dir``, or two jobs, never get the same folder in the same
    second. Nothing is written into it before the run's first save; a run that ends before
    it leaves it empty, and its job removes it.

    Raises:
        OSError: ``output_dir`` cannot be created or written to, or no name is free.
    """
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("run-%Y%m%d-%H%M%S")
    os.makedirs(output_dir, exist_ok=True)
    for number in range(1, 1000):
        name = stamp if number == 1 else f"{stamp}-{number}"
        path = os.path.join(output_dir, name)
        try:
            os.mkdir(path)
        except FileExistsError:
            continue
        return path
    raise OSError(f"cannot find a free run folder name in {output_dir}")


def _remove_if_empty(folder: str) -> None:
    """Remove a run's folder that holds nothing (a run that ended before its first save)."""
    with contextlib.suppress(OSError):
        os.rmdir(folder)


class Job:
    """One run: its folder, settings, worker process, events and latest preview.

    Attributes:
        id: the folder's name.
        events: every event the run reported, as dicts, each with a ``seq`` number.
        preview: (seq, step, PNG bytes) of the latest preview, or ``None``.
        status: "running", "finished", "stopped" or "failed".
    """

    def __init__(self, folder: str, fields: dict):
        self.folder = folder
        self.id = os.path.basename(folder)
        self.fields = fields
        self.events: list[dict] = []
        self.preview: tuple[int, int, bytes] | None = None
        self.status = "running"
        self.started = time.time()
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self.stop_requested = False
        self._hurried = False
        self._seq = 0
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        from . import worker

        self.process = context.Process(
            target=worker.main, args=(child, fields), name=f"nst-tf1 run {self.id}"
        )
        self.process.start()
        child.close()
        self._reader = threading.Thread(target=self._read, name=f"events {self.id}", daemon=True)
        self._reader.start()

    def _add(self, data: dict, status: str | None = None) -> None:
        """Keep one event; ``status``: the run's new status, set with it, so that a reader
        who saw the run ended finds its end among the events."""
        with self.lock:
            if status is not None:
                self.status = status
            self._seq += 1
            self.events.append({"seq": self._seq, **data})
            self.changed.notify_all()

    def _read(self):
        """Receive the worker's messages until it ends; then make sure the run has an end."""
        ended = False
        while True:
            try:
                message = self._conn.recv()
            except (EOFError, OSError):
                break
            kind = message[0]
            if kind == "event":
                data = message[1]
                status = _END_STATUS.get(data["type"])
                ended = ended or status is not None
                self._add(data, status)
            elif kind == "preview":
                _, step, png = message
                with self.lock:
                    self._seq += 1
                    self.preview = (self._seq, step, png)
                    self.events.append({"seq": self._seq, "type": "Preview", "step": step})
                    self.changed.notify_all()
        self.process.join()
        if not ended and self._hurried:  # ended by the server, before it could say how
            end = {"type": "Stopped", "kept": None, "step": None, "text": _HURRIED}
            self._add({**end, "signal": "SIGINT"}, "stopped")
        elif not ended:
            code = self.process.exitcode
            how = f"exit status {code}"
            if code is not None and code < 0:
                how = f"killed by signal {-code}; out of memory?"
            self._add(
                {"type": "Failed", "text": _DIED.format(how=how), "kept": None, "kind": "run"},
                "failed",
            )
        self._conn.close()
        _remove_if_empty(self.folder)

    @property
    def running(self) -> bool:
        return self.status == "running"

    def since(self, seq: int) -> list[dict]:
        """The events after ``seq`` (event ``n`` has seq ``n``, counted from 1)."""
        with self.lock:
            return self.events[max(seq, 0) :]

    def wait(self, seq: int, timeout: float) -> None:
        """Wait until there is an event after ``seq`` (or ``timeout`` seconds pass)."""
        with self.lock:
            if not (self.events and self.events[-1]["seq"] > seq):
                self.changed.wait(timeout)

    def stop(self) -> None:
        """Ask the run to stop (it keeps the current image); repeated requests do nothing."""
        if self.stop_requested or not self.running:
            return
        self.stop_requested = True
        try:
            self._conn.send("stop")
        except (OSError, EOFError, BrokenPipeError):
            pass

    def hurry(self) -> None:
        """Stop the run at once, without saving the current image, as a second Ctrl-C stops
        a command-line run (the worker's SIGTERM handler); repeated requests do nothing."""
        if self._hurried or not self.running:
            return
        self._hurried = True
        self.process.terminate()

    def closed_end(self) -> dict:
        """The end an event stream sends for this run when the server closes before the run
        has reported its own (still starting: TensorFlow can take longer to load than the
        streams wait): stopped because the server closed, with what it saved so far. Not one
        of the run's events: its own end follows in its history and run.json."""
        saved = [event["path"] for event in self.since(0) if event["type"] == "ImageSaved"]
        kept = saved[-1] if saved else None
        what = f"kept the images saved so far, the last {kept}" if kept else "nothing saved"
        text = f"stopped because the server closed before the run had ended; {what}"
        return {"type": "Stopped", "kept": kept, "step": None, "text": text, "signal": None}

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the run's end; whether it ended."""
        self._reader.join(timeout)
        return not self._reader.is_alive()

    def summary(self) -> dict:
        return {"id": self.id, "status": self.status, "started": self.started}


class Jobs:
    """One run at a time under ``output_dir``."""

    def __init__(self, output_dir: str):
        self.output_dir = output_dir
        self.current: Job | None = None
        self.lock = threading.Lock()
        self._shut_down: Job | None = None  # the run stopped by the server's shutdown

    def start(self, fields: dict) -> Job:
        """Start a run of the :class:`~nst_tf1.settings.Settings` ``fields`` in a new folder
        (``output_dir`` is set here).

        Raises:
            Busy: a run is going on.
        """
        with self.lock:
            if self.current is not None and self.current.running:
                raise Busy(f"a run is going on ({self.current.id}): stop it or wait for it to end")
            # A run that has reported its end may still be closing its process: one at a time
            # holds until that process is gone.
            if self.current is not None and not self.current.join(30):
                raise Busy(f"the run {self.current.id} is still closing; try again in a moment")
            folder = new_run_folder(self.output_dir)
            try:
                self.current = Job(folder, {**fields, "output_dir": folder})
            except BaseException:
                _remove_if_empty(folder)
                raise
            return self.current

    def stop_for_shutdown(self, hurry: bool = False) -> Job | None:
        """Ask the current run to stop, as the server shuts down; the job, if one was running
        when this was first asked (the event streams ask first, to send the pages its end).
        With ``hurry`` (a second Ctrl-C at the server) it stops at once (:meth:`Job.hurry`)."""
        if self._shut_down is None and self.current is not None and self.current.running:
            self._shut_down = self.current
            self._shut_down.stop()
        if hurry and self._shut_down is not None:
            self._shut_down.hurry()
        return self._shut_down

    def shutdown(self, timeout: float = 120.0, hurry=lambda: False) -> Job | None:
        """Stop the current run and wait for it to save; the job, if one was running.

        Once ``hurry()`` is true (a second Ctrl-C at the server) the run stops at once,
        without saving the current image, as a second Ctrl-C stops a command-line run; its
        process is killed if it has not ended :data:`HURRIED_WAIT` seconds later.
        """
        job = self.stop_for_shutdown()
        if job is None:
            return None
        deadline, hurried = time.monotonic() + timeout, False
        while True:
            if hurry() and not hurried:
                hurried = True
                self.stop_for_shutdown(hurry=True)
                deadline = min(deadline, time.monotonic() + HURRIED_WAIT)
            if job.join(0.2):
                break
            if time.monotonic() > deadline:
                job.process.kill()
                job.join(10)
                break
        return job
