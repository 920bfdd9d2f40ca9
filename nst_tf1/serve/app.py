"""The page's HTTP side: routes, the live event stream, and the guards around them.

Routes (JSON unless said otherwise)::

    GET  /                         the page (static/index.html); /static/app.js, style.css
    GET  /api/state                form defaults, uploads, model, limits, the current run
    POST /api/check                the form checked by Settings: {"errors": {field: message}}
    POST /api/upload               raw image bytes (X-File-Name: the name to show)
    GET  /api/uploads/ID/image     an uploaded (or demo) image; .../thumb its thumbnail
    POST /api/runs                 start a run of the form: {"job": ...} or 400/409 {"error"}
    POST /api/stop                 stop the current run (it keeps its image)
    GET  /api/events               server-sent events: the current run's history, then live
    GET  /api/preview/RUN          the latest preview of the current run (PNG)
    GET  /api/gallery              the runs in the output folder (their run.json)
    GET  /runs/RUN/FILE            a run's result file; ?download=1 as an attachment

Guards (:class:`Guard`): a request whose Host header is not this server's own name and port
is refused (DNS rebinding: a page of another site whose name was pointed at 127.0.0.1, as
Jupyter and TensorBoard refuse it); a path with ``..``, ``.``, a backslash or an encoded
``/``, ``\\``, ``.`` or NUL is refused before any route sees it; a request that changes
anything must carry the ``X-NST-TF1`` header, which a page of another site cannot send
without a CORS pre-flight this server never grants. Files are served only from the package's
own assets and from run folders directly under the output folder, by fixed name patterns.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.resources
import json
import os
import sys
import time
from urllib.parse import unquote

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    JSONResponse,
    PlainTextResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route

from ..config import model_source
from ..model_file import missing_model_message
from . import form as form_module
from .gallery import gallery, run_file
from .jobs import Busy, Jobs
from .uploads import DEMO, MAX_UPLOAD_BYTES, UploadError, Uploads, display_name

__all__ = ["Guard", "Server", "create_app", "REQUEST_HEADER"]

#: The header every request that changes something must carry (see :class:`Guard`).
REQUEST_HEADER = "x-nst-tf1"
#: The page's own files: name -> media type.
STATIC = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}
_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' blob: data:; style-src 'self'; "
        b"script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
        b"form-action 'none'",
    ),
]
#: Events seen by the page's stream at most this often (seconds).
_POLL = 0.2
#: How long the event streams wait for the stopped run's end once the server is closing
#: (seconds): within uvicorn's graceful shutdown (``timeout_graceful_shutdown``, 2 s).
_CLOSING_WAIT = 1.5


def _bad_path(scope) -> bool:
    """Whether the request's path tries to leave where it points (``..``, encoded or not)."""
    raw = scope.get("raw_path") or scope["path"].encode()
    lowered = raw.split(b"?", 1)[0].lower()
    if any(code in lowered for code in (b"%2e", b"%2f", b"%5c", b"%00", b"\\")):
        return True
    path = scope["path"]
    return "\\" in path or "\x00" in path or any(part in (".", "..") for part in path.split("/"))


class Guard:
    """ASGI middleware: the Host check, the path check and the request header check."""

    def __init__(self, app, allowed_hosts):
        self.app = app
        self.allowed_hosts = {host.lower() for host in allowed_hosts}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        host = headers.get(b"host", b"").decode("latin-1").lower()
        if host not in self.allowed_hosts:
            response = PlainTextResponse(
                f"Host {host!r} is not this server's name; open the address "
                "'nst-tf1 serve' printed",
                status_code=403,
            )
        elif _bad_path(scope):
            response = PlainTextResponse("Not found", status_code=404)
        elif (
            scope["method"] not in ("GET", "HEAD") and headers.get(REQUEST_HEADER.encode()) != b"1"
        ):
            response = PlainTextResponse(
                "Refused: a request from another site (the page sends X-NST-TF1: 1)",
                status_code=403,
            )
        else:
            response = None

        async def send_secured(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message["headers"], *_SECURITY_HEADERS]}
            await send(message)

        if response is not None:
            return await response(scope, receive, send_secured)
        return await self.app(scope, receive, send_secured)


def _error(message: str, status: int = 400, **extra) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


def create_app(
    output_dir: str, model: str, allowed_hosts, *, closing=lambda: False, hurry=lambda: False
):
    """The ASGI application of ``nst-tf1 serve``.

    Args:
        output_dir: where runs go (one folder each) and uploads are kept.
        model: the VGG-19 .mat every run uses (never downloaded by the page).
        allowed_hosts: the ``host:port`` values the Host header may have.
        closing: returns true once the server is shutting down (the event streams stop the
            run, send its end and end).
        hurry: returns true once a second Ctrl-C asks to end the run at once.
    """
    server = Server(output_dir, model, closing, hurry)
    app = Starlette(routes=_routes(), lifespan=_lifespan)
    app.state.server = server
    app.state.jobs = server.jobs
    return Guard(app, allowed_hosts)


class Server:
    """What the routes share (``request.app.state.server``): the output folder, the model,
    the runs (:class:`~nst_tf1.serve.jobs.Jobs`) and the uploads.

    Args:
        output_dir: where runs go (one folder each) and uploads are kept.
        model: the VGG-19 .mat every run uses (never downloaded by the page).
        closing: returns true once the server is shutting down (the event streams stop the
            run, send its end and end).
        hurry: returns true once a second Ctrl-C asks to end the run at once.
    """

    def __init__(self, output_dir, model, closing, hurry):
        self.output_dir = os.path.abspath(output_dir)
        self.model, self.closing, self.hurry = model, closing, hurry
        self.jobs = Jobs(self.output_dir)
        self.uploads = Uploads(self.output_dir)

    def model_problem(self):
        """What to do about a missing model file, or ``None``."""
        if os.path.isfile(self.model):
            return None
        return missing_model_message(
            self.model, model_source()[0], why="the page does not download it"
        )

    def job_data(self, job):
        """A run as the page shows it (its summary and form fields), or ``None``."""
        if job is None:
            return None
        return {**job.summary(), "fields": _shown_fields(job.fields, self.uploads)}

    def checked(self, data, base_extra):
        """(Settings fields, None) or (None, error response) for the page's form."""
        uploads = self.uploads
        errors = {}
        content = uploads.path(data.get("content"))
        if content is None:
            errors["content"] = "Choose a content image, or upload one."
        styles = data.get("styles") if isinstance(data.get("styles"), list) else []
        style_paths = [uploads.path(s) for s in styles]
        if not style_paths or None in style_paths:
            errors["style"] = "Choose a style image, or upload one."
        options = data.get("options") if isinstance(data.get("options"), dict) else {}
        base = {
            "content": content or DEMO["demo-content"][0],
            "style": [p for p in style_paths if p] or [DEMO["demo-style"][0]],
            "model": self.model,
            "no_download": True,
            **base_extra,
        }
        try:
            fields = form_module.settings_fields(options, base)
        except form_module.FormError as exc:
            errors.update(exc.errors)
            fields = None
        if errors:
            first = next(iter(errors.values()))
            return None, _error(first, 400, errors=errors)
        return fields, None


def _server(request: Request) -> Server:
    return request.app.state.server


async def _page(request: Request):
    name = request.path_params.get("name", "index.html")
    if name not in STATIC:
        return PlainTextResponse("Not found", status_code=404)
    body = (_static_root() / name).read_bytes()
    return Response(body, media_type=STATIC[name], headers={"cache-control": "no-cache"})


async def _state(request: Request):
    server = _server(request)
    return JSONResponse(
        {
            "defaults": form_module.defaults(),
            "uploads": [server.uploads.info(i) for i in DEMO] + server.uploads.list(),
            "model": {"path": server.model, "problem": server.model_problem()},
            "output_dir": server.output_dir,
            "max_upload_bytes": MAX_UPLOAD_BYTES,
            "job": server.job_data(server.jobs.current),
        }
    )


async def _body_json(request):
    try:
        data = json.loads(await request.body())
    except ValueError:
        data = None
    return data if isinstance(data, dict) else {}


async def _check(request: Request):
    server = _server(request)
    _, failure = server.checked(await _body_json(request), {"output_dir": server.output_dir})
    if failure is not None:
        return failure
    return JSONResponse({"errors": {}})


async def _start(request: Request):
    server = _server(request)
    fields, failure = server.checked(await _body_json(request), {"output_dir": server.output_dir})
    if failure is not None:
        return failure
    problem = server.model_problem()
    if problem:
        return _error(problem, 400)
    fields.pop("output_dir")
    try:
        job = await run_in_threadpool(server.jobs.start, fields)
    except Busy as exc:
        return _error(f"{exc}.", 409)
    except OSError as exc:
        return _error(f"cannot start the run: {exc}", 500)
    return JSONResponse({"job": server.job_data(job)})


async def _stop(request: Request):
    server = _server(request)
    job = server.jobs.current
    if job is None or not job.running:
        return _error("No run is going on.", 409)
    job.stop()
    return JSONResponse({"job": server.job_data(job)})


async def _upload(request: Request):
    server = _server(request)
    name = display_name(unquote(request.headers.get("x-file-name", "")))
    limit = f"{MAX_UPLOAD_BYTES // (1024 * 1024)} MB"
    try:
        declared = int(request.headers.get("content-length", "0"))
    except ValueError:
        declared = 0
    if declared > MAX_UPLOAD_BYTES:
        return _error(f"{name}: larger than the upload limit of {limit}.", 413)
    try:
        tmp, file = server.uploads.begin()
    except OSError as exc:
        return _error(
            f"cannot store uploads in {server.uploads.root} ({exc.strerror or exc}).", 500
        )
    try:
        size = 0
        with file:
            async for chunk in request.stream():
                size += len(chunk)
                if size > MAX_UPLOAD_BYTES:
                    raise UploadError(f"{name}: larger than the upload limit of {limit}.", 413)
                await run_in_threadpool(file.write, chunk)
        info = await run_in_threadpool(server.uploads.finish, tmp, name)
    except UploadError as exc:
        return _error(str(exc), exc.status)
    except OSError as exc:
        return _error(f"{name}: cannot store it ({exc.strerror or exc}).", 500)
    finally:
        with contextlib.suppress(OSError):
            os.remove(tmp)
    return JSONResponse({"upload": info})


async def _upload_file(request: Request):
    server = _server(request)
    upload_id, what = request.path_params["id"], request.path_params["what"]
    path = server.uploads.path(upload_id) if what == "image" else None
    if what == "thumb":
        path = server.uploads.thumbnail(upload_id) or (
            DEMO[upload_id][0] if upload_id in DEMO else None
        )
    if path is None:
        return PlainTextResponse("Not found", status_code=404)
    return FileResponse(path)


async def _preview(request: Request):
    server = _server(request)
    job = server.jobs.current
    if job is None or job.id != request.path_params["run"] or job.preview is None:
        return PlainTextResponse("Not found", status_code=404)
    return Response(job.preview[2], media_type="image/png", headers={"cache-control": "no-store"})


async def _events(request: Request):
    """Server-sent events: ``job`` when a run is (or becomes) current, then its events
    from the start (or after ``Last-Event-ID``), then live ones; once the server is closing,
    the run's end (the stream stops the run) before the stream ends."""
    server = _server(request)
    last = request.headers.get("last-event-id", "")
    last_job, _, last_seq = last.partition(":")

    async def stream():
        job, seq = None, 0
        yield "retry: 1000\n\n"
        if server.jobs.current is None:
            yield "event: job\ndata: null\n\n"
        quiet, closing_until = 0.0, None
        while not await request.is_disconnected():
            current = server.jobs.current
            if current is not None and current is not job:
                job = current
                seq = int(last_seq) if job.id == last_job and last_seq.isdigit() else 0
                yield f"event: job\ndata: {json.dumps(server.job_data(job))}\n\n"
            # Read before the events: a run seen ended has its end among them (Job._add).
            ended = job is None or not job.running
            if job is not None:
                for event in job.since(seq):
                    seq = event["seq"]
                    yield f"id: {job.id}:{seq}\ndata: {json.dumps(event)}\n\n"
                    quiet = 0.0
                    # The server hears of a page gone away only between writes: without this
                    # pause the rest of the events went to the closed connection, and asyncio
                    # printed "socket.send() raised exception." for each.
                    await asyncio.sleep(0)
            if server.closing():
                # The server stops the run before the stream ends, so that the page sees it
                # end (stopped, its image kept) instead of a run that seems to go on; the
                # server's shutdown waits for the streams for a short while only, and a run
                # that has not ended by then (still starting) gets an end from the stream.
                closing_until = closing_until or time.monotonic() + _CLOSING_WAIT
                if not ended and time.monotonic() > closing_until:
                    yield f"data: {json.dumps(job.closed_end())}\n\n"
                if ended or time.monotonic() > closing_until:
                    break
                server.jobs.stop_for_shutdown(hurry=server.hurry())
            await asyncio.sleep(_POLL)
            quiet += _POLL
            if quiet >= 15:
                yield ": keep-alive\n\n"
                quiet = 0.0

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"cache-control": "no-store", "x-accel-buffering": "no"},
    )


async def _runs(request: Request):
    server = _server(request)
    return JSONResponse(
        {"runs": await run_in_threadpool(gallery, server.output_dir, server.uploads)}
    )


async def _result(request: Request):
    server = _server(request)
    name, file = request.path_params["run"], request.path_params["file"]
    path = run_file(server.output_dir, name, file)
    if path is None:
        return PlainTextResponse("Not found", status_code=404)
    headers = {"cache-control": "no-cache"}
    if request.query_params.get("download"):
        return FileResponse(
            path,
            filename=f"{name}-{file}",
            content_disposition_type="attachment",
            headers=headers,
        )
    return FileResponse(path, headers=headers)


@contextlib.asynccontextmanager
async def _lifespan(app):
    """After the server stops: stop the current run (it keeps its image) and say so."""
    server = app.state.server
    yield
    job = await run_in_threadpool(server.jobs.shutdown, 120.0, server.hurry)
    if job is not None:
        last = job.events[-1] if job.events else {}
        print(
            f"nst-tf1: stopped the run in {job.folder}: {last.get('text', job.status)}",
            file=sys.stderr,
            flush=True,
        )


def _routes():
    """The routes of the table above, each to its handler."""
    return [
        Route("/", _page),
        Route("/favicon.ico", lambda request: Response(status_code=204)),
        Route("/static/{name}", _page),
        Route("/api/state", _state),
        Route("/api/check", _check, methods=["POST"]),
        Route("/api/upload", _upload, methods=["POST"]),
        Route("/api/uploads/{id}/{what}", _upload_file),
        Route("/api/runs", _start, methods=["POST"]),
        Route("/api/stop", _stop, methods=["POST"]),
        Route("/api/events", _events),
        Route("/api/preview/{run}", _preview),
        Route("/api/gallery", _runs),
        Route("/runs/{run}/{file}", _result),
    ]


def _static_root():
    return importlib.resources.files(__package__) / "static"


def _shown_fields(fields: dict, uploads: Uploads) -> dict:
    """A run's settings as the page refills its form with them (images as upload ids)."""
    shown = {name: fields.get(name) for name in form_module.FIELDS if name in fields}
    shown["content"] = uploads.id_of(fields["content"])
    shown["styles"] = [uploads.id_of(path) for path in fields["style"]]
    return shown
