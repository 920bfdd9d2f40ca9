"""The process a run of the page works in: one run, its events sent back to the server.

The server starts :func:`main` in a process of its own (``multiprocessing``'s spawn: a fresh
interpreter, nothing of the server's threads or sockets), so a run that crashes or runs out
of memory ends that process, never the server. The worker sets its process up as the
command line does (:mod:`nst_tf1.process`: malloc, TensorFlow's start-up lines kept off the
terminal), calls :func:`nst_tf1.run` with a preview image on every step, and sends, over its
end of a :func:`multiprocessing.Pipe`:

* ``("event", dict)``: each event as :func:`nst_tf1.events.to_dict` makes it;
* ``("preview", step, png_bytes)``: the current image, PNG-encoded, at every saved
  (``logged``) step and whenever the last one sent is :data:`PREVIEW_SECONDS` old.

It receives ``"stop"``: it sets the run's ``should_stop``, and the run ends as Ctrl-C ends a
command-line run (the current image is kept, run.json says "stopped"). The end of the pipe
(the server died) stops the run the same way. The worker leaves the terminal's process
group, so a Ctrl-C typed at the server reaches the server only, which stops the run through
the pipe.
"""

from __future__ import annotations

import functools
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


def _listen(conn, stop_event):
    """Wait for "stop" (or the pipe's end) and ask the run to stop."""
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            message = "stop"
        if message == "stop":
            stop_event.set()
            return


def _run(settings, sender, stop_event):
    """Run ``settings`` with :func:`nst_tf1.run`, sending its events and previews; the run
    stops once ``stop_event`` is set. It reports its own end (Finished, Stopped, Failed) and
    raises the matching error, which is not news here."""
    from .. import events, process
    from ..errors import InputError, Interrupted, RunFailed
    from ..running import run

    process.set_up()  # malloc; the tunables came with the server's environment
    quiet = process.QuietStart()

    def report(event):
        if isinstance(event, events.Loading):
            quiet.start()  # TensorFlow's start-up lines stay off the server's terminal
        elif isinstance(event, events.Note) and event.code == "device":
            quiet.stop()
            process.tensorflow_started()
        if isinstance(event, events.StepDone) and event.image is not None:
            sender.preview(event.step, event.image, force=event.logged)
        sender.event(events.to_dict(event))

    try:
        run(settings, report, stop_event.is_set, preview_every=1)
    except (InputError, RunFailed, Interrupted):
        pass
    finally:
        quiet.stop(failed=not sender.ended)


def _stop_at_once(stop_event, signum, frame):
    """The server's second Ctrl-C: reported as the user's SIGINT, as the command line does.
    The stop it follows counts as asked (the run then says it stopped "again", without
    saving), even when the "stop" sent just before has not been read yet."""
    from ..errors import Interrupted

    stop_event.set()
    raise Interrupted(signal.SIGINT)


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
    stop_event = threading.Event()
    # SIGTERM from the server (its second Ctrl-C) stops at once, without saving the current
    # image, as a second Ctrl-C stops a command-line run; the first stop is the "stop" message.
    signal.signal(signal.SIGTERM, functools.partial(_stop_at_once, stop_event))
    sender = _Sender(conn, settings.save_every)
    threading.Thread(target=_listen, args=(conn, stop_event), daemon=True).start()
    try:
        _run(settings, sender, stop_event)
    except BaseException as exc:  # noqa: BLE001 - the server must hear how the run ended
        end = events.Failed(f"the run failed unexpectedly: {type(exc).__name__}: {exc}")
    else:
        end = events.Failed("the run ended without saying how")
    if not sender.ended:
        sender.event(events.to_dict(end))
    conn.close()
