"""The report's figures, drawn with matplotlib's Agg backend and returned as inline PNG data URIs.

`Figure` + `FigureCanvasAgg` instead of pyplot: no global figure state, no GUI backend, safe to call
at the end of a training run in any process.
"""

from __future__ import annotations

import base64
import functools
import io
import sys
import warnings
from collections.abc import Callable, Sequence

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

WIDTH, HEIGHT = 6.4, 3.2  # inches; at DPI 110 about 700 px wide, scaled to ~370 px by CSS on a phone
DPI = 110
# fonts for the words of other scripts (top words, rejection reasons), tried glyph by glyph after
# DejaVu Sans, which has no CJK: whichever of these the machine has (Debian: fonts-wqy-microhei,
# fonts-noto-cjk; macOS and Windows ship PingFang / Hiragino / Microsoft YaHei / Malgun Gothic)
SCRIPT_FONTS = (
    "Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Sans CJK KR", "Source Han Sans SC", "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei", "Droid Sans Fallback", "PingFang SC", "Hiragino Sans GB", "Microsoft YaHei",
    "Malgun Gothic", "Noto Sans Thai", "Noto Sans Devanagari",
)  # fmt: skip


@functools.cache
def fonts() -> list[str]:
    """DejaVu Sans, then the SCRIPT_FONTS this machine has: `['DejaVu Sans', 'WenQuanYi Micro Hei']`."""
    from matplotlib import font_manager

    fm = font_manager.fontManager
    have = {f.name for f in fm.ttflist}
    if not have.intersection(SCRIPT_FONTS):  # matplotlib's font cache predates a font installed later
        known = {f.fname for f in fm.ttflist}
        for path in font_manager.findSystemFonts():
            if path not in known:
                try:
                    fm.addfont(path)
                except (OSError, RuntimeError, ValueError):  # a file FreeType cannot read
                    continue
        have = {f.name for f in fm.ttflist}
    return ["DejaVu Sans", *(f for f in SCRIPT_FONTS if f in have)]


MISSING_GLYPHS: set[str] = (
    set()
)  # matplotlib's warnings, e.g. "Glyph 30005 (...) missing from font(s) DejaVu Sans."


@functools.cache
def _missing_glyphs() -> None:
    print(
        "note: the report's plots draw some characters as boxes: no installed font has them "
        "(Debian: apt-get install fonts-wqy-microhei)",
        file=sys.stderr,
    )


# larger than matplotlib's 10 pt so that tick labels stay legible when a phone halves the image
STYLE = {"font.size": 12, "axes.titlesize": 12, "legend.fontsize": 10}
BLUE, ORANGE, GREEN, GREY = "#1f6fb2", "#e07b1a", "#2e8b57", "#888888"


def _figure(height: float = HEIGHT) -> tuple[Figure, object]:
    fig = Figure(figsize=(WIDTH, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.grid(True, alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    return fig, ax


def styled(draw: Callable[..., str]) -> Callable[..., str]:
    """Run a plotting function under the report's font sizes, without touching global rcParams."""

    @functools.wraps(draw)
    def wrapper(*args, **kwargs) -> str:
        with matplotlib.rc_context({**STYLE, "font.family": fonts()}):  # a list: per-glyph fallback
            return draw(*args, **kwargs)

    return wrapper


def to_data_uri(fig: Figure) -> str:
    """PNG bytes of `fig` as `data:image/png;base64,...`, ready for an <img src>."""
    buf = io.BytesIO()
    with warnings.catch_warnings(record=True) as caught:  # one line per missing glyph: said once instead
        warnings.simplefilter("always")
        fig.savefig(buf, format="png", dpi=DPI, facecolor="white")
    for w in caught:
        if "missing from font" in str(w.message):
            MISSING_GLYPHS.add(str(w.message))
            _missing_glyphs()
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _barh_height(n: int) -> float:
    return max(1.8, 0.36 * n + 0.9)


@styled
def funnel(names: Sequence[str], counts: Sequence[float]) -> str:
    """Records left after each step, top to bottom: `read 100, length 90, dedup 70`."""
    fig, ax = _figure(_barh_height(len(names)))
    y = range(len(names))
    ax.barh(y, counts, color=BLUE)
    ax.set_yticks(list(y), labels=list(names))
    ax.invert_yaxis()  # the first step on top, like a funnel
    top = max(counts) if counts else 1
    for i, c in enumerate(counts):
        ax.text(c + top * 0.01, i, f"{int(c):,}", va="center", fontsize=10)
    ax.set_xlim(0, top * 1.15 or 1)
    ax.set_xlabel("records")
    return to_data_uri(fig)


@styled
def hbar(labels: Sequence[str], values: Sequence[float], xlabel: str, color: str = BLUE) -> str:
    """Horizontal bars, largest first as given: reasons for removal, top words."""
    fig, ax = _figure(_barh_height(len(labels)))
    y = range(len(labels))
    ax.barh(y, values, color=color)
    ax.set_yticks(list(y), labels=[_short(str(label)) for label in labels])
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    return to_data_uri(fig)


def _short(text: str, n: int = 40) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


@styled
def histograms(series: dict[str, tuple[Sequence, Sequence[float]]], xlabel: str) -> str:
    """Histograms from (bins, counts) pairs, overlaid: the lengths before and after cleaning.

    Numeric bins are edges (one more than counts; as many = left edges of equal-width bins) drawn as
    steps; string bins (`"0", "1-1", "2-3", ...`, prepare's power-of-two buckets) as side-by-side bars.
    """
    fig, ax = _figure()
    colors = [GREY, BLUE, ORANGE]
    if any(isinstance(b, str) for bins, _ in series.values() for b in bins):
        labels = list(next(iter(series.values()))[0])
        width = 0.8 / len(series)
        for i, ((name, (_, counts)), color) in enumerate(zip(series.items(), colors, strict=False)):
            xs = [x + (i - (len(series) - 1) / 2) * width for x in range(len(counts))]
            ax.bar(xs, counts, width=width, color=color, label=name)
        ax.set_xticks(range(len(labels)), labels=labels, rotation=45, ha="right")
    else:
        for (name, (bins, counts)), color in zip(series.items(), colors, strict=False):
            edges = list(bins)
            if len(edges) == len(counts) and edges:
                edges.append(edges[-1] + (edges[1] - edges[0] if len(edges) > 1 else 1))
            ax.stairs(counts, edges, fill=True, alpha=0.35, color=color)
            ax.stairs(counts, edges, color=color, label=name, linewidth=1.5)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("records")
    ax.legend(loc="upper right")
    return to_data_uri(fig)


@styled
def grouped_bars(groups: Sequence[str], series: dict[str, Sequence[float]], ylabel: str) -> str:
    """Bars per group, one colour per series: label counts per split."""
    fig, ax = _figure()
    n = max(len(series), 1)
    width = 0.8 / n
    for i, (name, values) in enumerate(series.items()):
        xs = [g + (i - (n - 1) / 2) * width for g in range(len(groups))]
        ax.bar(xs, values, width=width, label=_short(str(name), 24))
    ax.set_xticks(range(len(groups)), labels=list(groups))
    ax.set_ylabel(ylabel)
    if len(series) > 1:
        ax.legend(ncols=min(4, n))
    return to_data_uri(fig)


@styled
def curves(
    lines: dict[str, tuple[Sequence[float], Sequence[float]]],
    ylabel: str,
    best_step: float | None = None,
) -> str:
    """Lines against the optimizer step: loss and val loss, learning rate, tokens per second.

    `best_step` draws the early-stopping point (the step with the lowest val loss) as a dashed line.
    """
    fig, ax = _figure()
    colors = iter([BLUE, ORANGE, GREEN, GREY])
    for label, (xs, ys) in lines.items():
        marker = "o" if len(xs) <= 30 else None  # sparse series (val loss) need visible points
        ax.plot(xs, ys, label=label, color=next(colors), marker=marker, markersize=3, linewidth=1.5)
    if best_step is not None:
        ax.axvline(best_step, color=GREEN, linestyle="--", linewidth=1.2, label=f"best step {best_step:g}")
    ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 5))  # lr 2e-4 as 2 x 1e-4, not 0.000200
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    if len(lines) > 1 or best_step is not None:
        ax.legend()
    return to_data_uri(fig)
