"""Issue 14, "Nothing lost, nothing hangs": one test per case of the issue.

Each test fails on the code before the fix: a result lost or wrong, a hang (run in a
subprocess with a timeout), or a traceback where one line is due.
"""

import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import HEIGHT, LONG_RUN, ROOT, WIDTH, run_args, run_args_into, run_cli, write_image
from test_bad_input import _layer_index, _mat_round_trip, assert_one_line_error, run_main
from test_weights import payload, server  # noqa: F401  (fixtures)

from nst_tf1.images import read_comment


def _record(out_dir):
    with open(os.path.join(out_dir, "run.json")) as f:
        return json.load(f)


def _env():
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def hold_lock(path):
    """A second process holding the FileLock on ``path``; stop it with ``.communicate()``."""
    code = (
        "import sys; from nst_tf1.lock import FileLock; lock = FileLock(sys.argv[1], 'x')"
        ".acquire(); print('locked', flush=True); sys.stdin.read(); lock.release()"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(path)],
        cwd=ROOT,
        env=_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline() == "locked\n"
    return proc


def start_run(*args):
    return subprocess.Popen(
        [sys.executable, os.path.join(ROOT, "run_nst.py"), *map(str, args)],
        cwd=ROOT,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_line(proc, prefix, timeout=120):
    """Read ``proc``'s stdout until a line starts with ``prefix``; the lines read."""
    deadline, lines = time.monotonic() + timeout, []
    for line in proc.stdout:
        lines.append(line)
        if line.startswith(prefix) or time.monotonic() > deadline:
            break
    assert lines and lines[-1].startswith(prefix), "".join(lines)
    return lines


@pytest.fixture()
def finished(tmp_path, capsys, image_pair, vgg_file):
    """A finished 2-iteration run in tmp_path/out; returns the output dir."""
    out = tmp_path / "out"
    status, _, err = run_main(
        run_args_into(*image_pair, vgg_file, out, "--iterations", 2, "--save-every", 1), capsys
    )
    assert status == 0, err
    return out


# ----------------------------------------------------------------------------------------
# 1. Two runs into one output folder


def test_second_run_into_a_folder_in_use_is_refused(tmp_path, capsys, image_pair, vgg_file):
    out = tmp_path / "out"
    out.mkdir()
    holder = hold_lock(out / ".nst-tf1.lock")
    try:
        status, _, err = run_main(run_args_into(*image_pair, vgg_file, out), capsys)
    finally:
        holder.communicate("", timeout=30)
    assert_one_line_error(
        status, err, f"output folder {out} is in use by another run (pid {holder.pid}, started "
    )
    assert os.listdir(out) == []  # the holder removed its lock file; nothing else written


def _two_contents(tmp_path):
    contents = tmp_path / "contents"
    contents.mkdir()
    rng = np.random.default_rng(5)
    for name in ("a.jpg", "b.jpg"):
        write_image(contents / name, rng.integers(0, 255, (HEIGHT, WIDTH, 3)))
    return contents


def test_batch_skips_a_pair_folder_another_run_is_using(tmp_path, capsys, image_pair, vgg_file):
    """A single run into OUT/a__style while a batch into OUT starts: the batch leaves that
    folder (its running run.json, its unfinished/ staging) alone and does the other pair."""
    out = tmp_path / "out"
    busy = out / "a__style"
    (busy / "unfinished").mkdir(parents=True)
    running = json.dumps({"status": "running"})
    (busy / "run.json").write_text(running)
    (busy / "unfinished" / "run.json").write_text(running)
    holder = hold_lock(busy / ".nst-tf1.lock")
    try:
        status, stdout, err = run_main(
            run_args_into(_two_contents(tmp_path), image_pair[1], vgg_file, out, "--iterations", 1),
            capsys,
        )
    finally:
        holder.communicate("", timeout=30)
    assert status == 0, err
    said = stdout + err
    assert f"Skipping {busy}: it is in use by another run (pid {holder.pid}" in said, said
    assert "the same batch run again once it has ended does this pair" in said
    assert (out / "b__style" / "generated_image.jpg").exists()
    assert _record(out / "b__style")["status"] == "finished"
    assert (busy / "run.json").read_text() == running  # not marked "killed"
    assert (busy / "unfinished" / "run.json").read_text() == running
    assert not (busy / "generated_image.jpg").exists()


def test_single_run_into_the_pair_a_batch_is_on_is_refused(tmp_path, image_pair, vgg_file):
    out = tmp_path / "out"
    batch = start_run(
        *run_args_into(_two_contents(tmp_path), image_pair[1], vgg_file, out),
        # --verbose: a batch prints the cost lines this waits for only when asked (issue 24)
        *("--iterations", 10000, "--save-every", 1, "--verbose"),
    )
    try:
        wait_for_line(batch, "Iteration 1 ")
        single = run_cli(
            *run_args_into(
                image_pair[0], image_pair[1], vgg_file, out / "a__style", "--iterations", 1
            ),
        )
    finally:
        batch.send_signal(signal.SIGINT)
        batch.communicate(timeout=120)
    assert single.returncode == 2, single.stderr
    assert f"output folder {out / 'a__style'} is in use by another run (pid {batch.pid}" in (
        single.stderr
    )
    assert _record(out / "a__style")["status"] == "stopped"  # the batch's, not "killed"


# ----------------------------------------------------------------------------------------
# 2. An interrupted rerun keeps the finished result


def test_interrupted_rerun_keeps_the_finished_result(finished, capsys, image_pair, vgg_file):
    final = finished / "generated_image.jpg"
    before = {name: (finished / name).read_bytes() for name in os.listdir(finished)}
    proc = start_run(
        *run_args_into(
            *image_pair,
            vgg_file,
            finished,
            "--iterations",
            LONG_RUN,
            "--save-every",
            1,
            "--seed",
            7,
        )
    )
    try:
        wait_for_line(proc, "Iteration 1 :")
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    unfinished = finished / "unfinished"
    assert f"saved the current image as {unfinished / 'generated_image.jpg'}" in err
    assert f"the finished result {final} and its run.json are kept" in err
    # The finished result, its run.json and its saved images are as they were.
    assert {
        name: (finished / name).read_bytes()
        for name in os.listdir(finished)
        if name != "unfinished"
    } == before
    assert _record(unfinished)["status"] == "stopped"
    assert "interrupted_at" in read_comment(unfinished / "generated_image.jpg")

    # A rerun that finishes replaces the earlier result, and the unfinished folder goes.
    status, out, err = run_main(
        run_args_into(
            *image_pair, vgg_file, finished, "--iterations", 1, "--save-every", 1, "--seed", 9
        ),
        capsys,
    )
    assert status == 0, err
    assert f"Removed {unfinished}, left by an earlier rerun that did not finish" in err
    assert not unfinished.exists()
    assert final.read_bytes() != before["generated_image.jpg"]
    record = _record(finished)
    assert record["status"] == "finished" and record["seed"] == 9
    # The earlier run's 2.png, which this run did not save, went with its record.
    assert sorted(os.listdir(finished)) == [
        "0.png",
        "generated_image.jpg",
        "generated_image.png",
        "run.json",
    ]


# ----------------------------------------------------------------------------------------
# 3. Batch folders are unique


def test_batch_labels_are_unique_by_construction(tmp_path, capsys, image_pair, vgg_file):
    contents = tmp_path / "contents"
    contents.mkdir()
    rng = np.random.default_rng(4)
    for name in ("x.jpg", "x.png", "x_jpg.bmp"):
        write_image(contents / name, rng.integers(0, 255, (HEIGHT, WIDTH, 3)))
    out = tmp_path / "out"
    status, _, err = run_main(
        [
            *run_args(contents, image_pair[1], vgg_file),
            "--output-dir",
            out,
            "--iterations",
            1,
        ],
        capsys,
    )
    assert status == 0, err
    assert sorted(d for d in os.listdir(out) if os.path.isdir(out / d)) == [
        "x.jpg__style",
        "x.png__style",
        "x_jpg__style",
    ]
    sources = {
        _record(out / d)["files"]["content"] for d in os.listdir(out) if os.path.isdir(out / d)
    }
    assert len(sources) == 3


def test_batch_pairs_writing_into_one_folder_are_refused(tmp_path, capsys, image_pair, vgg_file):
    a, b = tmp_path / "a", tmp_path / "b"
    for d in (a, b):
        d.mkdir()
        shutil.copy(image_pair[1], d / "s.jpg")
    out = tmp_path / "out"
    status, _, err = run_main(
        [
            "--content",
            image_pair[0],
            "--style",
            a,
            b,
            "--model",
            vgg_file,
            "--output-dir",
            out,
            "--height",
            HEIGHT,
            "--width",
            WIDTH,
            "--iterations",
            1,
        ],
        capsys,
    )
    assert_one_line_error(status, err, "would both write into", "content__s.jpg")
    assert not out.exists() or os.listdir(out) == []


# ----------------------------------------------------------------------------------------
# 4 and 10. Figures of a moved run; a bad run.json


def figure(capsys, *args):
    return run_main(["figure", *args], capsys)


def test_figure_of_a_moved_run_reads_the_moved_folder(finished, tmp_path, capsys):
    moved = tmp_path / "moved"
    shutil.copytree(finished, moved)
    # The original is replaced by another run's images: the copy must not show them.
    for name in ("0.png", "1.png", "generated_image.jpg"):
        write_image(finished / name, np.zeros((HEIGHT, WIDTH, 3)))
    status, out, err = figure(capsys, "strip", "--run-dir", moved)
    assert status == 0, err
    from PIL import Image

    strip = np.asarray(Image.open(moved / "figures" / "strip.png").convert("RGB"))
    assert strip.std() > 20  # the moved run's noisy images, not the black ones

    (moved / "1.png").unlink()
    status, _, err = figure(capsys, "strip", "--run-dir", moved)
    assert_one_line_error(status, err, f"{moved / '1.png'}: recorded in run.json but missing")


def test_figure_says_when_an_input_changed_or_went(finished, tmp_path, capsys, image_pair):
    copy = tmp_path / "copy"
    shutil.copytree(finished, copy)
    record = _record(copy)
    changed = tmp_path / "changed.jpg"
    write_image(changed, np.zeros((HEIGHT, WIDTH, 3)))
    record["files"]["content"] = str(changed)
    (copy / "run.json").write_text(json.dumps(record))
    status, _, err = figure(capsys, "panel", "--run-dir", copy)
    assert_one_line_error(status, err, f"the content image {changed} has changed since the run")
    record["files"]["content"] = str(tmp_path / "gone.jpg")
    (copy / "run.json").write_text(json.dumps(record))
    status, _, err = figure(capsys, "panel", "--run-dir", copy)
    assert_one_line_error(status, err, "gone.jpg recorded in run.json is missing")
    # An older record, without the inputs' SHA-256, is still drawn.
    del record["files"]["sha256"]
    record["files"]["content"] = image_pair[0]
    (copy / "run.json").write_text(json.dumps(record))
    status, _, err = figure(capsys, "panel", "--run-dir", copy)
    assert status == 0, err


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda text, data: text[: len(text) // 2], "not a readable run record"),
        (lambda text, data: "[1, 2, 3]", "a JSON list, not an object"),
        (lambda text, data: json.dumps({**data, "image_size": "big"}), "image_size"),
        (
            lambda text, data: json.dumps({**data, "saves": [{"iteration": 0, "file": "/etc/x"}]}),
            "saves[0] has no file name inside the run folder",
        ),
        (lambda text, data: json.dumps({**data, "settings": {}}), "settings.alpha"),
        (lambda text, data: json.dumps({**data, "format": 7}), "format 7"),
        (lambda text, data: "", "not a readable run record"),
    ],
    ids=["truncated", "list", "image_size", "absolute-file", "settings", "format", "empty"],
)
def test_figure_of_a_bad_run_json_is_one_line(finished, tmp_path, capsys, edit, message):
    copy = tmp_path / "copy"
    shutil.copytree(finished, copy)
    text = (copy / "run.json").read_text()
    (copy / "run.json").write_text(edit(text, json.loads(text)))
    status, _, err = figure(capsys, "--run-dir", copy)
    assert_one_line_error(status, err, str(copy / "run.json"), message)


# ----------------------------------------------------------------------------------------
# 5 and 12. Downloads: one at a time, the bytes on disk verified; no hidden .part


def test_fetch_refuses_a_destination_being_downloaded(tmp_path):
    from nst_tf1.lock import LockBusy
    from nst_tf1.weights import fetch_vgg_model

    dest = tmp_path / "vgg.mat"
    holder = hold_lock(str(dest) + ".lock")
    try:
        with pytest.raises(
            LockBusy, match=f"{dest} is being downloaded by another run \\(pid {holder.pid}"
        ):
            fetch_vgg_model(dest, "http://127.0.0.1:9/vgg.mat", None, retries=0)
    finally:
        holder.communicate("", timeout=30)
    assert os.listdir(tmp_path) == []


def test_fetch_hashes_the_file_on_disk_before_the_rename(
    server,  # noqa: F811
    payload,  # noqa: F811
    tmp_path,
):
    from test_weights import FAST, PATH, sha256

    from nst_tf1.weights import DownloadError, fetch_vgg_model

    _, base = server
    dest = tmp_path / "vgg.mat"

    def another_writer(event):  # something else writes into the .part meanwhile
        if event.kind == "data" and event.done >= len(payload) // 2:
            with open(str(dest) + ".part", "r+b") as f:
                f.write(b"X" * 100)

    with pytest.raises(DownloadError, match="is not what was received"):
        fetch_vgg_model(dest, base + PATH, sha256(payload), report=another_writer, **FAST)
    assert os.listdir(tmp_path) == []


def test_fetch_model_to_an_empty_destination_is_refused(tmp_path):
    result = run_cli(
        "fetch-model", "--dest", "", "--url", "http://127.0.0.1:9/x.mat", cwd=tmp_path, timeout=60
    )
    assert_one_line_error(result.returncode, result.stderr, "--dest: '' is not a file name")
    assert os.listdir(tmp_path) == []


# ----------------------------------------------------------------------------------------
# 6. A rerun cleans up after a killed run, and says so


def test_rerun_removes_what_a_killed_run_left(finished, capsys, image_pair, vgg_file):
    (finished / ".3.abcd1234.tmp.png").write_bytes(b"half an image")
    (finished / ".run.x1y2z3w4.tmp.json").write_bytes(b"{")
    record = _record(finished)
    record["status"] = "running"
    (finished / "run.json").write_text(json.dumps(record))
    status, out, err = run_main(
        run_args_into(*image_pair, vgg_file, finished, "--iterations", 1), capsys
    )
    assert status == 0, err
    assert "Removed 2 temporary file(s) a killed run left in" in err
    assert ".3.abcd1234.tmp.png" in err
    assert "said 'running', but its run was killed: marked it 'killed'" in err
    assert not [name for name in os.listdir(finished) if ".tmp" in name]


def test_rerun_killed_while_moving_into_place_is_completed(finished, capsys, image_pair, vgg_file):
    # A finished rerun was killed after moving its 0.png, before the rest.
    unfinished = finished / "unfinished"
    unfinished.mkdir()
    record = _record(finished)
    record["seed"] = 11
    (unfinished / "run.json").write_text(json.dumps(record))
    shutil.copy(finished / "generated_image.jpg", unfinished / "generated_image.jpg")
    shutil.copy(finished / "1.png", unfinished / "1.png")
    status, out, err = run_main(
        run_args_into(
            *image_pair,
            vgg_file,
            finished,
            "--iterations",
            1,
            "--no-download",
            "--model",
            finished / "none.mat",
        ),
        capsys,
    )
    assert status == 2  # the run itself stops at the missing model: the move came first
    assert f"Moved the finished rerun in {unfinished} over the earlier result" in err
    assert not unfinished.exists() and _record(finished)["seed"] == 11


def test_killed_run_reads_as_killed(finished):
    from nst_tf1.record import effective_status, read_run_record

    record = _record(finished)
    record["status"] = "running"
    (finished / "run.json").write_text(json.dumps(record))
    assert effective_status(finished, read_run_record(finished)) == "killed"
    holder = hold_lock(finished / ".nst-tf1.lock")
    try:
        assert effective_status(finished, read_run_record(finished)) == "running"
    finally:
        holder.communicate("", timeout=30)


# ----------------------------------------------------------------------------------------
# 7. Disk full: the right file named, run.json not left "running"


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="names files via /proc/self/fd")
@pytest.mark.parametrize("in_place", [True, False], ids=["patched", "unpatchable"])
def test_disk_full_at_run_json_names_it_and_marks_it_failed(
    monkeypatch, tmp_path, capsys, image_pair, vgg_file, in_place
):
    import errno

    if not in_place:  # a file system where even overwriting in place fails
        monkeypatch.setattr("nst_tf1.record._patch_status", lambda path, status: False)

    out = tmp_path / "out"
    real_fsync, writes = os.fsync, []

    def fsync(fd):
        name = os.path.basename(os.readlink(f"/proc/self/fd/{fd}"))
        if name.startswith(".run."):
            writes.append(name)
            if len(writes) > 1:  # the second run.json: the disk is full now
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    status, _, err = run_main(
        run_args_into(*image_pair, vgg_file, out, "--iterations", 6, "--save-every", 2), capsys
    )
    monkeypatch.undo()
    said = (
        "run.json says 'failed'"
        if in_place
        else "run.json could not be updated (it still says 'running')"
    )
    assert_one_line_error(
        status, err, f"cannot write {out / 'run.json'} (No space left", said, code=1
    )
    # Rewritten in place, no new block needed; or, where that failed, honestly "running".
    assert _record(out)["status"] == ("failed" if in_place else "running")
    assert sorted(os.listdir(out)) == ["0.png", "2.png", "run.json"]


# ----------------------------------------------------------------------------------------
# 8 and 9. Nothing hangs


def test_model_that_is_not_a_regular_file_is_refused_at_once(tmp_path, image_pair):
    fifo = tmp_path / "model.fifo"
    os.mkfifo(fifo)
    for model, kind in (("/dev/zero", "is a character device"), (fifo, "is a FIFO")):
        result = run_cli(
            *run_args(image_pair[0], image_pair[1], model),
            "--output-dir",
            tmp_path / "out",
            timeout=60,
        )
        assert_one_line_error(result.returncode, result.stderr, str(model), kind)


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--multires", "1000000"], "--multires: must be at most 10"),
        (["--iterations", "1e30"], "--iterations: not a whole number: '1e30'"),
        (["--iterations", "100001"], "--iterations: must be at most 100000"),
        (["--save-every", "10000000000"], "--save-every: must be at most 100000"),
        (["--seed", str(2**64)], "--seed: must be at most 4294967295"),
        (["--max-size", "99999999"], "--max-size: must be at most 16384"),
        (["--height", "20000"], "--height: must be at most 16384"),
    ],
)
def test_counts_are_bounded(tmp_path, capsys, image_pair, vgg_file, extra, message):
    start = time.monotonic()
    status, _, err = run_main(
        [
            "--content",
            image_pair[0],
            "--style",
            image_pair[1],
            "--model",
            vgg_file,
            "--output-dir",
            tmp_path / "out",
            *extra,
        ],
        capsys,
    )
    assert_one_line_error(status, err, message)
    assert time.monotonic() - start < 10


def test_bounds_are_in_the_help(capsys):
    status, out, _ = run_main(["--help"], capsys)
    text = " ".join(out.split())
    for bound in ("1..100000", "1..10", "0..4294967295", "32..16384"):
        assert bound in text, bound


# ----------------------------------------------------------------------------------------
# 11, 13, 14, 15: checks before the work, no silent surprise


def test_activations_output_that_is_a_folder_is_refused_first(
    tmp_path, capsys, image_pair, vgg_file, monkeypatch
):
    read = []
    monkeypatch.setattr("nst_tf1.model_file.read_existing_model", read.append)
    status, _, err = run_main(
        [
            "activations",
            "--image",
            image_pair[0],
            "--model",
            vgg_file,
            "--height",
            HEIGHT,
            "--width",
            WIDTH,
            "--output",
            tmp_path,
        ],
        capsys,
    )
    assert_one_line_error(status, err, f"{tmp_path}: --output is a directory")
    assert read == []


def test_jpeg_header_promising_more_than_its_data_is_refused(tmp_path):
    import io

    from PIL import Image

    from nst_tf1.images import ImageInputError, load_image

    buffer = io.BytesIO()
    Image.new("L", (16, 16), 90).save(buffer, "JPEG")
    raw = bytearray(buffer.getvalue())
    sof = raw.find(b"\xff\xc0")
    struct.pack_into(">HH", raw, sof + 5, 9999, 9999)  # height, width
    sos = raw.find(b"\xff\xda")
    path = tmp_path / "liar.jpg"
    path.write_bytes(bytes(raw[: sos + 40]) + b"\xff\xd9")
    with pytest.raises(ImageInputError, match="header says 9999x9999 pixels"):
        load_image(path, HEIGHT, WIDTH)


def test_repeated_style_flags_add_up_and_max_size_excludes_height():
    from nst_tf1.cli import build_parser
    from nst_tf1.settings import DEFAULT_STYLE, Settings, SettingsError

    args = vars(build_parser().parse_args(["--style", "a.jpg", "--style", "b.jpg", "c.jpg"]))
    del args["print_model"], args["verbose"]
    assert Settings(**args).style == ["a.jpg", "b.jpg", "c.jpg"]
    args = vars(build_parser().parse_args([]))
    del args["print_model"], args["verbose"]
    assert Settings(**args).style == [DEFAULT_STYLE]
    with pytest.raises(SettingsError, match="give it without --height/--width"):
        Settings(max_size=256, height=100)


def test_make_vgg_never_overwrites_without_force(tmp_path, capsys):
    path = tmp_path / "vgg.mat"
    path.write_bytes(b"the real network")
    status, _, err = run_main(["make-vgg", path], capsys)
    assert_one_line_error(status, err, f"{path} exists", "--force")
    assert path.read_bytes() == b"the real network"
    status, out, err = run_main(["make-vgg", path, "--force", "--width-divisor", 16], capsys)
    assert status == 0 and path.read_bytes() != b"the real network", err
    assert sorted(os.listdir(tmp_path)) == ["vgg.mat"]


# ----------------------------------------------------------------------------------------
# 16. Model files whose values are wrong


def _edit_layer(vgg_file, dst, layer, change):
    def edit(layers):
        cell = layers[0, _layer_index(layers, layer)]
        cell["weights"][0, 0][0, 0] = change(cell["weights"][0, 0][0, 0])
        return layers

    return _mat_round_trip(vgg_file, dst, edit)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda W: (W * 100).astype(np.int8), "holds integer weights (W int8"),
        (lambda W: np.zeros_like(W), "has all-zero weights"),
        (lambda W: W * 1e6, "has weights as large as"),
    ],
    ids=["int8", "zeros", "huge"],
)
def test_model_with_wrong_values_is_refused(
    tmp_path, capsys, image_pair, vgg_file, change, message
):
    model = _edit_layer(vgg_file, tmp_path / "bad.mat", "conv3_1", change)
    status, _, err = run_main(run_args_into(*image_pair, model, tmp_path / "out"), capsys)
    assert_one_line_error(status, err, model, "layer 'conv3_1'", message)


def test_synthetic_files_pass_the_value_checks(vgg_file, vgg_file_old):
    from nst_tf1.vgg import read_vgg_weights

    for path in (vgg_file, vgg_file_old):
        read_vgg_weights(path)


# ----------------------------------------------------------------------------------------
# 17. The missing model: one story


def test_missing_model_messages_name_make_vgg(tmp_path, capsys, image_pair):
    missing = tmp_path / "none.mat"
    for args in (
        run_args_into(*image_pair, missing, tmp_path / "out", "--no-download"),
        ["--print-model", "--model", missing],
        ["activations", "--image", image_pair[0], "--model", missing],
    ):
        status, _, err = run_main(args, capsys)
        assert_one_line_error(
            status,
            err,
            "VGG-19 model file not found",
            "nst-tf1 make-vgg models/synthetic-vgg19.mat",
        )


# ----------------------------------------------------------------------------------------
# 18. Nothing saved before the first iteration


def test_signal_before_the_first_iteration_saves_nothing(
    monkeypatch, tmp_path, capsys, image_pair, vgg_file
):
    from nst_tf1 import graph
    from nst_tf1.errors import Interrupted

    def interrupted(*args, **kwargs):  # Ctrl-C while the graph is being built
        raise Interrupted(signal.SIGINT)

    monkeypatch.setattr(graph.TransferGraph, "__init__", interrupted)
    out = tmp_path / "out"
    status, _, err = run_main(run_args_into(*image_pair, vgg_file, out), capsys)
    assert status == 130
    assert "before the optimisation started; nothing saved" in err
    assert not out.exists()  # nor the empty folder it had created (issue 23)


def _stopped_run(image_pair, vgg_file, out, iterations, pressed):
    """(Settings, the ExceptionInfo of its Interrupted) of a run into ``out`` that stops once
    ``pressed`` holds a signal and the optimisation has begun (the command line's
    should_stop; a stop asked before it ends the run before the model is read)."""
    import nst_tf1
    from nst_tf1 import events
    from nst_tf1.errors import Interrupted

    settings = nst_tf1.Settings(
        *image_pair[:1],
        style=image_pair[1],
        model=vgg_file,
        output_dir=str(out),
        height=HEIGHT,
        width=WIDTH,
        iterations=iterations,
    )
    begun = []

    def report(event):
        if isinstance(event, events.RunBegun):
            begun.append(event)

    with pytest.raises(Interrupted) as stopped:
        nst_tf1.run(settings, report, lambda: begun and pressed and pressed[0])
    return settings, stopped


@pytest.mark.parametrize("second_press_in", ["costs", "jpeg", "finished"])
def test_a_second_signal_after_the_stops_image_was_written_says_so(
    monkeypatch, tmp_path, image_pair, vgg_file, second_press_in
):
    """Found by hand (two Ctrl-C 0.2 s apart): the first press stops the run, which writes
    the current image as generated_image.png and .jpg, then reads both back to record their
    costs; the second press, landing there, ended the run saying "stopped without saving
    the current image" beside the two whole files. The line now names what was written, and
    run.json records the image when both files are whole. ``finished``: both presses came
    during the final save of a run that had reached its budget."""
    import nst_tf1
    from nst_tf1 import images, pair
    from nst_tf1.errors import Interrupted

    pressed = [] if second_press_in == "finished" else [signal.SIGINT]  # the first, at once

    def second_press(*args, **kwargs):  # what the command line's handler raises
        pressed.append(signal.SIGINT)  # (recorded, when it is the first)
        raise Interrupted(signal.SIGINT)

    if second_press_in in ("costs", "finished"):
        monkeypatch.setattr(pair, "saved_costs", second_press)
    else:
        save_image = images.save_image

        def save(path, *args, **kwargs):
            if os.path.basename(path) == "generated_image.jpg":
                second_press()
            save_image(path, *args, **kwargs)

        monkeypatch.setattr(images, "save_image", save)
    out = tmp_path / "out"
    iterations = 2 if second_press_in == "finished" else LONG_RUN
    settings, stopped = _stopped_run(image_pair, vgg_file, out, iterations, pressed)
    written = [out / "generated_image.png"]
    if second_press_in == "finished":
        written.append(out / "generated_image.jpg")
        listed, status = (
            ", and run.json records it (without the costs of the files as saved)",
            "finished",
        )
    elif second_press_in == "costs":  # both files whole: run.json records them, as stopped
        written.append(out / "generated_image.jpg")
        listed, status = (
            ", and run.json records it (without the costs of the files as saved)",
            "stopped",
        )
    else:  # the PNG alone: run.json says the run ended without its final image
        listed, status = ", which run.json does not list", "interrupted"
    assert stopped.value.message == (
        f"interrupted by SIGINT again; the current image had been saved as "
        f"{' and '.join(map(str, written))}{listed}"
    )
    assert stopped.value.kept == str(written[-1])
    assert sorted(os.listdir(out)) == sorted(["0.png", "run.json", *(p.name for p in written)])
    from nst_tf1.preflight import interrupted_at

    record = _record(out)
    assert record["status"] == status
    if status == "interrupted":
        assert "final" not in record
    else:
        assert record["final"]["file"] == "generated_image.jpg" and "saved" not in record["final"]
    monkeypatch.undo()
    # The files say whether they are a stopped run's image or a finished result; a rerun
    # replaces either (a finished one once the rerun has finished, through unfinished/).
    stopped_at = None if status == "finished" else 0
    assert [interrupted_at(path) for path in written] == [stopped_at] * len(written)
    settings.iterations = 1
    nst_tf1.run(settings)
    assert _record(out)["status"] == "finished" and interrupted_at(written[0]) is None


@pytest.mark.parametrize("first_press", ["at_once", "in_the_write"])
def test_a_signal_in_the_final_run_json_write_is_not_called_recorded(
    monkeypatch, tmp_path, image_pair, vgg_file, first_press
):
    """A press that ends the write of run.json's final image (after the files' costs were
    computed): the record had taken the final image before the file did, so the line said
    "run.json records it" and run.json was left saying "running", without it. The record
    now takes what it writes once the file holds it: the line says run.json does not list
    the image, and run.json says the run was interrupted. ``at_once``: the press that
    stopped the run, then this one; ``in_the_write``: the only press, at the end of a run
    that had reached its budget."""
    from nst_tf1 import images, pair
    from nst_tf1.errors import Interrupted

    pressed = [signal.SIGINT] if first_press == "at_once" else []
    armed = []
    saved_costs, write_atomically = pair.saved_costs, images.write_atomically

    def costs_then_arm(*args, **kwargs):
        costs = saved_costs(*args, **kwargs)
        armed.append(True)  # the next write of run.json is the final image's
        return costs

    def write(path, data):
        if armed and os.path.basename(path) == "run.json":
            armed.clear()
            pressed.append(signal.SIGINT)
            raise Interrupted(signal.SIGINT)  # what the command line's handler raises
        write_atomically(path, data)

    monkeypatch.setattr(pair, "saved_costs", costs_then_arm)
    monkeypatch.setattr(images, "write_atomically", write)
    out = tmp_path / "out"
    iterations = LONG_RUN if first_press == "at_once" else 2
    _, stopped = _stopped_run(image_pair, vgg_file, out, iterations, pressed)
    written = [out / "generated_image.png", out / "generated_image.jpg"]
    assert stopped.value.message == (
        f"interrupted by SIGINT again; the current image had been saved as "
        f"{' and '.join(map(str, written))}, which run.json does not list"
    )
    assert stopped.value.kept == str(written[-1])
    record = _record(out)
    assert record["status"] == "interrupted" and "final" not in record
    assert sorted(os.listdir(out)) == sorted(["0.png", "run.json", *(p.name for p in written)])


def test_refused_or_interrupted_run_leaves_no_empty_folder_it_created(
    tmp_path, capsys, image_pair, vgg_file
):
    """Issue 23 (UX): a refused or interrupted run left behind the empty output folder (and
    its parents) it had created. Folders that existed before, or hold anything, stay."""
    import nst_tf1
    from nst_tf1 import events
    from nst_tf1.errors import Interrupted

    missing = tmp_path / "none.mat"
    new = tmp_path / "a" / "b" / "out"
    status, _, _ = run_main(run_args_into(*image_pair, missing, new, "--no-download"), capsys)
    assert status == 2 and not (tmp_path / "a").exists()

    def interrupt(event):  # as the command line's signal handler does, before any step
        if isinstance(event, events.RunBegun):
            raise Interrupted(signal.SIGINT)

    settings = nst_tf1.Settings(*image_pair[:1], style=image_pair[1], model=vgg_file)
    settings.height, settings.width = HEIGHT, WIDTH
    for out, kept in (
        (tmp_path / "c" / "out", None),
        (tmp_path / "empty", tmp_path / "empty"),  # existed before: stays
        (tmp_path / "d" / "out", tmp_path / "d"),  # the parent holds a user's file
    ):
        if kept is not None:
            kept.mkdir()
        if kept == tmp_path / "d":
            (kept / "notes.txt").write_text("mine")
        settings.output_dir = str(out)
        with pytest.raises(Interrupted):
            nst_tf1.run(settings, interrupt)
        assert not out.exists() or out == kept
        if kept is not None:
            assert kept.is_dir()
    assert not (tmp_path / "c").exists()
    assert os.listdir(tmp_path / "empty") == []
    assert os.listdir(tmp_path / "d") == ["notes.txt"]


def test_batch_signal_during_the_last_pairs_final_save_ends_as_asked(
    tmp_path, image_pair, vgg_file
):
    """Issue 23 (UX): a Ctrl-C during a batch's last pair's final save or move was swallowed
    (exit 0); a single run ends 130 with a true line there. Now the batch does too: every
    pair ran and is in place, and the line says so."""
    import nst_tf1
    from nst_tf1 import events
    from nst_tf1.errors import Interrupted

    contents = tmp_path / "contents"
    contents.mkdir()
    for name in ("a.jpg", "b.jpg"):
        shutil.copy(image_pair[0], contents / name)
    out = tmp_path / "out"
    pressed = []

    def report(event):
        # The press lands while the last pair writes its final image (the command line's
        # handler only records it then: the run polls it).
        if isinstance(event, events.PairBegun):
            pressed.append(event.number == event.pairs and "armed")
        if isinstance(event, events.ImageSaved) and event.final and pressed[-1] == "armed":
            pressed[-1] = signal.SIGINT

    settings = nst_tf1.Settings(
        content=str(contents),
        style=image_pair[1],
        model=vgg_file,
        output_dir=str(out),
        height=HEIGHT,
        width=WIDTH,
        iterations=1,
        seed=0,
    )
    with pytest.raises(Interrupted) as stopped:
        nst_tf1.run(
            settings, report, lambda: pressed and pressed[-1] == signal.SIGINT and pressed[-1]
        )
    assert stopped.value.signum == signal.SIGINT
    assert stopped.value.message == (
        f"interrupted by SIGINT; stopped after {out / 'b__style' / 'generated_image.jpg'}, "
        "the last; every pair ran"
    )
    for pair in ("a__style", "b__style"):
        assert _record(out / pair)["status"] == "finished"
