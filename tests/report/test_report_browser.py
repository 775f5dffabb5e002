"""Open the report in headless Debian Chromium (selenium + chromedriver) and check what a reader sees.

`make test` installs chromium and chromium-driver when missing (the `browser` target); Playwright's own
browser download is not available here, so the system browser is driven instead.
"""

from __future__ import annotations

import io
import shutil
import tempfile
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
]
PHONE, DESKTOP = (390, 844), (1280, 900)

pytestmark = pytest.mark.skipif(
    not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()),
    reason="chromium/chromedriver missing: run `make browser` (make test does)",
)

IMAGES_JS = """return Array.from(document.images).map(
    i => ({src: i.src.slice(0, 30), complete: i.complete, width: i.naturalWidth}));"""
OVERFLOW_JS = "return document.documentElement.scrollWidth - document.documentElement.clientWidth;"


@pytest.fixture(scope="module")
def browser():
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="lmforge-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in [*FLAGS, f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # an explicit driver path: selenium-manager would otherwise try to download one
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def open_page(driver, path: Path, size: tuple[int, int]) -> dict:
    """Load `path` at a window size; return console errors, images, overflow and a screenshot."""
    driver.set_window_size(*size)
    driver.get(path.resolve().as_uri())
    errors = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
    return {
        "errors": errors,
        "images": driver.execute_script(IMAGES_JS),
        "overflow": driver.execute_script(OVERFLOW_JS),
        "png": driver.get_screenshot_as_png(),
    }


def pixel_stddev(png: bytes) -> float:
    """Standard deviation of the grey levels: ~0 for a blank (all white or all black) screenshot."""
    from PIL import Image, ImageStat

    return ImageStat.Stat(Image.open(io.BytesIO(png)).convert("L")).stddev[0]


def assert_page_ok(page: dict) -> None:
    assert page["errors"] == [], page["errors"]
    assert page["images"], "the report has no images"
    broken = [i for i in page["images"] if not i["complete"] or i["width"] == 0]
    assert broken == [], broken
    assert pixel_stddev(page["png"]) > 10, "the screenshot is blank"


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_report_loads_cleanly_in_chromium(browser, tiny_report: Path, size, tmp_path: Path) -> None:
    page = open_page(browser, tiny_report, size)
    assert_page_ok(page)
    assert len(page["images"]) >= 8  # funnel, reasons, lengths, words, labels, loss, lr, tokens/s
    assert page["overflow"] <= 1, "the page scrolls sideways: not readable on a phone"
    assert browser.execute_script(
        "return window.__pwned === undefined && document.title.includes('tiny-run')"
    )
    (tmp_path / f"report-{size[0]}.png").write_bytes(page["png"])


def test_the_checks_catch_a_broken_page(browser, tmp_path: Path) -> None:
    """The same checks fail on a page with a broken image and a console error (they can fail)."""
    bad = tmp_path / "bad.html"
    bad.write_text(
        '<html><body><img src="data:image/png;base64,AAAA">'
        '<script>console.error("boom")</script></body></html>',
        encoding="utf-8",
    )
    page = open_page(browser, bad, DESKTOP)
    assert page["errors"], "a console.error went unnoticed"
    assert page["images"][0]["width"] == 0
    assert pixel_stddev(page["png"]) < 10  # a white page counts as blank
    with pytest.raises(AssertionError):
        assert_page_ok(page)
