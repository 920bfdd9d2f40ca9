"""The page of ``nst-tf1 serve`` in a real browser: Playwright driving Debian's chromium.

Skipped, with the reason, when chromium or Playwright is missing outside CI; in CI
(``CI=true``) their absence fails. Screenshots of the page during and after the run are saved
in the test's tmp folder (``pytest --basetemp DIR`` keeps them where you want them).
"""

import os
import re
import time

import pytest
from conftest import HEIGHT, WIDTH, write_image
from serve_server import Server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def _browser_or_skip():
    """The Playwright module, or a skip (a failure in CI) saying what is missing."""
    missing = None
    try:
        import playwright.sync_api as api
    except ImportError:
        api, missing = None, "the playwright package is not installed (pip install -e '.[test]')"
    if missing is None and not os.path.exists(CHROMIUM):
        missing = f"{CHROMIUM} is missing (apt-get install chromium)"
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the browser tests: {missing}")
        pytest.skip(missing)
    return api


@pytest.fixture(scope="module")
def browser():
    api = _browser_or_skip()
    with api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def server(vgg_file, tmp_path_factory):
    server = Server(tmp_path_factory.mktemp("serve-browser"), vgg_file)
    yield server
    server.stop()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(server.url)
    yield page
    context.close()
    assert errors == []


def _images(folder):
    from nst_tf1.demo import make_demo_content, make_demo_style

    content = write_image(folder / "scene.png", make_demo_content(2 * HEIGHT, 2 * WIDTH))
    style = write_image(folder / "painting.png", make_demo_style(2 * HEIGHT, 2 * WIDTH))
    return content, style


def _upload_pair(page, tmp_path):
    """Upload :func:`_images` as the content and the style, as a person would, and wait for
    the status line to say each arrived."""
    from playwright.sync_api import expect

    status = page.get_by_role("status")
    content, style = _images(tmp_path)
    page.get_by_label("Content image", exact=True).set_input_files(content)
    expect(status).to_have_text("uploaded scene.png")
    page.get_by_label("Style image", exact=True).set_input_files(style)
    expect(status).to_have_text("uploaded painting.png")


def test_upload_start_watch_stop_download(page, server, tmp_path):
    from playwright.sync_api import expect

    status = page.get_by_role("status")
    _upload_pair(page, tmp_path)
    assert "scene.png" in page.get_by_label("Content image to use").inner_text()
    page.get_by_label("Height").fill(str(HEIGHT))
    page.get_by_label("Width").fill(str(WIDTH))
    page.get_by_label("Save every").fill("2")
    page.get_by_label("Seed").fill("0")
    iterations = page.get_by_label("Iterations")
    iterations.fill("5000")
    iterations.press("Enter")  # the keyboard starts it (the form's submit: Start)

    expect(status).to_contain_text("running, iteration", timeout=120_000)
    expect(page.get_by_role("button", name="Start")).to_be_disabled()
    generated = page.get_by_alt_text("Generated image", exact=False).first
    sources = []
    deadline = time.monotonic() + 120
    while len(set(sources)) < 3 and time.monotonic() < deadline:
        image = page.locator("#generated")
        if image.is_visible():
            sources.append(image.get_attribute("src"))
        time.sleep(0.2)
    assert len(set(sources)) >= 3, f"the image changed fewer than twice: {sorted(set(sources))}"
    assert page.locator("#generated").get_attribute("alt").startswith("Generated image")
    expect(generated).to_be_visible()
    assert page.locator("#curve polyline").count() >= 1  # the cost curve grows
    expect(page.locator("#eta")).to_contain_text("left")
    page.screenshot(path=str(tmp_path / "during-run.png"), full_page=True)

    # A reload in the middle of the run picks it up where it is, its settings in the form
    # (they were the defaults: Height 300, Iterations empty).
    page.reload()
    expect(status).to_contain_text("running, iteration", timeout=30_000)
    expect(page.locator("#generated")).to_be_visible(timeout=30_000)
    expect(page.get_by_label("Iterations")).to_have_value("5000")
    expect(page.get_by_label("Height")).to_have_value(str(HEIGHT))
    expect(page.get_by_label("Save every")).to_have_value("2")
    expect(page.get_by_label("Content image to use")).to_have_value(re.compile(r"^[0-9a-f]{20}$"))

    page.get_by_role("button", name="Stop").click()
    expect(status).to_have_text("stopped", timeout=120_000)
    expect(page.get_by_role("link", name="Download PNG", exact=True)).to_be_visible(timeout=30_000)
    expect(page.get_by_role("link", name="Download JPEG", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="run.json", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Start")).to_be_enabled()
    with page.expect_download() as info:
        page.get_by_role("link", name="Download PNG", exact=True).click()
    download = info.value
    assert download.suggested_filename.endswith("generated_image.png")
    saved = tmp_path / "downloaded.png"
    download.save_as(saved)
    from PIL import Image

    with Image.open(saved) as image:
        assert image.size == (WIDTH, HEIGHT)
    # The gallery has the run, with the pair's names, and refills the form.
    gallery = page.locator("#gallery-list li").first
    expect(gallery).to_contain_text("stopped")
    page.get_by_label("Iterations").fill("7")
    gallery.get_by_role("button", name="Use these settings").click()
    expect(page.get_by_label("Iterations")).to_have_value("5000")
    expect(page.locator("#form-note")).to_contain_text("filled in")
    expect(status).to_have_text("stopped")  # the status line stays the run's
    expect(page.get_by_label("Save every")).to_have_value("2")
    page.screenshot(path=str(tmp_path / "after-run.png"), full_page=True)


def test_the_keyboard_alone_starts_and_stops_a_run(page):
    """Start, then Stop, pressed with Enter: each button is disabled as it is pressed, which
    dropped the keyboard focus to the top of the page; it goes on to the other button. The
    gallery says how far the stopped run got, not only its budget."""
    from playwright.sync_api import expect

    status = page.get_by_role("status")
    page.get_by_label("Height").fill(str(HEIGHT))
    page.get_by_label("Width").fill(str(WIDTH))
    page.get_by_label("Iterations").fill("5000")
    page.get_by_label("Save every").fill("2")
    start, stop = (page.get_by_role("button", name=name) for name in ("Start", "Stop"))
    start.focus()
    page.keyboard.press("Enter")
    expect(status).to_contain_text("running, iteration", timeout=120_000)
    expect(stop).to_be_focused()
    page.keyboard.press("Enter")
    expect(status).to_have_text("stopped", timeout=120_000)
    expect(start).to_be_enabled()
    expect(start).to_be_focused()
    entry = page.locator("#gallery-list li").first
    expect(entry).to_contain_text("stopped")
    expect(entry).to_contain_text(re.compile(r", [0-9]+ of 5000 iterations,"))


def test_a_text_file_as_the_content_image_shows_the_error(page, tmp_path):
    """... and keeps it when the form is checked again: the check blanked every node of
    class "error", the status line and the upload's message among them."""
    from playwright.sync_api import expect

    notes = tmp_path / "notes.txt"
    notes.write_text("not a picture\n")
    page.get_by_label("Content image", exact=True).set_input_files(str(notes))
    message = "notes.txt: not an image file (Pillow cannot identify its format)"
    expect(page.get_by_role("status")).to_have_text(message)
    expect(page.locator("#error-content")).to_have_text(message)
    page.get_by_label("Height").fill("5")  # a check, seen done when its message shows
    expect(page.locator("#error-height")).to_contain_text("--height: must be at least 32")
    expect(page.get_by_role("status")).to_have_text(message)
    expect(page.locator("#error-content")).to_have_text(message)


def test_a_bad_value_shows_the_settings_message_by_its_field(page):
    from playwright.sync_api import expect

    page.get_by_label("Height").fill("5")
    expect(page.locator("#error-height")).to_have_text(
        "--height: must be at least 32 pixels (the network's five 2x2 poolings), got 5"
    )
    expect(page.get_by_label("Height")).to_have_attribute("aria-invalid", "true")
    page.get_by_role("button", name="Start").click()
    expect(page.get_by_role("status")).to_contain_text("--height: must be at least 32 pixels")
    expect(page.get_by_label("Height")).to_be_focused()  # the refused field, to mend at once
    page.get_by_label("Height").fill("64")
    expect(page.locator("#error-height")).to_have_text("")
    # The refusal stays in the status line until something new replaces it.
    expect(page.get_by_role("status")).to_contain_text("--height: must be at least 32 pixels")


def test_a_refused_field_under_more_options_is_unfolded_and_focused(page):
    from playwright.sync_api import expect

    more = page.locator("summary", has_text="More options")
    more.click()
    page.get_by_label("Learning rate").fill("-1")
    more.click()  # folded again before Start: a folded field cannot take the focus
    start = page.get_by_role("button", name="Start")
    start.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#error-learning_rate")).to_contain_text("--learning-rate")
    expect(page.get_by_label("Learning rate")).to_be_focused()
    expect(page.locator("details", has=more)).to_have_attribute("open", "")
    expect(start).to_be_enabled()


def test_a_file_chosen_while_the_page_starts_is_kept(page, tmp_path):
    """The file inputs listened only once the page had read /api/state: a file chosen
    before that (a fast hand, or a loaded machine: a fresh-clone CI run) was silently
    dropped and the status stayed "idle". Held here until the file is chosen."""
    from playwright.sync_api import expect

    held = []
    page.route("**/api/state", lambda route: held.append(route))
    page.reload()
    while not held:
        page.wait_for_timeout(20)
    content, _ = _images(tmp_path)
    page.get_by_label("Content image", exact=True).set_input_files(content)
    page.wait_for_timeout(200)
    held[0].continue_()
    expect(page.get_by_role("status")).to_have_text("uploaded scene.png")
    expect(page.get_by_label("Content image to use")).to_have_value(re.compile(r"^[0-9a-f]{20}$"))


def test_a_fast_run_through_its_detail_phase_finishes_with_its_curve(page, tmp_path):
    # --fast's detail phase reports evaluations without costs (null): the page must show
    # its progress and draw the curve from the evaluations that have them.
    from playwright.sync_api import expect

    status = page.get_by_role("status")
    _upload_pair(page, tmp_path)
    page.get_by_label("Fast", exact=True).check()
    page.get_by_label("Height").fill("64")  # --fast's half size must keep 32 pixels a side
    page.get_by_label("Width").fill("96")
    page.get_by_label("Seed").fill("0")
    page.get_by_role("button", name="Start").click()
    expect(status).to_contain_text("running, evaluation", timeout=120_000)
    expect(status).to_have_text("finished", timeout=300_000)
    assert page.locator("#curve polyline").count() >= 1
    # The detail phase is a band on the curve, after the half size's 30 evaluations.
    band = page.locator("#curve rect.detail-band")
    expect(band).to_have_count(1)
    assert float(band.get_attribute("width")) > 10 and float(band.get_attribute("x")) > 60
    expect(page.get_by_role("link", name="Download PNG", exact=True)).to_be_visible(timeout=30_000)
    # The gallery counts the output size's whole budget: 40 of the detail phase and 14 of J.
    expect(page.locator("#gallery-list li").first).to_contain_text("64x96, fast, 54 evaluations")
    page.screenshot(path=str(tmp_path / "fast-run.png"), full_page=True)


@pytest.mark.parametrize("width", [375, 320])
def test_a_phone_screen_needs_no_sideways_scrolling(browser, server, width):
    """The gallery's columns were at least 330 px wide: at 375 or 320 px the page was 383 px
    wide. An empty gallery list has its column too."""
    context = browser.new_context(viewport={"width": width, "height": 700})
    try:
        page = context.new_page()
        page.goto(server.url)
        page.get_by_label("Height").wait_for()  # the form is built
        assert page.evaluate("document.documentElement.scrollWidth") <= width
    finally:
        context.close()


def _status_history(page):
    """Start recording every text of the status line (window.statusTexts)."""
    page.evaluate(
        """() => {
            window.statusTexts = [];
            const node = document.getElementById("status");
            new MutationObserver(() => window.statusTexts.push(node.textContent))
                .observe(node, {childList: true, characterData: true, subtree: true});
        }"""
    )


def test_stop_while_the_run_loads_says_stopping_until_it_stops(page):
    """Each event of the loading run overwrote "stopping": it looked as if Stop was ignored."""
    from playwright.sync_api import expect

    page.get_by_label("Height").fill(str(HEIGHT))
    page.get_by_label("Width").fill(str(WIDTH))
    page.get_by_label("Iterations").fill("5000")
    _status_history(page)
    page.get_by_role("button", name="Start").click()
    page.get_by_role("button", name="Stop").click()  # waits until Stop is enabled
    expect(page.get_by_role("status")).to_have_text("stopped", timeout=120_000)
    texts = page.evaluate("window.statusTexts")
    after = texts[texts.index("stopping: the current image is being saved") :]
    assert set(after) == {"stopping: the current image is being saved", "stopped"}, after


def test_the_page_says_the_server_is_gone_and_shows_the_real_state_when_it_is_back(
    browser, vgg_file, tmp_path
):
    """A server killed mid-run, then started again: the page went on saying "running" with
    Stop enabled, and Start stayed disabled until a reload."""
    from playwright.sync_api import expect

    server = Server(tmp_path / "out", vgg_file)
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    try:
        page = context.new_page()
        page.goto(server.url)
        status = page.get_by_role("status")
        start, stop = (page.get_by_role("button", name=name) for name in ("Start", "Stop"))
        page.get_by_label("Height").fill(str(HEIGHT))
        page.get_by_label("Width").fill(str(WIDTH))
        page.get_by_label("Iterations").fill("5000")
        start.click()
        expect(status).to_contain_text("running, iteration", timeout=120_000)
        server.process.kill()  # no word to the page (the run stops itself: its pipe ended)
        server.stop()
        expect(status).to_have_text("the connection to the server was lost: trying again")
        server = Server(tmp_path / "out", vgg_file, "--port", str(server.port))
        expect(status).to_have_text(
            "the run is no longer going on: the server stopped it (see the gallery)",
            timeout=30_000,
        )
        expect(start).to_be_enabled()
        expect(stop).to_be_disabled()
    finally:
        context.close()
        server.stop()
