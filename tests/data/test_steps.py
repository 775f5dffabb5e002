"""Each step on inputs whose right answer is known."""

from __future__ import annotations

import pytest

from lmforge.data.record import Record
from lmforge.data.steps import StepContext, build_steps
from lmforge.data.steps.pii import iban_ok, luhn_ok
from lmforge.errors import UserError

PROSE = (
    "The committee met on Tuesday to discuss the budget, and the members agreed that the plan should "
    "move forward with care. They noted that the costs have risen over the past year, with the largest "
    "increase in the transport sector. A report will be prepared for the next meeting, and the public "
    "will be invited to comment on it before any decision is made. The chair thanked everyone for "
    "their work and closed the session early in the afternoon."
)


def step(spec, **ctx):
    return build_steps([spec], StepContext(**ctx))[0]


def rec(**fields):
    return Record(id="x:1", fields=fields, meta={})


def test_fix_unicode():
    # curly quotes stay curly (Chinese is written with them); straightening them is opt-in
    assert step("fix_unicode").apply("cafÃ© â€œquotedâ€\x9d") == "café “quoted”"
    assert step({"fix_unicode": {"uncurl_quotes": True}}).apply("cafÃ© â€œquotedâ€\x9d") == 'café "quoted"'


def test_normalize():
    s = step("normalize")
    # NFC by default: full-width letters stay; NFKC (opt-in) folds them
    assert (
        s.apply("Ｆｕｌｌ  width\x07 text \r\n\n\n\nnext ") == "Ｆｕｌｌ  width text\n\nnext"
    )  # inner spaces stay
    assert step({"normalize": {"form": "NFKC"}}).apply("Ｆｕｌｌ width") == "Full width"
    assert step({"normalize": {"lowercase": True}}).apply("ABC") == "abc"


def test_strip_html_lists_scripts_entities():
    out = step("strip_html").apply("<h1>T</h1><script>alert(1)</script><ul><li>a</li><li>b &amp; c</li></ul>")
    assert out == "T\n\n- a\n- b & c"
    assert step("strip_html").apply("no markup, 3 < 4") == "no markup, 3 < 4"


def test_text_steps_apply_to_every_text_field_or_only_on():
    r = rec(prompt="  A  ", response="B b ", messages=[{"role": "user", "content": " C "}], label="L  ")
    step("normalize").process(r)
    assert r.fields == {
        "prompt": "A",
        "response": "B b",
        "messages": [{"role": "user", "content": "C"}],
        "label": "L  ",
    }
    assert r.original()["prompt"] == "  A  "  # the record as read is kept for rejects.jsonl
    r = rec(prompt="  A  ", response="  B  ")
    step({"normalize": {"on": ["response"]}}).process(r)
    assert r.fields == {"prompt": "  A  ", "response": "B"}


def test_length_chars_words_tokens(tiny_gpt2):
    assert step({"length": {"min_words": 3}}).process(rec(text="one two")) == (
        False,
        "too short (2 words < 3)",
    )
    assert step({"length": {"max_chars": 5}}).process(rec(text="123456")) == (False, "too long (6 chars > 5)")
    assert step({"length": {"min_words": 2, "max_chars": 50}}).process(rec(text="one two")) is True
    tok = step({"length": {"max_tokens": 3, "tokenizer": str(tiny_gpt2)}})
    assert tok.process(rec(text="a b c d e f g h"))[0] is False


def test_language_keeps_and_tags():
    s = step({"language": {"keep": ["en"]}})
    r = rec(text=PROSE)
    assert s.process(r) is True and r.meta["language"] == "en" and r.meta["language_score"] > 0.9
    verdict = s.process(
        rec(text="Le comité s'est réuni mardi pour discuter du budget et des dépenses de l'année.")
    )
    assert verdict[0] is False and verdict[1].startswith("language fr not in ['en']")


def test_luhn_and_iban_checksums():
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert iban_ok("GB82 WEST 1234 5698 7654 32") and iban_ok("DE89370400440532013000")
    assert not iban_ok("GB82 WEST 1234 5698 7654 33")


@pytest.mark.parametrize(
    "text,expected",
    [
        ("write to jane.doe+x@mail.example.org today", "write to <EMAIL> today"),
        ("call +1 (555) 123-4567 now", "call <PHONE> now"),
        ("call 020 7946 0958 now", "call <PHONE> now"),
        ("card 4111 1111 1111 1111 ok", "card <CREDIT_CARD> ok"),
        ("card 4111 1111 1111 1112 ok", "card 4111 1111 1111 1112 ok"),  # fails Luhn: not a card
        ("server 192.168.0.12 and fd12:3456:789a::ff00:42:8329", "server <IP_ADDRESS> and <IP_ADDRESS>"),
        ("version 1.2.3 and 999.1.1.1", "version 1.2.3 and 999.1.1.1"),
        ("pay GB82 WEST 1234 5698 7654 32 please", "pay <IBAN> please"),
        ("pay GB82 WEST 1234 5698 7654 33 please", "pay GB82 WEST 1234 5698 7654 33 please"),
        ("order 12345 on 2024-01-02 at 10:30", "order 12345 on 2024-01-02 at 10:30"),
    ],
)
def test_pii_redaction(text, expected):
    r = rec(text=text)
    assert step("pii").process(r) is True
    assert r.fields["text"] == expected


def test_pii_drop_and_kinds():
    assert step({"pii": {"action": "drop"}}).process(rec(text="mail a@b.io")) == (
        False,
        "contains PII (email x1)",
    )
    r = rec(text="mail a@b.io or 192.168.0.1")
    step({"pii": {"kinds": ["ip"]}}).process(r)
    assert r.fields["text"] == "mail a@b.io or <IP_ADDRESS>" and r.meta["pii"] == {"ip": 1}
    with pytest.raises(UserError):
        step({"pii": {"kinds": ["ssn"]}})


def test_gopher_quality_rules():
    g = step("gopher_quality")
    assert g.keep(PROSE) is True
    assert g.keep("the cat and the dog") == (True, "not judged: shorter than 50 words")  # #28: short
    assert g.keep(" ".join(["xy", "of", "the"] * 30))[1].startswith("mean word length too low")
    assert g.keep(PROSE.replace("the ", "# the "))[1].startswith("too many '#'")
    assert g.keep(" ".join(["apple", "banana", "cherry"] * 30))[1] == "too few stop words (0 < 2)"
    assert step({"gopher_quality": {"min_doc_words": 5}}).keep("the cat and the dog") is True


def test_gopher_repetition_rules():
    g = step("gopher_repetition")
    assert g.keep(PROSE) is True
    assert g.keep("\n".join(["same line here"] * 5 + ["other"]))[1].startswith("duplicate lines")
    assert g.keep(" ".join(["buy cheap watches"] * 30))[0] is False


def test_gopher_repetition_judges_prose_not_code():
    g = step("gopher_repetition")
    block = "```js\nfunction f(a) {\n  if (a) {\n    return 1;\n  }\n  }\n}\n```\n"
    doc = PROSE + "\n\n" + block * 3 + "\nThat is all."
    assert g.keep(doc) is True  # whole text: 17 of its 26 lines repeat (0.65 > 0.3)
    assert g.keep(block * 3) == (True, "not judged: code only")  # for code_quality
    spam = "\n".join(["Buy cheap watches now."] * 5 + ["other"])
    assert g.keep(spam + "\n\n" + block)[1].startswith("duplicate lines")


def test_c4_drops_lines_and_docs():
    c = step("c4")
    r = rec(
        text=(PROSE + " Then they left.").replace(". ", ".\n")
        + "\nclick here\nEnable javascript to view this page."
    )
    assert c.process(r) is True
    assert "click here" not in r.fields["text"] and "javascript" not in r.fields["text"]
    assert c.process(rec(text=PROSE)) == (False, "too few sentences (4 < 5)")
    assert c.process(rec(text=PROSE + "\nLorem ipsum dolor sit amet.")) == (False, "contains 'lorem ipsum'")
    assert c.process(rec(text=PROSE + "\nvar x = {a: 1}.")) == (False, "contains '{'")


def test_fineweb_rules():
    f = step("fineweb")
    assert f.keep(PROSE) is True
    assert f.keep("\n".join(f"item {i}" for i in range(30)))[1].startswith("few lines end in punctuation")
    assert f.keep("\n".join(f"Line {i}." for i in range(9)) + "\n" + PROSE)[1].startswith(
        "too many short lines"
    )
    assert f.keep(PROSE + "\n" + "A repeated line that is long enough.\n" * 3)[1].startswith("duplicate line")


def test_exact_dedup_normalises_case_and_punctuation():
    e = step("exact_dedup")
    drops = e.decide(e.keys(["Hello, World!", "hello world", "other", "HELLO WORLD."]), ["a", "b", "c", "d"])
    assert drops == {1: "exact duplicate of a", 3: "exact duplicate of a"}


def test_near_dedup_reason_names_kept_record():
    n = step({"near_dedup": {"threshold": 0.7}})
    b = PROSE.replace("afternoon", "evening")
    drops = n.decide(
        n.keys([PROSE, "An unrelated short text about gardening tools.", b]), ["a:1", "a:2", "a:3"]
    )
    assert list(drops) == [2]
    assert drops[2].startswith("near-duplicate of a:1 (jaccard 0.")


def test_decontaminate(runner):
    runner.write("eval/test.jsonl", '{"question": "' + PROSE[:200] + '"}\n')
    d = step({"decontaminate": {"against": ["eval/*.jsonl"]}}, base_dir=runner.root)
    assert d.keep("intro. " + PROSE[50:150] + " outro")[1].startswith(
        "eval overlap (13-gram 'and the members agreed"
    )
    assert d.keep("intro. " + PROSE[50:150])[1].endswith(" in eval/test.jsonl:1)")
    assert d.keep("Nothing in common with the eval set at all, not one bit of it.") is True
    with pytest.raises(UserError, match="no eval file"):
        step({"decontaminate": {"against": ["missing/*.jsonl"]}}, base_dir=runner.root)


def test_classical():
    out = step("classical").apply("The cats were running quickly to the houses")
    assert out.split()[:2] == ["cat", "run"] and "the" not in out.split()


def test_custom_callable(runner):
    runner.write(
        "myfilters.py",
        "def f(r):\n    return (False, 'has x') if 'x' in r['text'] else {'text': r['text'].upper()}\n",
    )
    c = step({"custom": {"fn": "myfilters.py:f"}}, base_dir=runner.root)
    assert c.process(rec(text="box")) == (False, "has x")
    r = rec(text="abc")
    assert c.process(r) is True and r.fields["text"] == "ABC"
    with pytest.raises(UserError, match="cannot load"):
        step({"custom": {"fn": "nosuchmodule_xyz:f"}})
