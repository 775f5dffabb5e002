"""Drive headless Debian Chromium (selenium + chromedriver) and check what a reader of a page sees.

`make test` installs chromium and chromium-driver when missing (the `browser` target); Playwright's own
browser download is not available here, so the system browser is driven instead.
"""

from __future__ import annotations

import io
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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

IMAGES_JS = """return Array.from(document.images).map(
    i => ({src: i.src.slice(0, 30), complete: i.complete, width: i.naturalWidth}));"""
OVERFLOW_JS = "return document.documentElement.scrollWidth - document.documentElement.clientWidth;"


def start_browser() -> Iterator[Any]:
    """A headless Chromium session (skips the test when the browser or selenium is missing)."""
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.skip("chromium/chromedriver missing: run `make browser` (make test does)")
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
    try:
        yield driver
    finally:
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
