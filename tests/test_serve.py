"""``nst-tf1 serve`` over HTTP: a real server process on 127.0.0.1 (port 0), a synthetic model.

Runs, the event stream, stop, downloads, the gallery, every kind of bad input, path
traversal, the Host header, a killed worker, and Ctrl-C on the server.
"""

import contextlib
import io
import json
import os
import signal
import subprocess
import threading
import time

import numpy as np
import pytest
from conftest import HEIGHT, LONG_RUN, WIDTH
from serve_server import Server, worker_pids

from nst_tf1.config import model_source
from nst_tf1.model_file import missing_model_message
from nst_tf1.settings import Settings, SettingsError

FAST_RUN = {"height": str(HEIGHT), "width": str(WIDTH), "seed": "0"}
#: The server's environment as a user's: TensorFlow's start-up lines kept off its terminal.
AS_A_USER = {"TF_CPP_MIN_LOG_LEVEL": None}
#: What the server says on its terminal as it starts.
BANNER = "nst-tf1 serve: Ctrl-C stops the server (and a run, keeping its image)"


@pytest.fixture(scope="module")
def server(vgg_file, tmp_path_factory):
    server = Server(tmp_path_factory.mktemp("serve-output"), vgg_file)
    yield server
    server.stop()


def _png_bytes(array):
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.asarray(array, dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def _upload(server, data, name="image.png", headers=None):
    from urllib.parse import quote

    status, _, body = server.post(
        "/api/upload", body=data, headers={"X-File-Name": quote(name), **(headers or {})}
    )
    return status, json.loads(body)


def _settings_message(**kwargs):
    with pytest.raises(SettingsError) as info:
        Settings(**kwargs)
    return str(info.value)


def test_the_page_and_its_assets_are_served_with_security_headers(server):
    status, headers, body = server.get("/")
    assert status == 200 and headers["content-type"].startswith("text/html")
    page = body.decode()
    for needed in ('role="status"', ">Start<", ">Stop<", "Content image", "Style image"):
        assert needed in page
    assert "http://" not in page and "https://" not in page  # nothing from another site
    for name, kind in (("app.js", "text/javascript"), ("style.css", "text/css")):
        status, headers, body = server.get(f"/static/{name}")
        assert status == 200 and headers["content-type"].startswith(kind)
        body = body.replace(b"http://www.w3.org/2000/svg", b"")  # a name, not a fetch
        assert b"http://" not in body and b"https://" not in body
    assert headers["x-content-type-options"] == "nosniff"
    assert "default-src 'self'" in headers["content-security-policy"]
    assert server.get("/static/missing.js")[0] == 404


@pytest.mark.parametrize(
    "host",
    ["evil.example", "evil.example:{port}", "127.0.0.1:1", "127.0.0.1.evil.example:{port}", ""],
)
def test_a_foreign_host_header_is_refused(server, host):
    """DNS rebinding: a page of another site whose name resolves to 127.0.0.1."""
    status, _, body = server.get("/api/state", headers={"Host": host.format(port=server.port)})
    assert status == 403
    assert b"not this server's name" in body


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "[::1]:{port}"])
def test_the_servers_own_names_are_served(server, host):
    assert server.get("/api/state", headers={"Host": host.format(port=server.port)})[0] == 200


@pytest.mark.parametrize(
    "path",
    [
        "/static/../__init__.py",
        "/static/%2e%2e/__init__.py",
        "/static/..%2f__init__.py",
        "/static/%2E%2E%2F%2E%2E%2Fsetup.cfg",
        "/runs/../../etc/passwd",
        "/runs/..%2f..%2fetc/passwd",
        "/runs/%2e%2e/run.json",
        "/runs/x/..%5c..%5crun.json",
        "/api/uploads/..%2f..%2fsetup.cfg/image",
        "/api/uploads/demo-content/..%2f..%2f..%2fsetup.cfg",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/runs/./run.json",
        "/runs/run%00/run.json",
        "/runs/etc/passwd",
        "/runs/uploads/run.json",
    ],
)
def test_path_traversal_is_refused(server, path):
    status, _, body = server.get(path)
    assert status == 404
    assert b"root:" not in body and b"[metadata]" not in body and b"import" not in body


def test_a_request_that_changes_something_needs_the_pages_header(server):
    """A form of another site can POST here, but cannot add a header without CORS."""
    status, _, body = server.request("POST", "/api/runs", body={"content": "demo-content"})
    assert status == 403 and b"another site" in body
    status, _, _ = server.request("POST", "/api/upload", body=b"x")
    assert status == 403


def test_a_text_file_as_an_image_is_one_sentence(server):
    status, body = _upload(server, b"just some notes\n", name="notes.txt")
    assert status == 400
    assert body["error"] == "notes.txt: not an image file (Pillow cannot identify its format)"


def test_an_empty_upload_is_refused(server):
    status, body = _upload(server, b"", name="empty.png")
    assert status == 400 and body["error"] == "empty.png: empty file (0 bytes)"


def test_an_oversized_upload_is_refused_before_it_is_stored(server):
    uploads = os.path.join(server.output_dir, "uploads")
    before = set(os.listdir(uploads)) if os.path.isdir(uploads) else set()
    # Declared too large: refused before a byte is read.
    status, body = _upload(server, b"x" * 10, headers={"Content-Length": str(51 * 2**20)})
    assert status == 413 and "larger than the upload limit of 50 MB" in body["error"]
    # Not declared (chunked): refused while it streams in, and nothing of it is kept.
    from http.client import HTTPConnection

    conn = HTTPConnection(server.host, server.port, timeout=60)
    chunk = b"\0" * (1 << 20)

    def body_chunks():
        for _ in range(60):
            yield chunk

    conn.request(
        "POST",
        "/api/upload",
        body=body_chunks(),
        headers={"X-NST-TF1": "1", "X-File-Name": "big.png"},
        encode_chunked=True,
    )
    try:
        response = conn.getresponse()
        status, data = response.status, json.loads(response.read())
    except (BrokenPipeError, ConnectionResetError):  # refused before all was sent
        status, data = 413, {"error": "larger than the upload limit"}
    conn.close()
    assert status == 413 and "larger than the upload limit" in data["error"]
    after = set(os.listdir(uploads)) if os.path.isdir(uploads) else set()
    assert after == before


def test_a_decompression_bomb_is_refused(server):
    """A PNG of a few kB that declares 144 million pixels."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("1", (12000, 12000)).save(buffer, format="PNG")
    assert len(buffer.getvalue()) < 100_000
    status, body = _upload(server, buffer.getvalue(), name="bomb.png")
    assert status == 400
    assert body["error"].startswith("bomb.png: image has 144,000,000 pixels")
    assert "decompression bomb" in body["error"]


def test_a_corrupt_image_is_refused(server):
    data = _png_bytes(np.full((64, 64, 3), 100))
    status, body = _upload(server, data[: len(data) // 2], name="cut.png")
    assert status == 400 and body["error"].startswith("cut.png: truncated or corrupt")


def test_an_upload_name_never_chooses_a_path(server, tmp_path):
    data = _png_bytes(np.random.default_rng(1).integers(0, 255, (40, 50, 3)))
    status, body = _upload(server, data, name="../../../escape.png")
    assert status == 200
    info = body["upload"]
    assert info["name"] == "escape.png" and (info["width"], info["height"]) == (50, 40)
    assert not os.path.exists(os.path.join(server.output_dir, "..", "escape.png"))
    stored = os.listdir(os.path.join(server.output_dir, "uploads"))
    assert f"{info['id']}.png" in stored and not any("escape" in name for name in stored)
    status, _, image = server.get(f"/api/uploads/{info['id']}/image")
    assert status == 200 and image == data
    assert server.get(f"/api/uploads/{info['id']}/thumb")[0] == 200
    assert server.get("/api/uploads/0123456789abcdef0123/image")[0] == 404


def test_bad_option_values_get_the_settings_messages_by_their_fields(server):
    options = {"height": "5", "alpha": "-1", "iterations": "abc", "width": "64.5"}
    for path in ("/api/check", "/api/runs"):
        status, body = server.json(
            "POST",
            path,
            {"content": "demo-content", "styles": ["demo-style"], "options": options},
        )
        assert status == 400
        assert body["errors"] == {
            "height": _settings_message(height=5),
            "alpha": _settings_message(alpha=-1.0),
            "iterations": "--iterations: not a number: 'abc'",
            "width": "--width: not a whole number: '64.5'",
        }
    status, body = server.json(
        "POST",
        "/api/check",
        {"content": "demo-content", "styles": ["demo-style"], "options": {"height": "64"}},
    )
    assert (status, body) == (200, {"errors": {}})
    # The run's size check, by its field before Start (the check passed them, Start failed).
    for options, field in (
        ({"height": "64", "width": "64", "multires": "9"}, "multires"),
        ({"fast": True, "height": "40", "width": "40"}, "fast"),
    ):
        status, body = server.json(
            "POST",
            "/api/check",
            {"content": "demo-content", "styles": ["demo-style"], "options": options},
        )
        assert status == 400 and list(body["errors"]) == [field], body
        assert body["errors"][field].startswith("--multires coarsest scale would be")
    status, body = server.json(
        "POST",
        "/api/check",
        {"content": "nope", "styles": ["demo-style"], "options": {"style_weights": "1 2"}},
    )
    assert status == 400 and set(body["errors"]) == {"content", "style_weights"}
    for strange in (
        {"content": ["x"], "styles": [{"a": 1}], "options": {"height": [1]}},
        {"content": None, "styles": "demo-style", "options": "height"},
        [],
    ):
        status, body = server.json("POST", "/api/check", strange)
        assert status == 400 and body["error"]
    status, _, body = server.post("/api/runs", body=b"{not json")
    assert status == 400 and b"Choose a content image" in body


def test_the_style_strength_field_sets_beta_unless_beta_is_given():
    """The page's style strength is the command line's --style-strength: alpha and beta start
    empty (the course's 10 and 40 as their placeholders), so a strength is not overridden by
    values the user never typed; a beta typed in wins, as --beta does."""
    from nst_tf1.serve.form import FormError, defaults, settings_fields

    shown = defaults()
    assert shown["style_strength"]["choices"] == ["subtle", "medium", "strong"]
    assert shown["style_strength"]["course"] == "medium"
    assert [shown[name]["value"] for name in ("alpha", "beta")] == [None, None]
    assert [shown[name]["course"] for name in ("alpha", "beta")] == [10, 40]
    base = {"content": "content.jpg", "style": ["style.jpg"]}

    def weights(form):
        settings = Settings(**settings_fields(form, base))
        return settings.alpha, settings.beta

    assert weights({}) == (10, 40)
    assert weights({"style_strength": "medium", "alpha": "", "beta": ""}) == (10, 40)
    assert weights({"style_strength": "subtle"}) == (10, 10 * 0.001)
    assert weights({"style_strength": "strong", "alpha": "20"}) == (20, 20 * 16)
    assert weights({"style_strength": "subtle", "beta": "7"}) == (10, 7)
    with pytest.raises(FormError) as info:
        settings_fields({"style_strength": "loud"}, base)
    assert info.value.errors == {"style_strength": _settings_message(style_strength="loud")}


def test_a_missing_model_says_where_to_get_it(tmp_path):
    missing = str(tmp_path / "no-model.mat")
    server = Server(tmp_path / "out", missing)
    try:
        expected = missing_model_message(
            missing, model_source()[0], why="the page does not download it"
        )
        status, state = server.json("GET", "/api/state")
        assert state["model"]["problem"] == expected
        status, body = server.start(FAST_RUN)
        assert status == 400 and body["error"] == expected
        assert "nst-tf1 fetch-model" in expected
        assert server.get("/api/state")[0] == 200  # it lives on
    finally:
        server.stop()


def _wait_for(server, predicate, timeout=300, last_event_id=None):
    return server.events(predicate, timeout=timeout, last_event_id=last_event_id)


def test_a_run_streams_stops_keeps_its_image_and_joins_the_gallery(server):
    options = {**FAST_RUN, "iterations": "5000", "save_every": "2"}
    status, body = server.start(options)
    assert status == 200, body
    run_id = body["job"]["id"]
    previews = []
    seen = _wait_for(
        server,
        lambda e: e["type"] == "Preview" and previews.append(e) is None and len(previews) >= 3,
    )
    types = [e["type"] for e in seen]
    assert types[0] == "job" and seen[0]["job"]["id"] == run_id
    assert "RunBegun" in types and "StepDone" in types
    steps = [e for e in seen if e["type"] == "StepDone"]
    assert steps[0]["steps"] == 5000 and steps[0]["unit"] == "iteration"
    status, headers, png = server.get(f"/api/preview/{run_id}")
    assert status == 200 and headers["content-type"] == "image/png"
    from PIL import Image

    assert Image.open(io.BytesIO(png)).size == (WIDTH, HEIGHT)
    # One run at a time.
    status, body = server.start(options)
    assert status == 409 and "a run is going on" in body["error"]
    # A page opened now gets the run from its start; one that comes back gets what it missed.
    replay = _wait_for(server, lambda e: e.get("type") == "RunBegun", timeout=30)
    assert replay[0]["job"]["id"] == run_id
    last = f"{run_id}:{seen[-1]['seq']}"
    resumed = _wait_for(server, lambda e: e.get("type") == "StepDone", 60, last_event_id=last)
    assert [e for e in resumed if e["type"] != "job"][0]["seq"] > seen[-1]["seq"]
    # Stop: the current image is kept, run.json says so.
    status, body = server.json("POST", "/api/stop", {})
    assert status == 200
    end = _wait_for(server, lambda e: e["type"] in ("Stopped", "Finished", "Failed"))[-1]
    assert end["type"] == "Stopped", end
    assert "saved the current image" in end["text"]
    folder = os.path.join(server.output_dir, run_id)
    with open(os.path.join(folder, "run.json")) as f:
        record = json.load(f)
    assert record["status"] == "stopped"
    assert record["settings"]["output_dir"] == folder
    # Downloads, as attachments.
    for name, kind in (
        ("generated_image.png", "image/png"),
        ("generated_image.jpg", "image/jpeg"),
        ("run.json", "application/json"),
    ):
        status, headers, data = server.get(f"/runs/{run_id}/{name}?download=1")
        assert status == 200 and headers["content-type"].startswith(kind)
        assert headers["content-disposition"].startswith("attachment")
        assert f"{run_id}-{name}" in headers["content-disposition"]
        with open(os.path.join(folder, name), "rb") as f:
            assert f.read() == data
    assert server.get(f"/runs/{run_id}/.nst-tf1.lock")[0] == 404
    # The gallery.
    status, body = server.json("GET", "/api/gallery")
    entry = next(run for run in body["runs"] if run["id"] == run_id)
    assert entry["status"] == "stopped"
    # The demo images by the names the form gives them (their file names until a red-team
    # pass found the gallery and the form naming them differently).
    assert entry["content"] == "demo scene (content)"
    assert entry["styles"] == ["demo painting (style)"]
    assert (entry["content_id"], entry["style_ids"]) == ("demo-content", ["demo-style"])
    assert entry["settings"]["iterations"] == 5000 and entry["image"] == "generated_image.jpg"
    assert entry["iteration"] == record["final"]["iteration"] and entry["scale"] is None
    status, body = server.json("POST", "/api/stop", {})
    assert status == 409


def test_the_gallery_gives_the_scale_a_run_stopped_at(tmp_path):
    """A --multires run stopped before the output size: run.json's final.scale reaches the
    gallery, which the page shows as "7 of 30 evaluations at scale 1 of 2"."""
    from nst_tf1.serve.gallery import gallery
    from nst_tf1.serve.uploads import Uploads

    scale = {"scale": 1, "scales": 2, "image_size": [16, 24]}
    for name, final in (("coarse", {"iteration": 7, "scale": scale}), ("full", {"iteration": 3})):
        os.makedirs(tmp_path / name)
        record = {"status": "stopped", "settings": {"iterations": 30}, "final": final}
        (tmp_path / name / "run.json").write_text(json.dumps(record))
    runs = {run["id"]: run for run in gallery(str(tmp_path), Uploads(str(tmp_path)))}
    assert (runs["coarse"]["iteration"], runs["coarse"]["scale"]) == (7, scale)
    assert (runs["full"]["iteration"], runs["full"]["scale"]) == (3, None)


def test_a_finished_run_writes_what_a_command_line_run_writes(server, image_pair):
    content, style = image_pair
    ids = []
    for path in (content, style):
        with open(path, "rb") as f:
            status, body = _upload(server, f.read(), name=os.path.basename(path))
        assert status == 200, body
        ids.append(body["upload"]["id"])
    status, body = server.start(
        {**FAST_RUN, "iterations": "4", "save_every": "2"}, content=ids[0], styles=[ids[1]]
    )
    assert status == 200, body
    run_id = body["job"]["id"]
    end = _wait_for(
        server,
        lambda e: e["type"] in ("Finished", "Stopped", "Failed") and e.get("seq"),
    )[-1]
    assert end["type"] == "Finished", end
    folder = os.path.join(server.output_dir, run_id)
    assert sorted(os.listdir(folder)) == [
        "0.png",
        "2.png",
        "generated_image.jpg",
        "generated_image.png",
        "run.json",
    ]
    with open(os.path.join(folder, "run.json")) as f:
        record = json.load(f)
    assert record["status"] == "finished" and record["seed"] == 0
    assert record["files"]["content"].startswith(os.path.join(server.output_dir, "uploads"))
    status, body = server.json("GET", "/api/gallery")
    entry = next(run for run in body["runs"] if run["id"] == run_id)
    assert entry["status"] == "finished" and entry["content_id"] == ids[0]
    assert entry["content"] == os.path.basename(content)  # the name it was uploaded with


def test_a_killed_worker_is_a_failed_run_and_the_server_lives_on(server):
    status, body = server.start({**FAST_RUN, "iterations": "5000", "save_every": "50"})
    assert status == 200, body
    _wait_for(server, lambda e: e["type"] in ("RunBegun", "Failed"))
    for pid in worker_pids(server.process.pid):
        os.kill(pid, signal.SIGKILL)
    end = _wait_for(server, lambda e: e["type"] in ("Finished", "Stopped", "Failed"))[-1]
    assert end["type"] == "Failed"
    assert end["text"].startswith("the run's process ended unexpectedly (killed by signal 9")
    assert server.get("/api/state")[0] == 200
    status, body = server.start({**FAST_RUN, "iterations": "2", "save_every": "1"})
    assert status == 200, body
    end = _wait_for(server, lambda e: e["type"] in ("Finished", "Stopped", "Failed"))[-1]
    assert end["type"] == "Finished"


def _page_watching(server):
    """A page's event stream in a thread (not started): (the thread, the events it received,
    an Event set once it is connected)."""
    watched, connected = [], threading.Event()

    def watch():
        with contextlib.suppress(AssertionError):  # the stream ends with the server
            server.events(lambda e: connected.set() or watched.append(e) or False, timeout=60)

    return threading.Thread(target=watch), watched, connected


def test_ctrl_c_stops_the_run_as_the_command_line_does_and_exits(vgg_file, tmp_path):
    """... and a page watching the run sees it end (stopped, its image kept) before its event
    stream ends: the streams ended first, and the page went on showing a run going on."""
    server = Server(tmp_path / "out", vgg_file)
    watcher, watched, connected = _page_watching(server)
    try:
        status, body = server.start({**FAST_RUN, "iterations": "5000", "save_every": "2"})
        assert status == 200, body
        run_id = body["job"]["id"]
        _wait_for(server, lambda e: e["type"] == "Preview")
        workers = worker_pids(server.process.pid)
        assert workers
        watcher.start()
        assert connected.wait(30)
    finally:
        started = time.monotonic()
        code, stderr = server.stop()
        if watcher.is_alive() or connected.is_set():
            watcher.join(60)
    assert watched[-1]["type"] == "Stopped", watched[-3:]
    assert os.path.dirname(watched[-1]["kept"]) == os.path.join(server.output_dir, run_id)
    assert code == 130
    assert time.monotonic() - started < 60
    assert f"stopped the run in {server.output_dir}" in stderr
    assert "saved the current image" in stderr
    assert "Traceback" not in stderr
    folder = os.path.join(server.output_dir, run_id)
    with open(os.path.join(folder, "run.json")) as f:
        assert json.load(f)["status"] == "stopped"
    assert os.path.isfile(os.path.join(folder, "generated_image.png"))
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_alive(pid) for pid in workers)


def _alive(pid):
    """Whether process ``pid`` runs (a zombie waiting for its parent's wait() does not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_another_host_needs_to_be_asked_for_and_warns(vgg_file, tmp_path):
    server = Server(tmp_path / "out", vgg_file, "--host", "0.0.0.0")
    try:
        assert server.get("/api/state")[0] == 200
        assert server.get("/api/state", headers={"Host": "evil.example"})[0] == 403
    finally:
        code, stderr = server.stop()
    assert "warning: listening on 0.0.0.0, not only on this machine" in stderr


def test_previews_come_at_least_every_two_seconds_between_saves(server):
    """With a save interval far longer than a run takes, the page still sees the image move."""
    status, body = server.start({**FAST_RUN, "iterations": "100000", "save_every": "100000"})
    assert status == 200, body
    arrivals = []

    def enough(event):
        if event["type"] == "Preview":
            arrivals.append((time.monotonic(), event["step"]))
        return len(arrivals) >= 5

    try:
        server.events(enough)
    finally:
        server.json("POST", "/api/stop", {})
        server.events(lambda e: e["type"] in ("Stopped", "Finished", "Failed"))
    gaps = [later - earlier for (earlier, _), (later, _) in zip(arrivals[1:], arrivals[2:])]
    assert max(gaps) <= 2.0, gaps
    assert all(step > 0 for _, step in arrivals[1:])  # not only the saved iteration 0


def _step_after(event, step):
    return event["type"] == "StepDone" and event["step"] > step


def test_pages_closed_during_a_run_leave_the_servers_terminal_quiet(vgg_file, tmp_path):
    """A stream whose page went away went on writing the rest of its poll's events to the
    closed connection (nothing in between let the server notice): asyncio printed "socket.send()
    raised exception." on the server's terminal for each write past the fifth."""
    server = Server(tmp_path / "out", vgg_file, env=AS_A_USER)
    try:
        status, body = server.start({**FAST_RUN, "iterations": str(LONG_RUN), "save_every": "1"})
        assert status == 200, body
        step = 0
        for _ in range(5):  # five pages closed while the run goes on, each mid-stream
            seen = _wait_for(server, lambda e, after=step + 10: _step_after(e, after))
            step = seen[-1]["step"]
        time.sleep(1)
        assert server.json("POST", "/api/stop", {})[0] == 200
        _wait_for(server, lambda e: e["type"] in ("Stopped", "Finished", "Failed"))
    finally:
        code, stderr = server.stop()
    assert "socket.send()" not in stderr, stderr
    assert stderr.splitlines() == [BANNER], stderr


@pytest.mark.parametrize("watching", [False, True], ids=["no-page", "a-page-watching"])
def test_two_quick_ctrl_c_end_the_server_at_once_and_quietly(vgg_file, tmp_path, watching):
    """Two Ctrl-C 50 ms apart printed uvicorn's traceback (a CancelledError in its lifespan):
    its second Ctrl-C skipped the app's shutdown, which was then cancelled. Now the second
    Ctrl-C stops the run at once, as a second Ctrl-C does on the command line (its 0.png and
    run.json stay), and the server ends within seconds: exit status 130, no traceback, the
    first Ctrl-C's one line; a page watching sees the run stop."""
    server = Server(tmp_path / "out", vgg_file, env=AS_A_USER)
    watcher, watched, connected = _page_watching(server)
    try:
        options = {**FAST_RUN, "iterations": str(LONG_RUN), "save_every": str(LONG_RUN)}
        status, body = server.start(options)
        assert status == 200, body
        folder = os.path.join(server.output_dir, body["job"]["id"])
        _wait_for(server, lambda e: e["type"] == "ImageSaved")  # 0.png
        if watching:
            watcher.start()
            assert connected.wait(30)
        else:
            time.sleep(1)  # the server notices that stream's end (at its next event)
    finally:
        started = time.monotonic()
        server.process.send_signal(signal.SIGINT)
        time.sleep(0.05)
        server.process.send_signal(signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.process.wait(30)
        seconds = time.monotonic() - started
        code, stderr = server.stop()  # kills it, if it is still there
        if watcher.is_alive():
            watcher.join(30)
    assert "Traceback" not in stderr, stderr
    assert (code, seconds < 10) == (130, True), (code, seconds, stderr)
    lines = stderr.splitlines()
    assert lines[0] == BANNER and len(lines) == 2, stderr
    assert lines[1].startswith(f"nst-tf1: stopped the run in {folder}:"), stderr
    at_once = "interrupted by SIGINT again; stopped without saving the current image"
    if watching:
        # The page's stream may have asked the first stop up to 0.2 s before the second
        # Ctrl-C; a run that saves in less keeps its image (as after one Ctrl-C).
        assert lines[1].endswith((at_once, "generated_image.jpg")), stderr
        assert watched[-1]["type"] == "Stopped", watched[-3:]
    else:  # the server's shutdown sees the second Ctrl-C before it stops the run
        assert lines[1].endswith(at_once), stderr
    assert os.path.isfile(os.path.join(folder, "0.png"))
    with open(os.path.join(folder, "run.json")) as f:
        assert json.load(f)["saves"][0]["file"] == "0.png"


def test_the_same_image_uploaded_again_under_another_name_renames_no_earlier_run(server):
    """Uploads were stored by their bytes alone, and the second upload of the same bytes
    rewrote the first one's record with its own name: the gallery showed the earlier run as
    started with the new name. Each run keeps the name it was started with."""
    data = _png_bytes(np.random.default_rng(7).integers(0, 255, (HEIGHT, WIDTH, 3)))
    ids = {}
    for name in ("first.png", "second.png"):
        status, body = _upload(server, data, name=name)
        assert status == 200 and body["upload"]["name"] == name, body
        ids[name] = body["upload"]["id"]
        status, body = server.start(
            {**FAST_RUN, "iterations": "2", "save_every": "1"},
            content=ids[name],
            styles=["demo-style"],
        )
        assert status == 200, body
        ids[name] = body["job"]["id"], ids[name]
        end = _wait_for(server, lambda e: e["type"] in ("Finished", "Stopped", "Failed"))[-1]
        assert end["type"] == "Finished", end
    status, body = server.json("GET", "/api/gallery")
    runs = {run["id"]: run for run in body["runs"]}
    for name, (run_id, upload_id) in ids.items():
        assert (runs[run_id]["content"], runs[run_id]["content_id"]) == (name, upload_id)
    status, state = server.json("GET", "/api/state")
    assert {"first.png", "second.png"} <= {upload["name"] for upload in state["uploads"]}


def test_two_servers_in_the_same_second_never_choose_the_same_run_folder(tmp_path, monkeypatch):
    """A run's folder was chosen by its name being free, and created by the run later: two
    servers (or two jobs) sharing an output folder could choose the same name in the same
    second, and the second run was refused by the first's lock. Choosing it now creates it:
    a chooser never returns a folder another one has, and skips one that exists. (The clock
    stands still: every name is made in the same second.)"""
    import datetime
    import types

    from nst_tf1.serve import jobs

    class Frozen(datetime.datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=tz)

    clock = types.SimpleNamespace(datetime=Frozen, timezone=datetime.timezone)
    monkeypatch.setattr(jobs, "datetime", clock)
    out = tmp_path / "out" / "runs"  # created with the first folder
    os.makedirs(out / "run-20260102-030405-2")  # a folder of another run, by that name
    chosen = [jobs.new_run_folder(str(out)) for _ in range(3)]
    assert [os.path.basename(path) for path in chosen] == [
        "run-20260102-030405",
        "run-20260102-030405-3",
        "run-20260102-030405-4",
    ]
    assert all(os.path.isdir(path) and not os.listdir(path) for path in chosen)


def test_a_run_still_starting_when_the_server_closes_gets_an_end_on_the_stream(vgg_file, tmp_path):
    """The event streams wait 1.5 s for the stopped run's end once the server closes (within
    uvicorn's 2 s of graceful shutdown); a run still starting (TensorFlow loading, which can
    take longer) had not reported it by then, and the stream ended without it: the page said
    that the connection to the server was lost, the run still "starting". The stream now
    sends an end of its own first: stopped because the server closed, nothing kept (no image
    was saved). TensorFlow's import is held (tests/startup_pause) until the stream has ended;
    the run's own end then follows as usual."""
    release = tmp_path / "release"
    paths = [os.path.join(os.path.dirname(__file__), "startup_pause"), os.environ.get("PYTHONPATH")]
    env = {
        **AS_A_USER,
        "PYTHONPATH": os.pathsep.join(filter(None, paths)),
        "NST_TF1_PAUSE_AT": "import:tensorflow",
        "NST_TF1_RELEASE": str(release),
    }
    server = Server(tmp_path / "out", vgg_file, env=env)
    watched, loading = [], threading.Event()

    def seen(event):
        watched.append(event)
        if event["type"] == "Loading" and event["what"] == "tensorflow":
            loading.set()
        return False

    def watch():
        with contextlib.suppress(AssertionError):  # the stream ends with the server
            server.events(seen, timeout=120)

    watcher = threading.Thread(target=watch)
    try:
        status, body = server.start({**FAST_RUN, "iterations": "2", "save_every": "1"})
        assert status == 200, body
        folder = os.path.join(server.output_dir, body["job"]["id"])
        watcher.start()
        assert loading.wait(60), watched
        started = time.monotonic()
        server.process.send_signal(signal.SIGINT)
        watcher.join(30)
        seconds = time.monotonic() - started
    finally:
        release.touch()
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.process.wait(120)  # the run's own end, once TensorFlow is in
        code, stderr = server.stop()
    assert not watcher.is_alive() and seconds < 5, seconds
    end = watched[-1]
    assert end["type"] == "Stopped", watched[-3:]
    assert end["kept"] is None and end["text"].startswith("stopped because the server closed")
    assert end["text"].endswith("nothing saved"), end
    assert [e["type"] for e in watched].count("Stopped") == 1
    assert code == 130 and "Traceback" not in stderr, stderr
    lines = stderr.splitlines()
    assert lines[0] == BANNER and len(lines) == 2, stderr
    assert lines[1].startswith(f"nst-tf1: stopped the run in {folder}: stopped on request before")
    assert lines[1].endswith("; nothing saved"), stderr
    assert not os.path.exists(folder)
