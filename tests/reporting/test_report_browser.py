"""The report in headless Chromium: loads without console errors, images decode, not blank, fits a phone."""

from __future__ import annotations

from pathlib import Path

import pytest
from browser_check import DESKTOP, PHONE, assert_page_ok, open_page, pixel_stddev


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
