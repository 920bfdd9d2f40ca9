"""A pause point in the start of the installed ``nst-tf1`` script, for the fault suite.

``tests/fault_runner.py`` patches the package from a wrapper script; the console script pip
writes cannot be wrapped, so this module (on ``PYTHONPATH``, run by Python's ``site`` at
every start) does it instead. With ``NST_TF1_PAUSE_AT=import-cli`` the import of
``nst_tf1.cli`` (the command line, imported by the script's entry point) prints
``PAUSED import-cli`` on stderr and waits until the file ``NST_TF1_RELEASE`` exists (at most
two minutes): a slow import on a loaded machine, made observable.

With ``NST_TF1_PAUSE_AT=swallow-press:MODULE`` the first import of ``MODULE`` in each process
sends the process SIGINT and drops the ``KeyboardInterrupt`` it raises (printing ``SWALLOWED
MODULE`` on stderr), as an optional import's ``except ImportError: pass`` does once a C
extension has turned a Ctrl-C into an import error.

With ``NST_TF1_PAUSE_AT=import:MODULE`` the first import of ``MODULE`` in each process prints
``PAUSED import:MODULE`` on stderr and waits until the file ``NST_TF1_RELEASE`` exists (at
most two minutes), then imports it: ``import:tensorflow`` is a run of ``nst-tf1 serve`` whose
TensorFlow takes long to load (the server itself never imports it). Anything else: nothing.
"""

import os
import sys
import time


class _PauseBeforeCli:
    """A meta path finder that only pauses, then lets the usual finders import the module."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        if name == "nst_tf1.cli":
            print("PAUSED import-cli", file=sys.stderr, flush=True)
            release = os.environ.get("NST_TF1_RELEASE", "")
            deadline = time.monotonic() + 120
            while not os.path.exists(release) and time.monotonic() < deadline:
                time.sleep(0.02)
        return None


class _SwallowPress:
    """A meta path finder that, at the first import of one module, presses Ctrl-C and drops
    the press's ``KeyboardInterrupt``; then lets the usual finders import the module."""

    def __init__(self, module):
        self.module = module

    def find_spec(self, name, path=None, target=None):
        if name == self.module:
            sys.meta_path.remove(self)
            import signal

            try:
                signal.raise_signal(signal.SIGINT)
                time.sleep(1)  # the handler raises here
            except KeyboardInterrupt:
                print(f"SWALLOWED {name}", file=sys.stderr, flush=True)
        return None


class _PauseAtImport:
    """A meta path finder that pauses at the first import of one module until the release
    file exists, then lets the usual finders import the module."""

    def __init__(self, module):
        self.module = module

    def find_spec(self, name, path=None, target=None):
        if name == self.module:
            sys.meta_path.remove(self)
            print(f"PAUSED import:{name}", file=sys.stderr, flush=True)
            release = os.environ.get("NST_TF1_RELEASE", "")
            deadline = time.monotonic() + 120
            while not os.path.exists(release) and time.monotonic() < deadline:
                time.sleep(0.02)
        return None


_MODE = os.environ.get("NST_TF1_PAUSE_AT", "")
if _MODE == "import-cli":
    sys.meta_path.insert(0, _PauseBeforeCli())
elif _MODE.startswith("swallow-press:"):
    sys.meta_path.insert(0, _SwallowPress(_MODE.split(":", 1)[1]))
elif _MODE.startswith("import:"):
    sys.meta_path.insert(0, _PauseAtImport(_MODE.split(":", 1)[1]))
