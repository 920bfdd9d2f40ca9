"""The batch's contact sheet: index.html (nothing external, relative links) and a grid PNG."""

import html.parser
import os
import urllib.parse

import numpy as np
import pytest
from conftest import HEIGHT, WIDTH, write_image
from PIL import Image

from nst_tf1 import cli
from nst_tf1.contact_sheet import HTML_FILE, PNG_FILE, THUMBNAIL, read_pairs, write_contact_sheet
from nst_tf1.errors import InputError
from nst_tf1.optimize import Step
from nst_tf1.record import RunRecord


class _Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.src, self.href, self.text = [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "src" in attrs:
            self.src.append(attrs["src"])
        if "href" in attrs:
            self.href.append(attrs["href"])

    def handle_data(self, data):
        self.text.append(data)


def _parse(path):
    links = _Links()
    links.feed(path.read_text(encoding="utf-8"))
    return links


@pytest.fixture(scope="module")
def batch(vgg_file, image_pair, tmp_path_factory):
    """A batch run by the command line: two contents (one a portrait) x one style."""
    from nst_tf1.demo import make_demo_content

    root = tmp_path_factory.mktemp("batch")
    contents = root / "contents"
    contents.mkdir()
    write_image(contents / "land.png", make_demo_content(HEIGHT, WIDTH))
    write_image(contents / "tall.png", make_demo_content(WIDTH, HEIGHT))
    out = root / "out"
    argv = ["--content", contents, "--style", image_pair[1], "--model", vgg_file]
    argv += ["--output-dir", out, "--iterations", 2, "--save-every", 1, "--seed", 0]
    argv += ["--height", HEIGHT, "--width", WIDTH]
    assert cli.main([str(a) for a in argv]) == 0
    return out


def test_contact_sheet_of_a_batch(batch):
    html_path, png_path = write_contact_sheet(batch)
    assert (html_path, png_path) == (str(batch / HTML_FILE), str(batch / PNG_FILE))
    pairs = read_pairs(batch)
    assert [p.folder for p in pairs] == ["land__style", "tall__style"]
    assert all(p.status == "finished" and p.result_label == "final image" for p in pairs)
    assert all(p.seconds is not None and p.seconds > 0 for p in pairs)

    page = _parse(batch / HTML_FILE)
    # Nothing external: every image is inside the page, every link a file of the batch.
    assert len(page.src) == 6 and all(s.startswith("data:image/jpeg;base64,") for s in page.src)
    assert page.href
    for href in page.href:
        assert not urllib.parse.urlsplit(href).scheme and not href.startswith("/")
        target = os.path.realpath(batch / urllib.parse.unquote(href))
        assert target.startswith(os.path.realpath(batch)) and os.path.exists(target)
    assert "land__style/generated_image.jpg" in page.href
    text = " ".join(page.text)
    assert text.count("finished") >= 2 and " s" in text

    with Image.open(png_path) as sheet:
        rgb = np.asarray(sheet.convert("RGB"))
    assert rgb.shape[1] == 2 * 16 + 3 * THUMBNAIL + 2 * 12
    # Each row: a label band, then the three tiles; every tile holds an image (not white).
    for row in range(2):
        top = 16 + 28 + row * (28 + THUMBNAIL + 24 + 12) + 28
        for column in range(3):
            left = 16 + column * (THUMBNAIL + 12)
            tile = rgb[top : top + THUMBNAIL, left : left + THUMBNAIL]
            assert (tile < 250).any(), (row, column)
    # The portrait keeps its shape in its thumbnail: taller than wide.
    tall = rgb[16 + 28 + (28 + THUMBNAIL + 24 + 12) + 28 :][:THUMBNAIL, 16 : 16 + THUMBNAIL]
    columns = np.where((tall < 250).any(axis=(0, 2)))[0]
    assert columns.max() - columns.min() + 1 == round(THUMBNAIL * HEIGHT / WIDTH)


def _record(run_dir, content, style, saves=(), final=None, status=None):
    os.makedirs(run_dir, exist_ok=True)
    record = RunRecord(
        run_dir,
        {"alpha": 10.0, "beta": 40.0, "noise_ratio": 0.6},
        0,
        {"content": str(content), "style": str(style), "output_dir": str(run_dir)},
        {},
        {},
        (HEIGHT, WIDTH),
    )
    image = np.full((HEIGHT, WIDTH, 3), 90, np.uint8)
    for i in saves:
        write_image(os.path.join(run_dir, f"{i}.png"), image)
        record.add_save(Step(i, 3.0, 1.0, 2.0, None), f"{i}.png")
    if final is not None:
        write_image(os.path.join(run_dir, "generated_image.png"), image)
        record.finish(Step(final, 1.0, 0.5, 0.5, None), "generated_image.png")
    elif status:
        record.interrupt(status)
    return record


def test_contact_sheet_shows_every_state_of_a_pair(image_pair, tmp_path):
    content, style = image_pair
    _record(tmp_path / "a_done", content, style, saves=[0], final=4)
    _record(tmp_path / "b_stopped_early", content, style, saves=[0, 2], status="failed")
    # Still "running" but no process holds its folder's lock: it was killed.
    _record(tmp_path / "c_killed", content, style, saves=[0])
    _record(tmp_path / "d_moved_input", tmp_path / "gone.jpg", style, saves=[0], final=1)
    (tmp_path / "e_broken").mkdir()
    (tmp_path / "e_broken" / "run.json").write_text("{not json")
    (tmp_path / "f_not_a_pair").mkdir()  # no run.json: not a pair (yet)

    write_contact_sheet(tmp_path)
    pairs = {p.folder: p for p in read_pairs(tmp_path)}
    assert sorted(pairs) == ["a_done", "b_stopped_early", "c_killed", "d_moved_input", "e_broken"]
    assert pairs["b_stopped_early"].status == "failed"
    assert pairs["b_stopped_early"].result_label == "iteration 2"
    assert pairs["b_stopped_early"].result_file == "2.png"
    assert pairs["c_killed"].status == "killed"
    assert pairs["e_broken"].status == "unreadable"
    page = _parse(tmp_path / HTML_FILE)
    text = " ".join(page.text)
    for word in ("iteration 2", "failed", "killed", "missing", "unreadable", "final image"):
        assert word in text
    assert "b_stopped_early/2.png" in page.href
    # a: 3 images; b, c: 3; d: style and result; e: none.
    assert len(page.src) == 3 + 3 + 3 + 2
    assert (tmp_path / PNG_FILE).is_file()


def test_contact_sheet_replaces_the_old_one_whole(image_pair, tmp_path, monkeypatch):
    content, style = image_pair
    _record(tmp_path / "a", content, style, saves=[0], final=2)
    write_contact_sheet(tmp_path)
    before = {name: (tmp_path / name).read_bytes() for name in (HTML_FILE, PNG_FILE)}
    _record(tmp_path / "b", content, style, saves=[0], final=2)

    def no_rename(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", no_rename)
    with pytest.raises(OSError):
        write_contact_sheet(tmp_path)
    monkeypatch.undo()
    assert {name: (tmp_path / name).read_bytes() for name in before} == before
    assert sorted(os.listdir(tmp_path)) == sorted(["a", "b", HTML_FILE, PNG_FILE])  # no temporaries
    write_contact_sheet(tmp_path)
    assert "b/generated_image.png" in _parse(tmp_path / HTML_FILE).href


def test_contact_sheet_of_a_folder_without_pairs(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no pair folder with a run.json"):
        write_contact_sheet(tmp_path)
    assert os.listdir(tmp_path) == ["empty"]


def _non_utf8_batch(root, content):
    """A content folder holding ``bad<0xff>.jpg`` (a name that is not UTF-8) and ``good.jpg``;
    the test is skipped where the filesystem refuses such a name."""
    contents = root / "contents"
    contents.mkdir()
    with open(content, "rb") as f:
        data = f.read()
    try:
        with open(os.path.join(os.fsencode(contents), b"bad\xff.jpg"), "wb") as f:
            f.write(data)
    except OSError as exc:
        pytest.skip(f"this filesystem refuses a file name that is not UTF-8 ({exc.strerror})")
    (contents / "good.jpg").write_bytes(data)
    return contents


def test_a_batch_over_a_file_name_that_is_not_utf8_writes_its_sheet(
    vgg_file, image_pair, tmp_path, capsys
):
    """The sheet links the pair folder by its bytes on disk and shows the byte as U+FFFD; it
    raised UnicodeEncodeError in urllib.parse.quote after the first pair, every rerun too."""
    contents = _non_utf8_batch(tmp_path, image_pair[0])
    out = tmp_path / "out"
    argv = ["--content", contents, "--style", image_pair[1], "--model", vgg_file]
    argv += ["--output-dir", out, "--iterations", 1, "--height", HEIGHT, "--width", WIDTH]
    for _ in range(2):  # the run, then a rerun with nothing to do: both write the sheet
        assert cli.main([str(a) for a in argv]) == 0
        assert sorted(os.listdir(os.fsencode(out))) == [
            b"bad\xff__style",
            os.fsencode(PNG_FILE),
            b"good__style",
            os.fsencode(HTML_FILE),
        ]
        page = _parse(out / HTML_FILE)  # UTF-8 throughout
        assert "bad%FF__style/" in page.href and "bad%FF__style/generated_image.jpg" in page.href
        for href in page.href:
            target = os.path.join(os.fsencode(out), urllib.parse.unquote_to_bytes(href))
            assert os.path.exists(target), href
        assert "bad\ufffd__style" in page.text and "good__style" in page.text
    assert [p.folder for p in read_pairs(out)] == ["bad\udcff__style", "good__style"]


def test_a_batch_prints_a_file_name_that_is_not_utf8_on_a_strict_stream(
    vgg_file, image_pair, tmp_path, capsys
):
    """On a stream that refuses lone surrogates (pytest's, like a UTF-8 locale other than C),
    the name's byte is printed escaped; the line raised UnicodeEncodeError, taken for a
    closed stdout, and every later line of the batch was dropped."""
    contents = _non_utf8_batch(tmp_path, image_pair[0])
    out = tmp_path / "out"
    argv = ["--content", contents, "--style", image_pair[1], "--model", vgg_file]
    argv += ["--output-dir", out, "--iterations", 1, "--height", HEIGHT, "--width", WIDTH]
    assert cli.main([str(a) for a in argv]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert f"[1/2] {contents}/bad\\udcff.jpg + {image_pair[1]} -> {out}/bad\\udcff__style" in lines
    assert f"[2/2] {contents}/good.jpg + {image_pair[1]} -> {out}/good__style" in lines
    assert f"Contact sheet of the batch: {out}/{HTML_FILE} and {out}/{PNG_FILE}" in lines
