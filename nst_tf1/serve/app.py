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

__all__ = ["Guard", "create_app", "REQUEST_HEADER"]

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
        closing: returns true once the server is shutting down (the event streams end).
        hurry: returns true once a second Ctrl-C asks to end the run at once.
    """
    output_dir = os.path.abspath(output_dir)
    jobs = Jobs(output_dir)
    uploads = Uploads(output_dir)
    static_root = importlib.resources.files(__package__) / "static"

    def model_problem():
        if os.path.isfile(model):
            return None
        return missing_model_message(model, model_source()[0], why="the page does not download it")

    async def page(request: Request):
        name = request.path_params.get("name", "index.html")
        if name not in STATIC:
            return PlainTextResponse("Not found", status_code=404)
        body = (static_root / name).read_bytes()
        return Response(body, media_type=STATIC[name], headers={"cache-control": "no-cache"})

    def job_data(job):
        if job is None:
            return None
        return {**job.summary(), "fields": _shown_fields(job.fields, uploads)}

    async def state(request: Request):
        return JSONResponse(
            {
                "defaults": form_module.defaults(),
                "uploads": [uploads.info(i) for i in DEMO] + uploads.list(),
                "model": {"path": model, "problem": model_problem()},
                "output_dir": output_dir,
                "max_upload_bytes": MAX_UPLOAD_BYTES,
                "job": job_data(jobs.current),
            }
        )

    async def body_json(request):
        try:
            data = json.loads(await request.body())
        except ValueError:
            data = None
        return data if isinstance(data, dict) else {}

    def checked(data, base_extra):
        """(Settings fields, None) or (None, error response) for the page's form."""
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
            "model": model,
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

    async def check(request: Request):
        _, failure = checked(await body_json(request), {"output_dir": output_dir})
        if failure is not None:
            return failure
        return JSONResponse({"errors": {}})

    async def start(request: Request):
        fields, failure = checked(await body_json(request), {"output_dir": output_dir})
        if failure is not None:
            return failure
        problem = model_problem()
        if problem:
            return _error(problem, 400)
        fields.pop("output_dir")
        try:
            job = await run_in_threadpool(jobs.start, fields)
        except Busy as exc:
            return _error(f"{exc}.", 409)
        except OSError as exc:
            return _error(f"cannot start the run: {exc}", 500)
        return JSONResponse({"job": job_data(job)})

    async def stop(request: Request):
        job = jobs.current
        if job is None or not job.running:
            return _error("No run is going on.", 409)
        job.stop()
        return JSONResponse({"job": job_data(job)})

    async def upload(request: Request):
        name = display_name(unquote(request.headers.get("x-file-name", "")))
        limit = f"{MAX_UPLOAD_BYTES // (1024 * 1024)} MB"
        try:
            declared = int(request.headers.get("content-length", "0"))
        except ValueError:
            declared = 0
        if declared > MAX_UPLOAD_BYTES:
            return _error(f"{name}: larger than the upload limit of {limit}.", 413)
        try:
            tmp, file = uploads.begin()
        except OSError as exc:
            return _error(f"cannot store uploads in {uploads.root} ({exc.strerror or exc}).", 500)
        try:
            size = 0
            with file:
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > MAX_UPLOAD_BYTES:
                        raise UploadError(f"{name}: larger than the upload limit of {limit}.", 413)
                    await run_in_threadpool(file.write, chunk)
            info = await run_in_threadpool(uploads.finish, tmp, name)
        except UploadError as exc:
            return _error(str(exc), exc.status)
        except OSError as exc:
            return _error(f"{name}: cannot store it ({exc.strerror or exc}).", 500)
        finally:
            with contextlib.suppress(OSError):
                os.remove(tmp)
        return JSONResponse({"upload": info})

    async def upload_file(request: Request):
        upload_id, what = request.path_params["id"], request.path_params["what"]
        path = uploads.path(upload_id) if what == "image" else None
        if what == "thumb":
            path = uploads.thumbnail(upload_id) or (
                DEMO[upload_id][0] if upload_id in DEMO else None
            )
        if path is None:
            return PlainTextResponse("Not found", status_code=404)
        return FileResponse(path)

    async def preview(request: Request):
        job = jobs.current
        if job is None or job.id != request.path_params["run"] or job.preview is None:
            return PlainTextResponse("Not found", status_code=404)
        return Response(
            job.preview[2], media_type="image/png", headers={"cache-control": "no-store"}
        )

    async def events(request: Request):
        """Server-sent events: ``job`` when a run is (or becomes) current, then its events
        from the start (or after ``Last-Event-ID``), then live ones."""
        last = request.headers.get("last-event-id", "")
        last_job, _, last_seq = last.partition(":")

        async def stream():
            job, seq = None, 0
            yield "retry: 1000\n\n"
            if jobs.current is None:
                yield "event: job\ndata: null\n\n"
            quiet = 0.0
            while not closing() and not await request.is_disconnected():
                current = jobs.current
                if current is not None and current is not job:
                    job = current
                    seq = int(last_seq) if job.id == last_job and last_seq.isdigit() else 0
                    yield f"event: job\ndata: {json.dumps(job_data(job))}\n\n"
                if job is not None:
                    for event in job.since(seq):
                        seq = event["seq"]
                        yield f"id: {job.id}:{seq}\ndata: {json.dumps(event)}\n\n"
                        quiet = 0.0
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

    async def runs(request: Request):
        return JSONResponse({"runs": await run_in_threadpool(gallery, output_dir, uploads)})

    async def result(request: Request):
        name, file = request.path_params["run"], request.path_params["file"]
        path = run_file(output_dir, name, file)
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
    async def lifespan(app):
        yield
        job = await run_in_threadpool(jobs.shutdown, 120.0, hurry)
        if job is not None:
            last = job.events[-1] if job.events else {}
            print(
                f"nst-tf1: stopped the run in {job.folder}: {last.get('text', job.status)}",
                file=sys.stderr,
                flush=True,
            )

    routes = [
        Route("/", page),
        Route("/favicon.ico", lambda request: Response(status_code=204)),
        Route("/static/{name}", page),
        Route("/api/state", state),
        Route("/api/check", check, methods=["POST"]),
        Route("/api/upload", upload, methods=["POST"]),
        Route("/api/uploads/{id}/{what}", upload_file),
        Route("/api/runs", start, methods=["POST"]),
        Route("/api/stop", stop, methods=["POST"]),
        Route("/api/events", events),
        Route("/api/preview/{run}", preview),
        Route("/api/gallery", runs),
        Route("/runs/{run}/{file}", result),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.jobs = jobs
    return Guard(app, allowed_hosts)


def _shown_fields(fields: dict, uploads: Uploads) -> dict:
    """A run's settings as the page refills its form with them (images as upload ids)."""
    shown = {name: fields.get(name) for name in form_module.FIELDS if name in fields}
    shown["content"] = uploads.id_of(fields["content"])
    shown["styles"] = [uploads.id_of(path) for path in fields["style"]]
    return shown
