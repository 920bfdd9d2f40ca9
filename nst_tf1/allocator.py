"""How the command line has glibc's malloc hand TensorFlow's freed activations back.

On CPU, TensorFlow takes every tensor from ``malloc`` and frees it as soon as its last
reader has run: each forward and backward pass allocates and frees the VGG activations,
several of about 30 MB each at 300x400 (conv1: 1 x 300 x 400 x 64 float32).

glibc serves an allocation above its mmap threshold (128 KiB at start) with its own ``mmap``
and unmaps it when freed; but the threshold is dynamic: after the first such free it rises
to the size freed (up to 32 MiB), so from the second pass on the activations come from the
heap, whose holes are not returned to the system. The process's peak resident memory then
grows pass by pass: measured on an AMD EPYC without oneDNN (TensorFlow 2.21, the trained
stand-in of ``benchmarks/``, 300x400, ``--fast``), 1576 MiB, against 1350 MiB with the two
settings below, at the same speed (median wall-time ratio 1.007 over three interleaved pairs).

* ``glibc.malloc.mmap_threshold=131072`` fixes the threshold at its start value: every
  activation is mapped and unmapped, so the peak is the memory really in use.
* ``glibc.malloc.hugetlb=1`` (glibc 2.35 and newer) has malloc mark those mappings for
  transparent huge pages, so mapping them again costs one page fault per 2 MB instead of
  one per 4 KB. Without it the fixed threshold alone cost 16% more wall time (system time
  doubled), so nothing is changed where huge pages are off.

Tunables are read when a process starts, so :func:`reexec_with_tunables` starts the command
again, in the same process (``exec``), with them in ``GLIBC_TUNABLES``. A user who sets any
``glibc.malloc.`` tunable there keeps their own settings (``GLIBC_TUNABLES=
glibc.malloc.hugetlb=0`` turns this off). Nothing happens outside Linux with glibc.
"""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Mapping

__all__ = ["TUNABLES", "THP_SETTING", "tunables_to_add", "reexec_with_tunables"]

# Appended to GLIBC_TUNABLES (colon-separated name=value pairs).
TUNABLES = "glibc.malloc.mmap_threshold=131072:glibc.malloc.hugetlb=1"
# The kernel's transparent huge page mode; the selected one is in brackets.
THP_SETTING = "/sys/kernel/mm/transparent_hugepage/enabled"
# glibc.malloc.hugetlb exists from this glibc on.
GLIBC_HUGETLB = (2, 35)


def _thp_mode(path: str = THP_SETTING) -> str | None:
    """The selected transparent huge page mode (``always``, ``madvise``, ``never``), or None."""
    try:
        with open(path, encoding="ascii") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError):
        return None
    start, end = text.find("["), text.find("]")
    return text[start + 1 : end] if 0 <= start < end else None


def _glibc_version() -> tuple[int, int] | None:
    """glibc's (major, minor), or None for another C library or a version not read."""
    name, version = platform.libc_ver()
    if name != "glibc":
        return None
    try:
        major, minor = version.split(".")[:2]
        return int(major), int(minor)
    except ValueError:
        return None


def tunables_to_add(
    environ: Mapping[str, str],
    *,
    system: str = sys.platform,
    glibc: tuple[int, int] | None = None,
    thp: str | None = None,
) -> str | None:
    """The ``GLIBC_TUNABLES`` value this process should have been started with, or None.

    Args:
        environ: the environment (``os.environ``).
        system: ``sys.platform``.
        glibc: glibc's (major, minor); read from the process when None.
        thp: the transparent huge page mode; read from :data:`THP_SETTING` when None.

    Returns:
        str | None: the new value of ``GLIBC_TUNABLES`` (the user's own pairs first), or None
        when nothing should change: not Linux, not glibc 2.35 or newer, huge pages off or
        unknown, or the user already set a ``glibc.malloc.`` tunable.
    """
    if not system.startswith("linux"):
        return None
    current = environ.get("GLIBC_TUNABLES", "")
    if "glibc.malloc." in current:
        return None
    glibc = _glibc_version() if glibc is None else glibc
    if glibc is None or glibc < GLIBC_HUGETLB:
        return None
    thp = _thp_mode() if thp is None else thp
    if thp not in ("always", "madvise"):
        return None
    return f"{current}:{TUNABLES}" if current else TUNABLES


def reexec_with_tunables() -> None:
    """Start this command again with :data:`TUNABLES`, when :func:`tunables_to_add` says so.

    Called by the command line after its arguments parsed and before any work: ``exec``
    keeps the process id, the terminal and the open standard streams, and the new process
    finds the tunables set and goes on. Does nothing (returns) where the command cannot be
    started again as it was: no ``sys.orig_argv`` or executable, or a script read from
    standard input or given with ``-c``; or when ``exec`` fails.
    """
    value = tunables_to_add(os.environ)
    argv = getattr(sys, "orig_argv", None)
    if value is None or not argv or not sys.executable:
        return
    if not sys.argv or sys.argv[0] in ("", "-", "-c"):
        return
    env = dict(os.environ, GLIBC_TUNABLES=value)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):
            pass
    try:
        os.execve(sys.executable, [sys.executable, *argv[1:]], env)
    except OSError:
        return  # the run goes on with glibc's defaults
