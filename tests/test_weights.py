"""Fetching the VGG-19 file (nst_tf1.weights, `nst-tf1 fetch-model`, the main job's download).

Everything goes over real HTTP to a threaded server on 127.0.0.1 that serves a small synthetic
.mat, honours Range requests, and can cut a connection midway, stall, or fail with a status.
"""

import hashlib
import http.server
import os
import re
import socket
import threading

import pytest
from conftest import run_cli

from nst_tf1.config import VGG_URL
from nst_tf1.weights import (
    ChecksumError,
    DownloadError,
    fetch_vgg_model,
    file_digests,
    known_layout,
    part_path,
)

PATH = "/imagenet-vgg-verydeep-19.mat"
# Small reads so that a ~100 KB file takes many steps and a cut lands midway.
CHUNK = 8 * 1024
FAST = {"backoff": 0.0, "chunk_size": CHUNK, "connect_timeout": 5.0, "read_timeout": 5.0}


class _Handler(http.server.BaseHTTPRequestHandler):
    """GET PATH serves the payload (200, or 206/416 for ``Range: bytes=N-``); else 404."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        state = self.server.state
        state.requests.append((self.path, self.headers.get("Range")))
        if self.path != PATH:
            self.send_error(404, "Not Found")
            return
        if state.fail_with:
            self.send_error(state.fail_with.pop(0))
            return
        if state.stall is not None:
            state.stall.wait(10)
            return
        data, start = state.payload, 0
        match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
        if match and not state.ignore_range:
            start = int(match.group(1))
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if state.hold is not None:
            # Send half the body, then wait until the test lets the rest go.
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            state.hold.wait(60)
            try:
                self.wfile.write(body[len(body) // 2 :])
            except OSError:  # the client was killed meanwhile
                pass
            return
        if state.cuts > 0:
            # Promise the whole body, send half of it, close the connection.
            state.cuts -= 1
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)


class _State:
    def __init__(self, payload):
        self.payload = payload
        self.requests = []  # (path, Range header or None), in arrival order
        self.cuts = 0  # the next this many answers stop halfway
        self.fail_with = []  # statuses to answer the next requests with
        self.ignore_range = False
        self.stall = None  # an Event: answer nothing until it is set
        self.hold = None  # an Event: send half the body, the rest once it is set


@pytest.fixture(scope="module")
def payload(tmp_path_factory):
    """Bytes of a narrow synthetic VGG-19 .mat (about 100 KB)."""
    from nst_tf1.testing import make_vgg_file

    path = tmp_path_factory.mktemp("served") / "vgg.mat"
    make_vgg_file(str(path), layout="new", width_divisor=16, seed=3)
    return path.read_bytes()


@pytest.fixture
def server(payload):
    """A fresh server; yields (state, base URL)."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    httpd.block_on_close = False
    httpd.state = _State(payload)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield httpd.state, f"http://127.0.0.1:{httpd.server_address[1]}"
    for event in (httpd.state.stall, httpd.state.hold):
        if event is not None:
            event.set()
    httpd.shutdown()
    httpd.server_close()


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def test_payload_is_big_enough_for_many_chunks(payload):
    assert len(payload) > 8 * CHUNK


def test_fetch_writes_the_verified_file_and_no_part(server, payload, tmp_path):
    state, base = server
    dest = tmp_path / "models" / "vgg.mat"  # the directory is created
    events = []
    digests = fetch_vgg_model(dest, base + PATH, sha256(payload), report=events.append, **FAST)
    assert dest.read_bytes() == payload
    assert not (tmp_path / "models" / "vgg.mat.part").exists()
    assert digests.sha256 == sha256(payload)
    assert digests.md5 == hashlib.md5(payload).hexdigest()
    assert digests.size == len(payload)
    assert state.requests == [(PATH, None)]
    kinds = [e.kind for e in events]
    assert kinds[0] == "start" and kinds[-1] == "done" and kinds.count("data") >= 8
    assert all(e.total == len(payload) for e in events)
    done = [e.done for e in events if e.kind == "data"]
    assert done == sorted(done) and done[-1] == len(payload)
    # The file is a loadable MatConvNet network.
    from nst_tf1.vgg import read_vgg_weights

    read_vgg_weights(str(dest))


def test_cut_connection_is_resumed_with_a_range_request(server, payload, tmp_path):
    state, base = server
    state.cuts = 1
    dest = tmp_path / "vgg.mat"
    events = []
    fetch_vgg_model(dest, base + PATH, sha256(payload), retries=2, report=events.append, **FAST)
    assert dest.read_bytes() == payload
    half = len(payload) // 2
    assert state.requests == [(PATH, None), (PATH, f"bytes={half}-")]
    retry = [e for e in events if e.kind == "retry"]
    assert len(retry) == 1 and retry[0].done == half
    assert f"connection closed after {half} of {len(payload)} bytes" in retry[0].message
    starts = [e.done for e in events if e.kind == "start"]
    assert starts == [0, half]


def test_part_from_an_earlier_run_is_resumed(server, payload, tmp_path):
    state, base = server
    dest = tmp_path / "vgg.mat"
    kept = len(payload) // 3
    (tmp_path / "vgg.mat.part").write_bytes(payload[:kept])
    events = []
    digests = fetch_vgg_model(dest, base + PATH, sha256(payload), report=events.append, **FAST)
    assert dest.read_bytes() == payload and digests.sha256 == sha256(payload)
    assert state.requests == [(PATH, f"bytes={kept}-")]
    assert events[0].kind == "resume" and events[0].done == kept


def test_complete_part_is_verified_without_downloading_again(server, payload, tmp_path):
    state, base = server
    dest = tmp_path / "vgg.mat"
    (tmp_path / "vgg.mat.part").write_bytes(payload)
    fetch_vgg_model(dest, base + PATH, sha256(payload), **FAST)
    assert dest.read_bytes() == payload
    assert state.requests == [(PATH, f"bytes={len(payload)}-")]  # answered 416


def test_server_ignoring_range_restarts_from_zero(server, payload, tmp_path):
    state, base = server
    state.ignore_range = True
    dest = tmp_path / "vgg.mat"
    (tmp_path / "vgg.mat.part").write_bytes(payload[:1000])
    fetch_vgg_model(dest, base + PATH, sha256(payload), **FAST)
    assert dest.read_bytes() == payload


def test_retries_exhausted_keep_the_part_for_the_next_run(server, payload, tmp_path):
    state, base = server
    state.cuts = 2
    dest = tmp_path / "vgg.mat"
    retries = []

    def report(event):  # after two cuts that each got further, the server only fails
        if event.kind == "retry":
            retries.append(event.message)
            if len(retries) == 2:
                state.fail_with = [503] * 5

    with pytest.raises(
        DownloadError, match=r"failed after 3 attempts \(2 in a row without new data\): HTTP 503"
    ):
        fetch_vgg_model(dest, base + PATH, sha256(payload), retries=1, report=report, **FAST)
    assert len(state.requests) == 3
    state.fail_with = []
    part = tmp_path / "vgg.mat.part"
    assert not dest.exists()
    kept = part.stat().st_size
    assert len(payload) // 2 <= kept < len(payload)
    assert payload.startswith(part.read_bytes())
    state.cuts = 0
    fetch_vgg_model(dest, base + PATH, sha256(payload), retries=0, **FAST)
    assert dest.read_bytes() == payload
    assert state.requests[-1] == (PATH, f"bytes={kept}-")


def test_retries_start_again_after_every_attempt_that_got_further(server, payload, tmp_path):
    """Five cuts, each after new data: one retry allowed, yet the file arrives (the budget
    bounds failures in a row without new data, not the attempts of a slow link)."""
    state, base = server
    state.cuts = 5
    dest = tmp_path / "vgg.mat"
    events = []
    options = dict(FAST, backoff=0.01)
    fetch_vgg_model(dest, base + PATH, sha256(payload), retries=1, report=events.append, **options)
    assert dest.read_bytes() == payload
    assert len(state.requests) == 6
    messages = [e.message for e in events if e.kind == "retry"]
    assert messages[0].endswith("retrying in 0.01 s (attempt 2 of 2)")
    for message in messages[1:]:  # the backoff starts again too
        assert message.endswith("retrying in 0.01 s (attempt 2 of 2 since the last new data)")


def test_server_errors_are_retried_with_doubling_backoff(server, payload, tmp_path):
    state, base = server
    state.fail_with = [503, 502]
    dest = tmp_path / "vgg.mat"
    events = []
    options = dict(FAST, backoff=0.01)
    fetch_vgg_model(dest, base + PATH, sha256(payload), retries=2, report=events.append, **options)
    assert dest.read_bytes() == payload
    messages = [e.message for e in events if e.kind == "retry"]
    assert len(messages) == 2
    assert messages[0].startswith("HTTP 503")
    assert messages[0].endswith("retrying in 0.01 s (attempt 2 of 3)")
    assert messages[1].startswith("HTTP 502")
    assert messages[1].endswith("retrying in 0.02 s (attempt 3 of 3)")


def test_checksum_mismatch_leaves_nothing_and_names_both(server, payload, tmp_path):
    _, base = server
    dest = tmp_path / "vgg.mat"
    wrong = "0" * 64
    with pytest.raises(ChecksumError) as info:
        fetch_vgg_model(dest, base + PATH, wrong, **FAST)
    message = str(info.value)
    assert wrong in message and sha256(payload) in message
    assert not dest.exists()
    assert not (tmp_path / "vgg.mat.part").exists()


def test_http_404_fails_at_once(server, tmp_path):
    state, base = server
    dest = tmp_path / "vgg.mat"
    with pytest.raises(DownloadError, match=r"/nothing-here\.mat failed: HTTP 404 Not Found"):
        fetch_vgg_model(dest, base + "/nothing-here.mat", "0" * 64, retries=3, **FAST)
    assert len(state.requests) == 1  # a 404 is not retried
    assert list(tmp_path.iterdir()) == []


def closed_port():
    """A local port that nothing listens on: bound, then closed."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_server_not_listening(tmp_path):
    dest = tmp_path / "vgg.mat"
    events = []
    url = f"http://127.0.0.1:{closed_port()}{PATH}"
    with pytest.raises(DownloadError, match=r"failed after 3 attempts: connection refused"):
        fetch_vgg_model(dest, url, "0" * 64, retries=2, report=events.append, **FAST)
    assert [e.kind for e in events] == ["retry", "retry"]
    assert list(tmp_path.iterdir()) == []


def test_a_failed_download_removes_the_folders_it_created(tmp_path):
    """A download into missing folders that failed left them behind, empty."""
    (tmp_path / "before").mkdir()  # an empty folder of the user's: it stays
    url = f"http://127.0.0.1:{closed_port()}{PATH}"
    for dest in (tmp_path / "o" / "fm" / "vgg.mat", tmp_path / "before" / "vgg.mat"):
        with pytest.raises(DownloadError, match="connection refused"):
            fetch_vgg_model(dest, url, "0" * 64, retries=0, **FAST)
    assert [p.name for p in tmp_path.iterdir()] == ["before"]
    assert list((tmp_path / "before").iterdir()) == []


@pytest.mark.parametrize("at", ["start", "data"])
def test_an_interrupted_download_removes_only_folders_left_empty(server, tmp_path, at):
    """Ctrl-C before any data: the folders it created go; after some: they hold the .part."""
    _, base = server
    dest = tmp_path / "o" / "fm" / "vgg.mat"

    def interrupt(event):
        if event.kind == at:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fetch_vgg_model(dest, base + PATH, "0" * 64, report=interrupt, **FAST)
    if at == "start":
        assert list(tmp_path.iterdir()) == []
    else:
        assert os.listdir(dest.parent) == ["vgg.mat.part"]


def test_cli_fetch_model_that_fails_leaves_no_folder_of_its_own(tmp_path):
    dest = tmp_path / "o" / "fm" / "vgg.mat"
    url = f"http://127.0.0.1:{closed_port()}{PATH}"
    result = run_cli("fetch-model", "--dest", dest, "--url", url, "--retries", "0")
    assert result.returncode == 1
    assert len(error_lines(result.stderr)) == 1 and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_read_timeout(server, tmp_path):
    state, base = server
    state.stall = threading.Event()
    dest = tmp_path / "vgg.mat"
    options = dict(FAST, read_timeout=0.3)
    with pytest.raises(DownloadError, match=r"failed after 1 attempts: timed out"):
        fetch_vgg_model(dest, base + PATH, "0" * 64, retries=0, **options)
    assert list(tmp_path.iterdir()) == []


def test_destination_directory_not_writable(server, payload, tmp_path):
    # A regular file as the parent directory: unwritable even for root.
    state, base = server
    (tmp_path / "blocker").write_text("a file, not a directory")
    dest = tmp_path / "blocker" / "vgg.mat"
    with pytest.raises(DownloadError, match=r"cannot write .*blocker/vgg\.mat\.part"):
        fetch_vgg_model(dest, base + PATH, sha256(payload), **FAST)
    assert state.requests == []  # checked before connecting


def test_existing_destination_is_never_overwritten(server, payload, tmp_path):
    state, base = server
    dest = tmp_path / "vgg.mat"
    dest.write_bytes(b"the user's own file")
    with pytest.raises(DownloadError, match="already exists"):
        fetch_vgg_model(dest, base + PATH, sha256(payload), **FAST)
    assert dest.read_bytes() == b"the user's own file"
    assert state.requests == []


def test_not_an_http_url(tmp_path):
    with pytest.raises(DownloadError, match="not an http"):
        fetch_vgg_model(tmp_path / "vgg.mat", "ftp://example.org/vgg.mat", None)


def test_digests_and_known_layouts(tmp_path, payload):
    from nst_tf1.config import VGG_MD5, VGG_MD5_OLD, VGG_SHA256
    from nst_tf1.weights import Digests

    path = tmp_path / "f"
    path.write_bytes(payload)
    digests = file_digests(path, chunk_size=1000)
    assert digests == (len(payload), hashlib.md5(payload).hexdigest(), sha256(payload))
    for chunk in (1, 7, 4096, 1 << 20):  # the digests do not depend on the chunks
        assert file_digests(path, chunk_size=chunk, md5=False) == (
            len(payload),
            None,
            sha256(payload),
        )
    assert known_layout(digests) is None
    assert known_layout(Digests(1, VGG_MD5_OLD, "x")) == "older"
    assert known_layout(Digests(1, VGG_MD5, "x")) == "current"
    assert known_layout(Digests(1, "x", VGG_SHA256)) == "current"
    assert part_path("models/a.mat") == "models/a.mat.part"


# --- command line ------------------------------------------------------------------------


def error_lines(stderr):
    return [line for line in stderr.splitlines() if line.startswith("nst-tf1: error:")]


def test_cli_fetch_model(server, payload, tmp_path):
    _, base = server
    dest = tmp_path / "vgg.mat"
    result = run_cli(
        "fetch-model",
        "--dest",
        dest,
        "--url",
        base + PATH,
        "--sha256",
        sha256(payload).upper(),
        "--backoff",
        "0",
    )
    assert result.returncode == 0, result.stderr
    assert dest.read_bytes() == payload
    assert f"Saved {dest}" in result.stdout and sha256(payload) in result.stdout
    # Not a terminal: plain progress lines, no bar, no traceback.
    assert f"nst-tf1: downloading {base + PATH}" in result.stderr
    assert "nst-tf1: 100% (" in result.stderr
    assert "\r" not in result.stderr and "Traceback" not in result.stderr

    # Run again: the file is there and matches; nothing is downloaded.
    again = run_cli(
        "fetch-model", "--dest", dest, "--url", base + PATH, "--sha256", sha256(payload)
    )
    assert again.returncode == 0 and "already in place" in again.stdout


def test_cli_fetch_model_keeps_an_unknown_existing_file(server, tmp_path):
    state, base = server
    dest = tmp_path / "vgg.mat"
    dest.write_bytes(b"something else")
    result = run_cli("fetch-model", "--dest", dest, "--url", base + PATH)
    assert result.returncode == 1
    assert len(result.stderr.splitlines()) == 1 and "not overwriting it" in result.stderr
    assert dest.read_bytes() == b"something else"
    assert state.requests == []


def test_cli_fetch_model_checksum_mismatch(server, payload, tmp_path):
    _, base = server
    dest = tmp_path / "vgg.mat"
    result = run_cli("fetch-model", "--dest", dest, "--url", base + PATH, "--sha256", "ab" * 32)
    assert result.returncode == 1
    errors = error_lines(result.stderr)
    assert len(errors) == 1 and "ab" * 32 in errors[0] and sha256(payload) in errors[0]
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []
    # The way out is the official file or the right checksum, not the server that just sent
    # the wrong bytes.
    assert f"download it from the official {VGG_URL} instead" in errors[0]
    assert "--sha256" in errors[0] and f"from {base + PATH} and put it" not in errors[0]


def test_cli_fetch_model_bad_sha256_is_a_usage_error(tmp_path):
    result = run_cli("fetch-model", "--dest", tmp_path / "x.mat", "--sha256", "xyz")
    assert result.returncode == 2 and "not a SHA256" in result.stderr


def test_malformed_sha256_in_the_environment_is_refused_before_downloading(
    server, image_pair, tmp_path, monkeypatch
):
    state, base = server
    main_job_env(monkeypatch, NST_VGG_URL=base + PATH, NST_VGG_SHA256="not-a-digest")
    model = tmp_path / "vgg.mat"
    for args in (
        ["fetch-model", "--dest", model],
        ["--content", image_pair[0], "--style", image_pair[1], "--model", model,
         "--output-dir", tmp_path / "out"],
    ):  # fmt: skip
        result = run_cli(*args)
        assert result.returncode == 2, result.stderr
        errors = error_lines(result.stderr)
        assert len(errors) == 1 and "Traceback" not in result.stderr
        assert "$NST_VGG_SHA256" in errors[0] and "not a SHA256 (64 hex digits)" in errors[0]
    assert state.requests == [] and not model.exists()


def main_job_env(monkeypatch, **variables):
    for name in ("NST_VGG_MODEL", "NST_VGG_URL", "NST_VGG_SHA256"):
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, str(value))


def test_main_job_missing_model_with_no_download(image_pair, tmp_path, monkeypatch):
    content, style = image_pair
    model = tmp_path / "from-env" / "vgg.mat"
    main_job_env(monkeypatch, NST_VGG_MODEL=model)
    result = run_cli(
        "--content", content, "--style", style, "--output-dir", tmp_path / "out", "--no-download"
    )
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("nst-tf1: error: VGG-19 model file not found")
    assert str(model) in lines[0]  # NST_VGG_MODEL is the default --model
    assert "https://www.vlfeat.org/matconvnet/models/imagenet-vgg-verydeep-19.mat" in lines[0]
    assert not model.parent.exists()


def test_main_job_failed_download_is_one_error_line(server, image_pair, tmp_path, monkeypatch):
    state, base = server
    content, style = image_pair
    model = tmp_path / "vgg.mat"
    main_job_env(monkeypatch, NST_VGG_URL=base + "/moved.mat")
    result = run_cli(
        "--content", content, "--style", style, "--output-dir", tmp_path / "out", "--model", model
    )
    # A failed download is a failure (1), as in fetch-model, not bad input (2).
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    errors = error_lines(result.stderr)
    assert len(errors) == 1
    assert "HTTP 404" in errors[0] and f"{base}/moved.mat" in errors[0]
    assert f"put it at {model}" in errors[0]
    assert state.requests == [("/moved.mat", None)]
    assert not model.exists()


def test_main_job_checks_output_dir_before_downloading(server, image_pair, tmp_path, monkeypatch):
    state, base = server
    content, style = image_pair
    (tmp_path / "blocker").write_text("a file")
    main_job_env(monkeypatch, NST_VGG_URL=base + PATH)
    result = run_cli(
        "--content",
        content,
        "--style",
        style,
        "--output-dir",
        tmp_path / "blocker" / "out",
        "--model",
        tmp_path / "v.mat",
    )
    assert result.returncode == 2 and "output directory is not writable" in result.stderr
    assert state.requests == []


def test_main_job_downloads_a_missing_model_first(server, image_pair, tmp_path, monkeypatch):
    # The served bytes are not a .mat: the job downloads and verifies them, puts them at
    # --model, then stops at the loader's one-line error, before any TensorFlow work.
    state, base = server
    content, style = image_pair
    bogus = b"not a MatConvNet file" * 1000
    state.payload = bogus
    model = tmp_path / "models" / "vgg.mat"
    main_job_env(monkeypatch, NST_VGG_URL=base + PATH, NST_VGG_SHA256=sha256(bogus))
    result = run_cli(
        "--content", content, "--style", style, "--output-dir", tmp_path / "out", "--model", model
    )
    assert model.read_bytes() == bogus
    assert f"Downloaded {model}" in result.stdout
    assert result.returncode == 2
    errors = error_lines(result.stderr)
    assert len(errors) == 1 and str(model) in errors[0]
    assert "Traceback" not in result.stderr


def test_place_model_leaves_the_signal_handlers_alone(tmp_path, monkeypatch):
    """The library never changes the process's signal handlers (the command line's
    fetch-model turns SIGTERM into an interruption itself)."""
    import signal

    from nst_tf1 import model_file
    from nst_tf1.errors import Interrupted

    seen = []

    def fetch(dest, url, sha256, **options):
        seen.append(signal.getsignal(signal.SIGTERM))
        raise KeyboardInterrupt

    monkeypatch.setattr(model_file, "fetch_vgg_model", fetch)
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Interrupted) as raised:
        model_file.place_model(str(tmp_path / "vgg.mat"))
    assert raised.value.message == "interrupted by SIGINT; nothing had arrived yet"
    assert seen == [before]


def test_a_run_asked_to_stop_mid_download_keeps_the_part(
    server, payload, image_pair, tmp_path, monkeypatch
):
    # should_stop is polled at each piece received: once it answers, the download ends as
    # Ctrl-C ends it (the .part kept to resume), and the run says so.
    from nst_tf1 import Settings, events, run
    from nst_tf1.errors import Interrupted

    state, base = server
    model, out = tmp_path / "models" / "vgg.mat", tmp_path / "out"
    main_job_env(monkeypatch, NST_VGG_URL=base + PATH, NST_VGG_SHA256=sha256(payload))
    polls, seen = [], []

    def should_stop():  # false before the model, at the download's start, then true
        polls.append(1)
        return len(polls) >= 3

    settings = Settings(content=image_pair[0], style=image_pair[1], model=model, output_dir=out)
    with pytest.raises(Interrupted) as caught:
        run(settings, seen.append, should_stop)
    part = part_path(str(model))
    assert str(caught.value) == f"stopped on request; {part} is kept and the next run resumes it"
    assert caught.value.signum is None and caught.value.kept is None
    assert len(polls) == 3 and state.requests  # it stopped in the download, not before
    assert 0 < os.path.getsize(part) < len(payload) and not model.exists()  # mid-download
    assert isinstance(seen[-1], events.Stopped) and seen[-1].kept is None
    assert not out.exists()  # the folder the run made is gone again
