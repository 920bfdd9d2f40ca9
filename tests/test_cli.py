"""The command line as a user runs it: run_nst.py in a subprocess."""

import os
import signal
import subprocess
import sys

import numpy as np
import pytest
from conftest import HEIGHT, WIDTH, run_cli


def assert_one_line_error(result, *needles):
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("nst-tf1: error: ")
    for needle in needles:
        assert needle in lines[0]


def test_help_shows_the_course_defaults():
    result = run_cli("--help")
    assert result.returncode == 0
    for text in (
        "--content",
        "--style",
        "--model",
        "--iterations",
        "(default: 200)",
        "(default: 2.0)",
        "(default: 0.6)",
        "(default: 300)",
        "(default: 400)",
        "(default: 10)",
        "(default: 40)",
        "models/imagenet-vgg-verydeep-19.mat",
    ):
        assert text in result.stdout


def test_a_full_tiny_run_prints_the_course_lines_and_writes_the_images(
    vgg_file, image_pair, tmp_path
):
    from PIL import Image

    content, style = image_pair
    out = tmp_path / "out"
    result = run_cli(
        "--content",
        content,
        "--style",
        style,
        "--model",
        vgg_file,
        "--output-dir",
        out,
        "--iterations",
        41,
        "--height",
        HEIGHT,
        "--width",
        WIDTH,
        "--seed",
        0,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # TensorFlow's start-up logging is kept off the terminal
    lines = result.stdout.splitlines()
    # The first line names the device: CPU, bfloat16 instructions, GPUs, TensorFlow, oneDNN.
    assert lines[0].startswith("Device: ") and "TensorFlow " in lines[0]
    assert "oneDNN o" in lines[0] and "GPU" in lines[0]
    assert lines[1] == "Iteration 0 :"
    for i in (0, 20, 40):
        at = lines.index(f"Iteration {i} :")
        assert lines[at + 1].startswith("total cost = ")
        assert lines[at + 2].startswith("content cost = ")
        assert lines[at + 3].startswith("style cost = ")
        float(lines[at + 1].split("= ")[1])
    assert lines[-1].startswith(f"Saved {out}{os.sep}generated_image.jpg")
    # run.json: the run's record (issue 5).
    # generated_image.png: the final image losslessly (issue 13).
    assert sorted(os.listdir(out)) == [
        "0.png",
        "20.png",
        "40.png",
        "generated_image.jpg",
        "generated_image.png",
        "run.json",
    ]
    for name in os.listdir(out):
        if name != "run.json":
            assert Image.open(out / name).size == (WIDTH, HEIGHT)


def test_missing_content_file(vgg_file, image_pair, tmp_path):
    result = run_cli(
        "--content",
        tmp_path / "nope.jpg",
        "--style",
        image_pair[1],
        "--model",
        vgg_file,
        "--output-dir",
        tmp_path,
    )
    assert_one_line_error(result, "nope.jpg", "no such file")


def test_non_image_input(vgg_file, image_pair, tmp_path):
    fake = tmp_path / "notes.jpg"
    fake.write_text("shopping list\n")
    result = run_cli(
        "--content",
        image_pair[0],
        "--style",
        fake,
        "--model",
        vgg_file,
        "--output-dir",
        tmp_path / "out",
    )
    assert_one_line_error(result, "notes.jpg", "not an image")


def test_bad_model_file(image_pair, tmp_path):
    model = tmp_path / "vgg.mat"
    model.write_bytes(b"\x00" * 1000)
    result = run_cli(
        "--content",
        image_pair[0],
        "--style",
        image_pair[1],
        "--model",
        model,
        "--output-dir",
        tmp_path / "out",
    )
    assert_one_line_error(result, str(model), "not a readable MATLAB .mat file")


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--iterations", "0"], "--iterations"),
        (["--learning-rate", "-1"], "--learning-rate"),
        (["--noise-ratio", "1.5"], "--noise-ratio"),
        (["--height", "abc"], "not a number"),
        (["--no-such-flag"], "unrecognized arguments"),
    ],
)
def test_bad_arguments(args, needle):
    assert_one_line_error(run_cli(*args), needle)


@pytest.mark.parametrize(
    "args, needles",
    [
        (
            ["--multires", "4", "--height", "64", "--width", "96"],
            ["--multires coarsest scale would be 8x12", "at least 32"],
        ),
        (["--style-scale", "0.05"], ["--style-scale style image would be 15x20", "at least 32"]),
        (["--style-scale", "1e9"], ["--style-scale 1e+09", "of memory"]),
    ],
)
def test_every_graph_size_is_checked_before_the_model_is_read(image_pair, tmp_path, args, needles):
    content, style = image_pair
    result = run_cli(
        "--content",
        content,
        "--style",
        style,
        "--model",
        tmp_path / "none.mat",
        "--no-download",
        "--output-dir",
        tmp_path / "out",
        *args,
    )
    assert_one_line_error(result, *needles)


def test_a_scale_too_small_says_when_fast_chose_the_scales(image_pair, tmp_path):
    # --fast chose --multires 2: the error names it and how to run one scale; given by the
    # user, --multires needs no such note.
    content, style = image_pair
    common = ("--content", content, "--style", style, "--model", tmp_path / "none.mat")
    note = "(--fast's --multires; --multires 1 runs one scale)"
    fast = run_cli(*common, "--no-download", "--fast", "--max-size", "60")
    assert_one_line_error(fast, "--multires coarsest scale would be", "at least 32 pixels", note)
    given = run_cli(*common, "--no-download", "--multires", "2", "--max-size", "60")
    assert_one_line_error(given, "--multires coarsest scale would be")
    assert "--fast" not in given.stderr


def test_activations_checks_the_size_and_never_downloads(image_pair, tmp_path):
    result = run_cli("activations", "--image", image_pair[0], "--height", "1")
    assert result.returncode == 2 and "at least 32 pixels" in result.stderr
    result = run_cli(
        "activations",
        "--image",
        image_pair[0],
        "--model",
        tmp_path / "no.mat",
        "--output",
        tmp_path / "a.png",
    )
    assert_one_line_error(result, "this command never downloads it")
    assert "--no-download given" not in result.stderr


def test_make_demo_writes_the_demo_pair(tmp_path):
    from PIL import Image

    result = run_cli("make-demo", tmp_path, "--height", 40, "--width", 48)
    assert result.returncode == 0, result.stderr
    for name in ("demo_content.jpg", "demo_style.jpg"):
        image = Image.open(tmp_path / name)
        assert image.size == (48, 40) and image.mode == "RGB"
    assert_one_line_error(
        run_cli("make-demo", tmp_path / "demo_style.jpg" / "x"), "(Not a directory)"
    )


def test_a_larger_demo_painting_is_the_same_painting():
    """Up to the course's size the painting is as it was (one stroke per 60 pixels); above
    it, as many strokes as keep each pixel painted as often (the old count painted a
    1200x1600 image 100 times over, in 18 s), so at twice the size, halved again, its
    colours are the course-size painting's (the old count shifted the channel means by
    3.6 levels)."""
    from PIL import Image

    from nst_tf1.demo import _strokes, make_demo_style

    for height, width in ((300, 400), (400, 300), (96, 128), (20, 30)):  # one per 60 pixels
        assert _strokes(height, width)[0] == max(200, height * width // 60)
    course = make_demo_style(300, 400)
    larger = Image.fromarray(make_demo_style(600, 800)).resize((400, 300), Image.BOX)
    means = [np.asarray(x, dtype=np.float64).mean(axis=(0, 1)) for x in (course, larger)]
    np.testing.assert_allclose(means[1], means[0], atol=1.5)


def run_python(code, without=(), timeout=300, **variables):
    """``python -c code`` in a fresh interpreter (this one has imported TensorFlow already),
    without ``TF_CPP_MIN_LOG_LEVEL`` (as a user's shell has it) nor the variables ``without``
    names, with ``variables`` set, killed after ``timeout`` s; the CompletedProcess, its
    output as text."""
    drop = {"TF_CPP_MIN_LOG_LEVEL", *without}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(variables)
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=timeout
    )


def test_first_tensorflow_import_freezes_the_collector_once():
    # TensorFlow's import leaves ~330,000 objects that live until exit; the CLI moves them
    # out of the collector's reach once (nst_tf1.process), so neither later collections nor
    # the ones at shutdown traverse them. The library alone never does (test_run_api.py).
    code = (
        "import gc, sys\n"
        "from nst_tf1 import process\n"
        "assert gc.get_freeze_count() == 0\n"
        "process.import_tensorflow()\n"
        "frozen = gc.get_freeze_count()\n"
        "process.import_tensorflow()\n"
        "print(frozen, gc.get_freeze_count(), 'tensorflow' in sys.modules)\n"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    frozen, after_second, imported = result.stdout.split()
    assert imported == "True"
    assert int(frozen) > 100_000
    assert int(after_second) == int(frozen)


@pytest.mark.parametrize("at", ["tempfile", "dup"])
def test_a_press_inside_the_quiet_start_leaves_what_stop_undoes(monkeypatch, at):
    """Found by the fault suite in a fresh-clone CI run (Ctrl-C 0.3 s after the start): the
    press raised inside QuietStart.start's tempfile.TemporaryFile(), and the printer's
    close then ran stop(), which raised TypeError (a traceback). stop() now undoes what
    start() had done: standard error is the terminal's again, nothing raises."""
    import tempfile

    from nst_tf1 import process

    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    monkeypatch.delitem(sys.modules, "tensorflow")  # as before TensorFlow's import
    before = os.fstat(2)

    def pressed(*args, **kwargs):
        raise KeyboardInterrupt

    opened = []
    real_file = tempfile.TemporaryFile
    if at == "tempfile":
        monkeypatch.setattr(process.tempfile, "TemporaryFile", pressed)
    else:
        monkeypatch.setattr(
            process.tempfile, "TemporaryFile", lambda: opened.append(real_file()) or opened[-1]
        )
        monkeypatch.setattr(process.os, "dup", pressed)
    quiet = process.QuietStart()
    with pytest.raises(KeyboardInterrupt):
        quiet.start()
    monkeypatch.undo()
    quiet.stop(failed=True)  # as the printer's close does after a failed start
    after = os.fstat(2)
    assert (after.st_dev, after.st_ino) == (before.st_dev, before.st_ino)
    assert all(f.closed for f in opened)


def test_the_commands_tensorflow_start_leaves_keras_out_and_importable():
    # TensorFlow's __init__ imports Keras (and matplotlib.pyplot) though no run uses it:
    # 0.7-1.4 s of every command's start (nst_tf1.process.SKIPPED_AT_START). The command's
    # start leaves it out; afterwards Keras imports as usual, and the run works.
    code = (
        "import sys\n"
        "from nst_tf1 import process\n"
        "tf = process.import_tensorflow()\n"
        "print('keras' in sys.modules, 'matplotlib.pyplot' in sys.modules)\n"
        "x = tf.placeholder(tf.float32, (2,))\n"
        "with tf.Session() as sess:\n"
        "    print(sess.run(tf.reduce_sum(x * x), {x: [3.0, 4.0]}))\n"
        "import keras\n"
        "print(keras.__name__, 'keras' in sys.modules)\n"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False", "25.0", "keras", "True"]


UNRAISABLE_PRESS_CODE = """
import signal, sys, time, weakref
from nst_tf1.process import StartPresses
presses = StartPresses.install()
class Held:
    pass
def callback(ref):  # as importlib's module-lock callback: Python cannot raise from it
    signal.raise_signal(signal.SIGINT)
    landed = True  # the handler runs here, inside the callback
class Other:
    def __del__(self):
        raise ValueError("not a press")
try:
    Other()  # another unraisable error: still reported by the hook that was in place
    held = Held()
    ref = weakref.ref(held, callback)
    del held
    time.sleep(5)
    print("not interrupted")
except KeyboardInterrupt:
    print("interrupted", presses.signum)
"""


def test_a_start_press_inside_a_callback_is_an_interrupt_not_a_printed_traceback():
    # Found by the fault suite (Ctrl-C 0.05 s after the start, in a fresh-clone CI run): the
    # press landed in importlib's weak-reference callback, whose exception Python prints as
    # "Exception ignored in ..." with a traceback, and the press was lost.
    result = run_python(UNRAISABLE_PRESS_CODE, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["interrupted", str(int(signal.SIGINT))]
    assert "KeyboardInterrupt" not in result.stderr, result.stderr
    assert "ValueError: not a press" in result.stderr


RESTART_PRESS_SCRIPT = """
import os, signal, sys, time, weakref
from nst_tf1.process import StartPresses, release_held_signals, restart
try:
    presses = StartPresses.install()
    release_held_signals()  # in the restarted process: the press held over the exec
    if os.environ.get("RESTARTED") != "1":
        os.environ["RESTARTED"] = "1"
        if sys.argv[1] == "callback":
            class Held:
                pass
            def callback(ref):  # a press inside an import's callback: delivered 10 ms later
                signal.raise_signal(signal.SIGINT)
            held = Held()
            ref = weakref.ref(held, callback)
            del held
        else:  # a press whose KeyboardInterrupt an import's "except ImportError" dropped
            try:
                signal.raise_signal(signal.SIGINT)
                time.sleep(1)
            except KeyboardInterrupt:
                pass
        restart()  # restarts this script at once (for a callback's press, within 10 ms)
        print("not restarted")
    time.sleep(5)
    print("not interrupted", os.environ.get("RESTARTED"))
except KeyboardInterrupt:
    print("interrupted", os.environ.get("RESTARTED"))
"""


@pytest.mark.parametrize("how", ["callback", "dropped"])
def test_a_start_press_not_acted_on_survives_the_restart(tmp_path, how):
    # Found by the fault suite in fresh-clone CI runs (Ctrl-C 0.3 s, then 0.2 s after the
    # start, exit 0). "callback": the press landed in a callback, its second delivery waited
    # 10 ms on a timer thread, and the restart with malloc tunables replaced the process
    # meanwhile: the press was lost and the run finished. "dropped": an import caught and
    # dropped the press's KeyboardInterrupt. The restart now takes either press over and
    # holds it over the exec.
    script = tmp_path / "restart_press.py"
    script.write_text(RESTART_PRESS_SCRIPT)
    env = {k: v for k, v in os.environ.items() if k not in ("GLIBC_TUNABLES", "RESTARTED")}
    env["PYTHONPATH"] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    result = subprocess.run(
        [sys.executable, str(script), how], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.stdout.split() == ["interrupted", "1"], (result.stdout, result.stderr)
    assert "KeyboardInterrupt" not in result.stderr, result.stderr


def test_every_stderr_line_is_one_write_with_its_newline(monkeypatch):
    """A Ctrl-C that lands between the two writes of ``print(text)`` (the text, then "\\n")
    left a download's progress line open, and the interruption's note ran on after it
    ("nst-tf1: 28% (...)nst-tf1: interrupted by SIGINT; ..."), in a fresh-clone CI run. Each
    line of the command's own goes out whole, in one write."""
    from types import SimpleNamespace

    from nst_tf1 import console

    writes = []
    stream = SimpleNamespace(write=writes.append, flush=lambda: None, isatty=lambda: False)
    monkeypatch.setattr(sys, "stderr", stream)
    console.note("interrupted by SIGINT; nothing done")
    assert console.error("--height: bad") == console.EXIT_USAGE
    progress = console.FetchProgress("http://127.0.0.1/vgg.mat", "vgg.mat")
    progress(SimpleNamespace(kind="start", done=0, total=100))
    progress(SimpleNamespace(kind="data", done=30, total=100))
    assert [w.count("\n") for w in writes] == [1] * 4 and all(w.endswith("\n") for w in writes)
    assert writes[0] == "nst-tf1: interrupted by SIGINT; nothing done\n"
    assert writes[1] == "nst-tf1: error: --height: bad\n"
    assert writes[3].startswith("nst-tf1: 30% (")
