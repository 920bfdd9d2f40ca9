"""``nst-tf1 serve``: a local web page to run style transfer and watch the image form.

Modules: :mod:`~nst_tf1.serve.app` (routes and guards), :mod:`~nst_tf1.serve.jobs` (one run
at a time, in a worker process), :mod:`~nst_tf1.serve.worker` (the run's process),
:mod:`~nst_tf1.serve.form` (the form checked by Settings), :mod:`~nst_tf1.serve.uploads`,
:mod:`~nst_tf1.serve.gallery`; the page itself is ``static/`` (HTML, JS and CSS of its own:
no CDN, no web fonts, it works offline).

Starlette and uvicorn are imported only when the server starts.
"""

from __future__ import annotations

import ipaddress
import os
import signal
import socket
import sys
import threading
from collections.abc import Sequence

__all__ = ["serve_main", "allowed_hosts"]

_LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def allowed_hosts(host: str, port: int) -> set[str]:
    """The Host header values the server answers: its own name and address with ``port``.

    Bound to a loopback address: 127.0.0.1, localhost, [::1]. Bound to another address: that
    address, plus this machine's name and its addresses when it binds every interface
    (0.0.0.0, ::).
    """
    names = {_url_host(host)}
    if _is_loopback(host):
        names.update(_LOOPBACK_NAMES)
    else:
        names.update(_LOOPBACK_NAMES)
        if host in ("0.0.0.0", "::"):
            hostname = socket.gethostname()
            names.update({hostname, socket.getfqdn()})
            with_addresses = set()
            try:
                for info in socket.getaddrinfo(hostname, None):
                    with_addresses.add(_url_host(info[4][0]))
            except OSError:
                pass
            names.update(with_addresses)
    return {f"{name}:{port}" for name in names} | ({*names} if port == 80 else set())


def _parser():
    from ..config import CONFIG, default_model_path
    from ..console import Parser as _Parser

    p = _Parser(
        prog="nst-tf1 serve",
        description=(
            "A local web page to run style transfer: upload a content and a style image, "
            "start, watch the image form and the costs fall, stop, download. Each run goes "
            "into its own folder under --output-dir, with the same files and run.json as a "
            "command-line run. Ctrl-C stops a run as the command line does and exits."
        ),
    )
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: %(default)s, this machine only; any other "
        "address lets other machines start runs on this one)",
    )
    p.add_argument(
        "--port", type=int, default=8000, help="port (default: %(default)s; 0: a free one)"
    )
    p.add_argument(
        "--output-dir",
        default=CONFIG.OUTPUT_DIR,
        help="where the runs' folders and the uploads go (default: %(default)s)",
    )
    p.add_argument(
        "--model",
        default=default_model_path(),
        help="the VGG-19 .mat every run uses (default: %(default)s); the page never "
        "downloads it: 'nst-tf1 fetch-model' does",
    )
    p.add_argument("--open", action="store_true", help="open the page in a web browser")
    return p


def _listen(host: str, port: int) -> socket.socket | None:
    """A socket listening on ``host:port`` (``None``: it cannot, which was said); a host
    other than this machine's own is warned about."""
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), port))
        sock.listen(64)
    except OSError as exc:
        print(
            f"nst-tf1 serve: error: cannot listen on {host}:{port} ({exc.strerror or exc})",
            file=sys.stderr,
        )
        return None
    if not _is_loopback(host):
        print(
            f"nst-tf1 serve: warning: listening on {host}, not only on this machine: "
            "anyone who can reach it can upload images and start runs here",
            file=sys.stderr,
            flush=True,
        )
    return sock


def _uvicorn_server(uvicorn, config):
    """uvicorn's server, whose second Ctrl-C hurries the app's shutdown instead of skipping it.

    uvicorn's own second Ctrl-C ("force exit") abandons the open connections and the app's
    shutdown, and the event loop's closing then cancels them: their tracebacks (a
    ``CancelledError`` in uvicorn's lifespan, and in each open event stream) went to the
    terminal, and the run was stopped only after the server had gone. Here a second Ctrl-C
    sets ``hurried`` instead: the run stops at once, without saving the current image, as a
    second Ctrl-C stops a command-line run; the event streams send its end; the shutdown goes
    on as after one Ctrl-C, now in a moment.
    """

    class _Server(uvicorn.Server):
        hurried = False

        def handle_exit(self, sig, frame):
            if sig == signal.SIGINT and self.should_exit:
                self.hurried = True
            else:
                super().handle_exit(sig, frame)

    return _Server(config)


def serve_main(argv: Sequence[str]) -> int:
    """``nst-tf1 serve``: serve the page until Ctrl-C; return the exit status."""
    from ..allocator import tunables_to_add

    args = _parser().parse_args(argv)
    if not 0 <= args.port <= 65535:
        print(f"nst-tf1 serve: error: --port must be 0..65535, got {args.port}", file=sys.stderr)
        return 2
    # The runs' processes start with the command line's malloc tunables (nst_tf1.allocator).
    tunables = tunables_to_add(os.environ)
    if tunables:
        os.environ["GLIBC_TUNABLES"] = tunables
    sock = _listen(args.host, args.port)
    if sock is None:
        return 2
    port = sock.getsockname()[1]
    import uvicorn

    from .app import create_app

    holder = {}
    app = create_app(
        args.output_dir,
        args.model,
        allowed_hosts(args.host, port),
        closing=lambda: holder["server"].should_exit,
        hurry=lambda: holder["server"].hurried,
    )
    shown = "127.0.0.1" if args.host in ("0.0.0.0", "::") else _url_host(args.host)
    url = f"http://{shown}:{port}/"
    config = uvicorn.Config(
        app, log_level="warning", timeout_graceful_shutdown=2, lifespan="on", access_log=False
    )
    server = holder["server"] = _uvicorn_server(uvicorn, config)
    print(f"Serving on {url}", flush=True)
    print("nst-tf1 serve: Ctrl-C stops the server (and a run, keeping its image)", file=sys.stderr)
    if args.open:
        import webbrowser

        threading.Timer(0.5, webbrowser.open, (url,)).start()
    try:
        # On Ctrl-C uvicorn stops taking requests, the app's shutdown stops the run (it saves
        # its image; a second Ctrl-C stops it at once), and uvicorn raises the signal again on
        # its way out.
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        return 128 + signal.SIGINT
    finally:
        if threading.current_thread() is threading.main_thread():
            # The run has ended: a Ctrl-C from now on has nothing left to stop, and the
            # command's handler would raise KeyboardInterrupt wherever the way out is.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
    captured = getattr(server, "_captured_signals", None) or [0]
    return 128 + captured[-1] if captured[-1] else 0
