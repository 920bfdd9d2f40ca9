"""``python -m nst_tf1 ...``: the command line (see :mod:`nst_tf1.cli`)."""

import sys

try:
    from .cli import main
except KeyboardInterrupt:  # Ctrl-C while the command line is imported: one line, no traceback
    print("nst-tf1: interrupted by SIGINT while starting; nothing done", file=sys.stderr)
    sys.exit(130)

sys.exit(main())
