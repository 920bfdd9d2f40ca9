"""The process a run of the page works in: one run, its events sent back to the server.

The server starts :func:`main` in a process of its own (``multiprocessing``'s spawn: a fresh
interpreter, nothing of the server's threads or sockets), so a run that crashes or runs out
of memory ends that process, never the server. The worker calls :func:`nst_tf1.run.run` on
its main thread and sends, over its end of a :func:`multiprocessing.Pipe`:

* ``("event", dict)``: each event as :func:`nst_tf1.events.to_dict` makes it;
* ``("preview", step, png_bytes)``: the current image, PNG-encoded, at every saved iteration
  and at least every :data:`PREVIEW_SECONDS` when the run reports images that often.

It receives ``"stop"``: end the run as Ctrl-C ends a command-line run (the current image is
kept, run.json says "stopped"). The end of the pipe closing (the server died) stops the run
the same way. The worker leaves the terminal's process group, so a Ctrl-C typed at the
server reaches the server only, which stops the run through the pipe.
"""

from __future__ import annotations

import io
import os
import signal
import threading
import time

__all__ = ["PREVIEW_SECONDS", "main", "encode_png"]

#: Longest time between two previews while the run reports images.
PREVIEW_SECONDS = 1.0


def encode_png(image) -> bytes:
    """A uint8 (height, width, 3) RGB array as PNG bytes."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


class _Sender:
    """Sends events and throttled previews to the server; a broken pipe ends the sending
    (the server is gone: the run is stopped by the listener)."""

    def __init__(self, conn, save_every):
        self.conn, self.save_every = conn, save_every
        self.lock = threading.Lock()
        self.last_preview = 0.0
        self.ended = False  # a Finished, Stopped or Failed was sent

    def send(self, message):
        with self.lock:
            try:
                self.conn.send(message)
            except (OSError, EOFError):
                pass

    def event(self, data):
        if data["type"] in ("Finished", "Stopped", "Failed"):
            self.ended = True
        self.send(("event", data))

    def preview(self, step, image, force=False):
        """Send ``image`` (uint8 HxWx3) at saved steps, when forced, or when the last one is
        older than PREVIEW_SECONDS."""
        now = time.monotonic()
        due = force or step % self.save_every == 0 or now - self.last_preview >= PREVIEW_SECONDS
        if image is None or not due:
            return
        self.last_preview = now
        self.send(("preview", step, encode_png(image)))


def _listen(conn, stop_event, request_stop):
    """Wait for "stop" (or the pipe's end) and ask the run to stop, once."""
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            message = "stop"
        if message == "stop":
            if not stop_event.is_set():
                stop_event.set()
                request_stop()
            return


def _bridge_todays_run(settings, sender):
    """Run today's ``run(settings, report)`` and translate its events into the typed events
    of :mod:`nst_tf1.events`. Today's run is stopped by SIGINT on the main thread (the
    listener sends it to this process) and raises its outcome; this function turns that
    into Finished/Stopped/Failed. Delete it once ``run(settings, report, should_stop,
    preview_every=...)`` reports typed events itself."""
    import numpy as np

    from .. import events
    from ..config import CONFIG
    from ..errors import InputError, Interrupted, RunFailed
    from ..run import Advance, Begin, Costs, Download, Message, run
    from ..weights import FetchEvent

    unit = "evaluation" if settings.optimizer == "lbfgs" else "iteration"
    started = [None]
    count = [0]

    def report(event):
        if isinstance(event, Message):
            sender.event(events.to_dict(events.Note("message", event.text, event.kind)))
        elif isinstance(event, Begin):
            started[0] = time.monotonic()
            begun = events.RunBegun(
                event.total, 1, settings.height, settings.width, {}, settings.optimizer, {}
            )
            sender.event(events.to_dict(begun))
        elif isinstance(event, Advance):
            count[0] += event.count
            seconds = time.monotonic() - (started[0] or time.monotonic())
            step = events.StepDone(
                count[0] - 1, settings.iterations, unit, event.total_cost, None, None, seconds
            )
            sender.event(events.to_dict(step))
        elif isinstance(event, Costs):
            s = event.step
            seconds = time.monotonic() - (started[0] or time.monotonic())
            done = events.StepDone(
                s.iteration,
                settings.iterations,
                unit,
                s.total_cost,
                s.content_cost,
                s.style_cost,
                seconds,
            )
            sender.event(events.to_dict(done))
            if s.image is not None:
                rgb = np.clip(np.asarray(s.image) + CONFIG.MEANS, 0, 255).astype("uint8")[0]
                sender.preview(s.iteration, rgb, force=True)
        elif isinstance(event, Download):
            sender.event(events.to_dict(events.DownloadStarted(event.url, event.dest)))
        elif isinstance(event, FetchEvent):
            progress = events.DownloadProgress(event.kind, getattr(event, "done", None))
            sender.event(events.to_dict(progress))

    try:
        run(settings, report)
        end = events.Finished((settings.output_dir,), "finished")
    except Interrupted as exc:
        kept = os.path.join(settings.output_dir, "generated_image.png")
        end = events.Stopped(
            kept if os.path.exists(kept) else None,
            None,
            exc.message or "stopped",
            signal.Signals(exc.signum).name,
        )
    except InputError as exc:
        end = events.Failed(str(exc), None, "input")
    except RunFailed as exc:
        end = events.Failed(str(exc))
    return end


def main(conn, settings_fields: dict) -> None:
    """The worker process: build the Settings, run, send every event, end.

    Args:
        conn: this process's end of the pipe to the server.
        settings_fields: keyword arguments of :class:`nst_tf1.settings.Settings`.
    """
    os.setsid()  # out of the terminal's process group: Ctrl-C goes to the server only
    from .. import events
    from ..settings import Settings

    settings = Settings(**settings_fields)
    sender = _Sender(conn, settings.save_every)
    stop_event = threading.Event()
    # Today's run stops on SIGINT to its main thread (the bridge below goes with it).
    request_stop = lambda: os.kill(os.getpid(), signal.SIGINT)  # noqa: E731
    threading.Thread(target=_listen, args=(conn, stop_event, request_stop), daemon=True).start()
    try:
        end = _bridge_todays_run(settings, sender)
    except KeyboardInterrupt:  # a stop before the run's own handler was in place
        end = events.Stopped(None, None, "stopped before the run started; nothing saved")
    except BaseException as exc:  # noqa: BLE001 - the server must hear how the run ended
        end = events.Failed(f"the run failed unexpectedly: {type(exc).__name__}: {exc}")
    if not sender.ended:
        sender.event(events.to_dict(end))
    conn.close()
