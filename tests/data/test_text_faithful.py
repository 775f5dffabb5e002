"""The text steps never damage content: code keeps its bytes, CJK keeps its punctuation, HTML is only
stripped where the text is HTML. Code spans are checked against markdown-it (CommonMark's reference
parser in Python)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lmforge.data.code_spans import is_html_document, split_code
from lmforge.data.steps import StepContext, build_steps
from lmforge.data.steps.strip_html import has_markup

PY = "def f(x):\n    if x:\n        return 1\n\n\n    return  0   \n\tpass\t\n"
PHP = "$output = '<div id=\"fb-root\"></div>';\necho $output;  // keep  <b>this</b>\n"
JSX = (
    'export default function App() {\n  return (\n    <Layout title="Home">\n'
    '      <Header />\n      <div className="app">{children}</div>\n    </Layout>\n  );\n}\n'
)
HTML = '<!DOCTYPE html>\n<html>\n  <body>\n    <p class="x">Hi&amp;bye</p>\n  </body>\n</html>\n'
YAML = "steps:\n  - fix_unicode\n  - {length: {min_words: 3}}   # trailing  spaces  \n"
SHELL = 'for f in *.txt; do\n    echo "$f"  |  wc -l\ndone\r\n'


def fenced(lang: str, code: str, fence: str = "```") -> str:
    return f"{fence}{lang}\n{code.rstrip(chr(10))}\n{fence}"


ANSWERS = [
    f"Here is the function:\n\n{fenced('python', PY)}\n\nCall it  with `f(1)`.",
    f"Use this  snippet:\n{fenced('php', PHP)}\nIt writes the <b>root</b> div.",
    f"Your component:\n\n{fenced('jsx', JSX)}\n\nThen render `<App />` in `index.js`.",
    f"A page:\n\n{fenced('html', HTML, '~~~')}\n",
    f"配置如下：\n\n{fenced('yaml', YAML)}\n\n注意：缩进必须是两个空格！可以吗？",
    f"运行这个脚本，统计行数：\n{fenced('bash', SHELL)}\n完成后，检查输出（每行一个数字）。",
    "Indented code after a paragraph:\n\n    for i in range(3):\n        print(i)   \n\nDone.",
]
STEPS = ["fix_unicode", "strip_html", "normalize"]


def run(text: str, steps=STEPS) -> str:
    for s in build_steps(steps, StepContext()):
        text = s.apply(text)
    return text


def code_of(text: str) -> list[str]:
    return [s.text for s in split_code(text) if s.kind != "prose"]


@pytest.mark.parametrize("answer", ANSWERS)
def test_every_code_block_is_byte_identical_after_the_text_steps(answer):
    out = run(answer)
    assert code_of(out) == code_of(answer) and code_of(answer)
    assert run(out) == out  # a second pass changes nothing


def test_the_issues_examples():
    code = "def f(x):\n    if x:\n        return 1"
    assert run(f"```\n{code}\n```") == f"```\n{code}\n```"
    php = "```php\n$output = '<div id=\"fb-root\"></div>';\n```"
    assert run(f"Try:\n{php}") == f"Try:\n{php}"
    assert "<Header />" in run(f"```jsx\n{JSX}```")
    assert run("```js\nconst a = `x`;\n```") == "```js\nconst a = `x`;\n```"


def test_prose_is_tidied_around_code_and_markup_outside_code_goes():
    out = run(ANSWERS[1])
    assert out.startswith("Use this  snippet:\n```php\n$output = '<div id=\"fb-root\"></div>';")
    assert out.endswith("It writes the root div.")
    assert run("Line one<br>line two  \n\n\n\nend") == "Line one\nline two\n\nend"


CHINESE = "你好，世界！这是“测试”吗？是的：全角标点（，。？！：；）都要保留……《书名》、【注】～"


def test_chinese_punctuation_is_kept():
    assert run(CHINESE) == CHINESE
    assert run(CHINESE, [{"normalize": {"form": "NFKC"}}]) == CHINESE  # NFKC opt-in still keeps it
    mojibake = "你好，世界".encode().decode("cp1252", errors="replace")  # not all bytes map: stays
    assert run("cafÃ© 你好，世界？") == "café 你好，世界？" and mojibake


def test_nfkc_only_when_asked():
    s = "ｆｕｌｌ ｗｉｄｔｈ ﬁne №５"
    assert run(s, ["normalize"]) == s
    assert run(s) == "ｆｕｌｌ ｗｉｄｔｈ fine №５"  # ftfy repairs the ligature, not the width
    assert run(s, [{"normalize": {"form": "NFKC"}}]) == "full width fine No5"
    assert run("ｆｕｌｌ，ｗｉｄｔｈ", [{"fix_unicode": {"fix_character_width": True}}]) == "full,width"
    assert run("“q”", [{"fix_unicode": {"uncurl_quotes": True}}]) == '"q"'


def test_control_characters_out_of_prose_only_and_joiners_kept():
    zwj = "👩\u200d💻 and مي\u200cخواهم"  # an emoji sequence and Persian ZWNJ
    assert run(zwj) == zwj
    assert run("a\x07b\u200bc\ufeff") == "abc"
    assert run("```\na\x07b\n```") == "```\na\x07b\n```"


def test_markdown_list_nesting_and_first_line_indented_code_survive():
    md = "- a\n  - nested  item\n    - deeper"
    assert run(md) == md  # inner spaces stay by default
    assert run(md, [{"normalize": {"inner_spaces": True}}]) == "- a\n  - nested item\n    - deeper"
    assert run("\n\n    x = 1\n    y = 2\n\nDone. ") == "    x = 1\n    y = 2\n\nDone."


def test_is_html_rule():
    assert is_html_document("<!doctype html><p>x") and is_html_document("  <div>x</div>")
    assert not is_html_document("Hello <b>x</b>") and not is_html_document("<Header />\n")
    assert not is_html_document('<div className="x">{a}</div>')
    assert has_markup("a<br>b") and has_markup("see <b>this</b>") and has_markup("<!-- c --> x")
    assert has_markup('<img src="a.png"> here')
    assert not has_markup("use <br> to break a line") and not has_markup("3 < 4 > 2")
    assert not has_markup("x = '<div></div>'") and not has_markup("<App /> and <Foo>bar</Foo>")
    assert not has_markup("send it to <EMAIL>")


def test_text_without_markup_is_untouched_by_strip_html():
    for text in ["use <br> to break", "a < b and c > d", "AT&T &amp; co", "`<div>` in code", "<EMAIL>"]:
        assert run(text, ["strip_html"]) == text


def test_html_fragment_with_a_markdown_fence_keeps_the_fence():
    rec = "<p>Answer:</p>\n```php\n$x = '<b>x</b>';\n```\n<p>Bye&amp;thanks</p>"
    assert run(rec, ["strip_html"]) == "Answer:\n\n```php\n$x = '<b>x</b>';\n```\n\nBye&thanks"


def test_pre_and_code_elements_in_markdown_become_fences_and_inline_code():
    out = run("See <code>f()</code>:\n<pre>if x:\n    y()</pre>\nok", ["strip_html"])
    assert out == "See `f()`:\n\n```\nif x:\n    y()\n```\n\nok"


# --- code spans against markdown-it (CommonMark) ------------------------------------------------


def markdown_it_code(text: str) -> list[str]:
    """The code blocks markdown-it finds: their content, as CommonMark defines it."""
    from markdown_it import MarkdownIt

    blocks = []
    for tok in MarkdownIt("commonmark").parse(text):
        if tok.type in ("fence", "code_block"):
            blocks.append(tok.content)
    return blocks


def our_code_blocks(text: str) -> list[str]:
    """Our block segments' content as markdown-it reports it: fence lines and indentation off."""
    out = []
    for seg in split_code(text, html=False):
        lines = seg.text.split("\n")
        head = lines[0].lstrip(" ")
        end = "\n" if text.find(seg.text) + len(seg.text) < len(text) else ""
        if seg.kind != "code" or head.startswith("`") and len(lines) == 1:
            continue  # prose, or inline code
        if head.startswith(("```", "~~~")):
            indent, fence = len(lines[0]) - len(head), head[:3]
            closed = len(lines) > 1 and lines[-1].strip().startswith(fence)
            body = [line[min(indent, len(line) - len(line.lstrip(" "))) :] for line in lines[1:]]
            out.append("".join(b + "\n" for b in body[:-1]) if closed else "\n".join(body) + end)
        else:
            out.append("".join((ln[4:] if ln.startswith("    ") else ln[1:]) + "\n" for ln in lines))
    return out


MARKDOWN = [
    f"Text\n\n{fenced('python', PY)}\n\nmore",
    "a\n\n    code line\n      more\n\n    after blank\n\nb",
    "~~~~\n```\ninner fence\n```\n~~~~\nend",
    "unclosed\n\n```js\nlet a = 1;\n\n  let b = 2;",
    "para\n    not code (continues the paragraph)\n\n\tcode with a tab\n",
    "```\nbackticks `inside` code\n```\n\n  ```\n  indented fence\n  ```",
]


@pytest.mark.parametrize("text", MARKDOWN)
def test_code_blocks_match_markdown_it(text):
    pytest.importorskip("markdown_it")
    assert our_code_blocks(text) == markdown_it_code(text)


def test_inline_code_matches_markdown_it():
    from markdown_it import MarkdownIt

    text = "Use `a  b`, ``c ` d``, and `e\nf` here; a lone ` stays."
    inline = MarkdownIt("commonmark").parseInline(text)[0].children
    theirs = [t.markup for t in inline if t.type == "code_inline"]
    ours = [s.text for s in split_code(text) if s.kind == "code"]
    assert [o[: len(m)] for o, m in zip(ours, theirs, strict=True)] == theirs and len(ours) == 3


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from([*"ab <>/`~\n\t#-", "    ", "```", "~~~", "<pre>", "</pre>", "<b>", "\r\n"]),
        max_size=40,
    )
)
def test_split_is_lossless_and_steps_never_raise(parts):
    text = "".join(parts)
    assert "".join(s.text for s in split_code(text)) == text
    assert "".join(s.text for s in split_code(text, html=True)) == text
    run(text)


def _in_order(pieces: list[str], text: str) -> bool:
    """Every piece is in `text`, each after the one before."""
    pos = 0
    for p in pieces:
        pos = text.find(p, pos)
        if pos < 0:
            return False
        pos += len(p)
    return True


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                *"ab `~\n\t，？",  # (no control character: "`x`\x07`" -> "`x``" makes other code spans)
                "    ",
                "```",
                "~~~",
                "Ａ",
                "é",
                "  \n",
                "\r\n",
                "\n\n\n",
                " <b>x</b> ",  # (not "<b>```": removing the tag would make a new fence)
                "&amp;",
            ]
        ),
        max_size=40,
    )
)
def test_code_of_the_input_is_in_the_output_unchanged(parts):
    text = "".join(parts)
    assert _in_order(code_of(text), run(text))
