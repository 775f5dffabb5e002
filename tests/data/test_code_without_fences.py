"""Code written without fences (many SFT sets carry it so) keeps its bytes through the text steps; prose is
still tidied, and what normalize changed is counted per kind in the step's notes (issue #28 item 5)."""

from __future__ import annotations

from bench.real_corpora import python_functions

from lmforge.data.code_spans import code_lines, looks_like_code
from lmforge.data.record import Record
from lmforge.data.steps import StepContext, build_steps

STEPS = ["fix_unicode", "strip_html", "normalize"]


def run(text: str, steps=STEPS) -> str:
    for s in build_steps(steps, StepContext()):
        text = s.apply(text)
    return text


def test_real_stdlib_functions_are_byte_identical():
    # CPython's functions as written: the old normalize squeezed `s + '  ' + s` and tabs inside lines, and
    # strip_html converted cgitb's `return '''<!--: spam` (19 of these 120 changed before)
    funcs = python_functions(120, seed=3)
    assert len(funcs) == 120 and all(looks_like_code(f) for f in funcs)
    changed = [f.split("\n")[0] for f in funcs if run(f) != f]
    assert changed == []


def test_code_looking_answers_are_not_rewritten_and_say_so():
    code = "def pad(s):\n    return s + '  ' + s   \n\n\n\ndef tab(x):\n\treturn\tx\n"
    assert run(code) == code
    js = "function f(a) {\n  const b  =  a + 1;  \n  return b;\n}\n"
    assert run(js) == js
    html_in_code = "def reset():\n    return '''<!--: spam\n<body bgcolor=\"#f0f0f8\"> -->'''\n"
    strip = build_steps(["strip_html"], StepContext())[0]
    assert strip.apply(html_in_code) == html_in_code and strip.notes == {"code left as is": 1}
    regex = 'PATTERN = re.compile(r"""\n    (?P<source>\n    (?:^(?P<indent> [ ]*) >>> .*)\n""")\n'
    assert run(regex) == regex


def test_prose_still_loses_trailing_spaces_blank_runs_and_exotic_spaces():
    assert run("Hello  world.  \n\n\n\nBye\u00a0now, \u2009friend. ") == "Hello  world.\n\nBye now,  friend."
    # a line of code among prose keeps its no-break space; inner spaces stay unless asked for
    text = "Set it like this:\nx = '\u00a0'  # nbsp\nand\u00a0then run it."
    assert run(text) == "Set it like this:\nx = '\u00a0'  # nbsp\nand then run it."
    squeeze = [{"normalize": {"inner_spaces": True}}]
    assert run("a  b\tc\nx  =  1;\n", squeeze) == "a b c\nx  =  1;"


def test_notes_count_each_kind_of_change_once_per_record():
    step = build_steps(["normalize"], StepContext())[0]
    prose = {"prompt": "Why?  \n\n\n\nTell me.", "response": "Because.  "}
    code = {"prompt": "Write it.", "response": "def f(x):\n    return x   \n\n\n\n\ndef g():\n    pass\n"}
    for fields in (prose, code):
        step.process(Record(id="r", fields=dict(fields)))
    assert step.notes == {
        "trailing spaces removed": 1,
        "blank-line runs cut": 1,
        "ends stripped": 1,
        "code left as is": 1,
    }


def test_code_lines_follow_indentation_runs_and_strings():
    text = 'def f():\n    """Doc\nstring."""\n    # c\n    return 1\n\nThe end.'
    assert code_lines(text) == [True, True, True, True, True, None, False]
    assert not looks_like_code("Dear team,\nthe build is red again:\n  - lint\n  - tests\nThanks.")
