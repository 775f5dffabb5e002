"""What the quality rules judge: a text's prose, with its code blocks set aside for the code rules.

Prose rules (gopher_quality, gopher_repetition, c4, fineweb, language) judge `prose_and_code(text).prose`;
code_quality judges its `.code`. A code block is what `code_spans.split_code` finds as a block (fenced,
indented, an HTML code element or inline code alone on its lines) or a run of lines that `code_lines` calls
code without fences. Inline code in a sentence is part of the sentence: `json.dumps` is a word of it.
"""

from __future__ import annotations

import functools
import re
from typing import NamedTuple

from lmforge.data.code_spans import Segment, code_lines, split_code


class Parts(NamedTuple):
    prose: str  # what prose rules judge: the text without its code blocks (inline code stays in its sentence)
    code: list[str]  # each code block's lines: fences and the `<pre>` tags around them left out


# a doctest or shell prompt starts a line of code; a list item (`- a;`, `1. b;`) is prose whatever it ends with
_PROMPT = re.compile(r"\s*(?:>>>|\$) ")
_ITEM = re.compile(r"\s*(?:[-*•]|\d+[.)])\s+\S")
_WORD = re.compile(r"[(\"'“‘]?[^\W\d_]+[)\"'”’]?[,.:;!?]?[)\"'”’]?")  # a word of prose, punctuation around it
_CODE_CHAR = re.compile(r"[(){}\[\];=@#>$]|^\s*(?:import|from|pass|break|continue|else|try|finally)\b", re.M)
_FENCE = re.compile(r"( {0,3})(`{3,}|~{3,})([^\n]*)")  # code_spans' fence line
_TAG = re.compile(r"\A<(\w+)[^>]*>\n?|</\w+\s*>\Z")


def code_blocks(text: str) -> list[Segment]:
    """See `_code_blocks`; a fresh list of the cached segments."""
    return list(_code_blocks(text))


@functools.lru_cache(maxsize=4)
def _code_blocks(text: str) -> tuple[Segment, ...]:
    """Prose and code blocks whose texts join back to `text`: fenced and indented blocks, HTML code elements
    and inline code that fill their lines, and runs of code lines without fences (2+ lines that `code_lines`
    calls code with no prose line between, doctest `>>>` and shell `$` prompts and their output too, or one
    such line that is a paragraph of its own and not a sentence). Inline code inside a sentence stays in its
    prose segment.

    >>> [s.kind for s in code_blocks("Call `f` here:\\n\\nx = f(1)\\nreturn x\\nThat is all.")]
    ['prose', 'code', 'prose']
    """
    merged: list[Segment] = []
    pos = 0
    for seg in split_code(text, html=False):
        end = pos + len(seg.text)
        block = (
            seg.kind != "prose"
            and (pos == 0 or text[pos - 1] == "\n")
            and (end == len(text) or text[end] in "\r\n")
        )
        if not block and merged and merged[-1].kind == "prose":
            merged[-1] = Segment("prose", merged[-1].text + seg.text)
        else:
            merged.append(Segment("code" if block else "prose", seg.text))
        pos = end
    return tuple(
        piece for seg in merged for piece in (_code_runs(seg.text) if seg.kind == "prose" else [seg])
    )


def _line_kinds(lines: list[str], kinds: list[bool | None]) -> list[bool | None]:
    """`code_lines`' kinds with prompts: a `>>>` or `$` line and the output under it (short lines up to a blank
    line or a list item) are code; a list item is prose whatever it ends with (`- the first one;`)."""
    out, session = [], False
    for line, k in zip(lines, kinds, strict=True):
        # output: short lines up to a blank one (Sphinx's text has no blank line before the prose resumes)
        session = bool(_PROMPT.match(line)) or (
            session and 0 < len(line.strip()) < 200 and not _ITEM.match(line)
        )
        out.append(True if session else (False if k and _ITEM.match(line) else k))
    return out


def _sentence(line: str) -> bool:
    """A line of words, though `code_lines` calls it code: `Use it so (see below):`, `@ann thanks!`.

    >>> _sentence("The result is cut at a depth (an ellipsis marks it):"), _sentence("x = load(path)")
    (True, False)
    """
    tokens = line.split()
    return line.lstrip().startswith("@") or (
        len(tokens) >= 6 and sum(bool(_WORD.fullmatch(t)) for t in tokens) >= 0.6 * len(tokens)
    )


def _code_runs(prose: str) -> list[Segment]:
    """A prose segment with its runs of code lines split off as code segments: 2+ code lines, or one that is
    a paragraph of its own (a minified script after a prompt; not a sentence, `_sentence`)."""
    if not _CODE_CHAR.search(prose):  # most prose: no line of it can be code
        return [Segment("prose", prose)]
    lines = prose.split("\n")
    kinds = _line_kinds(lines, code_lines(prose))
    runs, i = [], 0  # (first, last) line of each run of code lines with only blank or comment lines between
    while i < len(lines):
        if not kinds[i]:
            i += 1
            continue
        j = last = i
        while j + 1 < len(lines) and kinds[j + 1] is not False:
            j += 1
            last = j if kinds[j] else last
        alone = (i == 0 or not lines[i - 1].strip()) and (
            last + 1 == len(lines) or not lines[last + 1].strip()
        )
        if sum(map(bool, kinds[i : last + 1])) >= 2 or (alone and not _sentence(lines[i])):
            runs.append((i, last))
        i = last + 1
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line) + 1)
    out, cur = [], 0
    for a, b in runs:
        out += [
            Segment("prose", prose[cur : starts[a]]),
            Segment("code", prose[starts[a] : starts[b + 1] - 1]),
        ]
        cur = starts[b + 1] - 1
    out.append(Segment("prose", prose[cur:]))
    return [s for s in out if s.text]


def code_body(block: str) -> str:
    """A code block's own text: `code_body("```py\\nx = 1\\n```")` -> 'x = 1'; the `<pre>` tags around an HTML
    code element and the backticks around inline code stay out of it too (an indented block keeps its indent)."""
    m = _FENCE.match(block)
    if m and "\n" in block:
        lines = block.split("\n")[1:]
        if lines and set(lines[-1].strip(" \t\r")) == {m.group(2)[0]}:
            lines = lines[:-1]
        return "\n".join(lines)
    if block.startswith("<"):
        return _TAG.sub("", block)
    return block.strip("`") if block.startswith("`") else block


@functools.lru_cache(maxsize=4)  # the rules of a step list ask it of the same text in turn: split it once
def prose_and_code(text: str) -> Parts:
    """The prose to judge and the code blocks set aside (`code_blocks`).

    >>> prose_and_code("Use it so:\\n```\\nrun()\\n```\\nDone.")
    Parts(prose='Use it so:\\n\\nDone.', code=['run()'])
    """
    segs = _code_blocks(text)
    if len(segs) == 1 and segs[0].kind == "prose":
        return Parts(text, [])
    prose = "".join(s.text for s in segs if s.kind == "prose")
    return Parts(prose, [code_body(s.text) for s in segs if s.kind == "code"])
