"""The command line's shared parts: its name, exit statuses, the argument parser that
reports a bad argument in one line, one-line errors and notes, the download's progress, and
the mapping of the package's errors to exit statuses. :mod:`nst_tf1.cli` (the main job) and
:mod:`nst_tf1.commands` (the other subcommands) use them; nothing else imports this.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys

__all__ = ["PROG", "EXIT_OK", "EXIT_FAILURE", "EXIT_USAGE", "Parser", "FetchProgress"]

PROG = "nst-tf1"

# Exit statuses; a signal gives 128 + its number.
EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


class HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, but wrapping only at spaces (paths such as
    models/imagenet-vgg-verydeep-19.mat stay whole) and keeping the epilog's paragraphs."""

    def _wrap(self, text, width, indent=""):
        import textwrap

        return textwrap.wrap(
            self._whitespace_matcher.sub(" ", text).strip(),
            width,
            initial_indent=indent,
            subsequent_indent=indent,
            break_on_hyphens=False,
            break_long_words=False,
        )

    def _split_lines(self, text, width):
        return self._wrap(text, width)

    def _fill_text(self, text, width, indent):
        return "\n\n".join(
            "\n".join(self._wrap(paragraph, width, indent)) for paragraph in text.split("\n\n")
        )


class Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line (no usage block)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def open_missing_streams():
    """Give a command started with standard error closed (``2>&-``) the null device there
    instead, file descriptor and Python stream both, so that it runs as it would with
    ``2>/dev/null``: Python leaves ``sys.stderr`` None then, and every write to it
    (TensorFlow's import flushes it) would end the command. (A closed standard output is
    left as it is: ``where`` says it could not answer, a run goes on without its lines.)"""
    for fd, name in ((2, "stderr"),):
        try:
            os.fstat(fd)
            closed = False
        except OSError:
            closed = True
        if closed:
            devnull = os.open(os.devnull, os.O_WRONLY)
            if devnull != fd:
                os.dup2(devnull, fd)
                os.close(devnull)
        if closed or getattr(sys, name) is None:
            setattr(sys, name, open(fd, "w", buffering=1, closefd=False))


def _say(line):
    """``line`` and its newline on stderr in one write: a Ctrl-C between the two writes
    ``print`` makes left the line open, and the interruption's note ran on after it."""
    if sys.stderr is not None:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()


def error(message, status=EXIT_USAGE):
    message = " ".join(str(message).split())  # always one line
    _say(f"{PROG}: error: {message}")
    return status


def print_answer(text):
    """Print ``text`` on standard output; False when it is closed (``>&-``) or its reader
    has gone (a broken pipe), without a traceback then, at exit either."""
    if sys.stdout is None:  # Python's stdout when the command started without one
        return False
    try:
        print(text, flush=True)
    except (OSError, ValueError):  # EPIPE, EBADF; ValueError: the file object is closed
        drop_stdout()
        return False
    return True


def drop_stdout():
    """Standard output's reader has gone (or it was closed): send what is still written
    there nowhere, Python's flush at exit included, so the command goes on quietly, as
    command-line tools do."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - for the rest of the process
    finally:
        os.close(devnull)


def note(message):
    """A one-line status message on stderr that is not an error."""
    _say(f"{PROG}: {message}")


def number(kind):
    """An argparse type: text -> ``kind`` (int or float), with a one-line message for
    anything else."""

    def parse(text):
        try:
            return kind(text)
        except ValueError:
            pass
        try:
            float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}")

    parse.__name__ = kind.__name__
    return parse


def check_range(parser, flag, value, least, most):
    """``parser.error`` unless ``least <= value <= most`` (the bounds its --help states)."""
    if not least <= value <= most:
        parser.error(f"argument {flag}: must be a whole number from {least} to {most}, got {value}")


class FetchProgress:
    """Shows :class:`~nst_tf1.weights.FetchEvent` values on stderr: a tqdm bar (size, rate,
    ETA) on a terminal, else plain lines at the start and at every further 10%."""

    def __init__(self, url, dest):
        self.url, self.dest = url, dest
        self.terminal = sys.stderr.isatty()
        self.bar, self.next_tenth, self.started = None, 1, None

    def _line(self, text):
        if self.bar is not None:
            self.bar.write(f"{PROG}: {text}", file=sys.stderr)
        else:
            _say(f"{PROG}: {text}")

    def __call__(self, event):
        import time

        from .model_file import format_mib as mib

        if event.kind == "resume":
            self._line(f"resuming {self.dest}.part ({mib(event.done)} from an earlier run)")
        elif event.kind == "start":
            self.started = (time.monotonic(), event.done)
            if self.terminal:
                from tqdm import tqdm

                self.close()
                self.bar = tqdm(
                    total=event.total,
                    initial=event.done,
                    unit="iB",
                    unit_scale=True,
                    unit_divisor=1024,
                    file=sys.stderr,
                    desc=os.path.basename(self.dest),
                    dynamic_ncols=True,
                )
            else:
                size = "unknown size" if event.total is None else mib(event.total)
                at = f", resuming at {mib(event.done)}" if event.done else ""
                self._line(f"downloading {self.url} ({size}) to {self.dest}.part{at}")
                if event.total:
                    self.next_tenth = event.done * 10 // event.total + 1
        elif event.kind == "data":
            if self.bar is not None:
                self.bar.update(event.done - self.bar.n)
            elif event.total and event.done * 10 >= self.next_tenth * event.total:
                self.next_tenth = event.done * 10 // event.total + 1
                t0, d0 = self.started
                rate = (event.done - d0) / max(time.monotonic() - t0, 1e-6)
                self._line(
                    f"{100 * event.done // event.total}% ({mib(event.done)} of "
                    f"{mib(event.total)}, {mib(rate)}/s)"
                )
        elif event.kind in ("retry", "done"):
            self.close()  # a stalled bar stays on screen above the retry's message
            if event.kind == "retry":
                self._line(event.message)

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


@contextlib.contextmanager
def sigterm_interrupts():
    """SIGTERM raises :class:`~nst_tf1.errors.Interrupted` (as Ctrl-C raises
    ``KeyboardInterrupt``) while this lasts, so that what the command does cleans up as for
    Ctrl-C (fetch-model: its lock released, its ``.part`` kept). Only the main thread can
    set handlers: elsewhere nothing changes."""
    import threading

    from .errors import Interrupted

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise Interrupted(signum)

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def guarded(work):
    """Run ``work()`` and map the package's errors to one line and an exit status."""
    from .errors import InputError, Interrupted, RunFailed
    from .weights import DownloadError

    try:
        return work()
    except Interrupted as exc:
        note(exc.message or "interrupted")
        return 128 + (exc.signum or signal.SIGINT)
    except InputError as exc:
        return error(exc)
    except (RunFailed, DownloadError) as exc:
        return error(exc, EXIT_FAILURE)
