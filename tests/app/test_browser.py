"""The app in a real browser: headless Chromium (Debian's /usr/bin/chromium) driven by Playwright.

Uploads the astronaut photo, waits for the annotated photo and the table, checks one face,
tries the consent-gated feedback, and saves screenshots (desktop and phone width) to tmp_path
and, when ``FACEAGE_SCREENSHOT`` is set, to that path (the phone one beside it, ``-phone``).
On a phone-sized screen the answer is in view after an upload; the live view gets annotated
frames from Chromium's fake camera; the title is set in one local font.

Needs: ``apt-get install -y chromium`` and ``pip install playwright`` (no ``playwright install``:
Playwright drives the system Chromium and downloads nothing).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from PIL import Image

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # a fake camera (a moving test pattern), allowed without asking: for the live view
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
]
TIMEOUT_MS = 60_000

pytestmark = pytest.mark.browser

if not CHROMIUM.is_file():
    if os.environ.get("FACEAGE_REQUIRE_BROWSER"):  # set by .ci/run: there the test must run
        pytest.fail(f"{CHROMIUM} is missing and FACEAGE_REQUIRE_BROWSER is set", pytrace=False)
    pytest.skip(f"{CHROMIUM} is missing (Debian: apt-get install -y chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
skimage_data = pytest.importorskip("skimage.data")


@pytest.fixture(scope="module")
def server(app_server):
    """(url, feedback store) of the app on the tiny model (see conftest.py)."""
    return app_server


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def save_screenshot(page, tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    target = os.environ.get("FACEAGE_SCREENSHOT")
    if target:
        target = Path(target)
        if name != "desktop":
            target = target.with_name(f"{target.stem}-{name}{target.suffix or '.png'}")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    return path


def test_upload_astronaut_shows_one_face(server, browser, tmp_path):
    url, store = server
    photo = tmp_path / "astronaut.jpg"
    Image.fromarray(skimage_data.astronaut()).save(photo, quality=90)
    expect = sync_api.expect

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    offsite = []
    page.on(
        "request",
        lambda request: (
            None if request.url.startswith(url) or request.url.startswith("data:") else offsite.append(request.url)
        ),
    )
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
    expect(page.get_by_role("heading", name="Age and gender from a face photo")).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.locator("#faceage-intro")).to_contain_text("UTKFace")
    expect(page.locator("#faceage-intro")).to_contain_text("non-commercial")

    page.locator("#faceage-photo input[type=file]").set_input_files(str(photo))

    result = page.locator("#faceage-result img")
    expect(result).to_be_visible(timeout=TIMEOUT_MS)
    expect(result).to_have_attribute("src", re.compile(r"\S"), timeout=TIMEOUT_MS)
    rows = page.locator("#faceage-table [role=grid] [role=row][data-index]")
    expect(rows).to_have_count(1, timeout=TIMEOUT_MS)  # one face
    expect(page.locator("#faceage-message")).to_contain_text("Found 1 face")
    expect(page.locator("#faceage-table [data-testid=cell-0-0]")).to_have_text("1")
    expect(page.locator("#faceage-table [data-testid=cell-0-3]")).to_have_text(re.compile(r"^\s*(female|male)\s*$"))
    expect(page.locator("#faceage-table [data-testid=cell-0-2]")).to_have_text(re.compile(r"^\s*\d+-\d+\s*$"))
    page.wait_for_function(
        "() => { const i = document.querySelector('#faceage-result img');"
        " return i && i.complete && i.naturalWidth > 0; }",
        timeout=TIMEOUT_MS,
    )
    desktop = save_screenshot(page, tmp_path, "desktop")
    assert desktop.stat().st_size > 20_000

    # feedback: nothing is stored until the consent box is ticked
    page.get_by_text("Help improve the model (optional)").click()
    page.locator("#faceage-consent input[type=checkbox]").check()
    page.locator("#faceage-send").click()  # consent but no age: an empty field is not "0 years"
    expect(page.locator("#faceage-feedback-message")).to_contain_text("Enter the real age", timeout=TIMEOUT_MS)
    page.locator("#faceage-consent input[type=checkbox]").uncheck()
    page.locator("#faceage-true-age").locator("input, textarea").fill("40")
    page.locator("#faceage-send").click()
    expect(page.locator("#faceage-feedback-message")).to_contain_text("Nothing was stored", timeout=TIMEOUT_MS)
    assert store.count() == 0
    page.locator("#faceage-consent input[type=checkbox]").check()
    page.locator("#faceage-send").click()
    expect(page.locator("#faceage-feedback-message")).to_contain_text("Thank you", timeout=TIMEOUT_MS)
    page.wait_for_function(IN_VIEW, arg="#faceage-feedback-message", timeout=TIMEOUT_MS)  # not at the edge
    expect(page.locator("#faceage-consent input[type=checkbox]")).not_to_be_checked()  # per entry
    (entry,) = store.entries()
    assert entry.true_age == 40

    # the example photos are thumbnails; the fourth is a cat, no face
    thumbnails = page.locator("#faceage-examples button img")
    expect(thumbnails).to_have_count(4)
    assert all(img.evaluate("i => i.complete && i.naturalWidth > 0") for img in thumbnails.all())
    page.locator("#faceage-examples button").nth(3).click()
    expect(page.locator("#faceage-message")).to_contain_text("No face found", timeout=TIMEOUT_MS)
    expect(rows).to_have_count(0, timeout=TIMEOUT_MS)

    page.close()
    assert not errors, errors
    assert not offsite, f"the page fetched from other sites: {offsite}"


IMAGE_LOADED = (
    "() => { const i = document.querySelector('#faceage-result img'); return i && i.complete && i.naturalWidth > 0; }"
)


#: Whole on the screen, to within a pixel (scrolling an element to the top can leave it a fraction above).
IN_VIEW = """(selector) => { const r = document.querySelector(selector).getBoundingClientRect();
    return r.height > 0 && r.top >= -1 && r.bottom <= window.innerHeight + 1; }"""


def in_viewport(page, selector: str) -> bool:
    """Whether the element is wholly on the screen as it is scrolled now."""
    return page.evaluate(IN_VIEW, selector)


def test_phone_layout(server, browser, tmp_path):
    """On a phone-sized screen the columns stack, nothing needs sideways scrolling, and the answer
    is on the screen right after a photo is analysed, without scrolling."""
    url, _ = server
    photo = tmp_path / "astronaut.jpg"
    Image.fromarray(skimage_data.astronaut()).save(photo, quality=90)
    page = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page.goto(url)
    page.locator("#faceage-photo input[type=file]").set_input_files(str(photo))
    rows = page.locator("#faceage-table [role=grid] [role=row][data-index]")
    sync_api.expect(rows).to_have_count(1, timeout=TIMEOUT_MS)
    page.wait_for_function(IMAGE_LOADED, timeout=TIMEOUT_MS)
    sync_api.expect(page.locator("#faceage-message")).to_contain_text("Found 1 face")
    assert in_viewport(page, "#faceage-result img") and in_viewport(page, "#faceage-message")
    wide = page.evaluate("""() => [...document.querySelectorAll('body *')]
        .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
        .map(e => `${e.tagName}#${e.id}.${e.className}`).slice(-5)""")
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 391, f"the page is {width} px wide on a 390 px phone screen: {wide}"  # 1 px: rounding
    cut = page.evaluate("""() => [...document.querySelectorAll('#faceage-table th .header')]
        .filter(h => h.scrollWidth > h.clientWidth + 1).map(h => h.textContent)""")
    assert not cut, f"column headers cut short on a phone: {cut}"
    photo_box = page.locator("#faceage-photo").bounding_box()
    result_box = page.locator("#faceage-result").bounding_box()
    assert result_box["y"] >= photo_box["y"] + photo_box["height"] - 1  # stacked, not side by side
    save_screenshot(page, tmp_path, "phone")
    page.close()


def test_phone_shows_every_tab(server, browser, tmp_path):
    """On a small phone (360 px, the common Android width) every tab is on the screen, none folded
    into a menu: a wider font (another machine's) must not hide the Video tab."""
    url, _ = server
    page = browser.new_page(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True)
    page.goto(url)
    for name in ("Photo", "Live webcam", "Many photos", "Video"):
        sync_api.expect(page.get_by_role("tab", name=name, exact=True)).to_be_visible(timeout=TIMEOUT_MS)
    save_screenshot(page, tmp_path, "phone-360")
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 361, f"the page is {width} px wide on a 360 px phone screen"  # the table may scroll inside itself
    page.get_by_role("tab", name="Video", exact=True).click()
    sync_api.expect(page.locator("#faceage-video-file")).to_be_visible()
    page.close()


def test_phone_unreadable_file(server, browser, tmp_path):
    """A file that is not a photo: the message is on the screen and the input is cleared
    (no broken image left in it)."""
    url, _ = server
    notes = tmp_path / "notes.jpg"
    notes.write_bytes(b"this is not a photo\n" * 10)
    page = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page.goto(url)
    page.locator("#faceage-photo input[type=file]").set_input_files(str(notes))
    message = page.locator("#faceage-message")
    sync_api.expect(message).to_contain_text("could not be read as a photo", timeout=TIMEOUT_MS)
    sync_api.expect(page.locator("#faceage-photo img")).to_have_count(0, timeout=TIMEOUT_MS)
    page.wait_for_timeout(500)  # the cleared input must not bring back the empty-state text
    sync_api.expect(message).to_contain_text("could not be read as a photo")
    assert in_viewport(page, "#faceage-message")
    page.close()


def test_title_font_and_source_labels(server, browser):
    """The title is set in one local font that has all its letters (Chromium's own count of the
    fonts used), and the photo's sources are labelled in words, not icons only."""
    url, _ = server
    page = browser.new_page(viewport={"width": 390, "height": 844})
    page.goto(url)
    sync_api.expect(page.locator("#faceage-intro h1")).to_be_visible(timeout=TIMEOUT_MS)
    cdp = page.context.new_cdp_session(page)
    root = cdp.send("DOM.getDocument")["root"]["nodeId"]
    cdp.send("CSS.enable")
    title = cdp.send("DOM.querySelector", {"nodeId": root, "selector": "#faceage-intro h1"})["nodeId"]
    fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": title})["fonts"]
    assert len(fonts) == 1 and not fonts[0]["isCustomFont"], fonts
    for name, word in (("Upload file", "Upload"), ("Capture from camera", "Webcam"), ("Paste from clipboard", "Paste")):
        button = page.locator(f"#faceage-photo .source-selection button[aria-label='{name}']")
        assert button.evaluate("b => getComputedStyle(b, '::after').content") == f'"{word}"'
        assert button.evaluate(
            "b => b.getBoundingClientRect().width > 40 && b.getBoundingClientRect().bottom"
            " <= b.parentElement.getBoundingClientRect().bottom + 1"
        )  # the word shows whole
    page.close()


def test_live_webcam_gets_annotated_frames(server, browser):
    """Chromium's fake camera streams to the live view, and annotated frames come back."""
    url, _ = server
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
    page.get_by_role("tab", name="Live webcam", exact=True).click()
    page.get_by_text("Click to Access Webcam").click()
    page.locator("#faceage-camera button", has_text="Record").click(timeout=TIMEOUT_MS)
    frame = (
        "() => { const i = document.querySelector('#faceage-live img');"
        " return i && i.complete && i.naturalWidth > 0 && i.src; }"
    )
    first = page.wait_for_function(frame, timeout=TIMEOUT_MS).json_value()
    assert first.startswith("data:image/jpeg;base64,")  # inline: no file per frame on the server
    page.wait_for_function(f"() => ({frame})() !== {first!r}", timeout=TIMEOUT_MS)  # a stream, not one frame
    page.close()
    assert not errors, errors


def assert_fits_a_phone(page) -> None:
    """No sideways scroll, and no element (a table cell, a chart label) past the screen's right edge."""
    width = page.evaluate("() => document.documentElement.scrollWidth")
    past = page.evaluate("""() => [...document.querySelectorAll('body *')]
        .filter(e => e.getBoundingClientRect().width > 0 && e.getBoundingClientRect().right > window.innerWidth + 1)
        .map(e => `${e.tagName}#${e.id}.${e.className} ${e.getBoundingClientRect().right}`).slice(-5)""")
    assert width <= 391 and not past, f"the page is {width} px wide on a 390 px phone screen: {past}"


def test_phone_many_photos(server, browser, tmp_path):
    """Ten photos on a phone: the table (every column) and the chart fit the screen, and the answer
    is in view once it comes."""
    url, _ = server
    paths = []
    for i in range(10):
        path = tmp_path / f"holiday_photo_with_a_long_name_{i:02d}.jpg"
        Image.fromarray(skimage_data.astronaut()).save(path, quality=80)
        paths.append(str(path))
    page = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page.goto(url)
    page.get_by_role("tab", name="Many photos", exact=True).click()
    page.locator("#faceage-crowd-files input[type=file]").set_input_files(paths)
    message = page.locator("#faceage-crowd-message")
    sync_api.expect(message).to_contain_text("in 10 photos", timeout=TIMEOUT_MS)
    sync_api.expect(page.locator("#faceage-crowd-table [role=grid] [role=row][data-index]").first).to_be_visible()
    page.wait_for_function(IN_VIEW, arg="#faceage-crowd-message", timeout=5000)  # scrolled to once answered
    assert_fits_a_phone(page)
    save_screenshot(page, tmp_path, "phone-crowd")
    page.close()


def test_phone_live_view_is_in_sight(server, browser):
    """On a phone, once Record is pressed, the annotated view is on the screen (not below it)."""
    url, _ = server
    page = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page.goto(url)
    page.get_by_role("tab", name="Live webcam", exact=True).click()
    page.get_by_text("Click to Access Webcam").click()
    page.locator("#faceage-camera button", has_text="Record").click(timeout=TIMEOUT_MS)
    page.wait_for_function(
        "() => { const i = document.querySelector('#faceage-live img');"
        " return i && i.complete && i.naturalWidth > 0; }",
        timeout=TIMEOUT_MS,
    )
    page.wait_for_function(IN_VIEW, arg="#faceage-live img", timeout=TIMEOUT_MS)
    assert_fits_a_phone(page)
    page.close()


def test_phone_video(server, browser, tmp_path):
    """A short clip on a phone: the annotated clip and the people table come back, fitting the screen."""
    import cv2
    import numpy as np

    url, _ = server
    clip = tmp_path / "clip.mp4"
    head = np.asarray(Image.fromarray(skimage_data.astronaut()).crop((100, 0, 360, 260)).resize((150, 150)))
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), 10, (320, 240))
    for index in range(10):
        frame = np.full((240, 320, 3), 80, np.uint8)
        frame[40:190, 60 + index : 210 + index] = head
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    page = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page.goto(url)
    page.get_by_role("tab", name="Video", exact=True).click()
    page.locator("#faceage-video-file input[type=file]").set_input_files(str(clip))
    sync_api.expect(page.locator("#faceage-video-message")).to_contain_text("1 person in 1.0 s", timeout=TIMEOUT_MS)
    sync_api.expect(page.locator("#faceage-video-result video")).to_be_visible(timeout=TIMEOUT_MS)
    sync_api.expect(page.locator("#faceage-video-table [role=grid] [role=row][data-index]")).to_have_count(1)
    assert in_viewport(page, "#faceage-video-message")
    assert_fits_a_phone(page)
    page.close()
