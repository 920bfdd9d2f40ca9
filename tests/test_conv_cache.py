"""The run's copy of the model's convolutions (nst_tf1.conv_cache): read from the .mat once,
from the copy while the .mat is unchanged, the same arrays bit for bit, and never in the way
(a copy that cannot be written or read is passed over)."""

import os

import numpy as np
import pytest
from conftest import HEIGHT, WIDTH

import nst_tf1.vgg
from nst_tf1 import conv_cache
from nst_tf1.testing import make_vgg_file
from nst_tf1.vgg import read_vgg_weights


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A per-user cache of this test's own."""
    folder = tmp_path / "home"
    monkeypatch.setenv("NST_HOME", str(folder))
    return folder


@pytest.fixture(scope="module")
def full_fc_file(tmp_path_factory):
    """A narrow file whose fully connected layers have their real (narrowed) shapes: like
    MatConvNet's, most of its bytes are layers a run never uses."""
    path = str(tmp_path_factory.mktemp("fc") / "vgg.mat")
    make_vgg_file(path, width_divisor=8, fc="full")
    return path


def _assert_same(weights, expected):
    assert weights.layout == expected.layout and weights.path == expected.path
    assert weights.mean_pixel.dtype == np.float32
    np.testing.assert_array_equal(weights.mean_pixel, expected.mean_pixel)
    assert list(weights.layers) == list(expected.layers)
    for name, (W, b) in expected.layers.items():
        got_W, got_b = weights.layers[name]
        assert got_W.dtype == W.dtype == np.float32 and got_b.dtype == np.float32
        assert got_W.flags.c_contiguous and got_W.shape == W.shape
        assert got_W.tobytes() == W.tobytes() and got_b.tobytes() == b.tobytes()


def _reading_the_mat_fails(monkeypatch):
    def refused(path):
        raise AssertionError(f"read the .mat {path} again")

    monkeypatch.setattr(nst_tf1.vgg, "read_vgg_weights", refused)


def test_a_file_with_its_fully_connected_layers_is_read_once(home, full_fc_file, monkeypatch):
    expected = read_vgg_weights(full_fc_file)
    _assert_same(conv_cache.read_weights(full_fc_file), expected)
    copy = conv_cache.cache_path(full_fc_file)
    assert os.path.dirname(copy) == str(home / "conv-weights")
    assert os.path.getsize(copy) < os.path.getsize(full_fc_file) / 2
    assert os.listdir(home / "conv-weights") == [os.path.basename(copy)]  # no temporary left
    _reading_the_mat_fails(monkeypatch)
    _assert_same(conv_cache.read_weights(full_fc_file), expected)


def test_a_file_of_the_convolutions_alone_is_not_copied(home, vgg_file):
    _assert_same(conv_cache.read_weights(vgg_file), read_vgg_weights(vgg_file))
    assert not os.path.exists(conv_cache.cache_path(vgg_file))


def test_a_changed_model_file_is_read_again(home, tmp_path, monkeypatch):
    path = str(tmp_path / "vgg.mat")
    make_vgg_file(path, width_divisor=8, fc="full", seed=1)
    conv_cache.read_weights(path)
    make_vgg_file(path, width_divisor=8, fc="full", seed=2, overwrite=True)
    stat = os.stat(path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # a coarse clock
    _assert_same(conv_cache.read_weights(path), read_vgg_weights(path))
    _reading_the_mat_fails(monkeypatch)  # and the copy was replaced by the new file's
    _assert_same(conv_cache.read_weights(path), read_vgg_weights(path))


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_a_damaged_copy_is_passed_over_and_replaced(home, full_fc_file, damage, monkeypatch):
    expected = read_vgg_weights(full_fc_file)
    conv_cache.read_weights(full_fc_file)
    copy = conv_cache.cache_path(full_fc_file)
    with open(copy, "rb") as f:
        data = f.read()
    data = {"garbage": b"not a zip file" * 100, "truncated": data[: len(data) // 2], "empty": b""}
    with open(copy, "wb") as f:
        f.write(data[damage])
    _assert_same(conv_cache.read_weights(full_fc_file), expected)
    _reading_the_mat_fails(monkeypatch)
    _assert_same(conv_cache.read_weights(full_fc_file), expected)


def test_a_cache_that_cannot_be_written_is_no_error(tmp_path, full_fc_file, monkeypatch):
    blocked = tmp_path / "a file, not a folder"
    blocked.write_text("")
    monkeypatch.setenv("NST_HOME", str(blocked))
    _assert_same(conv_cache.read_weights(full_fc_file), read_vgg_weights(full_fc_file))


def test_a_run_from_the_copy_gives_the_same_image_bit_for_bit(
    home, tmp_path, full_fc_file, monkeypatch
):
    # The course's run, twice with one seed: the first reads the .mat, the second its copy.
    from PIL import Image

    from nst_tf1 import Settings, run
    from nst_tf1.demo import make_demo_content, make_demo_style

    content, style = tmp_path / "c.png", tmp_path / "s.png"
    Image.fromarray(make_demo_content(HEIGHT, WIDTH)).save(content)
    Image.fromarray(make_demo_style(HEIGHT, WIDTH)).save(style)
    outputs = []
    for name in ("from-mat", "from-copy"):
        out = tmp_path / name
        settings = Settings(
            content=str(content),
            style=[str(style)],
            model=full_fc_file,
            height=HEIGHT,
            width=WIDTH,
            iterations=4,
            seed=3,
            output_dir=str(out),
        )
        seen = []
        run(settings, seen.append)
        copied = [e for e in seen if getattr(e, "code", None) == "model-copied"]
        # The first run says where the copy went; the second, which reads it, says nothing.
        if name == "from-mat":
            [note] = copied
            assert note.data["copy"] == conv_cache.cache_path(full_fc_file)
            assert note.data["bytes"] == os.path.getsize(note.data["copy"])
            assert note.level == "note" and note.data["copy"] in note.text
        else:
            assert copied == []
        outputs.append((out / "generated_image.png").read_bytes())
        assert os.path.exists(conv_cache.cache_path(full_fc_file))
        _reading_the_mat_fails(monkeypatch)
    assert outputs[0] == outputs[1]


def test_a_killed_writers_temporary_file_is_removed_by_the_next_copy(home, full_fc_file):
    # SIGKILL between the write and the rename leaves write_atomically's temporary (80 MB for
    # the real file); the next copy removes it once it is old, and leaves a recent one alone.
    folder = home / "conv-weights"
    folder.mkdir(parents=True)
    old, recent = folder / ".abc.0123abcd.tmp.npz", folder / ".abc.4567abcd.tmp.npz"
    old.write_bytes(b"half a copy")
    recent.write_bytes(b"a copy being written")
    hour_ago = os.stat(old).st_mtime - 3600
    os.utime(old, (hour_ago, hour_ago))
    conv_cache.read_weights(full_fc_file)
    assert sorted(os.listdir(folder)) == sorted(
        [recent.name, os.path.basename(conv_cache.cache_path(full_fc_file))]
    )


def test_where_names_the_copy_once_a_run_has_made_it(home, tmp_path, monkeypatch):
    import subprocess
    import sys

    path = str(tmp_path / "vgg.mat")
    make_vgg_file(path, width_divisor=8, fc="full")
    env = {**os.environ, "NST_HOME": str(home), "NST_VGG_MODEL": path}
    command = [sys.executable, "-m", "nst_tf1", "where"]

    def where():
        result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)
        assert result.returncode == 0 and result.stdout == f"{path}\n", result.stderr
        return result.stderr

    assert conv_cache.current_copy(path) is None and "copy" not in where()
    conv_cache.read_weights(path)
    copy = conv_cache.cache_path(path)
    assert conv_cache.current_copy(path) == copy
    said = where()
    assert f"runs read the copy of its convolutions, {copy}" in said and said.count("\n") == 1
    stat = os.stat(path)  # the file changed since: the copy is no longer the one runs read
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert conv_cache.current_copy(path) is None and "copy" not in where()
