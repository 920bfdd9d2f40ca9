"""Process set-up: what a program (the command line, a web server's worker) does to its own
process before a run, and the library never does.

A Python caller of :func:`nst_tf1.run` or of the course's functions gets none of this: its
signal handlers, ``sys.stderr`` and file descriptor 2, ``GLIBC_TUNABLES``, malloc and the
garbage collector stay as they were. A front end that owns its process calls
:func:`set_up` once, before any work, and :func:`tensorflow_started` once TensorFlow is
imported (the command line does so when the run reports its device line), and keeps
TensorFlow's start-up noise off the terminal with :class:`QuietStart`.

* **malloc**: glibc's tunables (:func:`restart`, for the command itself: it starts again
  with them, :mod:`nst_tf1.allocator`) and an arena cap (:func:`limit_malloc_arenas`).
* **TensorFlow's log noise, and Keras**: :class:`QuietStart` around TensorFlow's start
  (the command line opens it when the run reports :class:`~nst_tf1.events.Loading` of
  TensorFlow and closes it at the device line), and :func:`import_tensorflow` for a command
  that imports TensorFlow itself.
* **TensorFlow's Python warnings** and **the garbage collector**: :func:`tensorflow_started`.

* **Signals**: :class:`SignalStop` turns SIGINT/SIGTERM into a run's ``should_stop`` (the
  command line's, and a script's that wants Ctrl-C to keep the current image).
"""

from __future__ import annotations

import gc
import os
import signal
import sys
import tempfile
import threading
from typing import Any

__all__ = [
    "restart",
    "set_up",
    "release_held_signals",
    "StartPresses",
    "SignalStop",
    "limit_malloc_arenas",
    "QuietStart",
    "import_tensorflow",
    "tensorflow_started",
    "freeze_imported_objects",
    "SKIPPED_AT_START",
]

_frozen = False
#: Set in the environment of the process :func:`restart` starts again with SIGINT/SIGTERM held.
_HELD = "NST_TF1_SIGNALS_HELD"


def restart() -> None:
    """Start the command again with glibc's malloc tunables, SIGINT/SIGTERM held over the
    ``exec`` (see :func:`nst_tf1.allocator.reexec_with_tunables`; this call does not return
    then). For the command itself alone, never a caller of ``main()``.

    Called before anything starts a thread (the command line calls it before its parser
    imports NumPy, whose OpenBLAS starts one): the signals are blocked on the calling thread
    only, and a press the kernel gave another thread would be noted there by Python and
    then erased by the ``exec``. Nothing happens where signals cannot be held
    (``signal.pthread_sigmask`` is POSIX's; the restart is Linux's alone anyway).
    """
    if not hasattr(signal, "pthread_sigmask"):  # Windows
        return
    from .allocator import reexec_with_tunables

    # SIGINT/SIGTERM are held (blocked) over the restart: the new process starts with them
    # pending, and :func:`release_held_signals` lets them in once Python is up, where the
    # command turns them into one line (not a traceback, not a lost press).
    held = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    os.environ[_HELD] = "1"
    try:
        # A press not acted on (its delivery put off by StartPresses, or its
        # KeyboardInterrupt swallowed) would die with this process: made pending on this
        # (blocking) thread instead, it outlives the exec too.
        pending = StartPresses.not_acted_on()
        if pending is not None:
            signal.pthread_kill(threading.get_ident(), pending)
        reexec_with_tunables()  # returns only when the process was not started again
    finally:
        os.environ.pop(_HELD, None)
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def set_up() -> None:
    """Set this process up for runs: malloc's arenas.

    (Until benchmarks/ round 17 this also gave SciPy's OpenBLAS one thread, for SciPy's
    L-BFGS-B; :mod:`nst_tf1.lbfgs` calls no BLAS, and a run no longer loads SciPy's copy.)"""
    limit_malloc_arenas()


def release_held_signals() -> None:
    """In the process :func:`restart` started again: unblock the SIGINT/SIGTERM held over the
    restart (a signal sent meanwhile is delivered now). Does nothing in any other process."""
    if os.environ.pop(_HELD, None) == "1":
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})


class StartPresses:
    """Ctrl-C before the command's own handlers, remembered.

    Python's own SIGINT handler raises ``KeyboardInterrupt`` wherever the main thread is; a C
    extension being imported at that moment can turn it into an ``ImportError`` (numpy's:
    ``PyCapsule_Import could not import module "datetime"``). :meth:`install` puts a handler
    in its place that raises the same ``KeyboardInterrupt`` and remembers the press in
    :attr:`signum`, so that the command can tell such an error from a broken install.

    A press that lands while Python runs a callback it cannot raise from (a weak reference's
    callback, such as the one importlib's module locks use, or a ``__del__``) would be
    printed as "Exception ignored in ..." with a traceback and then lost; found by the fault
    suite (a Ctrl-C 0.05 s after the start). The handler's ``KeyboardInterrupt`` is
    recognised there (``sys.unraisablehook``) and the press delivered again 10 ms later,
    from a timer thread (``_thread.interrupt_main``), once the callback has returned: an
    interrupt like any other. Anything else unraisable goes to the hook that was in place.
    A restart (:func:`restart`) within those 10 ms would end the timer with the process; it
    takes the press over (:meth:`hand_over`) and keeps it pending over the ``exec`` (found
    by the fault suite: a Ctrl-C 0.3 s after the start lost, and the run finished).

    A press whose ``KeyboardInterrupt`` something caught and dropped (an optional import's
    ``except ImportError: pass``, after a C extension turned the interrupt into an import
    error) is remembered all the same: :meth:`hand_over` gives it back too, to the restart
    and to the command's own handlers when they take over (found by the fault suite too:
    a Ctrl-C 0.2 s after the start lost, exit 0; tests/startup_pause reproduces it).
    """

    #: The watcher :meth:`install` put in place last (a process has one SIGINT handler).
    active: StartPresses | None = None

    def __init__(self):
        self.signum: int | None = None
        self._raised: KeyboardInterrupt | None = None
        self._again: Any = None  # the timer that delivers a press again, until it has
        self._lock = threading.Lock()

    def _handle(self, signum, frame):
        self.signum = signum
        self._raised = KeyboardInterrupt()
        raise self._raised

    def _unraisable(self, unraisable, previous):
        if unraisable.exc_value is not None and unraisable.exc_value is self._raised:
            # Delivered again from another thread a moment later: from this thread it would
            # run the handler at once, inside this hook, and be unraisable again.
            self._raised = None
            with self._lock:
                self._again = threading.Timer(0.01, self._deliver_again)
                self._again.daemon = True
                self._again.start()
            return
        previous(unraisable)

    def _deliver_again(self):
        import _thread

        with self._lock:
            if self._again is None:  # handed over
                return
            self._again = None
        _thread.interrupt_main()  # SIGINT, as the press

    def hand_over(self) -> int | None:
        """Take back a press nothing acted on: one whose second delivery is still waiting, or
        one whose ``KeyboardInterrupt`` was caught and dropped. (A press acted on ended the
        command's start, which then never asks.) For a process about to be replaced by
        ``exec`` (the caller makes the signal pending where it outlives the ``exec``) and
        for the command's own handlers as they take over.

        Returns:
            int | None: the press's signal number, or None when there was none.
        """
        with self._lock:
            timer, self._again = self._again, None
            signum, self.signum = self.signum, None
        if timer is not None:
            timer.cancel()
            signum = signal.SIGINT
        return signum

    @classmethod
    def not_acted_on(cls) -> int | None:
        """:meth:`hand_over` of the :attr:`active` watcher (None when there is none): for the
        command's own handlers as they take over."""
        return cls.active.hand_over() if cls.active is not None else None

    @classmethod
    def install(cls) -> StartPresses:
        """A new watcher, handling SIGINT from now on (on the main thread; elsewhere it only
        never sees a press)."""
        presses = cls.active = cls()
        if threading.current_thread() is threading.main_thread():
            previous = sys.unraisablehook
            sys.unraisablehook = lambda unraisable: presses._unraisable(unraisable, previous)
            signal.signal(signal.SIGINT, presses._handle)
        return presses


class SignalStop:
    """SIGINT and SIGTERM (Ctrl-C, ``kill``) as a run's ``should_stop``, for a program that
    owns its process: the command line, or a script or notebook that calls
    :func:`nst_tf1.run`, which changes no signal handler itself::

        with SignalStop() as stop:  # Ctrl-C: stop after the current step, keeping the image
            run(settings, report=print, should_stop=stop)

    While ``saving`` is true the first signal only records itself: the run polls this
    object, ends after its current step with the current image saved (or, before the first
    step, at its next check, with nothing saved). While it is false (the command line's
    until the first step, when there is nothing to save) a signal raises
    :class:`~nst_tf1.errors.Interrupted` at once, wherever the run is. A second signal always
    does: the run stops without saving the current image, as a second Ctrl-C does on the
    command line. :meth:`follow`, given the run's events, sets ``saving`` as the command
    line does. The handlers are installed on entering, on the main thread only (elsewhere
    this never answers true), and the previous ones are restored on leaving.

    The presses are counted, not the handler's calls: Python runs a handler once for all the
    signals of one number that arrived while the main thread was inside TensorFlow (one
    step), so two Ctrl-C within one step would read as one. Its C handler also writes a byte
    per signal to the wake-up file descriptor (:func:`signal.set_wakeup_fd`), which the
    handler reads.

    Args:
        saving: the starting value of ``saving``.
    """

    def __init__(self, saving: bool = True) -> None:
        self.signum: signal.Signals | None = None
        self.saving = saving
        self._previous: dict[int, Any] = {}
        self._wakeup: tuple[int, int] | None = None
        self._previous_wakeup = -1

    def __call__(self) -> signal.Signals | None:
        return self.signum

    def follow(self, event: Any) -> None:
        """Set ``saving`` from one of the run's events: true from a pair's first step on,
        false again when a pair of a batch begins (it has nothing to save yet)."""
        from . import events

        if isinstance(event, events.StepDone):
            self.saving = True
        elif isinstance(event, events.PairBegun):
            self.saving = False

    def _presses(self) -> int:
        """How many SIGINT/SIGTERM arrived since the last call (at least one: this one)."""
        count = 0
        if self._wakeup is not None:
            try:
                while True:
                    data = os.read(self._wakeup[0], 512)
                    if not data:
                        break
                    count += sum(byte in (signal.SIGINT, signal.SIGTERM) for byte in data)
            except (BlockingIOError, InterruptedError):
                pass
        return max(count, 1)

    def _handle(self, signum, frame):
        from .errors import Interrupted

        presses = self._presses()
        if not self.saving or self.signum is not None or presses > 1:
            raise Interrupted(signum)
        self.signum = signal.Signals(signum)

    def __enter__(self) -> SignalStop:
        if threading.current_thread() is threading.main_thread():
            read, write = os.pipe()
            os.set_blocking(read, False)
            os.set_blocking(write, False)
            try:
                self._previous_wakeup = signal.set_wakeup_fd(write, warn_on_full_buffer=False)
                self._wakeup = (read, write)
            except ValueError:  # not the main interpreter
                os.close(read)
                os.close(write)
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> bool:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous = {}
        if self._wakeup is not None:
            signal.set_wakeup_fd(self._previous_wakeup)
            for fd in self._wakeup:
                os.close(fd)
            self._wakeup = None
        return False


def limit_malloc_arenas(arenas: int = 2) -> None:
    """Cap glibc's malloc arenas (what ``MALLOC_ARENA_MAX=2`` does), where glibc is the libc.

    By default glibc gives each thread that allocates its own arena, up to 8 per core; the
    per-iteration image copies then fragment them, and a 300x400 run's resident memory creeps
    up by ~40-80 MB over 200 iterations (measured: peak 1288 MB after 20 iterations, 1249 MB
    with 2 arenas, at the same speed). Must run before TensorFlow starts its threads; does
    nothing on other C libraries.
    """
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    M_ARENA_MAX = -8  # from glibc's malloc.h
    mallopt(M_ARENA_MAX, arenas)


#: Packages that ``import tensorflow`` loads though no run uses them, kept out of a program's
#: TensorFlow start by :class:`QuietStart`. TensorFlow's ``__init__`` imports Keras
#: eagerly (``keras.src.optimizers``, and through Keras ``matplotlib.pyplot`` when matplotlib
#: is installed; ``tf_keras`` with ``TF_USE_LEGACY_KERAS=1``) inside a ``try`` that passes on
#: ``ImportError``, as its older releases did around ``keras._load()``; nothing here uses
#: Keras, and ``tf.keras`` stays a lazy loader that imports it on first use. Measured on the
#: AMD EPYC of benchmarks/README.md: ``import tensorflow.compat.v1`` 3.5-4.3 s, 2.8-2.9 s
#: without.
SKIPPED_AT_START = ("keras", "tf_keras")


class QuietStart:
    """TensorFlow's start as a program wants it in its own process: what TensorFlow's C++ code
    logs while it starts kept off the terminal, and :data:`SKIPPED_AT_START` not imported.

    TensorFlow logs at import and device discovery (oneDNN notices, CUDA probing on a machine
    without a GPU) before it reads ``TF_CPP_MIN_LOG_LEVEL``, and setting that variable from
    inside the process does not stop those lines. Between :meth:`start` and :meth:`stop`,
    file descriptor 2 goes to a temporary file, shown only if the start failed
    (``stop(failed=True)``); nothing else may write to standard error meanwhile. The
    variable is set to 2 for what TensorFlow logs later. A user who sets
    ``TF_CPP_MIN_LOG_LEVEL`` gets TensorFlow's own behaviour, and so does a process that has
    imported TensorFlow already: both calls then do nothing.

    Between :meth:`start` and :meth:`stop` an import of a package of :data:`SKIPPED_AT_START`
    fails (its ``sys.modules`` entry is ``None``, Python's way to refuse one), so
    TensorFlow's import leaves it out; :meth:`stop` takes the entries away again, and a later
    ``import keras`` or ``tf.keras`` works as usual.
    """

    def __init__(self) -> None:
        self._saved = self._captured = None
        self._skipped: list[str] = []

    def start(self) -> None:
        if "tensorflow" in sys.modules:
            return
        self._skipped = [name for name in SKIPPED_AT_START if name not in sys.modules]
        for name in self._skipped:
            sys.modules[name] = None  # type: ignore[assignment]
        if "TF_CPP_MIN_LOG_LEVEL" in os.environ:
            return
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
        sys.stderr.flush()
        # In this order, so that a Ctrl-C anywhere in it (the command's handler raises
        # wherever Python is, tempfile's first call included) leaves what :meth:`stop` can
        # undo: found by the fault suite, a press there made stop() raise a TypeError.
        self._captured = tempfile.TemporaryFile()
        self._saved = os.dup(2)
        os.dup2(self._captured.fileno(), 2)

    def stop(self, failed: bool = False) -> None:
        """Undo :meth:`start`, or as much of it as was done; ``failed``: show what was
        captured."""
        for name in self._skipped:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]
        self._skipped = []
        saved, captured, self._saved, self._captured = self._saved, self._captured, None, None
        if saved is not None:
            os.dup2(saved, 2)
            os.close(saved)
        if captured is not None:
            with captured:
                if failed and saved is not None:
                    captured.seek(0)
                    sys.stderr.write(captured.read().decode(errors="replace"))


def import_tensorflow() -> Any:
    """Import ``tensorflow.compat.v1`` quietly (:class:`QuietStart`), for a command that
    imports TensorFlow itself; the first import also calls :func:`freeze_imported_objects`.

    Returns:
        the ``tensorflow.compat.v1`` module, v2 behaviour disabled.
    """
    from .tf1 import graph_mode

    quiet = QuietStart()
    quiet.start()
    try:
        import tensorflow.compat.v1 as tf

        tf.config.list_physical_devices()
    except Exception:  # an interrupt is not an import failure: no log dump
        quiet.stop(failed=True)
        raise
    finally:
        quiet.stop()
    tensorflow_started()  # before graph mode, whose deprecation warnings it turns off
    return graph_mode()


def tensorflow_started() -> None:
    """Once TensorFlow is imported: its Python warnings (deprecations) off, errors only, and
    :func:`freeze_imported_objects`."""
    import tensorflow.compat.v1 as tf

    tf.logging.set_verbosity(tf.logging.ERROR)
    freeze_imported_objects()


def freeze_imported_objects() -> None:
    """Freeze the garbage collector's view of the process once, after TensorFlow's import.

    TensorFlow's modules leave about 330,000 tracked objects, all alive until exit, and every
    full collection traverses them, including the ones the interpreter runs at shutdown
    (0.8 s of every run's exit on the benchmark machine; 0.07 s once frozen). ``gc.freeze``
    moves every object tracked so far to the permanent generation, which collections skip;
    objects created later are collected as usual. Later calls do nothing.
    """
    global _frozen
    if not _frozen and "tensorflow" in sys.modules:
        gc.freeze()
        _frozen = True
