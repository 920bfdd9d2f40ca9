"""``python -m nst_tf1 ...``: the command line (see :mod:`nst_tf1.cli`)."""

import sys

from .cli import main

sys.exit(main())
