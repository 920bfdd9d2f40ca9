"""glibc's malloc tunables: when the command line sets them, and that its run has them."""

import json
import os

import pytest
from conftest import HEIGHT, WIDTH, run_cli

from nst_tf1.allocator import TUNABLES, tunables_to_add
from nst_tf1.device import BLAS_THREAD_VARIABLES

LINUX = {"system": "linux", "glibc": (2, 36), "thp": "madvise"}


def test_set_on_linux_with_glibc_and_huge_pages():
    assert tunables_to_add({}, **LINUX) == TUNABLES
    assert tunables_to_add({}, **{**LINUX, "thp": "always"}) == TUNABLES
    assert tunables_to_add({}, **{**LINUX, "glibc": (2, 35)}) == TUNABLES


def test_the_users_other_tunables_are_kept_first():
    environ = {"GLIBC_TUNABLES": "glibc.rtld.optional_static_tls=2048"}
    assert tunables_to_add(environ, **LINUX) == f"glibc.rtld.optional_static_tls=2048:{TUNABLES}"


@pytest.mark.parametrize(
    "value", ["glibc.malloc.hugetlb=0", "glibc.malloc.arena_max=1", "x=1:glibc.malloc.check=3"]
)
def test_the_users_own_malloc_tunables_win(value):
    assert tunables_to_add({"GLIBC_TUNABLES": value}, **LINUX) is None


@pytest.mark.parametrize(
    "where",
    [
        {"system": "darwin"},
        {"system": "win32"},
        {"glibc": (2, 34)},  # no glibc.malloc.hugetlb: the threshold alone costs time
        {"thp": "never"},
        {"thp": None},  # no /sys/kernel/mm/transparent_hugepage
    ],
)
def test_nothing_where_it_would_not_help(where, monkeypatch):
    import nst_tf1.allocator as allocator

    monkeypatch.setattr(allocator, "_thp_mode", lambda: None)
    monkeypatch.setattr(allocator, "_glibc_version", lambda: None)
    assert tunables_to_add({}, **{**LINUX, **where}) is None


def test_thp_mode_read_from_the_kernels_file(tmp_path):
    from nst_tf1.allocator import _thp_mode

    path = tmp_path / "enabled"
    path.write_text("always [madvise] never\n")
    assert _thp_mode(str(path)) == "madvise"
    path.write_text("[always] madvise never\n")
    assert _thp_mode(str(path)) == "always"
    path.write_text("garbage\n")
    assert _thp_mode(str(path)) is None
    assert _thp_mode(str(tmp_path / "missing")) is None


def _device_of_a_run(tmp_path, image_pair, vgg_file, env_tunables):
    content, style = image_pair
    out = tmp_path / "out"
    previous = os.environ.get("GLIBC_TUNABLES")
    try:
        if env_tunables is None:
            os.environ.pop("GLIBC_TUNABLES", None)
        else:
            os.environ["GLIBC_TUNABLES"] = env_tunables
        result = run_cli(
            *("--content", content, "--style", style, "--model", vgg_file),
            *("--height", HEIGHT, "--width", WIDTH, "--iterations", 2, "--output", out),
        )
    finally:
        if previous is None:
            os.environ.pop("GLIBC_TUNABLES", None)
        else:
            os.environ["GLIBC_TUNABLES"] = previous
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    with open(out / "run.json") as f:
        return json.load(f)["device"]


def test_the_command_runs_with_the_tunables_where_they_apply(tmp_path, image_pair, vgg_file):
    """The command starts itself again with the tunables (same output, one run.json); where
    this machine cannot use them, the run goes on without. run.json also records the BLAS
    thread variables the environment set, and the command sets none."""
    device = _device_of_a_run(tmp_path, image_pair, vgg_file, None)
    expected = tunables_to_add({})
    assert device["glibc_tunables"] == expected
    chosen = {name: os.environ[name] for name in BLAS_THREAD_VARIABLES if name in os.environ}
    assert device["blas_threads"] == (chosen or None)


def test_the_users_setting_reaches_the_run_unchanged(tmp_path, image_pair, vgg_file):
    device = _device_of_a_run(tmp_path, image_pair, vgg_file, "glibc.malloc.hugetlb=0")
    assert device["glibc_tunables"] == "glibc.malloc.hugetlb=0"


def test_only_the_command_itself_is_restarted(monkeypatch, image_pair, vgg_file, tmp_path):
    """main() as the program (argv from sys.argv) asks to start again; main(argv) from
    Python code (a notebook, these tests) never replaces its process."""
    import sys

    import nst_tf1.allocator as allocator
    import nst_tf1.cli
    import nst_tf1.running
    from nst_tf1.cli import main

    # As run_nst.py, python -m nst_tf1 or the nst-tf1 script (a user's script is not: below).
    monkeypatch.setattr(nst_tf1.cli, "_started_as_the_command", lambda: True)

    calls, runs = [], []
    monkeypatch.setattr(allocator, "reexec_with_tunables", lambda: calls.append(1))
    monkeypatch.setattr(
        nst_tf1.running, "run", lambda settings, *report_and_stop: runs.append(settings)
    )
    content, style = image_pair
    args = ["--content", content, "--style", style, "--model", vgg_file, "--output", tmp_path]
    args = list(map(str, args))
    assert main(args) == 0
    assert (calls, len(runs)) == ([], 1)
    monkeypatch.setattr(sys, "argv", ["run_nst.py", *args])
    assert main() == 0
    assert (calls, len(runs)) == ([1], 2)
    monkeypatch.setattr(sys, "argv", ["run_nst.py", "--print-model", *args])
    assert main() == 0  # prints the model: no run (restarted before the parser, all the same)
    assert (calls, len(runs)) == ([1, 1], 2)


def test_a_users_script_calling_main_is_never_restarted(tmp_path):
    """Issue 23, bug 1: a script that calls ``nst_tf1.cli.main()`` ran its own set-up twice
    (the restart started the whole script again) and lost the standard input it had read."""
    import subprocess
    import sys

    from conftest import ROOT

    script = tmp_path / "my_script.py"
    script.write_text(
        "import sys\n"
        "print('set-up ran', sys.stdin.read().strip(), flush=True)\n"
        "from nst_tf1.cli import main\n"
        f"sys.argv = ['my_script.py', '--content', {str(tmp_path / 'no.jpg')!r}, "
        f"'--style', {str(tmp_path / 'no.jpg')!r}]\n"
        "sys.exit(main())\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "GLIBC_TUNABLES"}
    result = subprocess.run(
        [sys.executable, str(script)],
        input="from stdin",
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=300,
    )
    assert result.returncode == 2, result.stderr
    assert result.stdout == "set-up ran from stdin\n"


def test_no_restart_where_signals_cannot_be_held(monkeypatch):
    """Windows' signal module has no pthread_sigmask (nor glibc's tunables): the command's
    restart would have raised AttributeError at every start there. It does nothing."""
    import signal

    import nst_tf1.allocator as allocator
    from nst_tf1 import process

    calls = []
    monkeypatch.setattr(allocator, "reexec_with_tunables", lambda: calls.append(1))
    process.restart()  # where it can be held: it tries
    assert calls == [1]
    monkeypatch.delattr(signal, "pthread_sigmask")
    process.restart()
    assert calls == [1]
