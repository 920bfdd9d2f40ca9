"""Installs and runs anywhere: the model's default location, the package's own data, the
version, ``python -m nst_tf1``."""

import os
import subprocess
import sys

from conftest import ROOT, run_cli

from nst_tf1.config import CONFIG, MODEL_FILE, cache_dir, default_model_path, model_location


def test_model_defaults_to_the_per_user_cache(tmp_path, monkeypatch):
    monkeypatch.delenv("NST_VGG_MODEL", raising=False)
    monkeypatch.setenv("NST_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    assert cache_dir() == str(tmp_path / "home")
    expected = str(tmp_path / "home" / "models" / MODEL_FILE)
    assert model_location() == (expected, "cache")
    assert default_model_path() == expected


def test_platform_cache_without_nst_home(monkeypatch):
    import platformdirs

    monkeypatch.delenv("NST_HOME", raising=False)
    assert cache_dir() == platformdirs.user_cache_dir("nst-tf1", appauthor=False)


def test_an_existing_local_model_then_the_environment_win(tmp_path, monkeypatch):
    monkeypatch.delenv("NST_VGG_MODEL", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "models").mkdir()
    (tmp_path / CONFIG.VGG_MODEL).write_bytes(b"x")
    assert model_location() == (CONFIG.VGG_MODEL, "local")
    # The notebook looks in the checkout above it.
    os.mkdir(tmp_path / "notebooks")
    monkeypatch.chdir(tmp_path / "notebooks")
    assert model_location("..") == (os.path.join("..", CONFIG.VGG_MODEL), "local")
    assert model_location().source == "cache"
    monkeypatch.setenv("NST_VGG_MODEL", "/data/vgg.mat")
    assert model_location("..") == ("/data/vgg.mat", "env")


def test_where_prints_the_path_and_whether_it_is_there(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "NST_VGG_MODEL"}
    env["NST_HOME"] = str(tmp_path / "home")
    command = [sys.executable, "-m", "nst_tf1", "where"]
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)
    path = tmp_path / "home" / "models" / MODEL_FILE
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{path}\n"
    assert result.stderr.startswith("nst-tf1: not there yet") and result.stderr.count("\n") == 1
    path.parent.mkdir(parents=True)
    path.write_bytes(b"x" * 2**20)
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.stdout == f"{path}\n" and "present (1.0 MiB)" in result.stderr


def test_where_says_a_folder_or_device_is_not_the_file_and_a_relative_home_is_one_folder(
    tmp_path,
):
    # Both said "not there yet: ... downloads it", which a run then refused to do.
    command = [sys.executable, "-m", "nst_tf1", "where"]
    env = {**os.environ, "NST_HOME": "relative-home"}
    for model, said in ((tmp_path, "a folder, not the .mat file"), ("/dev/null", "not a regular")):
        env["NST_VGG_MODEL"] = str(model)
        result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)
        assert result.returncode == 0 and result.stdout == f"{model}\n", result.stderr
        assert result.stderr == f"nst-tf1: {said}" + result.stderr[len(said) + 9 :]
        assert "runs refuse it" in result.stderr and "downloads" not in result.stderr
    # A relative $NST_HOME is taken from the folder the command starts in, once.
    del env["NST_VGG_MODEL"]
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.stdout == f"{tmp_path / 'relative-home' / 'models' / MODEL_FILE}\n"


def test_a_local_model_is_used_with_a_note(vgg_file, image_pair, tmp_path, monkeypatch):
    monkeypatch.delenv("NST_VGG_MODEL", raising=False)
    (tmp_path / "models").mkdir()
    os.symlink(vgg_file, tmp_path / CONFIG.VGG_MODEL)
    result = run_cli(
        "--content",
        image_pair[0],
        "--style",
        image_pair[1],
        "--iterations",
        1,
        "--height",
        32,
        "--width",
        32,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith(f"nst-tf1: using {CONFIG.VGG_MODEL} in this folder")
    assert result.stderr.count("\n") == 1
    assert (tmp_path / "output" / "generated_image.jpg").is_file()


def test_version_and_python_m():
    from nst_tf1 import __version__

    result = run_cli("--version")
    assert (result.returncode, result.stdout) == (0, f"nst-tf1 {__version__}\n")
    result = subprocess.run(
        [sys.executable, "-m", "nst_tf1", "--help"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0 and result.stdout.startswith("usage: nst-tf1")


def test_the_demo_pair_is_package_data():
    import importlib.resources

    from nst_tf1.settings import DEFAULT_CONTENT, DEFAULT_STYLE, Settings

    data = importlib.resources.files("nst_tf1") / "data"
    assert (DEFAULT_CONTENT, DEFAULT_STYLE) == (
        str(data / "demo_content.jpg"),
        str(data / "demo_style.jpg"),
    )
    assert os.path.isabs(DEFAULT_CONTENT) and os.path.isfile(DEFAULT_STYLE)
    settings = Settings()
    assert (settings.content, settings.style) == (DEFAULT_CONTENT, [DEFAULT_STYLE])
    with open(os.path.join(ROOT, "setup.cfg")) as f:
        assert "data/*.jpg" in f.read()  # shipped in the wheel


def test_the_readme_flavour_recipe_lists_the_other_dependencies():
    import configparser

    config = configparser.ConfigParser()
    config.read(os.path.join(ROOT, "setup.cfg"))
    requires = config["options"]["install_requires"].split()
    with open(os.path.join(ROOT, "README.md")) as f:
        recipe = next(line for line in f if line.startswith("    pip install tensorflow-cpu "))
    listed = [word.strip('"') for word in recipe.split()[3:]]
    # CI runs this very line; it must hold every dependency but tensorflow itself.
    assert sorted(listed) == sorted(r for r in requires if not r.startswith("tensorflow"))


def test_a_path_that_is_not_utf8_is_printed_as_its_bytes_under_a_strict_locale(tmp_path):
    # Python's stdout encodes strictly under a UTF-8 locale other than C: a path holding a
    # byte that is not UTF-8 made 'where' say standard output could not be written, exit 1
    # (and 'figure' over a batch's pair folder of such a name end in a traceback).
    model = os.fsdecode(os.fsencode(str(tmp_path)) + b"/vgg\xff.mat")
    env = {**os.environ, "NST_HOME": str(tmp_path), "NST_VGG_MODEL": model}
    env["PYTHONIOENCODING"] = "utf-8:strict"
    command = [sys.executable, "-m", "nst_tf1", "where"]
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout == os.fsencode(model) + b"\n"
