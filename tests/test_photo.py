"""Issue 24, the photo user: the shape of the photo, --style-strength, intermediate images of
--fast and L-BFGS runs, a batch's contact sheet and its one line per pair."""

import json
import os

import numpy as np
import pytest
from conftest import HEIGHT, WIDTH, run_args_into, run_cli, write_image

from nst_tf1 import events
from nst_tf1.config import CONFIG
from nst_tf1.plan import make_plan
from nst_tf1.settings import FAST_MAX_SIZE, STYLE_STRENGTHS, Settings, SettingsError

NO_BF16_CPU = {"fpu", "sse2", "avx2", "fma"}


def _main(*argv, capsys):
    from nst_tf1.cli import main

    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def _image(path, height, width, seed=0):
    """A smooth random RGB image of ``height`` x ``width`` pixels (PNG: exact pixels)."""
    from nst_tf1.demo import make_demo_content

    rng = np.random.default_rng(seed)
    base = make_demo_content(height, width).astype(np.int16)
    return write_image(path, np.clip(base + rng.integers(-8, 9, base.shape), 0, 255))


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """(portrait 80x60 (height x width), landscape 3:4 like the course's 300x400)."""
    directory = tmp_path_factory.mktemp("photos")
    return (
        _image(directory / "portrait.png", 80, 60),
        _image(directory / "landscape.png", 60, 80, seed=1),
    )


# --- style strength -----------------------------------------------------------------------


def test_style_strength_sets_beta_from_alpha_and_explicit_weights_win():
    course = Settings()
    assert (course.alpha, course.beta) == (CONFIG.ALPHA, CONFIG.BETA)
    assert type(course.beta) is type(CONFIG.BETA)  # the course's value itself, in run.json too
    assert Settings(style_strength="medium").beta == CONFIG.BETA
    assert Settings(style_strength="subtle").beta == CONFIG.ALPHA * STYLE_STRENGTHS["subtle"]
    assert Settings(style_strength="strong").beta == CONFIG.ALPHA * STYLE_STRENGTHS["strong"]
    assert STYLE_STRENGTHS["subtle"] < CONFIG.BETA / CONFIG.ALPHA < STYLE_STRENGTHS["strong"]
    assert Settings(style_strength="2.5").beta == 25.0
    assert Settings(style_strength=8, alpha=5).beta == 40.0  # a ratio of the given alpha
    both = Settings(style_strength="strong", beta=7.0)
    assert (both.alpha, both.beta) == (CONFIG.ALPHA, 7.0)  # --beta given explicitly wins


@pytest.mark.parametrize("value", ["loud", "0", "-1", "nan", "inf"])
def test_a_bad_style_strength_names_the_flag_and_the_choices(value):
    with pytest.raises(SettingsError, match="--style-strength: choose from subtle, medium, strong"):
        Settings(style_strength=value)


def test_help_shows_the_style_strength_and_what_it_does():
    result = run_cli("--help")
    text = " ".join(result.stdout.split())
    assert "--style-strength subtle|medium|strong|R" in text
    assert "medium (4 x alpha, the course's 10/40" in text
    assert "subtle (beta = 0.001 x alpha" in text
    assert "--alpha/--beta given explicitly win" in text
    assert "--verbose" in text


def test_style_strength_changes_the_run_as_beta_does(vgg_file, image_pair, tmp_path, capsys):
    records = {}
    for name, flags in (("strength", ["--style-strength", "strong"]), ("beta", ["--beta", 160])):
        out = tmp_path / name
        status, _, err = _main(
            *run_args_into(*image_pair, vgg_file, out, "--iterations", 2), *flags, capsys=capsys
        )
        assert status == 0, err
        with open(out / "run.json") as f:
            records[name] = json.load(f)
    assert records["strength"]["settings"]["beta"] == 160.0
    for key in ("total_cost", "content_cost", "style_cost"):
        assert records["strength"]["costs"][key] == records["beta"]["costs"][key]


# --- the shape of the photo ---------------------------------------------------------------


def test_fast_keeps_the_contents_aspect_ratio_unless_both_sides_are_given():
    fast = Settings(fast=True)
    assert (fast.max_size, fast.height, fast.width) == (FAST_MAX_SIZE, None, None)
    assert fast.chosen_by_fast["max_size"] == FAST_MAX_SIZE == 400
    one = Settings(fast=True, height=200)
    assert one.keep_aspect and one.chosen_by_fast["keep_aspect"] is True
    assert (one.height, one.width) == (200, None)
    both = Settings(fast=True, height=200, width=100)
    assert not both.keep_aspect and not both.max_size and (both.height, both.width) == (200, 100)
    assert Settings(fast=True, max_size=64).max_size == 64
    assert "max_size" not in Settings(fast=True, keep_aspect=True).chosen_by_fast
    course = Settings()  # the course's run: stretched to 300x400, as the course does
    assert (course.height, course.width, course.max_size, course.keep_aspect) == (
        300,
        400,
        None,
        False,
    )


def test_the_plan_names_the_content_images_the_course_run_stretches(photos, image_pair, tmp_path):
    portrait, landscape = photos
    style = image_pair[1]
    plan = make_plan(Settings(content=portrait, style=[style], output_dir=str(tmp_path / "a")))
    [shape] = plan.stretched
    assert shape == (portrait, 80, 60, CONFIG.IMAGE_HEIGHT, CONFIG.IMAGE_WIDTH)
    # 3:4 like 300x400 (within 3%): not stretched.
    plan = make_plan(Settings(content=landscape, style=[style], output_dir=str(tmp_path / "b")))
    assert plan.stretched == []
    # A size option given: the user chose the size, nothing to say.
    for size in ({"height": 300}, {"keep_aspect": True}, {"max_size": 100}, {"fast": True}):
        settings = Settings(content=portrait, style=[style], output_dir=str(tmp_path / "c"), **size)
        assert make_plan(settings).stretched == []
    # A batch: one per stretched image.
    folder = tmp_path / "photos"
    folder.mkdir()
    for path in photos:
        os.symlink(path, folder / os.path.basename(path))
    plan = make_plan(Settings(content=str(folder), style=[style], output_dir=str(tmp_path / "d")))
    assert [shape.path for shape in plan.stretched] == [str(folder / "portrait.png")]


def test_the_course_run_says_in_one_line_that_it_stretches_a_portrait(
    vgg_file, photos, image_pair, tmp_path
):
    from nst_tf1.running import run

    seen = []
    settings = Settings(
        content=photos[0],
        style=[image_pair[1]],
        model=vgg_file,
        output_dir=str(tmp_path / "out"),
        iterations=1,
        seed=0,
    )
    run(settings, seen.append)
    [note] = [e for e in seen if isinstance(e, events.Note) and e.code == "stretched"]
    assert note.level == "note" and "\n" not in note.text
    assert note.text == (
        f"{photos[0]} is 60x80 (width x height): stretched to 400x300 as the course does; "
        "--keep-aspect or --max-size 400 keeps its shape"
    )
    assert note.data["to_height"] == 300 and note.data["to_width"] == 400


def test_fast_keeps_a_portrait_upright_in_a_batch(vgg_file, photos, image_pair, tmp_path, capsys):
    from PIL import Image

    folder = tmp_path / "photos"
    folder.mkdir()
    for path in photos:
        os.symlink(path, folder / os.path.basename(path))
    out = tmp_path / "out"
    status, _, err = _main(
        "--content",
        folder,
        "--style",
        image_pair[1],
        "--model",
        vgg_file,
        "--output-dir",
        out,
        "--fast",
        "--iterations",
        2,
        "--multires",
        1,
        "--precision",
        "fp32",
        "--seed",
        0,
        capsys=capsys,
    )
    assert status == 0, err
    assert "stretched" not in err
    with Image.open(out / "portrait__style" / "generated_image.png") as img:
        assert img.size == (300, 400)  # (width, height): the portrait's 3:4, longer side 400
    with Image.open(out / "landscape__style" / "generated_image.png") as img:
        assert img.size == (400, 300)


# --- seeing results -----------------------------------------------------------------------


def test_fast_saves_intermediate_images_every_few_evaluations(
    vgg_file, image_pair, tmp_path, monkeypatch
):
    from nst_tf1 import graph
    from nst_tf1.running import run

    monkeypatch.setattr(graph, "cpu_info", lambda: {"flags": set(NO_BF16_CPU)})
    seen = []
    out = tmp_path / "fast"
    settings = Settings(
        content=image_pair[0],
        style=[image_pair[1]],
        model=vgg_file,
        output_dir=str(out),
        height=HEIGHT,
        width=WIDTH,
        fast=True,
        multires=1,
        stop_balance=1e-9,  # never reached: every evaluation of the budget runs
        detail_iterations=6,
        iterations=16,
        seed=0,
    )
    assert settings.save_every == 10 and settings.chosen_by_fast["save_every"] == 10
    run(settings, seen.append)
    # Numbered on through the detail phase (0..5) and J's evaluations (6..21).
    saved = [e for e in seen if isinstance(e, events.ImageSaved) and not e.final]
    assert [os.path.basename(e.path) for e in saved] == ["0.png", "10.png", "20.png"]
    assert all(e.total_cost is not None and e.content_cost is not None for e in saved)
    assert {"0.png", "10.png", "20.png", "generated_image.png"} <= set(os.listdir(out))
    with open(out / "run.json") as f:
        record = json.load(f)
    assert [s["iteration"] for s in record["saves"][:3]] == [0, 10, 20]
    steps = [e for e in seen if isinstance(e, events.StepDone)]
    assert [e.step for e in steps if e.scale == e.scales] == list(range(22))
    assert {e.steps for e in steps} == {22}
    # The detail phase's StepDone carry the costs where they are saved only.
    assert [e.step for e in steps if e.total_cost is None] == [1, 2, 3, 4, 5]


def _batch(tmp_path, n=2):
    from nst_tf1.demo import make_demo_content

    contents = tmp_path / "contents"
    contents.mkdir()
    for i in range(n):
        write_image(contents / f"c{i}.png", np.roll(make_demo_content(HEIGHT, WIDTH), 9 * i, 1))
    return contents


def test_a_batch_writes_its_contact_sheet_after_every_pair(
    vgg_file, image_pair, tmp_path, monkeypatch, capsys
):
    from nst_tf1 import batch
    from nst_tf1.contact_sheet import HTML_FILE, PNG_FILE

    real = batch.write_contact_sheet
    pairs_done = []

    def spy(batch_dir):
        pairs_done.append(
            sorted(
                name
                for name in os.listdir(batch_dir)
                if os.path.exists(os.path.join(batch_dir, name, "generated_image.jpg"))
            )
        )
        return real(batch_dir)

    monkeypatch.setattr(batch, "write_contact_sheet", spy)
    contents = _batch(tmp_path, 2)
    out = tmp_path / "out"
    status, stdout, err = _main(
        *run_args_into(contents, image_pair[1], vgg_file, out, "--iterations", 2), capsys=capsys
    )
    assert status == 0, err
    assert pairs_done == [["c0__style"], ["c0__style", "c1__style"]]  # updated per pair
    assert os.path.getsize(out / HTML_FILE) > 0 and os.path.getsize(out / PNG_FILE) > 0
    assert f"Contact sheet of the batch: {out / HTML_FILE} and {out / PNG_FILE}" in stdout


def test_a_batch_rerun_with_nothing_to_do_writes_its_contact_sheet_again(
    vgg_file, image_pair, tmp_path, capsys
):
    """Every pair skipped (all finished) wrote no sheet: a deleted or older one stayed so."""
    from nst_tf1.contact_sheet import HTML_FILE, PNG_FILE

    contents = _batch(tmp_path, 2)
    out = tmp_path / "out"
    args = run_args_into(contents, image_pair[1], vgg_file, out, "--iterations", 1)
    assert _main(*args, capsys=capsys)[0] == 0
    os.remove(out / HTML_FILE)
    os.remove(out / PNG_FILE)
    status, stdout, err = _main(*args, capsys=capsys)
    assert status == 0, err
    assert "Nothing to do: every output exists" in stdout + err
    assert f"Contact sheet of the batch: {out / HTML_FILE} and {out / PNG_FILE}" in stdout
    with open(out / HTML_FILE) as f:
        html = f.read()
    assert "c0__style" in html and "c1__style" in html


def test_a_batch_into_its_own_input_folder_leaves_out_its_contact_sheet(
    vgg_file, image_pair, tmp_path, capsys
):
    """The second run of ``--content D --output-dir D`` ran a pair
    ``D/contact_sheet.png + style -> D/contact_sheet__style``; each rerun one more."""
    from nst_tf1.contact_sheet import PNG_FILE

    folder = _batch(tmp_path, 1)
    args = run_args_into(folder, image_pair[1], vgg_file, folder, "--iterations", 1)
    for _ in range(3):
        status, stdout, err = _main(*args, capsys=capsys)
        assert status == 0, err
        assert "contact_sheet" not in stdout.replace(f"and {folder / PNG_FILE}", "")
    assert sorted(p.name for p in folder.iterdir() if p.is_dir()) == ["c0__style"]
    assert "Nothing to do: every output exists" in stdout + err
    # The style folder is the output folder: its sheet is no style either.
    plan = make_plan(Settings(content=image_pair[0], style=[str(folder)], output_dir=str(folder)))
    assert [job.styles for job in plan.jobs] == [[str(folder / "c0.png")]]


def test_a_batch_leaves_out_only_the_files_it_writes_itself(image_pair, tmp_path):
    """Left out: the output folder's contact sheet and the images a pair of the batch writes
    into its folder or its unfinished/ (here the content folder); not files of those names
    in another folder, nor the user's other files in the pair folder."""
    from nst_tf1.contact_sheet import PNG_FILE
    from nst_tf1.images import ImageInputError

    out = tmp_path / "out"
    pair = out / "a__style"  # the folder the pair of a.png and style.jpg writes into
    pair.mkdir(parents=True)
    (pair / "unfinished").mkdir()
    for name in ("a.png", "b.png", "0.png", "generated_image.png", "generated_image.jpg"):
        write_image(pair / name, np.full((HEIGHT, WIDTH, 3), 90, np.uint8))
    for name in ("a.png", "3.png", "generated_image.jpg", "mine.png"):
        write_image(pair / "unfinished" / name, np.full((HEIGHT, WIDTH, 3), 90, np.uint8))
    photos = out / "photos"  # the user's: a sheet and result names of their own
    photos.mkdir()
    for name in (PNG_FILE, "0.png", "generated_image.jpg"):
        write_image(photos / name, np.full((HEIGHT, WIDTH, 3), 90, np.uint8))
    write_image(out / PNG_FILE, np.full((HEIGHT, WIDTH, 3), 90, np.uint8))

    def contents(folder):
        plan = make_plan(Settings(content=str(folder), style=[image_pair[1]], output_dir=str(out)))
        return sorted(os.path.relpath(job.content, out) for job in plan.jobs)

    assert contents(pair) == ["a__style/a.png", "a__style/b.png"]
    # a.png's pair stages a rerun in a__style/unfinished/: its images there are the batch's.
    assert contents(pair / "unfinished") == [
        "a__style/unfinished/a.png",
        "a__style/unfinished/mine.png",
    ]
    assert contents(photos) == [
        "photos/0.png",
        "photos/contact_sheet.png",
        "photos/generated_image.jpg",
    ]
    # out itself lists only its own sheet: one line, as for a folder without images.
    with pytest.raises(ImageInputError, match="no image files besides the ones this batch"):
        make_plan(Settings(content=str(out), style=[image_pair[1]], output_dir=str(out)))


def test_a_failed_pair_is_on_the_contact_sheet_too(
    vgg_file, image_pair, tmp_path, monkeypatch, capsys
):
    from nst_tf1 import batch, pair

    calls = []
    monkeypatch.setattr(batch, "write_contact_sheet", lambda d: calls.append(d) or ("h", "p"))
    contents = _batch(tmp_path, 2)
    real_load = pair.load_image

    def load(path, *size):
        if path.endswith("c0.png"):
            raise pair.ImageInputError(f"{path}: truncated")
        return real_load(path, *size)

    monkeypatch.setattr(pair, "load_image", load)
    out = tmp_path / "out"
    status, _, err = _main(
        *run_args_into(contents, image_pair[1], vgg_file, out, "--iterations", 1), capsys=capsys
    )
    assert status == 1 and "1 of 2 runs failed" in err
    assert calls == [str(out), str(out)]


def test_a_batch_prints_one_line_per_pair_unless_verbose(vgg_file, image_pair, tmp_path, capsys):
    contents = _batch(tmp_path, 2)
    args = [contents, image_pair[1], vgg_file]
    extra = ("--iterations", 2, "--save-every", 1, "--multires", 2, "--height", 64, "--width", 96)
    status, stdout, err = _main(*run_args_into(*args, tmp_path / "quiet", *extra), capsys=capsys)
    assert status == 0, err
    lines = stdout.splitlines()
    assert [line[:5] for line in lines if line.startswith("[")] == ["[1/2]", "[2/2]"]
    assert not [line for line in lines if line.startswith(("Iteration", "Scale", "Saved"))]
    assert len(lines) == 4, stdout  # the device, 2 pairs, the contact sheet
    status, stdout, err = _main(
        *run_args_into(*args, tmp_path / "verbose", *extra), "--verbose", capsys=capsys
    )
    assert status == 0, err
    assert stdout.count("Iteration 0 :") == 4  # 2 pairs x 2 scales
    assert stdout.count("Scale 2/2") == 2 and stdout.count("Saved ") == 2


def test_a_single_run_prints_the_course_lines_without_verbose(
    vgg_file, image_pair, tmp_path, capsys
):
    status, stdout, err = _main(
        *run_args_into(
            *image_pair, vgg_file, tmp_path / "one", "--iterations", 2, "--save-every", 1
        ),
        capsys=capsys,
    )
    assert status == 0, err
    assert stdout.count("Iteration ") == 2 and "Saved " in stdout
