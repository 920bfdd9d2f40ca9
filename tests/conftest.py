"""Shared fixtures: synthetic VGG-19 files and small generated images (no downloads)."""

import atexit
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The tests never read or write the user's cache (~/.cache/nst-tf1): NST_HOME points the
# default model path of this process and of every command it starts into a folder of its own.
_NST_HOME = tempfile.mkdtemp(prefix="nst-home-")
os.environ["NST_HOME"] = _NST_HOME
atexit.register(shutil.rmtree, _NST_HOME, ignore_errors=True)

# (case, outcome) rows of the fault-injection suite (test_fault_suite.py), printed as a table
# at the end of the session.
FAULT_TABLE = []

# Small sizes keep the whole suite fast on 2 CPU cores.
HEIGHT, WIDTH = 48, 64
WIDTH_DIVISOR = 8

# Iterations of a run a test stops or kills partway: minutes at the test size (about 12 ms an
# iteration with a save each), and few enough that the output folder's free-space check (a raw
# 48x64 image per save, 13 kB) asks for 133 MB, not the 1.3 GB of 100000 saves, which a full
# disk on a CI machine refused.
LONG_RUN = 10_000


@pytest.fixture(scope="session", autouse=True)
def _graph_mode():
    """Tests build TF1 graphs, as the package does."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow.compat.v1 as tf

    tf.logging.set_verbosity(tf.logging.ERROR)
    tf.disable_v2_behavior()


@pytest.fixture(scope="session")
def vgg_weights_written(tmp_path_factory):
    """(path, weights) of a narrow synthetic VGG-19 file in the current layout."""
    from nst_tf1.testing import make_vgg_file

    path = str(tmp_path_factory.mktemp("vgg") / "vgg-new.mat")
    written = make_vgg_file(path, layout="new", width_divisor=WIDTH_DIVISOR, seed=0)
    return path, written


@pytest.fixture(scope="session")
def vgg_file(vgg_weights_written):
    """Path of a narrow synthetic VGG-19 file (current layout)."""
    return vgg_weights_written[0]


@pytest.fixture(scope="session")
def vgg_file_old(tmp_path_factory):
    """Path of a narrow synthetic VGG-19 file in the older layout, same weights as vgg_file."""
    from nst_tf1.testing import make_vgg_file

    path = str(tmp_path_factory.mktemp("vgg") / "vgg-old.mat")
    make_vgg_file(path, layout="old", width_divisor=WIDTH_DIVISOR, seed=0)
    return path


def write_image(path, array):
    """Write a uint8 (H, W, C) or (H, W) array with Pillow; format from the extension."""
    from PIL import Image

    Image.fromarray(np.asarray(array, dtype=np.uint8)).save(path)
    return str(path)


@pytest.fixture(scope="session")
def image_pair(tmp_path_factory):
    """(content, style) JPEGs: the procedural demo scene and painting at 2x test size."""
    from nst_tf1.demo import make_demo_content, make_demo_style

    directory = tmp_path_factory.mktemp("images")
    content = write_image(directory / "content.jpg", make_demo_content(2 * HEIGHT, 2 * WIDTH))
    style = write_image(directory / "style.jpg", make_demo_style(2 * HEIGHT, 2 * WIDTH))
    return content, style


def run_args(content, style, model, *extra):
    """The flags a test run starts with: the pair, the model and the test size, then
    ``extra``; as strings, for ``main()`` as for a subprocess."""
    args = ["--content", content, "--style", style, "--model", model]
    return [str(a) for a in (*args, "--height", HEIGHT, "--width", WIDTH, *extra)]


def run_args_into(content, style, model, out_dir, *extra):
    """:func:`run_args` into ``out_dir`` with seed 0."""
    return run_args(content, style, model, "--output-dir", out_dir, "--seed", 0, *extra)


def run_cli(*args, cwd=ROOT, timeout=600):
    """Run ``python run_nst.py ARGS`` in a subprocess; return the CompletedProcess."""
    # Without TF_CPP_MIN_LOG_LEVEL, as a user runs it: the CLI itself must keep stderr clean.
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["PYTHONUNBUFFERED"] = "1"
    return subprocess.run(
        [sys.executable, os.path.join(ROOT, "run_nst.py"), *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def pytest_terminal_summary(terminalreporter):
    """The fault-injection suite's table: each case and what happened."""
    if not FAULT_TABLE:
        return
    width = max(len(case) for case, _ in FAULT_TABLE)
    terminalreporter.section("fault injection: case, outcome")
    for case, outcome in FAULT_TABLE:
        terminalreporter.write_line(f"{case.ljust(width)}  {outcome}")
