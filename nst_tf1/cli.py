"""Command line: ``python run_nst.py --content C --style S`` (or ``nst-tf1 ...``,
``python -m nst_tf1 ...``).

This module parses the arguments into a :class:`~nst_tf1.settings.Settings`, hands it to
:func:`nst_tf1.run`, prints what the run reports (the course's lines, a progress bar on
stderr when it is a terminal) and maps errors to exit statuses. It is the only module that
prints or exits, and no module imports it.

Exit statuses: 0 done; 1 the run failed (a cost became NaN or infinite, an image could not
be written, out of memory, a failed model download in the main job or ``fetch-model``); 2 bad
input (arguments, images, model file, output directory, an existing result of another
content/style pair, an output folder or download destination in use by another process);
128 + the signal's number when stopped by a signal (130 Ctrl-C, 143 SIGTERM).

Subcommands (``nst-tf1 SUBCOMMAND --help`` for each): ``run`` (the default, here),
``figure``, ``activations``, ``fetch-model``, ``where``, ``make-vgg``, ``make-demo``
(:mod:`nst_tf1.commands`), ``serve`` (:mod:`nst_tf1.serve`); the parts they share are
:mod:`nst_tf1.console`'s.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable, Sequence

from . import __version__
from .console import (
    EXIT_OK,
    PROG,
    FetchProgress,
    Parser,
    drop_stdout,
    guarded,
    note,
    number,
    open_missing_streams,
)
from .errors import starting_interrupted

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    """The parser of the main job; its defaults are :class:`~nst_tf1.settings.Settings`'s,
    the course's ``CONFIG``. Values are checked by ``Settings`` itself."""
    from .flags import COMMAND_FLAGS, DESCRIPTION, epilog

    p = Parser(prog=PROG, description=DESCRIPTION, epilog=epilog())
    p.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    _settings_arguments(p)
    for name, help_text in COMMAND_FLAGS.items():
        p.add_argument("--" + name.replace("_", "-"), action="store_true", help=help_text)
    return p


def _settings_arguments(p):
    """One flag per :class:`~nst_tf1.settings.Settings` field, with the field's default and
    its help text from :data:`nst_tf1.flags.FLAGS`; the values are checked when the
    ``Settings`` is built."""
    import dataclasses

    from .flags import FLAGS
    from .settings import Settings

    beyond = p.add_argument_group(
        "beyond the course",
        (
            "Controls of the best style-transfer tools; the defaults are the course's, and left "
            "at them the run gives the course's numbers (one graph builder serves both)."
        ),
    )
    for field in dataclasses.fields(Settings):
        flag = FLAGS[field.name]
        default = (
            field.default
            if field.default_factory is dataclasses.MISSING
            else field.default_factory()
        )
        if field.name == "style_layers":
            default = ",".join(f"{name}:{coeff}" for name, coeff in default)
        options = {"default": default, "help": flag.help, **flag.argparse}
        if options.get("action") == "extend":
            # Repeated flags add to the list; argparse would add to the default too, so
            # the default is left to Settings (None means "not given").
            options["default"] = None
        kind = field.type.split(" | ")[0]  # the annotation: "int | None" -> "int"
        value_type = {"int": int, "float": float}.get(kind, flag.item)
        if kind == "bool":
            options["action"] = "store_true"
        elif value_type is not str:
            options["type"] = number(value_type)
        (beyond if flag.beyond else p).add_argument("--" + field.name.replace("_", "-"), **options)


def _course_lines(step):
    """The course's progress lines (of a :class:`~nst_tf1.events.StepDone`), its float32
    formatting included."""
    import numpy as np

    return (
        f"Iteration {step.step} :\n"
        f"total cost = {np.float32(step.total_cost)!s}\n"
        f"content cost = {np.float32(step.content_cost)!s}\n"
        f"style cost = {np.float32(step.style_cost)!s}"
    )


class _Printer:
    """Prints the events of :func:`nst_tf1.run`: lines, the course's costs, a progress bar
    on stderr (only when it is a terminal) and the download's progress."""

    #: What a batch prints only with --verbose (besides the cost lines and scales).
    PAIR_DETAILS = (
        "run-recorded",
        "result-saved",
        "tensorboard",
        "staging",
        "unfinished-removed",
        "detail-phase",
    )

    def __init__(self, stop=None, verbose=False):
        self.bar = self.fetch = self.quiet = None
        self.stop = stop  # the SignalStop that follows the events (what a press keeps)
        self.verbose = verbose
        self.batch = False  # a PairBegun was seen: one line per pair unless verbose

    def __call__(self, event):
        from . import events, process

        if self.stop is not None:
            self.stop.follow(event)
        if isinstance(event, events.Loading):
            self.quiet = process.QuietStart()
            self.quiet.start()
        elif isinstance(event, events.Note):
            if event.code == "device":  # TensorFlow has started
                self._quiet_stop()
                process.tensorflow_started()
            if self.batch and not self.verbose and event.code in self.PAIR_DETAILS:
                return
            prefix = {"out": "", "note": f"{PROG}: ", "error": f"{PROG}: error: "}[event.level]
            self._write(prefix + event.text, sys.stdout if event.level == "out" else sys.stderr)
        elif isinstance(event, events.StepDone):
            self.bar.update(1)
            if event.total_cost is not None:  # None: a detail-phase evaluation
                self.bar.set_postfix(J=f"{event.total_cost:.4g}", refresh=False)
            if event.logged and (self.verbose or not self.batch):
                self._write(_course_lines(event), sys.stdout)
        elif isinstance(event, events.StepsSkipped):
            self.bar.update(event.steps)
        elif isinstance(event, events.PairBegun):
            self.batch = True
            styles = " + ".join(event.styles)
            line = f"[{event.number}/{event.pairs}] {event.content} + {styles} -> {event.folder}"
            self._write(line, sys.stdout)
        elif isinstance(event, events.ScaleBegun):
            if self.batch and not self.verbose:
                return
            line = f"Scale {event.scale}/{event.scales}: {event.height}x{event.width}"
            self._write(line, sys.stdout)
        elif isinstance(event, events.RunBegun):
            from tqdm import tqdm

            self.bar = tqdm(
                total=event.total_steps,
                desc="style transfer",
                unit="it",
                file=sys.stderr,
                disable=None,
                leave=False,
            )
        elif isinstance(event, events.DownloadStarted):
            self.fetch = FetchProgress(event.url, event.dest)
        elif isinstance(event, events.DownloadProgress) and self.fetch is not None:
            self.fetch(event)

    def _write(self, text, stream):
        try:
            if self.bar is not None:
                self.bar.write(text, file=stream)
            else:
                print(text, file=stream, flush=True)
        except UnicodeEncodeError:  # a file name's bytes that are not UTF-8, a strict locale
            encoding = getattr(stream, "encoding", None) or "utf-8"
            self._write(text.encode(encoding, "backslashreplace").decode(encoding), stream)
        except (OSError, ValueError):  # its reader has gone (a broken pipe): not the run's fault
            if stream is sys.stdout:
                drop_stdout()

    def _quiet_stop(self, failed=False):
        if self.quiet is not None:
            self.quiet.stop(failed)
            self.quiet = None

    def close(self, failed=False):
        """End the bars; ``failed``: the run ended by an unexpected error (what TensorFlow
        logged while starting, if it was starting, is shown)."""
        self._quiet_stop(failed)
        for shown in (self.bar, self.fetch):
            if shown is not None:
                shown.close()
        self.bar = self.fetch = None


def run_main(argv: Sequence[str]) -> int:
    """The main job: parse, run, print; return the exit status."""
    from .settings import Settings

    args = build_parser().parse_args(argv)
    print_model, verbose = args.print_model, args.verbose
    del args.print_model, args.verbose
    from .process import set_up

    set_up()

    def work():
        settings = Settings(**vars(args))
        if print_model:
            return _print_model(settings)
        from .errors import InputError, Interrupted, RunFailed
        from .process import SignalStop, StartPresses
        from .running import run

        try:
            with SignalStop(saving=False) as stop:
                if (signum := StartPresses.not_acted_on()) is not None:  # an import dropped it
                    raise Interrupted(signum)
                printer = _Printer(stop, verbose)
                try:
                    run(settings, printer, stop)
                except Exception as exc:
                    printer.close(failed=not isinstance(exc, (InputError, RunFailed)))
                    raise
                finally:
                    printer.close()
        except Interrupted as exc:
            if not exc.message:  # the handler fired before run() began: it said nothing yet
                exc.message = starting_interrupted(exc.signum)
            raise
        return EXIT_OK

    return guarded(work)


def _print_model(settings):
    """``--print-model``: the course's ``pprint(model)`` of the graph built from the file."""
    from .config import CONFIG
    from .model_file import read_existing_model
    from .preflight import check_memory
    from .process import import_tensorflow
    from .vgg import describe_model

    # --keep-aspect and --max-size derive a side from a content image, which is not read here.
    height = settings.height or CONFIG.IMAGE_HEIGHT
    width = settings.width or CONFIG.IMAGE_WIDTH
    for flag in ("--max-size", "--keep-aspect"):
        if getattr(settings, flag[2:].replace("-", "_")):
            note(
                f"{flag} is ignored by --print-model (no content image is read): "
                f"showing {height}x{width}"
            )
    # The graph of a run at that size: refused where a run would be, before the model is read.
    check_memory(height, width, what=f"a run at {height}x{width}, whose graph --print-model shows,")
    weights = read_existing_model(settings.model)
    import_tensorflow()
    print(describe_model(weights, height, width, settings.pooling))
    return EXIT_OK


def _command(name):
    """The subcommand ``commands.<name>``, imported when it runs (the command starts fast:
    until its signal handlers are in place a Ctrl-C is only caught by :func:`main`)."""

    def call(argv):
        from . import commands

        return getattr(commands, name)(argv)

    call.__name__ = name
    return call


#: Subcommand name -> function taking the remaining arguments and returning an exit status.
SUBCOMMANDS: dict[str, Callable[[Sequence[str]], int]] = {
    "run": run_main,
    "figure": _command("figure_main"),
    "activations": _command("activations_main"),
    "fetch-model": _command("fetch_model_main"),
    "where": _command("where_main"),
    "make-vgg": _command("make_vgg_main"),
    "make-demo": _command("make_demo_main"),
    "serve": lambda argv: _serve_main(argv),
}


def _serve_main(argv: Sequence[str]) -> int:
    """``nst-tf1 serve``: the local web page (nst_tf1.serve)."""
    from .serve import serve_main

    return serve_main(argv)


def _started_as_the_command() -> bool:
    """Whether this process is the command itself: the installed ``nst-tf1`` script,
    ``python -m nst_tf1`` or this package's ``run_nst.py``, not a user's script calling
    :func:`main` (which must never be started again: its own set-up would run twice and
    the standard input it read would be lost)."""
    import os

    started = sys.modules.get("__main__")
    spec = getattr(started, "__spec__", None)
    if spec is not None and spec.name == "nst_tf1.__main__":
        return True
    path = getattr(started, "__file__", None)
    if not path:
        return False
    package = os.path.dirname(os.path.abspath(__file__))
    if os.path.realpath(path) == os.path.realpath(
        os.path.join(os.path.dirname(package), "run_nst.py")
    ):
        return True
    # The console script pip writes: a file named nst-tf1 that imports this main.
    return os.path.basename(path) == PROG and os.path.basename(sys.argv[0] or "") == PROG


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``run_nst.py``, ``python -m nst_tf1`` and the ``nst-tf1`` script.

    Args:
        argv: arguments without the program name (default: ``sys.argv[1:]``).

    Returns:
        int: the exit status.
    """
    program = argv is None and _started_as_the_command()
    open_missing_streams()
    argv = list(sys.argv[1:] if argv is None else argv)
    presses = None
    try:
        is_run = not argv or argv[0] not in SUBCOMMANDS or argv[0] == "run"
        if program:
            from .process import StartPresses, release_held_signals, restart

            presses = StartPresses.install()
            release_held_signals()  # a Ctrl-C held over the restart arrives here
            if is_run:
                # With glibc's malloc tunables; before the parser imports NumPy, whose
                # OpenBLAS starts a thread: a press sent to the process must not land there.
                restart()
        if not is_run:
            return SUBCOMMANDS[argv[0]](argv[1:])
        return run_main(argv[1:] if argv and argv[0] == "run" else argv)
    except SystemExit as exc:  # argparse: a bad argument (2), --help or --version (0)
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or EXIT_OK
        raise
    except Exception:  # a Ctrl-C an extension's import turned into an ImportError
        if presses is None or presses.signum is None:
            raise
        note(starting_interrupted(presses.signum))
        return 128 + presses.signum
    except KeyboardInterrupt as exc:  # Python's own Ctrl-C, before the command's handlers
        signum = getattr(exc, "signum", None) or signal.SIGINT
        note(starting_interrupted(signum))
        return 128 + signum
