"""The run API (issue 20): ``nst_tf1.run(settings, report, should_stop, preview_every=)``.

A run reports typed events, stops when asked from any thread, and leaves the caller's
process as it was (signal handlers, stderr, the environment, the garbage collector).
"""

import json
import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest
from conftest import HEIGHT, ROOT, WIDTH, run_args_into


def _settings(content, style, model, out, **extra):
    from nst_tf1 import Settings

    options = {"iterations": 6, "save_every": 2, "seed": 0}
    options.update(extra)
    return Settings(
        content=content,
        style=[style],
        model=model,
        height=HEIGHT,
        width=WIDTH,
        output_dir=str(out),
        **options,
    )


def test_a_run_in_another_thread_stops_when_asked(tmp_path, image_pair, vgg_file):
    from nst_tf1 import events, run
    from nst_tf1.errors import Interrupted

    out = tmp_path / "out"
    settings = _settings(*image_pair, vgg_file, out, iterations=100000)
    stop, seen, outcome = threading.Event(), [], []

    def report(event):
        seen.append(event)
        if isinstance(event, events.StepDone) and event.step >= 3:
            stop.set()

    def work():
        try:
            run(settings, report, stop.is_set)
        except BaseException as exc:  # noqa: BLE001 (handed to the test's thread)
            outcome.append(exc)

    worker = threading.Thread(target=work)
    worker.start()
    worker.join(timeout=600)
    assert not worker.is_alive()
    [exc] = outcome
    assert isinstance(exc, Interrupted) and exc.signum is None
    final = str(out / "generated_image.jpg")
    assert exc.message.startswith("stopped on request at iteration ")
    assert exc.message.endswith(f"saved the current image as {final}")
    assert exc.kept == final and exc.step >= 3
    assert os.path.exists(final) and os.path.exists(out / "generated_image.png")
    assert os.path.exists(out / "2.png")
    with open(out / "run.json", encoding="utf-8") as f:
        assert json.load(f)["status"] == "stopped"
    assert seen[-1] == events.Stopped(final, exc.step, exc.message, None)
    saved = [e for e in seen if isinstance(e, events.ImageSaved) and e.final]
    assert [e.path for e in saved] == [final] and saved[0].step == exc.step


def test_preview_images_come_with_the_steps_asked_for(tmp_path, image_pair, vgg_file):
    from nst_tf1 import events, run

    out = tmp_path / "out"
    seen = []
    run(_settings(*image_pair, vgg_file, out, save_every=4), seen.append, preview_every=3)
    steps = [e for e in seen if isinstance(e, events.StepDone)]
    assert [e.step for e in steps] == list(range(6))
    assert [e.step for e in steps if e.image is not None] == [0, 3]
    assert [e.step for e in steps if e.logged] == [0, 4]
    image = steps[0].image
    assert image.dtype == np.uint8 and image.shape == (HEIGHT, WIDTH, 3)
    # The preview is the image as saved: 0.png holds the same pixels.
    from PIL import Image

    assert np.array_equal(np.asarray(Image.open(out / "0.png")), image)
    assert isinstance(seen[-1], events.Finished) and seen[-1].folders == (str(out),)
    # Without previews, no step carries an image, and the numbers are the same.
    again = []
    run(_settings(*image_pair, vgg_file, tmp_path / "again", save_every=4), again.append)
    again_steps = [e for e in again if isinstance(e, events.StepDone)]
    assert all(e.image is None for e in again_steps)
    assert [e.total_cost for e in again_steps] == [e.total_cost for e in steps]


def test_the_event_stream_is_what_the_command_line_prints(tmp_path, capsys, image_pair, vgg_file):
    from nst_tf1 import events, run
    from nst_tf1.cli import main

    out = tmp_path / "out"
    extra = ("--iterations", 5, "--save-every", 2, "--multires", 2, "--coarse-iterations", 3)
    args = run_args_into(*image_pair, vgg_file, out, *extra)
    args[args.index("--height") + 1 : args.index("--width") + 2] = ["64", "--width", "96"]
    assert main(args) == 0
    printed, _ = capsys.readouterr()
    from nst_tf1.cli import build_parser
    from nst_tf1.settings import Settings

    parsed = vars(build_parser().parse_args(args))
    del parsed["print_model"], parsed["verbose"]
    import shutil

    shutil.rmtree(out)
    seen = []
    run(Settings(**parsed), seen.append)
    expected = []
    for event in seen:
        if isinstance(event, events.Note) and event.level == "out":
            expected.append(event.text)
        elif isinstance(event, events.ScaleBegun):
            expected.append(f"Scale {event.scale}/{event.scales}: {event.height}x{event.width}")
        elif isinstance(event, events.StepDone) and event.logged:
            expected += [
                f"Iteration {event.step} :",
                f"total cost = {np.float32(event.total_cost)!s}",
                f"content cost = {np.float32(event.content_cost)!s}",
                f"style cost = {np.float32(event.style_cost)!s}",
            ]
    assert printed.splitlines() == expected
    assert [type(e).__name__ for e in seen[:2]] == ["Loading", "Note"]
    assert isinstance(seen[-1], events.Finished)
    steps = [e for e in seen if isinstance(e, events.StepDone)]
    assert [(e.scale, e.step) for e in steps] == [(1, i) for i in range(3)] + [
        (2, i) for i in range(5)
    ]
    final = [e for e in seen if isinstance(e, events.ImageSaved) and e.final]
    assert [e.path for e in final] == [str(out / "generated_image.jpg")]
    json.dumps([events.to_dict(e) for e in seen])  # plain data all through


def test_calling_run_leaves_the_process_as_it_was(tmp_path, image_pair, vgg_file):
    # A fresh interpreter: this one has imported TensorFlow already.
    code = f"""
import gc, os, signal, sys
before = (
    signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM),
    sys.stderr, os.fstat(2).st_ino, dict(os.environ), gc.get_freeze_count(),
)
import nst_tf1
from nst_tf1 import Settings, run
run(Settings(content={image_pair[0]!r}, style=[{image_pair[1]!r}], model={vgg_file!r},
             height={HEIGHT}, width={WIDTH}, iterations=2, seed=0,
             output_dir={str(tmp_path / "out")!r}))
after = (
    signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM),
    sys.stderr, os.fstat(2).st_ino, dict(os.environ), gc.get_freeze_count(),
)
assert "tensorflow" in sys.modules
for name, b, a in zip(["SIGINT", "SIGTERM", "stderr", "fd 2", "environ", "gc"], before, after):
    assert a == b, (name, b, a)
print("same")
"""
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL",)}
    env["GLIBC_TUNABLES"] = "glibc.malloc.hugetlb=0"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["same"]
    # TensorFlow's own start-up lines remain (a caller's TF_CPP_MIN_LOG_LEVEL hides them), but
    # not the deprecation warning of the disable_resource_variables that graph mode calls.
    assert "deprecated" not in result.stderr, result.stderr
    assert os.path.exists(tmp_path / "out" / "generated_image.jpg")


@pytest.mark.parametrize("first", ["import nst_tf1.running", "import nst_tf1.cli"])
def test_from_nst_tf1_import_run_is_the_function(first):
    code = (
        f"{first}\n"
        "from nst_tf1 import run\n"
        "import nst_tf1\n"
        "assert callable(run) and run.__name__ == 'run', run\n"
        "assert nst_tf1.run is run, nst_tf1.run\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_main_returns_the_status_of_a_bad_argument(capsys):
    from nst_tf1.cli import main

    assert main(["--bogus"]) == 2
    assert "unrecognized arguments: --bogus" in capsys.readouterr().err
    assert main(["figure", "--columns", "x"]) == 2
    assert main(["--help"]) == 0


def test_paths_may_be_pathlib_paths(tmp_path, image_pair, vgg_file):
    # run.json is JSON: the paths in it are strings, whatever the caller gave.
    from pathlib import Path

    from nst_tf1 import Settings, run

    out = tmp_path / "out"
    content, style = (Path(p) for p in image_pair)
    run(Settings(content=content, style=style, model=Path(vgg_file), output_dir=out,
                 height=HEIGHT, width=WIDTH, iterations=2, seed=0))  # fmt: skip
    record = json.loads((out / "run.json").read_text())
    assert record["status"] == "finished"
    assert (out / "generated_image.jpg").exists()


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("content", 5, "--content: must be a path, got 5"),
        ("style", [5], "--style: must be a path, got 5"),
        ("style", [None], "--style: must be a path, got None"),
        ("alpha", "10", "--alpha: must be a number, got '10'"),
        ("height", "64", "--height: must be a number, got '64'"),
        ("height", 64.0, "--height: must be a whole number of pixels (an int), got 64.0"),
        ("style_weights", [1e300, 1], "--style-weights: each must be at most 3.403e+38"),
        ("tv_weight", None, "--tv-weight: must be a number, got None"),
        ("fast", "no", "--fast: must be True or False, got 'no'"),
        ("style_weights", "1", "--style-weights: must be a list of numbers, got '1'"),
        ("style_layers", ["conv1_1"], "--style-layers: not (layer, weight): 'conv1_1'"),
        ("style_layers", [], "--style-layers: no layer given"),
        ("style_layers", [("conv1_1", -1)], "weight of conv1_1 must be a finite number >= 0"),
    ],
)
def test_a_value_of_the_wrong_type_is_refused_by_its_flag(field, value, message):
    # What the Python API can give and the command line's parser cannot: refused when the
    # Settings is built, by name, not as a TypeError from deep inside the run.
    from nst_tf1 import Settings
    from nst_tf1.errors import SettingsError

    with pytest.raises(SettingsError) as caught:
        Settings(**{field: value})
    assert message in str(caught.value)


def test_settings_changed_after_they_were_built_are_checked_before_anything(
    tmp_path, image_pair, vgg_file
):
    from nst_tf1 import events, run
    from nst_tf1.errors import SettingsError

    out = tmp_path / "out"
    settings = _settings(*image_pair, vgg_file, out)
    settings.save_every = 0
    seen = []
    with pytest.raises(SettingsError, match="--save-every: must be a whole number"):
        run(settings, seen.append)
    assert [type(e) for e in seen] == [events.Failed] and seen[0].kind == "input"
    assert not out.exists()


def test_a_stop_asked_before_the_optimisation_saves_nothing(tmp_path, image_pair, vgg_file):
    from nst_tf1 import events, run
    from nst_tf1.errors import Interrupted

    out = tmp_path / "out"
    seen = []
    with pytest.raises(Interrupted) as caught:
        run(_settings(*image_pair, vgg_file, out), seen.append, lambda: True)
    message = "stopped on request before the model was read; nothing saved"
    assert str(caught.value) == message and caught.value.kept is None
    assert isinstance(seen[-1], events.Stopped) and seen[-1].kept is None
    assert not any(isinstance(e, events.Loading) for e in seen)
    assert not out.exists()
    assert str(Interrupted(None)) == "stopped" and str(Interrupted(15)) == "interrupted by SIGTERM"


def _run_status(out):
    with open(out / "run.json", encoding="utf-8") as f:
        return json.load(f)["status"]


def test_an_error_in_the_callers_report_is_raised_and_recorded(tmp_path, image_pair, vgg_file):
    # The caller's own fault: raised as it is, not reported to the report that raised it,
    # and run.json says the run failed (it said "interrupted", as for a Ctrl-C).
    from nst_tf1 import events, run

    out = tmp_path / "out"
    seen = []

    def report(event):
        seen.append(event)
        if isinstance(event, events.StepDone) and event.step == 3:
            raise ValueError("the caller's report broke")

    with pytest.raises(ValueError, match="the caller's report broke"):
        run(_settings(*image_pair, vgg_file, out), report)
    assert isinstance(seen[-1], events.StepDone) and seen[-1].step == 3
    assert sorted(os.listdir(out)) == ["0.png", "2.png", "run.json"]
    assert _run_status(out) == "failed"


def test_an_unexpected_fault_is_reported_as_failed(tmp_path, image_pair, vgg_file, monkeypatch):
    # A fault inside the run (here: the step image's name) ends it with a Failed event that
    # names the error, run.json "failed", and the error raised as it is.
    from nst_tf1 import events, pair, run

    def broken(iteration):
        if iteration == 4:
            raise RuntimeError("a fault")
        return f"{iteration}.png"

    monkeypatch.setattr(pair, "step_image", broken)
    out = tmp_path / "out"
    seen = []
    with pytest.raises(RuntimeError, match="a fault"):
        run(_settings(*image_pair, vgg_file, out), seen.append)
    assert seen[-1] == events.Failed("the run failed unexpectedly: RuntimeError: a fault")
    assert sorted(os.listdir(out)) == ["0.png", "2.png", "run.json"]
    assert _run_status(out) == "failed"


def _script_run(tmp_path, image_pair, vgg_file, with_signal_stop):
    """A script that calls run() in a process of its own, and is sent SIGINT (Ctrl-C) once
    its run has done three steps; returns (its stdout's last line, the output folder)."""
    import signal

    out = tmp_path / "out"
    call = (
        "with SignalStop() as stop:\n    run(settings, report, stop)"
        if with_signal_stop
        else "run(settings, report)"
    )
    code = f"""
import sys
from nst_tf1 import Settings, events, run
from nst_tf1.process import SignalStop

def report(event):
    if isinstance(event, events.StepDone):
        print("step", event.step, flush=True)

settings = Settings(content={image_pair[0]!r}, style=[{image_pair[1]!r}], model={vgg_file!r},
                    height={HEIGHT}, width={WIDTH}, iterations=100000, seed=0,
                    output_dir={str(out)!r})
try:
{textwrap.indent(call, "    ")}
except KeyboardInterrupt as exc:
    print("KeyboardInterrupt:", type(exc).__name__, exc, flush=True)
"""
    child = subprocess.Popen(
        [sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        for line in child.stdout:
            if line.split() == ["step", "3"]:
                break
        child.send_signal(signal.SIGINT)
        rest = child.stdout.read()
        child.wait(timeout=600)
    finally:
        child.kill()  # a no-op once it has ended
    return rest.strip().splitlines()[-1], out


def test_ctrl_c_in_a_script_keeps_the_image_with_signal_stop(tmp_path, image_pair, vgg_file):
    # run() changes no signal handler: a script's Ctrl-C is Python's KeyboardInterrupt, which
    # ends the run wherever it is, with no final image. process.SignalStop turns it into
    # should_stop, as the command line does: the run ends after its step, keeping the image.
    last, out = _script_run(tmp_path, image_pair, vgg_file, with_signal_stop=True)
    final = out / "generated_image.jpg"
    assert last.startswith("KeyboardInterrupt: Interrupted interrupted by SIGINT at iteration ")
    assert last.endswith(f"saved the current image as {final}")
    assert final.exists() and (out / "generated_image.png").exists()
    assert _run_status(out) == "stopped"


def test_ctrl_c_in_a_script_without_signal_stop_ends_the_run(tmp_path, image_pair, vgg_file):
    # What the README says a script gets without it: the run ends where it is; the images
    # saved so far stay, and run.json says it was interrupted.
    last, out = _script_run(tmp_path, image_pair, vgg_file, with_signal_stop=False)
    assert last == "KeyboardInterrupt: KeyboardInterrupt"
    assert not (out / "generated_image.jpg").exists() and (out / "0.png").exists()
    assert _run_status(out) == "interrupted"
