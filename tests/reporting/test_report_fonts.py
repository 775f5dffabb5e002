"""The report's plots draw Chinese, Japanese and Korean words with a font that has them (tried after
DejaVu Sans, glyph by glyph), not as empty boxes. CI installs Debian's fonts-wqy-microhei (make browser)."""

from __future__ import annotations

import warnings

import pytest

from lmforge.reporting import plots


def _missing_glyphs(labels: list[str]) -> list[str]:
    plots.MISSING_GLYPHS.clear()
    plots.hbar(labels, [3, 2, 1], "count")
    return sorted(plots.MISSING_GLYPHS)


def test_missing_glyphs_are_one_note_not_a_warning_each(monkeypatch, capsys):
    monkeypatch.setattr(plots, "fonts", lambda: ["DejaVu Sans"])
    plots._missing_glyphs.cache_clear()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        plots.hbar(["电脑", "手机"], [2, 1], "count")
        plots.hbar(["屏幕"], [1], "count")
    assert not [w for w in caught if "missing from font" in str(w.message)]
    assert capsys.readouterr().err.count("draw some characters as boxes") == 1


def test_cjk_words_have_glyphs_when_a_cjk_font_is_installed():
    if len(plots.fonts()) == 1:
        pytest.skip("no CJK font on this machine (Debian: apt-get install fonts-wqy-microhei)")
    assert _missing_glyphs(["电脑", "ありがとう", "감사합니다"]) == []


def test_without_the_fallback_fonts_the_same_words_lose_their_glyphs(monkeypatch):
    monkeypatch.setattr(plots, "fonts", lambda: ["DejaVu Sans"])  # what the report drew before
    assert _missing_glyphs(["电脑", "手机", "屏幕"])
