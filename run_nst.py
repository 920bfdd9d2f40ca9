#!/usr/bin/env python
"""The course's neural style transfer: ``python run_nst.py --content C.jpg --style S.jpg``.

See ``python run_nst.py --help``; the command line is ``nst_tf1.cli.main()`` (started through
``nst_tf1.__main__``, as ``nst-tf1`` and ``python -m nst_tf1`` are: a Ctrl-C while it is
imported is one line too), the run itself ``nst_tf1.run()``.
"""

import sys

from nst_tf1.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
