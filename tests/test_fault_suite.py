"""Fault injection (issue 14): runs and downloads killed, raced and starved of disk.

Each case starts real processes (``tests/fault_runner.py``, the command line with a pause
point), hurts them at an observable moment (a printed line, a ``PAUSED`` mark, a ``.part``
file growing), then checks the folder and runs the same command again. After every case:

* no half-written file under a final name (every image decodes, run.json parses);
* no finished result replaced by a worse one (its bytes and its run.json are unchanged);
* run.json's status is true (a killed run's "running" reads as "killed": no process holds
  the folder's lock);
* the rerun works and leaves no temporary file, lock file or ``unfinished`` folder.

The suite is marked ``faults`` (``-m "not faults"`` leaves it out) and prints a table of the
cases and their outcomes at the end of the session.
"""

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from conftest import FAULT_TABLE, LONG_RUN, ROOT, run_args_into
from test_weights import PATH, payload, server, sha256  # noqa: F401  (fixtures)

pytestmark = pytest.mark.faults

RUNNER = os.path.join(ROOT, "tests", "fault_runner.py")
#: The installed console script (``pip install -e .`` writes it into this venv).
SCRIPT = os.path.join(os.path.dirname(sys.executable), "nst-tf1")
#: Holds the sitecustomize module that gives the console script a pause point.
STARTUP_PAUSE = os.path.join(ROOT, "tests", "startup_pause")
TIMEOUT = 120  # seconds any one process may take


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env.update(PYTHONUNBUFFERED="1", **{k: str(v) for k, v in extra.items()})
    return env


class Proc:
    """A command-line process with its stdout and stderr read by threads (no pipe fills)."""

    def __init__(self, *args, command=(sys.executable, RUNNER), **env):
        self.popen = subprocess.Popen(
            [*command, *map(str, args)],
            cwd=ROOT,
            env=_env(**env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.out, self.err = [], []
        self.threads = [
            threading.Thread(target=self._read, args=(s, lines), daemon=True)
            for s, lines in ((self.popen.stdout, self.out), (self.popen.stderr, self.err))
        ]
        for thread in self.threads:
            thread.start()

    @property
    def pid(self):
        return self.popen.pid

    @staticmethod
    def _read(stream, lines):
        for line in stream:
            lines.append(line)

    def wait_for(self, predicate, what):
        """Wait until ``predicate()`` holds (or fail naming ``what``), polling 50 times a s."""
        deadline = time.monotonic() + TIMEOUT
        while not predicate():
            if self.popen.poll() is not None and not predicate():
                self.finish()
                pytest.fail(
                    f"the process ended ({self.popen.returncode}) before {what}:\n{self.stderr}"
                )
            if time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"timed out waiting for {what}")
            time.sleep(0.02)

    def wait_line(self, prefix, stream="out"):
        lines = self.out if stream == "out" else self.err
        self.wait_for(lambda: any(line.startswith(prefix) for line in lines), repr(prefix))

    def kill(self, signum=signal.SIGKILL):
        os.kill(self.pid, signum)

    def finish(self):
        try:
            self.popen.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
            raise
        for thread in self.threads:
            thread.join(timeout=10)
        return self.popen.returncode

    @property
    def stderr(self):
        return "".join(self.err)

    def error_line(self):
        """The one line a failed or interrupted process printed (asserts there is one)."""
        lines = [line for line in self.err if line.startswith("nst-tf1:") and "PAUSED" not in line]
        assert len(lines) >= 1 and "Traceback" not in self.stderr, self.stderr
        return lines[-1].strip()


def snapshot(directory):
    """{relative path: bytes} of the non-hidden files under ``directory``."""
    files = {}
    for root, dirs, names in os.walk(directory):
        dirs[:] = [d for d in dirs if d != "figures"]
        for name in names:
            if not name.startswith("."):
                path = os.path.join(root, name)
                with open(path, "rb") as f:
                    files[os.path.relpath(path, directory)] = f.read()
    return files


def check_no_half_files(directory):
    """Every file under a final name is whole: images decode, run.json parses."""
    from PIL import Image

    for name, data in snapshot(directory).items():
        path = os.path.join(directory, name)
        if name.endswith((".png", ".jpg")):
            with Image.open(path) as img:
                img.load()
        elif name.endswith(".json"):
            json.loads(data)


def status(directory):
    from nst_tf1.record import effective_status, read_run_record

    if not os.path.exists(os.path.join(directory, "run.json")):
        return None
    return effective_status(directory, read_run_record(directory))


def check_clean(directory):
    """No temporary file, lock file or unfinished folder is left."""
    left = [name for name in os.listdir(directory) if name.startswith(".") or name == "unfinished"]
    assert left == [], left


def rerun(*args, expect=0):
    proc = Proc(*args)
    code = proc.finish()
    assert code == expect, proc.stderr
    return proc


@pytest.fixture()
def pair_and_model(image_pair, vgg_file):
    return (*image_pair, vgg_file)


@pytest.fixture()
def finished_out(tmp_path, pair_and_model):
    """An output folder holding a finished 2-iteration result."""
    out = tmp_path / "out"
    rerun(*run_args_into(*pair_and_model, out, "--iterations", 2, "--save-every", 1))
    assert status(out) == "finished"
    return out


def record(case, outcome):
    FAULT_TABLE.append((case, outcome))


# ----------------------------------------------------------------------------------------
# Runs killed or interrupted at chosen moments


MOMENTS = [
    ("model-read", signal.SIGKILL, False),
    ("model-read", signal.SIGINT, False),
    ("graph-build", signal.SIGKILL, True),
    ("graph-build", signal.SIGINT, True),
    ("mid-iteration", signal.SIGKILL, False),
    ("mid-iteration", signal.SIGINT, True),
    ("mid-save", signal.SIGKILL, True),
    ("mid-save", signal.SIGINT, False),
]


@pytest.mark.parametrize(
    "moment, signum, over_finished",
    MOMENTS,
    ids=[f"{m}-{s.name}{'-rerun' if f else ''}" for m, s, f in MOMENTS],
)
def test_run_killed(tmp_path, pair_and_model, moment, signum, over_finished, request):
    out = tmp_path / "out"
    if over_finished:
        request.getfixturevalue("finished_out")
    before = snapshot(out) if over_finished else {}
    release = tmp_path / "release"
    pause = {"model-read": "model-read", "graph-build": "graph-build", "mid-save": "save"}
    proc = Proc(
        *run_args_into(
            *pair_and_model, out, "--iterations", LONG_RUN, "--save-every", 1, "--seed", 3
        ),
        NST_TF1_PAUSE_AT=pause.get(moment, ""),
        NST_TF1_RELEASE=release,
    )
    if moment == "mid-iteration":
        proc.wait_line("Iteration 2 :")
    else:
        proc.wait_line(f"PAUSED {pause[moment]}", "err")
    proc.kill(signum)
    if moment == "mid-save" and signum == signal.SIGINT:
        release.touch()  # the save goes on; the loop then stops with the current image
    code = proc.finish()

    check_no_half_files(out)
    unfinished = out / "unfinished"
    if over_finished:  # the finished result and its record are as they were
        assert {k: v for k, v in snapshot(out).items() if not k.startswith("unfinished")} == before
    if signum == signal.SIGKILL:
        assert code == -signal.SIGKILL
        own = unfinished if over_finished else out
        assert status(own) in (None, "killed"), status(own)
        ended = f"killed; run.json {status(own) or 'absent'}"
    else:
        assert code == 130, proc.stderr
        line = proc.error_line()
        if moment in ("model-read", "graph-build"):
            assert "before the optimisation started; nothing saved" in line, line
            assert not unfinished.exists()
            # Nothing saved; a folder it created is removed again (issue 23).
            assert (status(out) == "finished") if over_finished else not out.exists()
            ended = "130, nothing saved"
        else:
            own = unfinished if over_finished else out
            assert f"saved the current image as {own / 'generated_image.jpg'}" in line, line
            assert status(own) == "stopped"
            ended = f"130, stopped image in {'unfinished/' if over_finished else 'out/'}"
    if over_finished:
        ended += ", finished result kept"

    again = rerun(*run_args_into(*pair_and_model, out, "--iterations", 2, "--save-every", 1))
    assert status(out) == "finished"
    check_no_half_files(out)
    check_clean(out)
    if signum == signal.SIGKILL and moment == "mid-save":
        assert "Removed 1 temporary file(s) a killed run left in" in again.stderr
    record(
        f"run {moment}, {signum.name}{' (rerun)' if over_finished else ''}",
        f"{ended}; rerun finished",
    )


# ----------------------------------------------------------------------------------------
# Downloads killed or interrupted halfway


def big(data):
    """The served file made large enough (about 2.6 MB) for the client's 256 KiB blocks to
    reach the disk before the server holds at half."""
    return data * 8


@pytest.mark.parametrize(
    "signum", [signal.SIGKILL, signal.SIGINT, signal.SIGTERM], ids=lambda s: s.name
)
def test_download_killed(server, payload, tmp_path, signum):  # noqa: F811
    state, base = server
    state.payload = payload = big(payload)
    state.hold = threading.Event()
    dest = tmp_path / "models" / "vgg.mat"
    part = tmp_path / "models" / "vgg.mat.part"
    fetch = [
        "fetch-model",
        "--dest",
        dest,
        "--url",
        base + PATH,
        "--sha256",
        sha256(payload),
        "--backoff",
        "0",
    ]
    proc = Proc(*fetch)
    # The client writes 256 KiB blocks; the server holds after half of the file.
    proc.wait_for(
        lambda: part.exists() and part.stat().st_size >= len(payload) // 4,
        "a quarter of the download",
    )
    proc.kill(signum)
    code = proc.finish()
    state.hold.set()
    assert not dest.exists()
    assert payload.startswith(part.read_bytes())
    if signum == signal.SIGKILL:
        assert code == -signal.SIGKILL
    else:  # an interruption, not an error; the lock released, the .part kept
        assert code == 128 + signum, proc.stderr
        line = proc.error_line()
        assert line.startswith(f"nst-tf1: interrupted by {signum.name}; {part} is kept ("), line
        assert line.endswith("and the next fetch-model or run resumes it"), line
        assert not os.path.exists(f"{dest}.lock")
    state.hold = None
    again = rerun(*fetch)
    assert "resuming" in again.stderr and "verified" in "".join(again.out)
    assert dest.read_bytes() == payload
    assert sorted(os.listdir(dest.parent)) == ["vgg.mat"]
    record(
        f"download halfway, {signum.name}",
        f"{code if code > 0 else 'killed'}, .part kept; rerun resumed and verified",
    )


def test_two_downloads_race(server, payload, tmp_path):  # noqa: F811
    state, base = server
    state.payload = payload = big(payload)
    state.hold = threading.Event()
    dest = tmp_path / "vgg.mat"
    fetch = ["fetch-model", "--dest", dest, "--url", base + PATH, "--sha256", sha256(payload)]
    first = Proc(*fetch)
    first.wait_for(lambda: os.path.exists(f"{dest}.part"), "the first download")
    second = Proc(*fetch)
    assert second.finish() == 2
    assert f"is being downloaded by another run (pid {first.pid}," in second.error_line()
    state.hold.set()
    assert first.finish() == 0, first.stderr
    assert dest.read_bytes() == payload and "verified" in "".join(first.out)
    again = rerun(*fetch)
    assert "already in place" in "".join(again.out)
    assert sorted(os.listdir(tmp_path)) == ["vgg.mat"]
    record(
        "two downloads to one file",
        "second refused (2) naming the first; first verified; rerun: in place",
    )


# ----------------------------------------------------------------------------------------
# Two runs racing for one output folder


def test_two_runs_race(tmp_path, pair_and_model):
    out = tmp_path / "out"
    args = run_args_into(*pair_and_model, out, "--iterations", LONG_RUN, "--save-every", 1)
    procs = [Proc(*args), Proc(*args)]  # started together: one gets the folder
    deadline = time.monotonic() + TIMEOUT
    while all(p.popen.poll() is None for p in procs) and time.monotonic() < deadline:
        time.sleep(0.02)
    losers = [p for p in procs if p.popen.poll() is not None]
    assert len(losers) == 1, [p.stderr for p in procs]
    loser, winner = losers[0], next(p for p in procs if p is not losers[0])
    assert loser.finish() == 2
    assert f"is in use by another run (pid {winner.pid}," in loser.error_line()
    winner.wait_line("Iteration 1 :")
    winner.kill(signal.SIGINT)
    assert winner.finish() == 130, winner.stderr
    check_no_half_files(out)
    assert status(out) == "stopped"
    rerun(*run_args_into(*pair_and_model, out, "--iterations", 2, "--save-every", 1))
    assert status(out) == "finished"
    check_clean(out)
    record(
        "two runs into one folder",
        "second refused (2) naming the first; first stopped (130); rerun finished",
    )


# ----------------------------------------------------------------------------------------
# Special files where a file is to be written


def test_make_vgg_never_replaces_a_special_file(tmp_path):
    """make-vgg --force onto a FIFO, a link to /dev/null or a folder: one line, exit 2, the
    node untouched and nothing written (before, the node became a 1.3 MB .mat file)."""
    import stat

    fifo, link, folder = tmp_path / "fifo", tmp_path / "null", tmp_path / "folder"
    os.mkfifo(fifo)
    link.symlink_to(os.devnull)
    folder.mkdir()
    for path, said in (
        (fifo, "exists and is not a regular file"),
        (link, "exists and is not a regular file"),
        (folder, "is a directory"),
    ):
        proc = rerun("make-vgg", path, "--force", expect=2)
        line = proc.error_line()
        assert line.startswith(f"nst-tf1: error: {path}: the output .mat file ") and said in line
        assert len(proc.err) == 1 and not proc.out, proc.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert os.readlink(link) == os.devnull and stat.S_ISCHR(os.stat(link).st_mode)
    assert sorted(os.listdir(tmp_path)) == ["fifo", "folder", "null"] and not os.listdir(folder)
    record("make-vgg --force onto a FIFO, /dev/null, a folder", "2, one line; nothing replaced")


# ----------------------------------------------------------------------------------------
# Standard output closed, or its reader gone


@pytest.mark.parametrize("how", ["closed", "reader-gone", "full"])
def test_where_without_standard_output(how):
    """'where >&-' exited 0 with no answer; 'where | head -c0' printed a BrokenPipeError
    traceback; 'where > /dev/full' said standard output was closed. Each: one line on stderr
    naming what can be wrong, exit 1."""
    if how == "full" and not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full on this system")
    full = open("/dev/full", "w") if how == "full" else None  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, RUNNER, "where"],
        cwd=ROOT,
        env=_env(),
        stdout={"reader-gone": subprocess.PIPE, "full": full}.get(how),
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=(lambda: os.close(1)) if how == "closed" else None,
    )
    if how == "reader-gone":
        proc.stdout.close()  # before the child writes: it meets a broken pipe
    _, err = proc.communicate(timeout=TIMEOUT)
    if full is not None:
        full.close()
    assert proc.returncode == 1, err
    assert err == (
        "nst-tf1: error: standard output cannot be written (closed, full, or its reader gone): "
        "the path was not printed\n"
    ), err
    record(f"where, stdout {how}", "1, one line, no traceback")


# ----------------------------------------------------------------------------------------
# A full disk


@contextlib.contextmanager
def small_file_system(path, size="2m"):
    """A tmpfs of ``size`` mounted at ``path`` (yields True), or yields False where mounting
    is not allowed; unmounted at the end."""
    path.mkdir()
    mounted = False
    if sys.platform.startswith("linux") and shutil.which("mount"):
        mounted = (
            subprocess.run(
                ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                capture_output=True,
                timeout=30,
            ).returncode
            == 0
        )
    try:
        yield mounted
    finally:
        if (
            mounted
            and subprocess.run(["umount", str(path)], capture_output=True, timeout=30).returncode
        ):
            # Still busy (a process of a failed case): detach it now, freed when unused.
            subprocess.run(["umount", "-l", str(path)], capture_output=True, timeout=30)


def fill(directory):
    """Write a file until the disk is full; return its path."""
    filler = os.path.join(directory, "filler")
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        with contextlib.suppress(OSError):
            while os.write(fd, b"\0" * 4096):
                pass
    finally:
        os.close(fd)
    return filler


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="pauses via /proc/self/fd")
def test_disk_fills_during_a_run(tmp_path, pair_and_model):
    disk = tmp_path / "disk"
    with small_file_system(disk) as mounted:
        out = disk / "out"
        release = tmp_path / "release"
        args = run_args_into(*pair_and_model, out, "--iterations", 20, "--save-every", 1)
        proc = Proc(
            *args,
            NST_TF1_PAUSE_AT="save",
            NST_TF1_RELEASE=release,
            NST_TF1_FULL_DISK="0" if mounted else "1",
        )
        try:
            proc.wait_line("PAUSED save", "err")
            filler = fill(disk) if mounted else None
        finally:
            release.touch()
            code = proc.finish()
        assert code == 1, proc.stderr
        line = proc.error_line()
        assert f"cannot write {out / 'run.json'} (No space left on device)" in line, line
        assert "run.json says 'failed'" in line, line
        check_no_half_files(out)
        assert status(out) == "failed"
        if filler:
            os.remove(filler)
        rerun(*run_args_into(*pair_and_model, out, "--iterations", 2, "--save-every", 1))
        assert status(out) == "finished"
        check_clean(out)
    how = "tmpfs of 2 MB filled" if mounted else "simulated ENOSPC (no mount allowed)"
    record(
        f"disk full mid-run ({how})", "1, run.json named and marked failed in place; rerun finished"
    )


def test_images_are_whole(tmp_path):
    """The checks above themselves: a cut image is found."""
    from conftest import write_image

    write_image(tmp_path / "0.png", np.zeros((8, 8, 3)))
    check_no_half_files(tmp_path)
    data = (tmp_path / "0.png").read_bytes()
    (tmp_path / "0.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(Exception):  # noqa: B017 - Pillow raises OSError or SyntaxError
        check_no_half_files(tmp_path)


# ----------------------------------------------------------------------------------------
# Standard streams closed or gone during a run


def test_run_with_standard_error_closed(tmp_path, pair_and_model):
    """Issue 23, bug 2: 'nst-tf1 ... 2>&-' exited 1 with no message (sys.stderr is None
    where TensorFlow's import flushes it). It runs as it does with stdout closed."""
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, RUNNER, *map(str, run_args_into(*pair_and_model, out, "--iterations", 2))],
        cwd=ROOT,
        env=_env(),
        stdout=subprocess.PIPE,
        preexec_fn=lambda: os.close(2),
        text=True,
        timeout=TIMEOUT,
    )
    assert proc.returncode == 0, proc.stdout
    assert "Iteration 0 :" in proc.stdout
    assert status(out) == "finished"
    check_clean(out)
    record("run, stderr closed", "0, finished")


def test_run_whose_standard_output_reader_goes(tmp_path, pair_and_model):
    """Issue 23, bug 3: 'nst-tf1 ... --save-every 1 | head -2' exited 1 blaming run.json
    (Broken pipe) and marked it failed. A gone reader must not fail the run."""
    out = tmp_path / "out"
    args = run_args_into(*pair_and_model, out, "--iterations", 30, "--save-every", 1)
    proc = subprocess.Popen(
        [sys.executable, RUNNER, *map(str, args)],
        cwd=ROOT,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    while not proc.stdout.readline().startswith("Iteration 0 :"):
        pass
    proc.stdout.close()  # as 'head' does once it has its lines
    _, err = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "error" not in err, err
    assert status(out) == "finished"
    check_no_half_files(out)
    check_clean(out)
    record("run, stdout reader gone", "0, finished quietly")


# ----------------------------------------------------------------------------------------
# Odd things where the staging folder goes


@pytest.mark.parametrize("what", ["symlink", "file"])
def test_unfinished_that_is_not_a_folder(tmp_path, pair_and_model, finished_out, what):
    """Issue 23, bug 7: OUTPUT/unfinished as a symlink to a user's folder was "Removed"
    (falsely), written through and moved over the result, the user's file with it. A
    symlink or non-folder there is refused before anything is written, and left alone."""
    out = finished_out
    unfinished = out / "unfinished"
    users = tmp_path / "users"
    users.mkdir()
    (users / "mine.txt").write_text("mine")
    if what == "symlink":
        unfinished.symlink_to(users)
    else:
        unfinished.write_text("not a folder")
    before = snapshot(out)
    proc = rerun(*run_args_into(*pair_and_model, out, "--iterations", 2), expect=2)
    line = proc.error_line()
    assert line.startswith(f"nst-tf1: error: {unfinished}: ") and "Removed" not in proc.stderr
    assert snapshot(out) == before
    assert os.listdir(users) == ["mine.txt"]
    assert (users / "mine.txt").read_text() == "mine"
    record(f"rerun, unfinished is a {what}", "2, one line; nothing written or moved")


def test_input_removed_mid_batch(tmp_path, image_pair, vgg_file):
    """Issue 23, bug 8: a content file removed mid-batch aborted the whole batch with
    "cannot write .../generated_image.jpg". It is a read failure of that pair only."""
    from conftest import HEIGHT, WIDTH, write_image

    import nst_tf1
    from nst_tf1 import events
    from nst_tf1.errors import RunFailed
    from nst_tf1.settings import Settings

    contents = tmp_path / "contents"
    contents.mkdir()
    rng = np.random.default_rng(5)
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        write_image(contents / name, rng.integers(0, 255, (HEIGHT, WIDTH, 3)))
    out = tmp_path / "out"
    said = []

    def report(event):
        if isinstance(event, events.PairBegun) and event.number == 2:
            os.remove(event.content)  # after the plan read it, before its pair does
        if isinstance(event, events.Note):
            said.append(event.text)

    settings = Settings(
        content=str(contents),
        style=image_pair[1],
        model=vgg_file,
        output_dir=str(out),
        height=HEIGHT,
        width=WIDTH,
        iterations=1,
        seed=0,
    )
    with pytest.raises(RunFailed, match="1 of 3 runs failed"):
        nst_tf1.run(settings, report)
    assert any(f"{contents / 'b.jpg'}: no such file" in line for line in said), said
    for pair in ("a__style", "c__style"):
        assert status(out / pair) == "finished"
    assert not (out / "b__style").exists()
    record("batch, a content file removed mid-batch", "that pair failed (read); the rest ran")


def test_two_ctrl_c_within_one_step(tmp_path, pair_and_model):
    """Issue 23, bug 4: a second SIGINT that lands within the same step as the first (Python
    runs the handler once for both) saved the image. The presses are counted: it stops at
    once, without saving."""
    out = tmp_path / "out"
    args = run_args_into(*pair_and_model, out, "--iterations", 100000, "--save-every", 100000)
    # Steps long enough for both presses to land within one on a slow machine; between them
    # the loop does next to nothing in Python (no saves), where a handler would run at once.
    # On a fast one the first press may end a step and the second land in the stop's save
    # (CI, stop 33): the same outcome. test_presses_the_handler_runs_once_for_are_counted
    # checks the counting itself, without timing.
    proc = Proc(*args, "--height", 300, "--width", 400)
    proc.wait_line("Iteration 0 :")
    time.sleep(0.5)
    proc.kill(signal.SIGINT)
    time.sleep(0.05)
    proc.kill(signal.SIGINT)
    assert proc.finish() == 130, proc.stderr
    line = proc.error_line()
    assert line.endswith("again; stopped without saving the current image"), line
    assert not (out / "generated_image.jpg").exists()
    check_no_half_files(out)
    record("run, SIGINT twice 0.05 s apart", "130, stopped at once, nothing saved")


@pytest.mark.parametrize("pending", [0, 1])
def test_presses_the_handler_runs_once_for_are_counted(pending):
    """The command line's SIGINT handler, in this process, without timing. Python runs a
    handler once for all the signals that arrived while the main thread was in C (a
    TensorFlow step); its C handler writes a byte per signal to the wake-up fd. ``pending``
    presses are left there as such a step leaves them (bytes written by hand), then a real
    SIGINT arrives (``signal.raise_signal``: its byte and one run of the handler). One press
    asks the run to stop after its step; two stop it at once (``Interrupted``)."""
    from nst_tf1.errors import Interrupted
    from nst_tf1.process import SignalStop

    with SignalStop(saving=False) as stop:
        stop.saving = True  # the optimisation has begun
        os.write(stop._wakeup[1], bytes([signal.SIGINT] * pending))
        if pending:
            with pytest.raises(Interrupted) as raised:
                signal.raise_signal(signal.SIGINT)
            assert raised.value.signum == signal.SIGINT and stop() is None
        else:
            signal.raise_signal(signal.SIGINT)
            assert stop() == signal.SIGINT


ENTRIES = {"python -m nst_tf1": (sys.executable, RUNNER), "nst-tf1": (SCRIPT,)}

#: The package's modules whose top level runs before its entry point can catch a Ctrl-C:
#: the package's own __init__ (it imports importlib only), the entry module and the one
#: small module it imports (errors.py).
_BEFORE_ENTRY = {"__init__.py", "__main__.py", "errors.py"}


def _before_the_command(stderr):
    """Whether a Ctrl-C landed before any code of the command could catch it: in Python's
    own start (its site module), in the fault runner's or pip's script's own lines, or while
    Python loads the package and its entry module (a KeyboardInterrupt traceback none of
    whose frames is a function of the package). A traceback through any function of the
    package (the entry point's main() on) is not."""
    if "Fatal Python error: init_import_site" in stderr or "RUNNER INTERRUPTED" in stderr:
        return True
    if not stderr.rstrip().endswith("KeyboardInterrupt"):
        return False
    package = os.path.join(ROOT, "nst_tf1") + os.sep
    for path, function in re.findall(r'File "([^"]+)", line \d+, in (\S+)', stderr):
        if path.startswith(package) and (
            function != "<module>" or os.path.relpath(path, package) not in _BEFORE_ENTRY
        ):
            return False
    return True


@pytest.mark.parametrize("entry", ENTRIES)
@pytest.mark.parametrize("delay", [0.05, 0.1, 0.15, 0.2, 0.3, 0.5])
def test_ctrl_c_at_the_start(tmp_path, pair_and_model, delay, entry):
    """Issue 23, bug 14: Ctrl-C in the first quarter second (before the command's handlers,
    on either side of its restart with malloc tunables) printed a KeyboardInterrupt
    traceback. One line, exit 130; nothing written. As ``python -m nst_tf1`` (the fault
    runner) and as the installed ``nst-tf1`` script."""
    out = tmp_path / "out"
    proc = Proc(*run_args_into(*pair_and_model, out, "--iterations", 2), command=ENTRIES[entry])
    time.sleep(delay)
    proc.kill(signal.SIGINT)
    code = proc.finish()
    case = f"{entry}, SIGINT {delay:g} s after the start"
    if _before_the_command(proc.stderr):
        # Python's own start under load, a script's own imports, or Python loading the
        # package: before any of this program's code can catch it, out of its reach.
        record(case, "within Python's own start")
        return
    assert "Traceback" not in proc.stderr, proc.stderr
    if code != -signal.SIGINT:  # before Python's own start: killed by the signal, silently
        assert code == 130, proc.stderr
        assert proc.error_line().startswith("nst-tf1: interrupted by SIGINT"), proc.stderr
    assert not out.exists() or not [n for n in os.listdir(out) if not n.startswith(".")]
    record(case, f"{code}, no traceback")


def test_ctrl_c_while_the_console_script_imports(tmp_path, pair_and_model):
    """Issue 23, bug 14, the installed script: pip's ``nst-tf1`` imports its entry point
    before calling it, and a Ctrl-C while ``nst_tf1.cli`` was imported there printed a
    KeyboardInterrupt traceback. The import is paused (tests/startup_pause) and interrupted:
    one line, exit 130, nothing written."""
    out = tmp_path / "out"
    args = run_args_into(*pair_and_model, out, "--iterations", 2)
    pythonpath = os.pathsep.join(filter(None, [STARTUP_PAUSE, os.environ.get("PYTHONPATH")]))
    proc = Proc(
        *args,
        command=(SCRIPT,),
        PYTHONPATH=pythonpath,
        NST_TF1_PAUSE_AT="import-cli",
        NST_TF1_RELEASE=tmp_path / "never",
    )
    proc.wait_line("PAUSED import-cli", "err")
    proc.kill(signal.SIGINT)
    assert proc.finish() == 130, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    line = proc.error_line()
    assert line == "nst-tf1: interrupted by SIGINT while starting; nothing done", line
    assert not out.exists()
    record("nst-tf1 script, SIGINT while importing its command line", "130, one line")


def test_a_start_ctrl_c_whose_interrupt_an_import_dropped_still_stops(tmp_path, pair_and_model):
    """Found by CI (the fault suite's Ctrl-C 0.2 s after the start exited 0, the run done):
    a press whose KeyboardInterrupt an optional import caught and dropped was lost. The
    parser's import of NumPy here presses Ctrl-C and drops the interrupt
    (tests/startup_pause), in the restarted process (the first one restarts before it
    imports NumPy): one line, exit 130, nothing written."""
    out = tmp_path / "out"
    args = run_args_into(*pair_and_model, out, "--iterations", 2)
    pythonpath = os.pathsep.join(filter(None, [STARTUP_PAUSE, os.environ.get("PYTHONPATH")]))
    proc = Proc(
        *args, command=(SCRIPT,), PYTHONPATH=pythonpath, NST_TF1_PAUSE_AT="swallow-press:numpy"
    )
    assert proc.finish() == 130, proc.stderr
    assert "SWALLOWED numpy" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    line = proc.error_line()
    assert line == "nst-tf1: interrupted by SIGINT while starting; nothing done", line
    assert not out.exists() or not [n for n in os.listdir(out) if not n.startswith(".")]
    record("nst-tf1 script, SIGINT dropped by an import at the start", "130, one line")


@pytest.mark.parametrize("presses", [1, 2])
def test_ctrl_c_during_the_final_move(tmp_path, pair_and_model, finished_out, presses):
    """Issue 23, bug 6: a second Ctrl-C during the move out of unfinished/ left a folder
    mixing two runs, said the result was "kept as it was" and marked the staged record
    'interrupted', so the next run deleted the rerun. A single Ctrl-C there was swallowed
    (exit 0). Now: the move completes, the line says so, exit 130."""
    out = finished_out
    release = tmp_path / "release"
    args = run_args_into(*pair_and_model, out, "--iterations", 3, "--save-every", 1, "--seed", 7)
    proc = Proc(*args, NST_TF1_PAUSE_AT="move", NST_TF1_RELEASE=release)
    proc.wait_line("PAUSED move", "err")
    for _ in range(presses):
        proc.kill(signal.SIGINT)
        time.sleep(0.2)
    release.touch()
    assert proc.finish() == 130, proc.stderr
    line = proc.error_line()
    assert "kept as it was" not in line, line
    assert f"{out / 'generated_image.jpg'}" in line and "finished" in line, line
    assert status(out) == "finished"
    with open(out / "run.json") as f:
        assert json.load(f)["seed"] == 7  # the rerun's record, with its images
    assert sorted(n for n in os.listdir(out) if n.endswith(".png")) == [
        "0.png",
        "1.png",
        "2.png",
        "generated_image.png",
    ]
    check_no_half_files(out)
    check_clean(out)
    record(f"rerun, SIGINT x{presses} during the final move", "130, move completed, line true")


def test_output_folder_a_dangling_symlink(tmp_path, pair_and_model):
    """Issue 23 (UX): a dangling-symlink output folder read "not writable (File exists)"."""
    out = tmp_path / "out"
    out.symlink_to(tmp_path / "gone")
    proc = rerun(*run_args_into(*pair_and_model, out, "--iterations", 1), expect=2)
    line = proc.error_line()
    assert line == (
        f"nst-tf1: error: {out}: output directory is a symbolic link to "
        f"{tmp_path / 'gone'}, which does not exist"
    ), line
    assert os.path.islink(out) and not (tmp_path / "gone").exists()
    record("output folder a dangling symlink", "2, one true line")
