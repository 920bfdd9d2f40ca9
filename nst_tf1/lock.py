"""One process at a time: an advisory lock on an output folder or a download's destination.

:class:`FileLock` takes ``fcntl.flock`` on a small lock file and writes into it who holds it
(process id, start time, command line), so that a second process is refused at once with a
line naming the first. The kernel releases the lock when its process ends, however it ends
(SIGKILL included), so a lock is never left behind by a dead process; the file itself is
removed when the lock is released, and one left by a killed process is simply taken over.

Removing a lock file is racy in general (a second process may have opened the file just
before it went); the second process therefore checks, once it holds the lock, that the path
still names the file it locked, and starts again otherwise.

:func:`folders_missing` and :func:`remove_if_empty`: the folders a run or a download is about
to create, removed again when it ends without having put anything in them.
"""

from __future__ import annotations

import datetime
import json
import os
import shlex
import sys
import time
from typing import Any

from .errors import InputError

__all__ = [
    "LOCK_FILE",
    "LockBusy",
    "FileLock",
    "lock_holder",
    "folders_missing",
    "remove_if_empty",
]

#: Name of the lock file in an output folder.
LOCK_FILE = ".nst-tf1.lock"

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no locking, as before
    fcntl = None


class LockBusy(InputError):
    """Another live process holds the lock; the message names it."""


def _holder_text(holder: dict[str, Any] | None) -> str:
    if not holder:
        return "another process"
    command = holder.get("command") or "?"
    return (
        f"another run (pid {holder.get('pid', '?')}, started {holder.get('started', '?')}: "
        f"{command})"
    )


def _read(path: str) -> dict[str, Any] | None:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.loads(f.read() or "null")
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


class FileLock:
    """An exclusive ``flock`` on ``path``, taken without waiting.

    Args:
        path: the lock file (created if missing).
        what: the start of the refusal, followed by the holder: e.g. ``"output folder out
            is in use by"``.
        advice: the end of the refusal, after the holder.

    Attributes:
        stale: what the lock file said when this process took it over from a process that
            had ended without releasing it (killed), else ``None``.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        what: str,
        advice: str = "wait for it to end, or stop it",
    ) -> None:
        self.path, self.what, self.advice = os.fspath(path), what, advice
        self.fd: int | None = None
        self.stale: dict[str, Any] | None = None

    def acquire(self) -> FileLock:
        """Take the lock or raise :class:`LockBusy` naming the holder.

        Raises:
            LockBusy: another live process holds it.
            OSError: the lock file cannot be created.
        """
        if fcntl is None:  # pragma: no cover
            return self
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                holder = _read(self.path)
                for _ in range(20):  # the holder may be writing its name just now
                    if holder:
                        break
                    time.sleep(0.01)
                    holder = _read(self.path)
                raise LockBusy(f"{self.what} {_holder_text(holder)}; {self.advice}") from None
            except BaseException:
                os.close(fd)
                raise
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)  # the holder removed the file after we opened it: take the new one
        self.stale = _read(self.path)
        holder = {
            "pid": os.getpid(),
            "started": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "command": shlex.join([os.path.basename(sys.argv[0] or "python"), *sys.argv[1:]]),
        }
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps(holder).encode("utf-8"))
        self.fd = fd
        return self

    def release(self) -> None:
        """Remove the lock file and release the lock (nothing when not held)."""
        if self.fd is None:
            return
        try:
            os.remove(self.path)
        except OSError:
            pass
        os.close(self.fd)
        self.fd = None

    def __enter__(self) -> FileLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def lock_holder(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """Who holds the lock on ``path`` now (its pid, start, command), or ``None`` when nobody
    does (no file, or a file left by a process that has ended)."""
    if fcntl is None:  # pragma: no cover
        return None
    try:
        fd = os.open(os.fspath(path), os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return _read(os.fspath(path)) or {}
    finally:
        os.close(fd)  # closing drops a shared lock we may have taken
    return None


def folders_missing(path: str) -> list[str]:
    """``path`` and those of its parent folders that do not exist (yet), deepest first: what
    a run into ``path`` (or a download into that folder) creates, and :func:`remove_if_empty`
    may remove again."""
    missing = []
    path = os.path.abspath(path)
    while not os.path.lexists(path):
        missing.append(path)
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return missing


def remove_if_empty(folders: list[str]) -> None:
    """Remove the folders of :func:`folders_missing` that are empty, deepest first, up to
    the first that is not (holds anything) or cannot be removed: a refused, failed or
    interrupted run or download leaves no empty folder it created itself, and never removes
    anything else."""
    for folder in folders:
        try:
            os.rmdir(folder)
        except OSError:
            break
