"""A real ``nst-tf1 serve`` process for the tests of the page, and plain HTTP to it."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time

#: The header the page sends with every request that changes something.
HEADER = {"X-NST-TF1": "1"}
#: The checkout these tests belong to.
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Server:
    """``nst-tf1 serve --port 0`` of this environment, started and stopped by the test."""

    def __init__(self, output_dir, model, *extra, env=None):
        """``env``: variables to set in the server's environment (``None``: unset it, as
        ``TF_CPP_MIN_LOG_LEVEL`` for the terminal a user sees); a ``PYTHONPATH`` there comes
        after the checkout's."""
        script = os.path.join(os.path.dirname(sys.executable), "nst-tf1")
        env = {**os.environ, **(env or {})}
        # The checkout under test first: the environment's nst-tf1 script imports whichever
        # checkout the package was installed from (an editable install of another worktree).
        path = os.pathsep.join(filter(None, [_ROOT, env.get("PYTHONPATH")]))
        env = {k: v for k, v in env.items() if v is not None}
        env.update(PYTHONUNBUFFERED="1", PYTHONPATH=path)
        self.output_dir = str(output_dir)
        self.process = subprocess.Popen(
            [script, "serve", "--port", "0", "--output-dir", self.output_dir, "--model", model]
            + list(extra),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        line = self.process.stdout.readline()
        if not line.startswith("Serving on http://127.0.0.1:"):
            self.process.kill()
            raise AssertionError(f"no URL printed: {line!r} {self.process.stderr.read()}")
        self.url = line.split()[-1]
        self.host, self.port = "127.0.0.1", int(self.url.rstrip("/").rsplit(":", 1)[1])

    def request(self, method, path, body=None, headers=None, timeout=60):
        """(status, headers dict with lower-case names, body bytes); ``path`` is sent as it
        is (no normalisation), so traversal attempts reach the server unchanged."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            if isinstance(body, (dict, list)):
                body = json.dumps(body).encode()
                headers = {"Content-Type": "application/json", **(headers or {})}
            conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            all_headers = {"Host": f"{self.host}:{self.port}", **(headers or {})}
            if body is not None and "Content-Length" not in all_headers:
                all_headers["Content-Length"] = str(len(body))
            for name, value in all_headers.items():
                conn.putheader(name, value)
            conn.endheaders()
            if body is not None:
                conn.send(body)
            response = conn.getresponse()
            data = response.read()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, data
        finally:
            conn.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, headers=None, **kw):
        return self.request("POST", path, body, {**HEADER, **(headers or {})}, **kw)

    def json(self, method, path, body=None):
        request = self.post if method == "POST" else self.get
        status, _, data = request(path, body=body) if method == "POST" else request(path)
        return status, json.loads(data)

    def events(self, until, timeout=300, last_event_id=None):
        """Read the event stream until ``until(event)`` is true; every event read (dicts;
        the ``job`` announcements as {"type": "job", ...})."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        headers = {"Accept": "text/event-stream"}
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        conn.request("GET", "/api/events", headers=headers)
        response = conn.getresponse()
        assert response.status == 200
        assert response.getheader("content-type").startswith("text/event-stream")
        seen, kind, deadline = [], None, time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                line = response.fp.readline().decode()
                if not line:
                    break
                line = line.rstrip("\n")
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: "):
                    data = json.loads(line[6:])
                    event = {"type": "job", "job": data} if kind == "job" else data
                    kind = None
                    seen.append(event)
                    if until(event):
                        return seen
            raise AssertionError(f"the stream ended without the event; read {seen[-5:]}")
        finally:
            conn.close()

    def start(self, options, content="demo-content", styles=("demo-style",)):
        return self.json(
            "POST",
            "/api/runs",
            {"content": content, "styles": list(styles), "options": options},
        )

    def stop(self, timeout=120):
        """Ctrl-C the server; (exit status, stderr)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise
        return self.process.returncode, self.process.stderr.read()


def worker_pids(pid):
    """The child processes of ``pid`` (Linux /proc)."""
    children = []
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                children += [int(p) for p in f.read().split()]
        except OSError:
            pass
    return children
