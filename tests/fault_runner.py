"""``python tests/fault_runner.py ARGS``: nst-tf1's command line with a pause point.

The fault-injection suite (``test_fault_suite.py``) kills runs at chosen moments. This
wrapper makes the moment observable: with ``NST_TF1_PAUSE_AT`` set it patches one function
so that, when the run gets there, it prints ``PAUSED <moment>`` on stderr and waits until
the file ``NST_TF1_RELEASE`` exists (at most two minutes), then goes on. The package itself
is not changed; the patches are:

    model-read    nst_tf1.vgg.read_vgg_weights, before the .mat is read
    graph-build   nst_tf1.graph.TransferGraph.__init__, before the graph is built
    move          nst_tf1.outcome.move_into_place, before a finished rerun's files are moved
                  out of unfinished/
    save          os.fsync of the temporary file of the second saved image (2.png), between
                  writing its bytes and renaming it into place

``NST_TF1_FULL_DISK=1`` (with ``save``) makes every later fsync of a temporary file fail
with ENOSPC, a full disk where no small file system can be mounted.
"""

import errno
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def pause(where):
    print(f"PAUSED {where}", file=sys.stderr, flush=True)
    release = os.environ.get("NST_TF1_RELEASE", "")
    deadline = time.monotonic() + 120
    while not os.path.exists(release) and time.monotonic() < deadline:
        time.sleep(0.02)


def install(moment):
    if moment == "model-read":
        from nst_tf1 import vgg

        read = vgg.read_vgg_weights

        def paused_read(path):
            pause(moment)
            return read(path)

        vgg.read_vgg_weights = paused_read
    elif moment == "graph-build":
        from nst_tf1 import graph

        init = graph.TransferGraph.__init__

        def paused_init(self, *args, **kwargs):
            pause(moment)
            init(self, *args, **kwargs)

        graph.TransferGraph.__init__ = paused_init
    elif moment == "move":
        from nst_tf1 import outcome

        move = outcome.move_into_place

        def paused_move(unfinished, out):
            pause(moment)
            move(unfinished, out)

        outcome.move_into_place = paused_move
    elif moment == "save":
        fsync, full = os.fsync, []

        def paused_fsync(fd):
            name = os.path.basename(os.readlink(f"/proc/self/fd/{fd}"))
            temporary = ".tmp" in name
            if full and temporary:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            if temporary and name.startswith(".2.") and name.endswith(".png"):
                pause(moment)
                if os.environ.get("NST_TF1_FULL_DISK") == "1":
                    full.append(True)
            fsync(fd)

        os.fsync = paused_fsync
    elif moment:
        raise SystemExit(f"unknown NST_TF1_PAUSE_AT {moment!r}")


if __name__ == "__main__":
    try:
        install(os.environ.get("NST_TF1_PAUSE_AT", ""))
        import runpy
    except KeyboardInterrupt:  # this wrapper's own start, before the command's code runs
        print("RUNNER INTERRUPTED before the command started", file=sys.stderr)
        sys.exit(130)

    # As 'python -m nst_tf1': the command itself (it restarts with malloc tunables).
    runpy.run_module("nst_tf1", run_name="__main__", alter_sys=True)
