"""Fetch MatConvNet's VGG-19 file: streamed, resumable, verified, then renamed into place.

The course's network is the 510 MB ``imagenet-vgg-verydeep-19.mat`` at :data:`~nst_tf1.config.
VGG_URL`. :func:`fetch_vgg_model` gets it safely::

    lock <dest>.lock (flock: one download of <dest> at a time; a second is refused at once)
    GET url  (Range: bytes=N- when <dest>.part already holds N bytes)
        --> append to <dest>.part, hashing MD5 and SHA256 of every byte as it is written
        --> fsync, then hash <dest>.part again as it is on disk; both must be the expected
            SHA256 (what was received, and what was written)
        --> os.replace(<dest>.part, <dest>)      (atomic: <dest> is the verified file or absent)

A connection cut, a timeout or an HTTP 5xx/429 is retried after a backoff of
``backoff * 2**(k-1)`` seconds (k = 1, 2, ...; at most :data:`MAX_BACKOFF`), resuming with a
Range request from the bytes already on disk; ``retries`` bounds the failures in a row
without new data (an attempt that gets the file further than any before starts the count,
and the backoff, again). A 4xx answer, a checksum mismatch or a local write failure ends the
fetch at once with :class:`DownloadError`. A mismatching ``.part`` is deleted; an
interrupted one is kept so that the next call resumes it.

This module never prints: progress goes to a ``report`` callback as :class:`FetchEvent` values
and the command line draws the bar. Command line: ``nst-tf1 fetch-model`` (or
``python -m nst_tf1 fetch-model``).
"""

from __future__ import annotations

import collections
import errno
import hashlib
import http.client
import os
import re
import shutil
import socket
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import TYPE_CHECKING

from .config import (
    ENV_SHA256,
    ENV_URL,
    VGG_MD5,
    VGG_MD5_OLD,
    VGG_SHA256,
    VGG_URL,
    default_model_path,
)
from .errors import InputError

if TYPE_CHECKING:
    pass

__all__ = [
    "SYNTHETIC_MODEL",
    "DownloadError",
    "ChecksumError",
    "Digests",
    "FetchEvent",
    "DEFAULT_RETRIES",
    "DEFAULT_BACKOFF",
    "MAX_BACKOFF",
    "MAX_RETRIES",
    "MAX_TIMEOUT",
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_READ_TIMEOUT",
    "part_path",
    "lock_path",
    "file_digests",
    "check_sha256",
    "known_layout",
    "fetch_vgg_model",
]

#: Retries after the first attempt for transient errors (5 attempts in all).
DEFAULT_RETRIES = 4
#: Seconds before the first retry; doubled before each further one.
DEFAULT_BACKOFF = 1.0
#: Upper bound of one backoff delay, in seconds.
MAX_BACKOFF = 30.0
#: Most retries ``nst-tf1 fetch-model --retries`` accepts.
MAX_RETRIES = 100
#: Longest timeout, in seconds, ``--connect-timeout`` and ``--read-timeout`` accept.
MAX_TIMEOUT = 3600.0
#: Seconds allowed to open the TCP connection (and the TLS handshake).
DEFAULT_CONNECT_TIMEOUT = 15.0
#: Seconds allowed between two received blocks once connected.
DEFAULT_READ_TIMEOUT = 60.0
# Bytes read from the socket, written and hashed per step.
_CHUNK_SIZE = 256 * 1024
# HTTP statuses worth retrying: timeouts, rate limits and server-side failures.
_TRANSIENT_STATUS = {408, 425, 429, 500, 502, 503, 504}


class DownloadError(Exception):
    """The fetch failed; the message says what failed (HTTP status, network or disk error)."""


class ChecksumError(DownloadError):
    """The downloaded bytes do not have the expected SHA256; the ``.part`` was deleted."""


Digests = collections.namedtuple("Digests", "size md5 sha256")
Digests.__doc__ = """Size in bytes and lower-case hex MD5 and SHA256 of a file."""

FetchEvent = collections.namedtuple("FetchEvent", "kind done total message")
FetchEvent.__doc__ = """Progress of :func:`fetch_vgg_model`, passed to its ``report`` callback.

Attributes:
    kind: ``"resume"`` (an earlier ``.part`` of ``done`` bytes is kept and re-hashed),
        ``"start"`` (the server answered; bytes now start at ``done``), ``"data"`` (``done``
        bytes are on disk), ``"retry"`` (``message`` says what failed and the delay),
        ``"done"`` (verified and renamed; ``message`` is the destination path).
    done: bytes of the file on disk in ``.part``.
    total: size of the whole file in bytes, or None when the server does not say.
    message: text for ``"retry"`` and ``"done"``, else None.
"""


class _Transient(Exception):
    """A failure worth another attempt (connection cut, timeout, HTTP 5xx)."""


def lock_path(dest: str | os.PathLike[str]) -> str:
    """The lock file of a download of ``dest``: ``<dest>.lock`` (removed when it ends)."""
    return os.fspath(dest) + ".lock"


def part_path(dest: str | os.PathLike[str]) -> str:
    """Where the download of ``dest`` is streamed before verification: ``<dest>.part``."""
    return os.fspath(dest) + ".part"


def file_digests(
    path: str | os.PathLike[str], chunk_size: int = _CHUNK_SIZE, *, md5: bool = True
) -> Digests:
    """SHA256 and MD5 of a file, read once in chunks (a 510 MB file is never held whole).

    The package's one file hash: the model check, run.json's model entry and the record of
    the images that made a result all use it.

    Args:
        path: the file.
        chunk_size: bytes read at a time.
        md5: also compute the MD5 (the older published VGG-19 file is known by it only);
            ``False`` leaves it ``None`` and hashes 2-3 times faster.

    Returns:
        Digests: (size, md5 or None, sha256), the digests as lower-case hex.
    """
    hashes = [hashlib.sha256()] + ([hashlib.md5()] if md5 else [])
    size = 0
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk_size), b""):
            for digest in hashes:
                digest.update(block)
            size += len(block)
    return Digests(size, hashes[1].hexdigest() if md5 else None, hashes[0].hexdigest())


def check_sha256(value: str, name: str = "--sha256") -> str:
    """``value`` as a lower-case SHA256 hex digest, checked before anything is downloaded.

    Args:
        value: the expected SHA256 as given.
        name: how a message names where it came from (``$NST_VGG_SHA256`` is named instead
            when ``value`` is that variable's value, the default of every download).

    Raises:
        nst_tf1.errors.InputError: not 64 hex digits; one line.
    """
    digest = value.strip().lower()
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        if value == os.environ.get(ENV_SHA256):
            name = f"${ENV_SHA256}" if name == "sha256" else f"{name} (from ${ENV_SHA256})"
        raise InputError(f"{name}: not a SHA256 (64 hex digits): {value!r}")
    return digest


def known_layout(digests: Digests) -> str | None:
    """Which published VGG-19 file has these digests: ``"current"``, ``"older"`` or None."""
    if digests.sha256 == VGG_SHA256 or digests.md5 == VGG_MD5:
        return "current"
    if digests.md5 == VGG_MD5_OLD:
        return "older"
    return None


def _opener(read_timeout):
    """A urllib opener whose sockets switch to ``read_timeout`` once connected.

    urllib applies its one ``timeout`` to the connection and to every read; these connection
    classes connect (and shake hands) with that timeout, then set the read timeout.
    """

    def connection(base):
        class Connection(base):
            def connect(self):
                super().connect()
                self.sock.settimeout(read_timeout)

        return Connection

    http_connection = connection(http.client.HTTPConnection)
    https_connection = connection(http.client.HTTPSConnection)

    class HTTPHandler(urllib.request.HTTPHandler):
        def http_open(self, req):
            return self.do_open(http_connection, req)

    class HTTPSHandler(urllib.request.HTTPSHandler):
        def https_open(self, req):
            return self.do_open(https_connection, req, context=self._context)

    return urllib.request.build_opener(HTTPHandler(), HTTPSHandler())


def _network_error_text(exc):
    """A short text for a network exception, e.g. ``timed out`` or ``connection refused``."""
    if isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError):
        if not isinstance(exc.reason, BaseException):
            return str(exc.reason)
        exc = exc.reason
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionResetError):
        return "connection reset by the server"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve the host name ({exc.strerror or exc})"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def _is_transient(exc):
    """Whether a network exception from urllib may go away on another attempt."""
    if isinstance(exc, urllib.error.HTTPError):
        return exc.code in _TRANSIENT_STATUS
    if isinstance(exc, urllib.error.URLError):
        exc = exc.reason
    if isinstance(exc, ssl.SSLCertVerificationError):
        return False
    if isinstance(exc, socket.gaierror):
        # "Temporary failure in name resolution" is the only retryable resolver answer.
        return exc.errno == socket.EAI_AGAIN
    return isinstance(exc, (OSError, http.client.HTTPException))


def _content_range(value):
    """(first byte or None, total or None) of ``Content-Range: bytes a-b/total`` (or
    ``bytes */total``, as in a 416 answer); None when the header is absent or malformed."""
    m = re.fullmatch(r"\s*bytes\s+(?:(\d+)-\d+|\*)/(\d+|\*)\s*", value or "")
    if not m:
        return None
    first, total = m.groups()
    return (None if first is None else int(first)), (None if total == "*" else int(total))


class _Download:
    """State of one fetch: the open ``.part``, the running hashes and the byte counts."""

    def __init__(self, url, part, file, report, chunk_size):
        self.url, self.part, self.file = url, part, file
        self.report, self.chunk_size = report, chunk_size
        self.md5, self.sha256 = hashlib.md5(), hashlib.sha256()
        self.done, self.total = 0, None

    def restart(self):
        """Drop everything received so far (the server ignored the Range request)."""
        self._write(lambda: (self.file.seek(0), self.file.truncate()))
        self.md5, self.sha256, self.done = hashlib.md5(), hashlib.sha256(), 0

    def rehash_existing(self):
        """Hash the bytes a ``.part`` from an earlier run holds, so each byte is hashed once."""
        size = os.path.getsize(self.part)
        if size:
            self.report(FetchEvent("resume", size, None, None))
            with open(self.part, "rb") as f:
                for block in iter(lambda: f.read(self.chunk_size), b""):
                    self.md5.update(block)
                    self.sha256.update(block)
                    self.done += len(block)

    def _write(self, action):
        try:
            return action()
        except OSError as exc:
            raise DownloadError(f"cannot write {self.part}: {exc.strerror or exc}") from exc

    def _check_space(self, needed):
        free = shutil.disk_usage(os.path.dirname(os.path.abspath(self.part))).free
        if needed > free:
            raise DownloadError(
                f"not enough disk space for {self.part}: {needed / 1e6:.1f} MB more needed, "
                f"{free / 1e6:.1f} MB free"
            )

    def attempt(self, opener, connect_timeout):
        """One HTTP request from byte ``self.done``; returns when the body is complete.

        Raises:
            _Transient: the attempt failed in a way another attempt may not.
            DownloadError: it failed for good (HTTP 4xx, local write error).
        """
        response = self._request(opener, connect_timeout)
        if response is None:  # the .part already holds the whole file
            return
        with response:
            self._receive(response)
        self._write(self.file.flush)

    def _request(self, opener, connect_timeout):
        """The response to a request from byte ``self.done`` (``None``: the server says the
        .part holds the whole file already); raises as :meth:`attempt` does."""
        request = urllib.request.Request(self.url, headers={"User-Agent": "nst-tf1"})
        if self.done:
            request.add_header("Range", f"bytes={self.done}-")
        try:
            response = opener.open(request, timeout=connect_timeout)
        except urllib.error.HTTPError as exc:
            exc.close()
            if exc.code == 416 and self.done:
                # The .part already holds at least the whole file; the checksum decides.
                span = _content_range(exc.headers.get("Content-Range"))
                if span and span[1] == self.done:
                    self.total = self.done
                    return None
                self.restart()
                raise _Transient(f"HTTP 416 for a .part of {self.done} bytes") from exc
            message = f"HTTP {exc.code} {exc.reason}"
            if _is_transient(exc):
                raise _Transient(message) from exc
            raise DownloadError(f"download of {self.url} failed: {message}") from exc
        except Exception as exc:  # urllib raises URLError, OSError and http.client errors
            if _is_transient(exc):
                raise _Transient(_network_error_text(exc)) from exc
            raise DownloadError(
                f"download of {self.url} failed: {_network_error_text(exc)}"
            ) from exc
        return response

    def _receive(self, response):
        """Append the response's body to the .part, hashing and reporting as it comes."""
        length = response.headers.get("Content-Length")
        length = int(length) if length and length.isdigit() else None
        if response.status == 206:
            span = _content_range(response.headers.get("Content-Range"))
            if span is None or span[0] != self.done:
                self.restart()
                raise _Transient("the server sent a partial answer from the wrong byte")
            self.total = span[1]
        else:
            if self.done:
                self.restart()  # the server ignored the Range header: start again
            self.total = length
        expected = None if length is None else self.done + length
        if self.total is None:
            self.total = expected
        if self.total is not None:
            self._check_space(self.total - self.done)
        self.report(FetchEvent("start", self.done, self.total, None))
        while True:
            try:
                block = response.read(self.chunk_size)
            except Exception as exc:  # timeout, reset, IncompleteRead
                raise _Transient(_network_error_text(exc)) from exc
            if not block:
                break
            self._write(lambda b=block: self.file.write(b))
            self.md5.update(block)
            self.sha256.update(block)
            self.done += len(block)
            self.report(FetchEvent("data", self.done, self.total, None))
        if expected is not None and self.done < expected:
            raise _Transient(f"connection closed after {self.done} of {expected} bytes")


def fetch_vgg_model(
    dest: str | os.PathLike[str] | None = None,
    url: str = VGG_URL,
    sha256: str | None = VGG_SHA256,
    *,
    retries: int = DEFAULT_RETRIES,
    backoff: float = DEFAULT_BACKOFF,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    read_timeout: float = DEFAULT_READ_TIMEOUT,
    report: Callable[[FetchEvent], object] | None = None,
    chunk_size: int = _CHUNK_SIZE,
) -> Digests:
    """Download ``url`` to ``dest`` through ``<dest>.part``, verify its SHA256, rename it.

    An existing ``<dest>.part`` is resumed with ``Range: bytes=<size>-`` (its bytes are hashed
    first, so the whole file is hashed once); a server that ignores Range makes the download
    start again from byte 0. A download that fails or is interrupted removes the folders it
    created for ``dest`` again while they are empty (no ``.part`` kept in them to resume); a
    folder that existed before stays.

    Args:
        dest: final path of the file; it must not exist (an existing file is never touched).
            Default: :func:`nst_tf1.config.default_model_path`, the per-user cache.
        url: where to GET it (default: MatConvNet's site).
        sha256: expected lower-case hex SHA256 of the whole file, or None to skip the check.
        retries: further attempts after a transient failure.
        backoff: seconds before the first retry, doubling each time (capped at MAX_BACKOFF).
        connect_timeout, read_timeout: seconds for connecting, and for each read once connected.
        report: callable receiving :class:`FetchEvent` values, or None.
        chunk_size: bytes per read/write/hash step.

    Returns:
        Digests: size, MD5 and SHA256 of the file now at ``dest``.

    Raises:
        DownloadError: ``dest`` exists, ``.part`` cannot be written, an HTTP error, a network
            error that outlasted the retries, or too little disk space; the message says which.
        ChecksumError: the bytes do not have ``sha256`` (nothing is left under ``dest``, and the
            ``.part`` is deleted).
        nst_tf1.errors.InputError: ``sha256`` is not 64 hex digits (before any request).
    """
    from .lock import FileLock, folders_missing, remove_if_empty

    dest = os.fspath(default_model_path() if dest is None else dest)
    report = report or (lambda event: None)
    sha256 = check_sha256(sha256, "sha256") if sha256 else None
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise DownloadError(f"{url}: not an http:// or https:// URL")
    if not dest or dest.endswith(os.sep) or os.path.isdir(dest):
        raise DownloadError(f"{dest!r}: not a file name to download to")
    if os.path.lexists(dest):
        raise DownloadError(f"{dest} already exists; not overwriting it")
    created = folders_missing(os.path.dirname(os.path.abspath(dest)))
    lock, digests = None, None
    try:
        try:
            os.makedirs(os.path.dirname(os.path.abspath(dest)), exist_ok=True)
            lock = FileLock(lock_path(dest), f"{dest} is being downloaded by").acquire()
        except OSError as exc:
            raise DownloadError(f"cannot write {part_path(dest)}: {exc.strerror or exc}") from exc
        if os.path.lexists(dest):  # another download put it in place meanwhile
            raise DownloadError(f"{dest} already exists; not overwriting it")
        digests = _fetch_locked(
            dest, url, sha256, retries, backoff, connect_timeout, read_timeout, report, chunk_size
        )
        return digests
    finally:
        if lock is not None:
            lock.release()
        if digests is None:  # failed or interrupted: no empty folder of its own is left
            remove_if_empty(created)


def _fetch_locked(
    dest, url, sha256, retries, backoff, connect_timeout, read_timeout, report, chunk_size
):
    """:func:`fetch_vgg_model` once the destination's lock is held."""
    part = part_path(dest)
    try:
        os.makedirs(os.path.dirname(os.path.abspath(dest)), exist_ok=True)
        file = open(part, "ab")
    except OSError as exc:
        raise DownloadError(f"cannot write {part}: {exc.strerror or exc}") from exc

    ok = False
    try:
        with file:
            download = _Download(url, part, file, report, chunk_size)
            download.rehash_existing()
            opener = _opener(read_timeout)
            _attempts(download, opener, url, retries, backoff, connect_timeout, report)
            download._write(lambda: os.fsync(file.fileno()))
        digests = _verified(download, part, url, sha256)
        try:
            os.replace(part, dest)
        except OSError as exc:
            raise DownloadError(f"cannot rename {part} to {dest}: {exc.strerror or exc}") from exc
        _fsync_directory(os.path.dirname(os.path.abspath(dest)))
        ok = True
        report(FetchEvent("done", digests.size, digests.size, dest))
        return digests
    finally:
        # An empty .part (nothing received) is clutter; a non-empty one is kept to resume.
        if not ok and os.path.isfile(part) and os.path.getsize(part) == 0:
            os.remove(part)


def _attempts(download, opener, url, retries, backoff, connect_timeout, report):
    """Attempt the download until it is complete, retrying after transient failures with
    an exponential backoff; a fresh budget of ``retries`` whenever an attempt got the file
    further than any before.

    Raises:
        DownloadError: ``retries`` failed attempts in a row without new data.
    """
    # failures: failed attempts in a row that got the file no further than any before
    # (the budget of ``retries``); reached: the most bytes ever on disk.
    attempts = failures = 0
    reached = download.done
    while True:
        try:
            download.attempt(opener, connect_timeout)
            return
        except _Transient as exc:
            attempts += 1
            if download.done > reached:  # progress: a fresh budget and backoff
                reached, failures = download.done, 0
            failures += 1
            since = " since the last new data" if attempts > failures else ""
            if failures > retries:
                raise DownloadError(
                    f"download of {url} failed after {attempts} attempts"
                    + (f" ({failures} in a row without new data)" if since else "")
                    + f": {exc}"
                ) from exc
            delay = min(MAX_BACKOFF, backoff * 2 ** (failures - 1))
            report(
                FetchEvent(
                    "retry",
                    download.done,
                    download.total,
                    f"{exc}; retrying in {delay:.3g} s (attempt {failures + 1} of "
                    f"{retries + 1}{since})",
                )
            )
            time.sleep(delay)


def _verified(download, part, url, sha256):
    """The Digests of the finished ``part``, hashed again on disk: it must be what was
    received, and have ``sha256`` when one is expected; else it is deleted and refused."""
    received = Digests(download.done, download.md5.hexdigest(), download.sha256.hexdigest())
    # What is on disk after the last write is what gets renamed: hash it again (a second
    # writer, a bad disk or a full one that lost a block would show here).
    digests = file_digests(part)
    if digests != received:
        os.remove(part)
        raise DownloadError(
            f"{part} on disk (SHA256 {digests.sha256}, {digests.size} bytes) is not what "
            f"was received (SHA256 {received.sha256}, {received.size} bytes): something "
            "else wrote to it; deleted it, run again"
        )
    if sha256 and digests.sha256 != sha256:
        os.remove(part)
        if url != VGG_URL:  # a mirror: the official file is the way out
            what = (
                "that server sent another file than the one expected; download it from "
                f"the official {VGG_URL} instead (--url, ${ENV_URL}), or pass the SHA256 "
                f"of the file you trust (--sha256, ${ENV_SHA256})"
            )
        else:
            what = (
                "the published file is not the one expected: if it has changed, check its "
                f"new SHA256 and pass it (--sha256, ${ENV_SHA256})"
            )
        raise ChecksumError(
            f"checksum mismatch for {url}: expected SHA256 {sha256}, got {digests.sha256} "
            f"(MD5 {digests.md5}, {digests.size} bytes); deleted {part}; {what}"
        )
    return digests


def _fsync_directory(path):
    """Make a rename durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.EBADF, errno.EACCES):
            raise
    finally:
        os.close(fd)


#: Where the hints suggest writing a synthetic network (the example path in docs/vgg-file.md).
SYNTHETIC_MODEL = "models/synthetic-vgg19.mat"
