"""Bad input (issue 4): every image either loads correctly or is refused with one line.

Every test image is generated here with Pillow (or byte by byte); nothing is downloaded.
"""

import io
import os
import struct
import zlib

import numpy as np
import pytest
from conftest import HEIGHT, WIDTH, run_args, run_cli, write_image
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from nst_tf1.images import MAX_INPUT_PIXELS, ImageInputError, image_size, load_image
from nst_tf1.vgg import MIN_IMAGE_SIDE, activation_bytes, activation_shapes

# ----------------------------------------------------------------------------------------
# Image makers


def _png_chunk(kind, data):
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def write_png_raw(path, width, height, bit_depth, colour_type, rows=None):
    """A PNG written byte by byte (Pillow cannot write 16-bit RGB or absurd sizes)."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    idat = zlib.compress(rows if rows is not None else b"\x00")
    data = (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )
    with open(path, "wb") as f:
        f.write(data)
    return str(path)


def _gradient(h=60, w=80):
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 255 // (w - 1), y * 255 // (h - 1), np.full_like(x, 128)], -1)


def make_gray_jpeg(d):
    return write_image(d / "gray.jpg", np.full((60, 80), 100)), (100, 100, 100)


def make_gray_png(d):
    return write_image(d / "gray.png", np.full((60, 80), 200)), (200, 200, 200)


def make_rgba_png(d):
    a = np.zeros((60, 80, 4), np.uint8)
    a[..., 0] = 255  # red, fully transparent: must come out white
    return write_image(d / "rgba.png", a), (255, 255, 255)


def make_rgba_half_png(d):
    a = np.zeros((60, 80, 4), np.uint8)
    a[..., 3] = 128  # black at half opacity over white
    return write_image(d / "rgba-half.png", a), (127, 127, 127)


def make_la_png(d):
    from PIL import Image

    a = np.zeros((60, 80, 2), np.uint8)  # black, transparent
    path = str(d / "la.png")
    Image.fromarray(a, "LA").save(path)
    return path, (255, 255, 255)


def make_palette_png(d):
    from PIL import Image

    img = Image.new("P", (80, 60), 1)
    img.putpalette([0, 0, 0, 10, 200, 30] + [0] * 762)
    path = str(d / "palette.png")
    img.save(path)
    return path, (10, 200, 30)


def make_palette_transparent_png(d):
    from PIL import Image

    img = Image.new("P", (80, 60), 0)
    img.putpalette([0, 0, 255, 10, 200, 30] + [0] * 762)
    path = str(d / "palette-trns.png")
    img.save(path, transparency=0)  # index 0 (blue) is transparent: white
    return path, (255, 255, 255)


def make_16bit_gray_png(d):
    from PIL import Image

    a = np.full((60, 80), 257 * 60, np.uint16)  # 16-bit 15420 -> 8-bit 60
    path = str(d / "gray16.png")
    Image.fromarray(a).convert("I;16").save(path)
    assert Image.open(path).mode.startswith("I")
    return path, (60, 60, 60)


def make_16bit_dark_gray_png(d):
    from PIL import Image

    # A dark 16-bit image (all values <= 255) must stay dark, not be taken as 8-bit.
    a = np.full((60, 80), 200, np.uint16)
    path = str(d / "gray16-dark.png")
    Image.fromarray(a).convert("I;16").save(path)
    return path, (1, 1, 1)


def make_16bit_rgb_png(d):
    rgb = np.zeros((60, 80, 3), np.uint16)
    rgb[...] = (65535, 257 * 128, 0)
    rows = b"".join(b"\x00" + rgb[y].astype(">u2").tobytes() for y in range(60))
    return write_png_raw(d / "rgb16.png", 80, 60, 16, 2, rows), (255, 128, 0)


def make_cmyk_jpeg(d):
    from PIL import Image

    path = str(d / "cmyk.jpg")
    Image.new("CMYK", (80, 60), (0, 255, 255, 0)).save(path, quality=95)  # red
    assert Image.open(path).mode == "CMYK"
    return path, (255, 0, 0)


def make_exif_rotated_jpeg(d):
    """Stored landscape 80x60 with orientation 6: shown as a 60x80 portrait."""
    from PIL import Image

    a = np.full((60, 80, 3), 255, np.uint8)
    a[:20, :20] = (255, 0, 0)  # red block at the stored top-left
    img = Image.fromarray(a)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    path = str(d / "exif6.jpg")
    img.save(path, exif=exif, quality=95)
    return path, None


def make_tiny_upscaled_jpeg(d):
    # The minimum side applies to the size the network sees, not to the file: upscaled.
    return write_image(d / "small-ok.jpg", np.full((8, 8, 3), 50)), (50, 50, 50)


def make_bmp(d):
    return write_image(d / "plain.bmp", np.full((60, 80, 3), (1, 2, 3))), (1, 2, 3)


ACCEPTED = [
    make_gray_jpeg,
    make_gray_png,
    make_rgba_png,
    make_rgba_half_png,
    make_la_png,
    make_palette_png,
    make_palette_transparent_png,
    make_16bit_gray_png,
    make_16bit_dark_gray_png,
    make_16bit_rgb_png,
    make_cmyk_jpeg,
    make_tiny_upscaled_jpeg,
    make_bmp,
]


@pytest.mark.parametrize("maker", ACCEPTED, ids=lambda f: f.__name__[5:])
def test_accepted_image_loads_as_rgb(tmp_path, maker):
    path, colour = maker(tmp_path)
    image = load_image(path, HEIGHT, WIDTH)
    assert image.shape == (HEIGHT, WIDTH, 3)
    assert image.dtype == np.float32
    np.testing.assert_allclose(image.reshape(-1, 3).mean(axis=0), colour, atol=3)


def test_exif_orientation_is_honoured(tmp_path):
    path, _ = make_exif_rotated_jpeg(tmp_path)
    # Upright it is 60 wide and 80 high; keep the aspect to see it.
    image = load_image(path, height=80, width=None)
    assert image.shape == (80, 60, 3)
    # Rotated 90 degrees clockwise, the stored top-left block is now top-right.
    assert image[:15, -15:, 1].mean() < 40 and image[:15, -15:, 0].mean() > 200
    assert image[:15, :15].min() > 200


@pytest.mark.parametrize("size, expected", [((40, None), (40, 53)), ((None, 64), (48, 64))])
def test_keep_aspect_derives_the_missing_side(tmp_path, size, expected):
    path = write_image(tmp_path / "c.png", _gradient(300, 400))
    assert load_image(path, *size).shape == (*expected, 3)


def test_different_sizes_resize_to_the_same_shape(tmp_path):
    a = write_image(tmp_path / "a.png", _gradient(50, 300))
    b = write_image(tmp_path / "b.jpg", _gradient(500, 40))
    assert load_image(a, HEIGHT, WIDTH).shape == load_image(b, HEIGHT, WIDTH).shape


# ----------------------------------------------------------------------------------------
# The network's geometry and the memory estimate


def test_minimum_side_and_activation_shapes():
    assert MIN_IMAGE_SIDE == 32
    shapes = activation_shapes(300, 400)
    assert shapes["conv4_2"] == (1, 38, 50, 512)
    assert shapes["avgpool5"] == (1, 10, 13, 512)
    assert activation_shapes(32, 33)["avgpool5"][1:3] == (1, 2)
    assert activation_bytes(300, 400) == 4 * sum(int(np.prod(s)) for s in shapes.values())
    assert activation_bytes(600, 800) > 3.9 * activation_bytes(300, 400)


def test_activation_shapes_match_the_built_graph(vgg_weights_written):
    import tensorflow.compat.v1 as tf

    from nst_tf1.vgg import build_vgg_model

    _, written = vgg_weights_written
    with tf.Graph().as_default():
        model = build_vgg_model(written, 35, 47)
        built = {k: tuple(v.shape.as_list()) for k, v in model.items()}
    assert built == activation_shapes(35, 47, written)


# ----------------------------------------------------------------------------------------
# Refused: one line naming the file, exit 2, nothing written


def _truncated(data, keep):
    def make(d, name):
        full = d / f"full-{name}"
        data(full)
        raw = full.read_bytes()
        full.unlink()
        path = d / name
        path.write_bytes(raw[: int(len(raw) * keep)])
        return str(path)

    return make


def _png(path):
    write_image(path, np.random.default_rng(0).integers(0, 255, (120, 160, 3)))


def _jpeg(path):
    write_image(path, np.random.default_rng(0).integers(0, 255, (120, 160, 3)))


def _bad_image(kind):
    """Makers of bad image files: (tmp dir, file name) -> path."""

    def missing(d, name):
        return str(d / name)

    def directory(d, name):
        (d / name).mkdir()
        return str(d / name)

    def empty(d, name):
        (d / name).write_bytes(b"")
        return str(d / name)

    def text(d, name):
        (d / name).write_text("this is not an image\n" * 20)
        return str(d / name)

    def corrupt(d, name):
        header = b"\x89PNG\r\n\x1a\n" + _png_chunk(
            b"IHDR", struct.pack(">IIBBBBB", 64, 64, 8, 2, 0, 0, 0)
        )
        (d / name).write_bytes(header + _png_chunk(b"IDAT", b"garbage" * 50))
        return str(d / name)

    def bomb(d, name):  # 12000 x 12000 = 144 M pixels declared in a 60-byte file
        return write_png_raw(d / name, 12000, 12000, 8, 2)

    def huge_bomb(d, name):  # 400 M pixels: above Pillow's own error threshold too
        return write_png_raw(d / name, 20000, 20000, 8, 2)

    return {
        "missing": missing,
        "directory": directory,
        "empty": empty,
        "text": text,
        "truncated-png": _truncated(_png, 0.5),
        "truncated-jpeg": _truncated(_jpeg, 0.6),
        "corrupt": corrupt,
        "bomb": bomb,
        "huge-bomb": huge_bomb,
    }[kind]


IMAGE_CASES = [
    ("missing", "no such file"),
    ("directory", "no image files"),  # a directory is a batch; this one is empty
    ("empty", "empty file"),
    ("text", "not an image file"),
    ("truncated-png", "truncated or corrupt image data"),
    ("truncated-jpeg", "truncated or corrupt image data"),
    ("corrupt", "truncated or corrupt image data"),
    ("bomb", f"above the limit of {MAX_INPUT_PIXELS:,}"),
    ("huge-bomb", f"above the limit of {MAX_INPUT_PIXELS:,}"),
]


def run_main(args, capsys):
    """``nst_tf1.cli.main(args)`` in this process: (status, stdout, stderr)."""
    from nst_tf1.cli import main

    try:
        status = main([str(a) for a in args])
    except SystemExit as exc:  # argparse
        status = exc.code
    out, err = capsys.readouterr()
    return status, out, err


def assert_one_line_error(status, err, *needles, code=2):
    assert status == code, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("nst-tf1: error: "), err
    for needle in needles:
        assert needle in lines[0], err


def assert_nothing_written(out_dir):
    assert not os.path.exists(out_dir) or os.listdir(out_dir) == []


@pytest.mark.parametrize("role", ["content", "style"])
@pytest.mark.parametrize("kind, message", IMAGE_CASES, ids=[c[0] for c in IMAGE_CASES])
def test_bad_image_is_refused(tmp_path, capsys, image_pair, vgg_file, kind, message, role):
    bad = _bad_image(kind)(tmp_path, f"bad-{kind}.png")
    content, style = image_pair
    args = {"content": content, "style": style, role: bad}
    out_dir = tmp_path / "out"
    status, _, err = run_main(
        [
            *run_args(args["content"], args["style"], vgg_file),
            "--output-dir",
            out_dir,
            "--iterations",
            1,
        ],
        capsys,
    )
    assert_one_line_error(status, err, bad, message)
    assert_nothing_written(out_dir)


@pytest.mark.parametrize(
    "extra, how",
    [
        (["--width", 64, "--keep-aspect"], "keeping its aspect ratio turns its 1000x40"),
        (["--max-size", 400], "--max-size 400 turns its 1000x40"),
    ],
)
def test_derived_side_below_the_minimum_is_refused(
    tmp_path, capsys, image_pair, vgg_file, extra, how
):
    # A 1000x40 strip: keeping its ratio, the short side falls under MIN_IMAGE_SIDE.
    strip = write_image(tmp_path / "strip.png", _gradient(40, 1000))
    out_dir = tmp_path / "out"
    status, _, err = run_main(
        [
            "--content",
            strip,
            "--style",
            image_pair[1],
            "--model",
            vgg_file,
            "--output-dir",
            out_dir,
            *extra,
        ],
        capsys,
    )
    assert_one_line_error(status, err, strip, how, f"at least {MIN_IMAGE_SIDE} pixels")
    assert_nothing_written(out_dir)


@pytest.mark.parametrize(
    "extra, hint",
    [
        (["--height", 400, "--keep-aspect"], "--height 327 or less keeps it"),
        (["--width", 32, "--keep-aspect"], "no size of 32..16384 pixels a side keeps"),
    ],
)
def test_derived_side_above_the_maximum_is_refused_before_the_run(
    tmp_path, capsys, image_pair, vgg_file, extra, hint
):
    # A 40x2000 strip (height x width) at --height 400 would be 400x20000: such a run went to
    # its end and failed at the JPEG's write (libjpeg's stray line, run.json 'failed'). A
    # 20000x10 one at --width 32 would be 64000 tall, and no width of 32 or more fits.
    if extra[0] == "--height":
        strip = write_image(tmp_path / "strip.png", _gradient(40, 2000))
    else:
        strip = write_image(tmp_path / "tall.png", _gradient(20000, 10))
    out_dir = tmp_path / "out"
    status, _, err = run_main(
        ["--content", strip, "--style", image_pair[1], "--model", vgg_file]
        + ["--output-dir", out_dir, "--iterations", 1, *extra],
        capsys,
    )
    assert_one_line_error(status, err, strip, "at most 16384 pixels", hint)
    assert_nothing_written(out_dir)


ARG_CASES = [
    (["--iterations", "0"], "--iterations: must be a whole number of at least 1"),
    (["--iterations", "-5"], "--iterations: must be a whole number of at least 1"),
    (["--save-every", "0"], "--save-every: must be a whole number of at least 1"),
    (["--alpha", "-1"], "--alpha: must be a finite number >= 0"),
    (["--beta", "-0.5"], "--beta: must be a finite number >= 0"),
    (["--learning-rate", "0"], "--learning-rate: must be a finite number > 0"),
    (["--learning-rate", "-2"], "--learning-rate: must be a finite number > 0"),
    (["--learning-rate", "nan"], "--learning-rate: must be a finite number > 0"),
    # Finite in Python's float64, inf in the graph's float32: refused, not a NumPy warning.
    (["--learning-rate", "1e308"], "--learning-rate: must be at most 3.403e+38"),
    (["--alpha", "1e300"], "--alpha: must be at most 3.403e+38"),
    (["--tv-weight", "1e39"], "--tv-weight: must be at most 3.403e+38"),
    (["--style-strength", "1e38"], "gives beta = alpha x strength, which must be at most"),
    (["--style-layers", "conv1_1:1e300"], "weight of conv1_1 must be at most 3.403e+38"),
    (["--noise-ratio", "1.5"], "--noise-ratio: must be between 0 and 1"),
    (["--noise-ratio", "-0.1"], "--noise-ratio: must be between 0 and 1"),
    (["--height", "16"], "--height: must be at least 32 pixels"),
    (["--width", "0"], "--width: must be at least 32 pixels"),
    (["--height", "abc"], "--height: not a number"),
    (["--height", "16384", "--width", "16384"], "of memory (estimate:"),
    (["--keep-aspect", "--height", "64", "--width", "64"], "not both"),
    (["--keep-aspect", "--max-size", "64"], "give one of them"),
]


@pytest.mark.parametrize("extra, message", ARG_CASES, ids=[" ".join(c[0]) for c in ARG_CASES])
def test_bad_argument_is_refused(tmp_path, capsys, image_pair, vgg_file, extra, message):
    out_dir = tmp_path / "out"
    args = [
        "--content",
        image_pair[0],
        "--style",
        image_pair[1],
        "--model",
        vgg_file,
        "--output-dir",
        out_dir,
    ]
    if "--height" not in extra and "--width" not in extra:
        args += ["--height", HEIGHT, "--width", WIDTH]
    status, _, err = run_main(args + extra, capsys)
    assert_one_line_error(status, err, message)
    assert_nothing_written(out_dir)


def test_memory_refusal_states_the_estimate(monkeypatch, tmp_path, capsys, image_pair, vgg_file):
    from nst_tf1 import preflight

    monkeypatch.setattr(preflight, "available_memory", lambda: (10**9, "a test figure"))
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
            "--height",
            300,
            "--width",
            400,
        ],
        capsys,
    )
    need = preflight.estimate_memory(300, 400)
    assert_one_line_error(
        status, err, f"needs about {need / 1e9:.1f} GB", "only 1.0 GB is available (a test figure)"
    )


def test_make_demo_checks_its_memory_first(monkeypatch, tmp_path, capsys):
    """A size whose drawing would not fit is one line, exit 2, before the folder exists
    (16384x16384 was OOM-killed at 24 GB, leaving an empty folder)."""
    from nst_tf1 import preflight

    monkeypatch.setattr(preflight, "available_memory", lambda: (10**8, "a test figure"))
    status, _, err = run_main(["make-demo", tmp_path / "demo", "--height", 1000, "--width", 1000],
                              capsys)  # fmt: skip
    assert_one_line_error(status, err, "only 100.0 MB is available (a test figure)")
    assert not os.path.exists(tmp_path / "demo")
    from nst_tf1.demo import DEMO_BYTES_PER_PIXEL

    need = DEMO_BYTES_PER_PIXEL * 10**6
    assert f"make-demo --height 1000 --width 1000 needs about {need / 1e6:.1f} MB" in err


def test_make_demo_never_overwrites_without_force(tmp_path, capsys):
    content = tmp_path / "demo_content.jpg"
    content.write_bytes(b"a photo of the user's")
    status, _, err = run_main(["make-demo", tmp_path, "--height", 40, "--width", 48], capsys)
    assert_one_line_error(status, err, f"{content} exists", "--force")
    assert content.read_bytes() == b"a photo of the user's"
    assert sorted(os.listdir(tmp_path)) == ["demo_content.jpg"]
    status, out, err = run_main(
        ["make-demo", tmp_path, "--height", 40, "--width", 48, "--force"], capsys
    )
    assert status == 0 and out.count("Wrote ") == 2, err
    assert content.read_bytes()[:2] == b"\xff\xd8"  # a JPEG now
    assert sorted(os.listdir(tmp_path)) == ["demo_content.jpg", "demo_style.jpg"]


# ----------------------------------------------------------------------------------------
# The model file


def _mat_round_trip(src, dst, edit):
    import scipy.io

    mat = scipy.io.loadmat(src)
    layers = edit(mat["layers"])
    scipy.io.savemat(dst, {"layers": layers, "meta": mat["meta"]})
    return str(dst)


def _layer_index(layers, name):
    names = [str(np.ravel(cell["name"][0, 0])[0]) for cell in layers[0]]
    return names.index(name)


def _bad_model(kind, d, vgg_file, image):
    if kind == "missing":
        return str(d / "nowhere.mat")
    if kind == "directory":
        (d / "dir.mat").mkdir()
        return str(d / "dir.mat")
    if kind == "empty":
        (d / "empty.mat").write_bytes(b"")
        return str(d / "empty.mat")
    if kind == "jpeg":
        return image
    if kind == "html":
        (d / "page.mat").write_text("<!DOCTYPE html><html><body>404</body></html>")
        return str(d / "page.mat")
    if kind == "hdf5":
        (d / "v73.mat").write_bytes(
            b"MATLAB 7.3 MAT-file, Platform: GLNXA64".ljust(512) + b"\x89HDF\r\n\x1a\n" + bytes(64)
        )
        return str(d / "v73.mat")
    if kind == "not-network":
        import scipy.io

        scipy.io.savemat(d / "other.mat", {"x": np.eye(3)})
        return str(d / "other.mat")
    if kind == "truncated":
        raw = open(vgg_file, "rb").read()
        (d / "cut.mat").write_bytes(raw[: len(raw) // 2])
        return str(d / "cut.mat")
    if kind == "vgg16-like":

        def drop(layers):
            i = _layer_index(layers, "conv3_4")
            return np.delete(layers, [i, i + 1], axis=1)

        return _mat_round_trip(vgg_file, d / "vgg16.mat", drop)
    if kind == "wrong-shape":

        def reshape(layers):
            cell = layers[0, _layer_index(layers, "conv2_1")]
            cell["weights"][0, 0][0, 0] = np.zeros((3, 3, 5, 16), np.float32)
            return layers

        return _mat_round_trip(vgg_file, d / "shape.mat", reshape)
    if kind == "nan-weights":

        def poison(layers):
            cell = layers[0, _layer_index(layers, "conv4_1")]
            cell["weights"][0, 0][0, 0][0, 0, 0, 0] = np.nan
            return layers

        return _mat_round_trip(vgg_file, d / "nan.mat", poison)
    raise AssertionError(kind)


MODEL_CASES = [
    ("missing", "VGG-19 model file not found"),  # with --no-download
    ("directory", "is a directory"),
    ("empty", "not a readable MATLAB .mat file: empty (0 bytes)"),
    ("jpeg", "not a readable MATLAB .mat file: it is a JPEG image"),
    ("html", "not a readable MATLAB .mat file: it is an HTML page"),
    ("hdf5", "MATLAB v7.3 (HDF5)"),
    ("not-network", "not a MatConvNet network file (no 'layers' variable; it holds: x)"),
    ("truncated", "not a readable MATLAB .mat file: truncated or corrupt"),
    ("vgg16-like", "not VGG-19: layer 'conv3_4' is missing"),
    ("wrong-shape", "layer 'conv2_1' has W of shape (3, 3, 5, 16)"),
    ("nan-weights", "layer 'conv4_1' holds NaN or infinite weights"),
]


@pytest.mark.parametrize("kind, message", MODEL_CASES, ids=[c[0] for c in MODEL_CASES])
def test_bad_model_file_is_refused(tmp_path, capsys, image_pair, vgg_file, kind, message):
    model = _bad_model(kind, tmp_path, vgg_file, image_pair[0])
    out_dir = tmp_path / "out"
    status, _, err = run_main(
        [
            *run_args(image_pair[0], image_pair[1], model),
            "--output-dir",
            out_dir,
            "--no-download",
        ],
        capsys,
    )
    assert_one_line_error(status, err, model, message)
    assert not os.path.exists(out_dir / "generated_image.jpg")


# ----------------------------------------------------------------------------------------
# The output directory


def test_output_dir_that_is_a_file_is_refused(tmp_path, capsys, image_pair, vgg_file):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    for out_dir, message in (
        (blocker, "is a file, not a directory"),
        (blocker / "sub", "output directory is not writable"),
    ):
        status, _, err = run_main(
            [
                *run_args(image_pair[0], image_pair[1], vgg_file),
                "--output-dir",
                out_dir,
            ],
            capsys,
        )
        assert_one_line_error(status, err, str(out_dir), message)
    assert blocker.read_text() == "x"


def test_full_disk_is_refused_before_the_model_is_read(
    monkeypatch, tmp_path, capsys, image_pair, vgg_file
):
    import collections
    import shutil

    usage = collections.namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 5000, 5000))
    read = []
    monkeypatch.setattr("nst_tf1.vgg.read_vgg_weights", lambda path: read.append(path))
    status, _, err = run_main(
        [
            *run_args(image_pair[0], image_pair[1], vgg_file),
            "--output-dir",
            tmp_path / "out",
            "--iterations",
            40,
        ],
        capsys,
    )
    assert_one_line_error(status, err, "only 5.0 kB free", "3 images of 48x64")
    assert read == []
    assert_nothing_written(tmp_path / "out")


# ----------------------------------------------------------------------------------------
# The real process: no traceback, one line, exit 2


@pytest.mark.parametrize("case", ["truncated-image", "not-vgg", "memory"])
def test_refusals_in_a_real_process(tmp_path, image_pair, vgg_file, case):
    content, style = image_pair
    model, extra = vgg_file, ["--height", HEIGHT, "--width", WIDTH]
    if case == "truncated-image":
        content = _truncated(_jpeg, 0.5)(tmp_path, "cut.jpg")
    elif case == "not-vgg":
        model = _bad_model("not-network", tmp_path, vgg_file, content)
    else:
        extra = ["--height", 16384, "--width", 16384]
    result = run_cli(
        "--content",
        content,
        "--style",
        style,
        "--model",
        model,
        "--output-dir",
        tmp_path / "out",
        *extra,
    )
    assert_one_line_error(result.returncode, result.stderr)
    assert_nothing_written(tmp_path / "out")


# ----------------------------------------------------------------------------------------
# Property: random bytes and random small arrays either load or raise ImageInputError


_OUT = (MIN_IMAGE_SIDE, MIN_IMAGE_SIDE + 8)
_SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _check_loaded_or_refused(path):
    from nst_tf1.images import reshape_and_normalize_image

    try:
        image = load_image(path, *_OUT)
    except ImageInputError as exc:
        assert "\n" not in str(exc) and str(path) in str(exc)
        return
    assert image.shape == (*_OUT, 3) and image.dtype == np.float32
    assert np.isfinite(image).all() and image.min() >= 0 and image.max() <= 255
    batch = reshape_and_normalize_image(image)
    assert batch.shape == (1, *_OUT, 3) and batch.dtype == np.float32


_PREFIXES = [
    b"",
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff\xe0",
    b"GIF89a",
    b"BM",
    b"II*\x00",
    b"RIFF\x00\x00\x00\x00WEBP",
]


@_SETTINGS
@given(prefix=st.sampled_from(_PREFIXES), data=st.binary(min_size=0, max_size=400))
def test_random_bytes_load_or_raise_image_input_error(tmp_path, prefix, data):
    path = tmp_path / "random.img"
    path.write_bytes(prefix + data)
    _check_loaded_or_refused(path)


@_SETTINGS
@given(
    array=st.one_of(
        hnp.arrays(np.uint8, st.tuples(st.integers(1, 48), st.integers(1, 48))),
        hnp.arrays(
            np.uint8, st.tuples(st.integers(1, 48), st.integers(1, 48), st.sampled_from([3, 4]))
        ),
        hnp.arrays(np.uint16, st.tuples(st.integers(1, 48), st.integers(1, 48))),
    ),
    fmt=st.sampled_from(["PNG", "JPEG", "BMP", "TIFF", "GIF"]),
    cut=st.one_of(st.none(), st.floats(0.05, 0.95)),
)
def test_random_arrays_load_or_raise_image_input_error(tmp_path, array, fmt, cut):
    from PIL import Image

    img = Image.fromarray(array)
    if array.dtype == np.uint16:
        img = img.convert("I;16")
        fmt = "PNG"
    elif fmt == "JPEG" and img.mode == "RGBA":
        img = img.convert("RGB")
    buffer = io.BytesIO()
    img.save(buffer, format=fmt)
    raw = buffer.getvalue()
    if cut is not None:  # a truncated copy
        raw = raw[: max(1, int(len(raw) * cut))]
    path = tmp_path / f"array.{fmt.lower()}"
    path.write_bytes(raw)
    _check_loaded_or_refused(path)


def _oriented_png(directory, orientation, exif_bytes=None):
    """A 40x24 (width x height) PNG whose EXIF says ``orientation`` (or that carries
    ``exif_bytes`` as they are); returns (path, stored pixels). PNG is lossless, so the
    pixels can be compared exactly."""
    from PIL import Image

    rng = np.random.default_rng(orientation)
    # Large flat blocks survive resizing; a random colour per block tells them apart.
    blocks = rng.integers(0, 256, (3, 5, 3), dtype=np.uint8)
    stored = np.kron(blocks, np.ones((8, 8, 1), np.uint8))
    img = Image.fromarray(stored)
    path = str(directory / f"o{orientation}.png")
    if exif_bytes is None:
        exif = Image.Exif()
        exif[0x0112] = orientation
        exif_bytes = exif.tobytes()
    img.save(path, exif=exif_bytes)
    return path, stored


# EXIF orientation -> how the stored pixels are shown (the EXIF 2.3 definitions).
_SHOWN = {
    1: lambda a: a,
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.transpose(1, 0, 2),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: np.rot90(a, -1)[::-1],
    8: lambda a: np.rot90(a),
}


@pytest.mark.parametrize("orientation", sorted(_SHOWN))
def test_every_exif_orientation_is_shown_upright(tmp_path, orientation):
    path, stored = _oriented_png(tmp_path, orientation)
    expected = _SHOWN[orientation](stored)
    assert image_size(path) == expected.shape[:2]  # from the header, before decoding
    image = load_image(path, *expected.shape[:2])
    np.testing.assert_array_equal(image, expected.astype(np.float32))


def test_corrupt_exif_means_upright(tmp_path):
    path, stored = _oriented_png(tmp_path, 6, exif_bytes=b"Exif\x00\x00II*\x00\xff\xff")
    assert image_size(path) == (24, 40)
    np.testing.assert_array_equal(load_image(path, 24, 40), stored.astype(np.float32))
