"""The command's entry point: ``python -m nst_tf1 ...``, the installed ``nst-tf1`` script
and ``run_nst.py`` all call :func:`main` (the command line itself is :mod:`nst_tf1.cli`).

Nothing is imported here at the top but :mod:`sys` and the small :mod:`nst_tf1.errors`: a
Ctrl-C while the command line is imported (a quarter second on a loaded machine), before
:func:`nst_tf1.cli.main` catches it itself, is then one line and exit 130 too, not a
``KeyboardInterrupt`` traceback.
(The command's restart with malloc tunables holds SIGINT/SIGTERM over the ``exec``: see
:func:`nst_tf1.process.restart`.)
"""

import sys

from .errors import starting_interrupted

__all__ = ["main"]


def main() -> int:
    """Run the command line on ``sys.argv`` and return its exit status (128 + the signal's
    number when a signal stopped it before its own handlers were in place)."""
    _file_names_as_bytes(sys.stdout)
    try:
        from .cli import main as command_line

        return command_line()
    except KeyboardInterrupt as exc:  # Ctrl-C while the command line is imported
        signum = getattr(exc, "signum", None) or 2  # SIGINT
        if sys.stderr is not None:  # None: started with stderr closed; one write, as console's
            sys.stderr.write(f"nst-tf1: {starting_interrupted(signum)}\n")
            sys.stderr.flush()
        return 128 + signum


def _file_names_as_bytes(stream) -> None:
    """Write the bytes of a file name that are not UTF-8 back as those bytes, as ``ls`` does.

    ``os.listdir`` holds them as lone surrogates ("surrogateescape"). Python's standard output
    encodes strictly under a UTF-8 locale other than C, so a path printed there (a batch's
    pair folder, a figure written into it) raised ``UnicodeEncodeError``. The command owns
    its process, so it sets the stream's error handler; :func:`nst_tf1.run` changes nothing.
    """
    try:
        stream.reconfigure(errors="surrogateescape")
    except (AttributeError, ValueError, OSError):  # None, closed, or not a TextIOWrapper
        pass


if __name__ == "__main__":
    sys.exit(main())
