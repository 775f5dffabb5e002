"""The report's plots draw Chinese, Japanese and Korean words with a font that has them (tried after
DejaVu Sans, glyph by glyph), not as empty boxes. CI installs Debian's fonts-wqy-microhei (make browser)."""

from __future__ import annotations

import warnings

import pytest

from lmforge.reporting import plots


def _missing_glyphs(labels: list[str]) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        plots.hbar(labels, [3, 2, 1], "count")
    return [str(w.message) for w in caught if "missing from font" in str(w.message)]


def test_cjk_words_have_glyphs_when_a_cjk_font_is_installed():
    if len(plots.fonts()) == 1:
        pytest.skip("no CJK font on this machine (Debian: apt-get install fonts-wqy-microhei)")
    assert _missing_glyphs(["电脑", "ありがとう", "감사합니다"]) == []


def test_without_the_fallback_fonts_the_same_words_lose_their_glyphs(monkeypatch):
    monkeypatch.setattr(plots, "fonts", lambda: ["DejaVu Sans"])  # what the report drew before
    assert _missing_glyphs(["电脑", "手机", "屏幕"])
