"""Course figures, run.json, --print-model and activation maps, on a tiny synthetic run."""

import hashlib
import json
import math
import os
import sys

import numpy as np
import pytest
from conftest import HEIGHT, WIDTH, run_args, run_cli

from nst_tf1 import figure_files, figures
from nst_tf1.cli import build_parser, main
from nst_tf1.record import REQUIRED_FIELDS

ITERATIONS, SAVE_EVERY = 6, 2
# A figure is not blank if its pixels vary at least this much (uint8 variance).
VARIANCE_FLOOR = 100.0


def _read_png(path):
    from PIL import Image

    with Image.open(path) as img:
        assert img.format == "PNG"
        return np.asarray(img.convert("RGB"))


def _assert_figure(path, size):
    assert os.path.isfile(path)
    pixels = _read_png(path)
    assert (pixels.shape[1], pixels.shape[0]) == size
    assert pixels.astype(np.float64).var() > VARIANCE_FLOOR


def _grid_size(count, columns, tile_h, tile_w, title=False):
    """The module docstring's layout formula, written out independently."""
    columns = min(columns, count)
    rows = math.ceil(count / columns)
    width = 2 * figures.PAD + columns * tile_w + (columns - 1) * figures.GAP
    height = (
        2 * figures.PAD
        + (figures.TITLE if title else 0)
        + rows * (tile_h + figures.CAPTION)
        + (rows - 1) * figures.GAP
    )
    return width, height


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, vgg_file, image_pair):
    """A finished 6-iteration CLI run without --seed; returns its output dir."""
    out = tmp_path_factory.mktemp("run") / "out"
    content, style = image_pair
    status = main(
        [
            *run_args(content, style, vgg_file),
            "--iterations",
            str(ITERATIONS),
            "--save-every",
            str(SAVE_EVERY),
            "--output-dir",
            str(out),
        ]
    )
    assert status == 0
    return str(out)


def _record(run_dir):
    with open(os.path.join(run_dir, "run.json")) as f:
        return json.load(f)


def test_run_json_has_every_field(finished_run, vgg_file):
    import tensorflow as tf

    record = _record(finished_run)
    assert set(REQUIRED_FIELDS) | {"final", "finished_utc"} <= set(record)
    assert record["status"] == "finished"
    # Every setting of the command line is recorded (not the --print-model, --verbose and
    # --version switches).
    front_end = {"help", "version", "print_model", "verbose"}
    dests = {a.dest for a in build_parser()._actions} - front_end
    assert dests <= set(record["settings"])
    assert record["settings"]["seed"] is None  # the user gave none...
    assert isinstance(record["seed"], int) and record["seed"] >= 0  # ...so one was drawn
    with open(vgg_file, "rb") as f:
        assert record["model"]["sha256"] == hashlib.sha256(f.read()).hexdigest()
    assert record["model"]["size_bytes"] == os.path.getsize(vgg_file)
    assert record["versions"]["tensorflow"] == tf.__version__
    device = record["device"]
    assert device["tensorflow"] == tf.__version__ and device["tensorflow_package"]
    assert set(device) == {
        "cpu",
        "logical_cpus",
        "bf16",
        "gpus",
        "tensorflow",
        "tensorflow_package",
        "cuda_build",
        "onednn",
        "glibc_tunables",
        "blas_threads",
    }
    assert isinstance(device["onednn"], bool) and isinstance(device["gpus"], list)
    assert record["versions"]["numpy"] == np.__version__
    assert record["wall_time_seconds"] > 0
    costs = record["costs"]
    assert costs["iteration"] == list(range(ITERATIONS + 1))
    assert [s["iteration"] for s in record["saves"]] == [0, 2, 4]
    for entry in [*record["saves"], record["final"]]:
        assert os.path.isfile(os.path.join(finished_run, entry["file"]))
        i = entry["iteration"]
        for key in ("total_cost", "content_cost", "style_cost"):
            assert entry[key] == costs[key][i]
    assert record["final"]["iteration"] == ITERATIONS
    assert record["final"]["file"] == "generated_image.jpg"


def test_recorded_seed_reproduces_the_run(finished_run, vgg_file, image_pair, tmp_path):
    record = _record(finished_run)
    content, style = image_pair
    again = tmp_path / "again"
    assert (
        main(
            [
                *run_args(content, style, vgg_file),
                "--iterations",
                "2",
                "--save-every",
                "2",
                "--output-dir",
                str(again),
                "--seed",
                str(record["seed"]),
            ]
        )
        == 0
    )
    np.testing.assert_array_equal(
        _read_png(again / "0.png"), _read_png(os.path.join(finished_run, "0.png"))
    )
    rerun = _record(str(again))
    for key in ("total_cost", "content_cost", "style_cost"):
        np.testing.assert_allclose(rerun["costs"][key][:2], record["costs"][key][:2], rtol=1e-5)


def test_interrupted_run_keeps_its_record(vgg_file, image_pair, tmp_path, monkeypatch):
    import nst_tf1.images

    save_image = nst_tf1.images.save_image

    def interrupted_at_second_save(path, image, comment=None):
        if os.path.basename(path) == "2.png":
            raise KeyboardInterrupt
        save_image(path, image, comment=comment)

    monkeypatch.setattr(nst_tf1.images, "save_image", interrupted_at_second_save)
    out = tmp_path / "out"
    content, style = image_pair
    # A KeyboardInterrupt that reaches main() is one line and exit status 130 (issue 23,
    # bug 14), not a traceback.
    status = main(
        [
            *run_args(content, style, vgg_file),
            "--iterations",
            "5",
            "--save-every",
            "2",
            "--output-dir",
            str(out),
            "--seed",
            "3",
        ]
    )
    assert status == 130
    record = _record(str(out))
    assert record["status"] == "interrupted"
    assert [s["iteration"] for s in record["saves"]] == [0]
    assert record["seed"] == 3 and "final" not in record


@pytest.mark.parametrize("name", figures.FIGURES)
def test_figure_command(finished_run, name, tmp_path, capsys):
    out = tmp_path / "figs"
    assert main(["figure", name, "--run-dir", finished_run, "--out-dir", str(out)]) == 0
    assert f"{name}.png" in capsys.readouterr().out
    scale = math.ceil(figures.MIN_TILE_WIDTH / WIDTH)
    th, tw = HEIGHT * scale, WIDTH * scale
    expected = {
        "panel": (
            2 * figures.PAD + 3 * tw + 2 * figures.OPERATOR,
            2 * figures.PAD + th + figures.CAPTION,
        ),
        # 0, 2, 4 and the final image, four to a row.
        "strip": _grid_size(4, 4, th, tw),
        "noise": _grid_size(2, 2, th, tw),
        "costs": (800, 500),
    }[name]
    _assert_figure(out / f"{name}.png", expected)


def test_figures_default_to_all_in_run_dir(finished_run):
    assert main(["figure", "--run-dir", finished_run]) == 0
    for name in figures.FIGURES:
        assert os.path.isfile(os.path.join(finished_run, "figures", f"{name}.png"))


def test_noise_figure_shows_the_runs_initial_image(finished_run, tmp_path):
    assert main(["figure", "noise", "--run-dir", finished_run, "--out-dir", str(tmp_path)]) == 0
    scale = math.ceil(figures.MIN_TILE_WIDTH / WIDTH)
    pixels = _read_png(tmp_path / "noise.png")
    x0 = figures.PAD + WIDTH * scale + figures.GAP
    y0 = figures.PAD
    right_tile = pixels[y0 : y0 + HEIGHT * scale : scale, x0 : x0 + WIDTH * scale : scale]
    # G made again from the recorded seed is the image the run saved at iteration 0.
    np.testing.assert_array_equal(right_tile, _read_png(os.path.join(finished_run, "0.png")))


def test_cost_curve_without_matplotlib_is_one_line(finished_run, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now fails
    assert main(["figure", "costs", "--run-dir", finished_run, "--out-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("nst-tf1: error: ")
    assert "pip install matplotlib" in err
    assert not os.path.exists(tmp_path / "costs.png")
    # The Pillow figures do not need matplotlib.
    assert (
        main(
            [
                "figure",
                "panel",
                "strip",
                "noise",
                "--run-dir",
                finished_run,
                "--out-dir",
                str(tmp_path),
            ]
        )
        == 0
    )
    assert sorted(os.listdir(tmp_path)) == ["noise.png", "panel.png", "strip.png"]
    capsys.readouterr()
    # With no figure named, the ones this install can draw, and a one-line note.
    assert main(["figure", "--run-dir", finished_run, "--out-dir", str(tmp_path / "all")]) == 0
    out, err = capsys.readouterr()
    assert err.startswith("nst-tf1: skipping costs.png: ") and err.count("\n") == 1
    assert out.count("Wrote ") == 3
    assert sorted(os.listdir(tmp_path / "all")) == ["noise.png", "panel.png", "strip.png"]


def test_figure_without_run_is_one_line(tmp_path, capsys):
    assert main(["figure", "panel", "--run-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "run.json: no such file" in err


def _batch_of(finished_run, root, failed=()):
    """A batch output folder holding copies of ``finished_run`` as pair folders; those in
    ``failed`` failed before their final image."""
    import shutil

    for pair in ("a__style", "b__style", *failed):
        shutil.copytree(finished_run, root / pair, ignore=shutil.ignore_patterns("figures"))
    for pair in failed:
        record = _record(root / pair)
        del record["final"]
        record["status"] = "failed"
        (root / pair / "run.json").write_text(json.dumps(record))
    (root / "not_started").mkdir()  # a pair folder without run.json yet: not a pair
    return root


def test_figure_on_a_batch_draws_every_pairs_figures(finished_run, tmp_path, capsys):
    batch = _batch_of(finished_run, tmp_path / "batch")
    assert main(["figure", "--run-dir", str(batch)]) == 0
    out, err = capsys.readouterr()
    assert err == "" and out.count("Wrote ") == 2 * len(figures.FIGURES)
    for pair in ("a__style", "b__style"):
        for name in figures.FIGURES:
            assert f"{batch / pair / 'figures' / name}.png" in out
            _assert_figure(
                batch / pair / "figures" / f"{name}.png", _read_png_size(finished_run, name)
            )
    assert not (batch / "figures").exists() and os.listdir(batch / "not_started") == []
    # --out-dir: one folder per pair under it.
    assert main(["figure", "strip", "--run-dir", str(batch), "--out-dir", str(tmp_path / "o")]) == 0
    assert sorted(os.listdir(tmp_path / "o")) == ["a__style", "b__style"]
    assert os.listdir(tmp_path / "o" / "a__style") == ["strip.png"]


def _read_png_size(finished_run, name):
    """The size of ``name``.png drawn from ``finished_run`` itself."""
    figure = figure_files.run_figure(name, _record(finished_run), run_dir=finished_run)
    return figure.size


def test_figure_on_a_batch_names_the_pairs_it_could_not_draw(finished_run, tmp_path, capsys):
    batch = _batch_of(finished_run, tmp_path / "batch", failed=["c__style"])
    assert main(["figure", "--run-dir", str(batch)]) == 2
    out, err = capsys.readouterr()
    # The other pairs, and the figures the failed pair can give, are all drawn.
    assert out.count("Wrote ") == 3 * len(figures.FIGURES) - 1
    assert sorted(os.listdir(batch / "c__style" / "figures")) == [
        "costs.png",
        "noise.png",
        "strip.png",
    ]
    assert err.count("\n") == 1 and err.startswith("nst-tf1: error: 1 of the 3 pairs in ")
    assert "c__style: panel: " in err and "status 'failed'" in err
    assert f"nst-tf1 figure --run-dir {batch / 'c__style'}" in err
    assert "no such file" not in err


def test_activations_command(vgg_file, image_pair, tmp_path, capsys):
    out = tmp_path / "act.png"
    assert (
        main(
            [
                "activations",
                "--image",
                image_pair[0],
                "--layer",
                "conv4_2",
                "--channels",
                "4",
                "--model",
                vgg_file,
                "--height",
                str(HEIGHT),
                "--width",
                str(WIDTH),
                "--output",
                str(out),
            ]
        )
        == 0
    )
    assert "4 most active of the 64 channels of conv4_2" in capsys.readouterr().out
    # conv4_2 of a 48x64 image is 6x8 (three 2x2 poolings, rounding up).
    scale = math.ceil(figures.MIN_MAP_WIDTH / 8)
    _assert_figure(out, _grid_size(4, 2, 6 * scale, 8 * scale, title=True))


def test_activations_missing_image_is_one_line(vgg_file, tmp_path, capsys):
    assert (
        main(
            [
                "activations",
                "--image",
                str(tmp_path / "nope.jpg"),
                "--model",
                vgg_file,
                "--output",
                str(tmp_path / "a.png"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nope.jpg: no such file" in err


def test_activation_grid_ranks_and_colours_channels():
    # Channel 1 is the most active (constant 5), channel 2 next, channel 0 is all zero.
    a = np.zeros((4, 4, 3), np.float32)
    a[..., 1] = 5.0
    a[:2, :, 2] = 1.0
    fig = np.asarray(figures.activation_grid(a, channels=3, columns=3))
    scale = math.ceil(figures.MIN_MAP_WIDTH / 4)
    centre = figures.PAD + 2 * scale
    step = 4 * scale + figures.GAP

    def colour(tile):
        return tuple(fig[centre, figures.PAD + tile * step + 2 * scale])

    assert colour(0) == (0xFD, 0xE7, 0x25)  # channel 1: its maximum everywhere, yellow
    assert colour(2) == (0x44, 0x01, 0x54)  # channel 0: zero, dark purple
    assert fig[figures.PAD + scale, figures.PAD + step + 2 * scale].tolist() == [0xFD, 0xE7, 0x25]


def test_layer_activations_match_the_graph(vgg_weights_written, image_pair):
    from nst_tf1.images import load_image, reshape_and_normalize_image
    from nst_tf1.vgg import read_vgg_weights

    path = vgg_weights_written[0]
    weights = read_vgg_weights(path)
    image = load_image(image_pair[0], HEIGHT, WIDTH)
    got = figures.layer_activations(weights, image, "conv1_1")
    W, b = weights.layers["conv1_1"]
    x = reshape_and_normalize_image(image)[0].astype(np.float64)
    padded = np.pad(x, ((1, 1), (1, 1), (0, 0)))
    ref = np.zeros((HEIGHT, WIDTH, W.shape[3]))
    for dy in range(3):
        for dx in range(3):
            ref += padded[dy : dy + HEIGHT, dx : dx + WIDTH] @ W[dy, dx].astype(np.float64)
    ref = np.maximum(ref + b, 0)
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-3)


def test_print_model_needs_no_images(vgg_file, tmp_path):
    from nst_tf1.vgg import MODEL_KEYS

    result = run_cli(
        "--print-model",
        "--model",
        vgg_file,
        "--content",
        tmp_path / "none.jpg",
        "--height",
        HEIGHT,
        "--width",
        WIDTH,
        "--output-dir",
        tmp_path / "out",
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert len(lines) == len(MODEL_KEYS)
    # pprint's order (sorted keys), one entry a line, as the course prints it.
    assert [line.split("'")[1] for line in lines] == sorted(MODEL_KEYS)
    assert lines[0] == (
        "{'avgpool1': <tf.Tensor 'vgg19/avgpool1/AvgPool:0' "
        f"shape=(1, {HEIGHT // 2}, {WIDTH // 2}, 8) dtype=float32>,"
    )
    assert lines[-1] == (
        f" 'input': <tf.Variable 'vgg19/input:0' shape=(1, {HEIGHT}, {WIDTH}, 3) "
        "dtype=float32_ref>}"
    )
    assert "Iteration" not in result.stdout
    assert not os.path.exists(tmp_path / "out")


def test_print_model_missing_file_is_one_line(tmp_path):
    result = run_cli("--print-model", "--model", tmp_path / "none.mat")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "none.mat" in result.stderr


def test_print_model_refuses_a_size_no_run_could_fit(vgg_file):
    """16384x16384 ended in a traceback (a tensor proto above 2 GB): one line, exit 2,
    checked before the model is read or the graph built."""
    result = run_cli("--print-model", "--model", vgg_file, "--height", 16384, "--width", 16384)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("nst-tf1: error: a run at 16384x16384, whose graph ")
    assert "of memory" in result.stderr and result.stdout == ""


def test_print_model_says_it_ignores_max_size(vgg_file):
    result = run_cli("--print-model", "--model", vgg_file, "--max-size", 64)
    assert result.returncode == 0, result.stderr
    assert result.stderr == (
        "nst-tf1: --max-size is ignored by --print-model (no content image is read): "
        "showing 300x400\n"
    )
    assert "'input': <tf.Variable 'vgg19/input:0' shape=(1, 300, 400, 3)" in result.stdout


def test_run_beyond_the_course_records_run_json(vgg_file, image_pair, tmp_path):
    out = tmp_path / "out"
    content, style = image_pair
    assert (
        main(
            [
                *run_args(content, style, vgg_file),
                "--iterations",
                "2",
                "--save-every",
                "1",
                "--output-dir",
                str(out),
                "--tv-weight",
                "0.001",
            ]
        )
        == 0
    )
    record = _record(str(out))
    assert record["status"] == "finished" and record["settings"]["tv_weight"] == 0.001
    assert record["costs"]["iteration"] == [0, 1, 2]
    assert [s["iteration"] for s in record["saves"]] == [0, 1]
    assert record["image_size"] == [HEIGHT, WIDTH]
    assert main(["figure", "panel", "noise", "--run-dir", str(out)]) == 0
    # The engine starts from the same noisy image for the recorded seed.
    pixels = _read_png(out / "figures" / "noise.png")
    scale = math.ceil(figures.MIN_TILE_WIDTH / WIDTH)
    x0 = figures.PAD + WIDTH * scale + figures.GAP
    right_tile = pixels[
        figures.PAD : figures.PAD + HEIGHT * scale : scale, x0 : x0 + WIDTH * scale : scale
    ]
    np.testing.assert_array_equal(right_tile, _read_png(out / "0.png"))


def test_logdir_beyond_the_course_is_one_line(vgg_file, image_pair, tmp_path, capsys):
    content, style = image_pair
    assert (
        main(
            [
                "--content",
                content,
                "--style",
                style,
                "--model",
                vgg_file,
                "--output-dir",
                str(tmp_path / "out"),
                "--logdir",
                str(tmp_path / "logs"),
                "--tv-weight",
                "1",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--logdir" in err
    assert not os.path.exists(tmp_path / "logs")


def test_unknown_figure_is_one_line(tmp_path):
    result = run_cli("figure", "bogus", "--run-dir", tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "unknown figure 'bogus'" in result.stderr


def test_strip_entries_keep_first_last_and_final():
    saves = [{"iteration": i} for i in range(0, 1000, 5)]
    final = {"iteration": 1000}
    picked = figure_files.strip_entries(saves, final, max_images=12)
    assert len(picked) == 12 and picked[-1] is final
    assert picked[0]["iteration"] == 0 and picked[-2]["iteration"] == 995
    iterations = [e["iteration"] for e in picked[:-1]]
    assert iterations == sorted(set(iterations))
    # The course's run fits as it is: 0, 20, ..., 180 and the final image.
    course = [{"iteration": i} for i in range(0, 200, 20)]
    assert figure_files.strip_entries(course, final) == course + [final]


def test_all_figures_of_a_fast_run_skip_the_noise_figure(vgg_file, image_pair, tmp_path, capsys):
    """--fast starts at a coarse scale, not from the noisy content image: "all" skips the
    noise figure with a one-line note and still draws the others, the cost curve included;
    asked for by name, it is refused in one line."""
    out = tmp_path / "out"
    content, style = image_pair
    assert main([*run_args(content, style, vgg_file), "--fast", "--iterations", "8",
                 "--height", "64", "--width", "96", "--output-dir", str(out)]) == 0  # fmt: skip
    capsys.readouterr()
    assert main(["figure", "--run-dir", str(out)]) == 0
    printed, err = capsys.readouterr()
    assert err.count("\n") == 1
    assert err.startswith("nst-tf1: skipping noise.png: ") and "--multires 2" in err
    assert sorted(os.listdir(out / "figures")) == ["costs.png", "panel.png", "strip.png"]
    assert printed.count("Wrote ") == 3
    _assert_figure(out / "figures" / "costs.png", (800, 500))
    assert main(["figure", "noise", "--run-dir", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "noise: the run did not start from" in err
    # A batch of such runs: the others drawn for every pair, one note naming the pairs.
    batch = _batch_of(str(out), tmp_path / "batch")
    assert main(["figure", "--run-dir", str(batch)]) == 0
    printed, err = capsys.readouterr()
    assert err.count("\n") == 1, err
    assert err.startswith("nst-tf1: skipping noise.png of 2 of the 2 pairs (a__style, b__style): ")
    assert printed.count("Wrote ") == 6 and "noise.png" not in printed
