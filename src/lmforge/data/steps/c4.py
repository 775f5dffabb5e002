"""c4: the C4 rules (Raffel et al. 2020) as datatrove implements them: drop bad lines, then judge the page.

Lines go when they lack terminal punctuation, have < 3 words, a word > 1,000 characters, mention
javascript, or cookie/terms boilerplate; the record goes when it has "lorem ipsum" or "{", or fewer than
5 sentences remain. Kept records lose the dropped lines (in every text field).
"""

from __future__ import annotations

import re
from typing import Any

from lmforge.data.record import Record
from lmforge.data.steps.base import Step

CITATION = re.compile(r"\[\d*]|\[edit]|\[citation needed]")
END_PUNCTUATION = (".", "?", "!", '"', "'")
POLICY = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies")
SENTENCE_END = re.compile(r"[.!?]+[\"')\]]*(?=\s|$)")


class DropDoc(Exception):
    pass


class C4(Step):
    """`{c4: {filter_no_terminal_punct: false}}` is FineWeb's variant."""

    name = "c4"

    def __init__(
        self,
        remove_citations: bool = True,
        filter_no_terminal_punct: bool = True,
        min_num_sentences: int = 5,
        min_words_per_line: int = 3,
        max_word_length: int = 1000,
        filter_lorem_ipsum: bool = True,
        filter_javascript: bool = True,
        filter_curly_bracket: bool = True,
        filter_policy: bool = True,
        **kw,
    ) -> None:
        super().__init__(**kw)
        self.o = dict(locals())

    def clean(self, text: str) -> tuple[str, int]:
        """Kept lines joined, and their sentence count; raises DropDoc for page-level rules."""
        o, kept, sentences = self.o, [], 0
        for line in text.splitlines():
            line = line.strip()
            ws = line.split()
            if o["max_word_length"] != -1 and any(len(w) > o["max_word_length"] for w in ws):
                continue
            if o["remove_citations"]:
                line = CITATION.sub("", line)
            if o["filter_no_terminal_punct"] and (not line.endswith(END_PUNCTUATION) or line.endswith("...")):
                continue
            if len(ws) < o["min_words_per_line"]:
                continue
            low = line.lower()
            if o["filter_lorem_ipsum"] and "lorem ipsum" in low:
                raise DropDoc("contains 'lorem ipsum'")
            if o["filter_javascript"] and "javascript" in low:
                continue
            if o["filter_curly_bracket"] and "{" in line:
                raise DropDoc("contains '{'")
            if o["filter_policy"] and any(p in low for p in POLICY):
                continue
            sentences += max(1, len(SENTENCE_END.findall(line)))
            kept.append(line)
        return "\n".join(kept).strip(), sentences

    def process(self, rec: Record) -> Any:
        keys = rec.text_keys(self.on)
        try:
            cleaned = [self.clean(rec.get(k)) for k in keys]
        except DropDoc as e:
            return False, str(e)
        n = sum(s for _, s in cleaned)
        if self.o["min_num_sentences"] != -1 and n < self.o["min_num_sentences"]:
            return False, f"too few sentences ({n} < {self.o['min_num_sentences']})"
        for k, (text, _) in zip(keys, cleaned, strict=True):
            rec.set(k, text)
        return True
