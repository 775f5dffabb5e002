"""Phone numbers for the pii step: libphonenumber's matcher, on numbers written the way people write them.

libphonenumber (the `phonenumbers` port) knows every country's numbering plan, so it decides whether
digits can be a phone number. It does not decide whether they were meant as one: `2147483647`, a Unix
time `1700000000` or a seed `3652260728` are valid numbers in some country. So a number counts only when
it is also written as a phone: a `+` country code (`+49 30 901820`), or digit groups split by spaces,
dashes, dots, slashes or parentheses (`030 901820`, `(212) 736-5000`), or any form right after a phone
word (`call me at 13800138000`, `Tel. 02072193000`). A bare run of digits without such a word (code,
tables, ids) is never a phone, as in presidio, whose phone recognizer scores a match up by such words.
"""

from __future__ import annotations

import re

from phonenumbers import Leniency, PhoneNumberMatcher

# A run of 7+ digits (the shortest numbers with an area code): the only text worth libphonenumber's time
_PHONE_RUN = re.compile(r"\+?\(?\d(?:[ \t.\-/()]{0,3}\d){6,}")
# dates the matcher would parse and reject anyway, at 40 us a region: skipped before it
_DATE = re.compile(r"(?:19|20)\d\d[-./]\d\d?[-./]\d\d?|\d\d?[-./]\d\d?[-./](?:19|20)\d\d")
# one decimal point and nothing else between the digits: a number (`Decimal('3.1415926535')`, a timestamp
# `1652342830.3640375` in Python's docs), no phone; dotted phone numbers have two dots or more
_DECIMAL = re.compile(r"[+-]?\d+\.\d+")
_DOTTED_QUAD = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")  # an IP's shape (`192.168.0.256`): the ip kind's
_ZIP4 = re.compile(
    r"\d{5}-\d{4}"
)  # a US ZIP+4 code: the FSF's `Boston, MA 02110-1301` in 356 copyright files
_CONTEXT = 8  # characters around a run that the matcher sees (it checks the neighbours of a number)
# an identifier word right before the digits: `order no. 2024-000123`, `ISBN 0-306-40615-2` are no phones
_ID_BEFORE = re.compile(
    r"(?:\b(?:isbn(?:-1[03])?|issn|sku|order|invoice|ticket|case|ref(?:erence)?|serial|tracking|booking|"
    r"confirmation|transaction|account|acct|po)\s*(?:no\.?|nr\.?|number|id)?\s*(?:is|was|:)?\s*|#\s*)$",
    re.IGNORECASE,
)
# words that announce a phone number (presidio's context words and their usual short forms, a few
# languages; `call(` is code), up to 30 characters before it on its line
_PHONE_WORD = re.compile(
    r"(?:\b(?:phone|telephone|tel|cell|cellphone|mobile|mob|call|fax|sms|whatsapp|hotline|dial|contact|"
    r"telefon|telefono|teléfono|téléphone|tél|portable|handy|móvil|celular)\b(?!\()|电话|手机|電話|携帯|전화)",
    re.IGNORECASE,
)


def phone_spans(text: str, regions: list[str]) -> list[tuple[int, int]]:
    """Spans of phone numbers: `+CC` numbers of any country that have a possible length, and numbers
    without `+` (`030 901820`, `0049 30 901820`) valid in one of `regions`, tried in order; each written
    as a phone (`written_as_phone`).

    >>> phone_spans("call +49 30 901820 or 020 7219 3000, not 2024-01-02 or 2147483647", ["US", "GB"])
    [(5, 18), (22, 35)]
    """
    spans: list[tuple[int, int]] = []
    for a, b, runs in _windows(text):
        window = text[a:b]
        found: list[tuple[int, int]] = []
        tries = [("ZZ", Leniency.POSSIBLE)] if "+" in window else []  # ZZ: only +CC numbers parse
        for region, leniency in tries + [(r, Leniency.VALID) for r in regions]:
            for m in PhoneNumberMatcher(window, region, leniency=leniency):
                s, e = a + m.start, a + m.end
                if text[s] == "(" and ")" not in text[s:e]:
                    s += 1  # `AMD (800-292-9263)`: the bracket is the sentence's, it stays
                if (
                    any(s < re_ and rs < e for rs, re_ in runs)
                    and not any(s < fe and fs < e for fs, fe in found)
                    and written_as_phone(text, s, e)
                ):
                    found.append((s, e))
            if all(any(rs < fe and fs < re_ for fs, fe in found) for rs, re_ in runs):
                break  # every run of digits is a number: the other regions have nothing left
        spans.extend(found)
    return sorted(spans)


def written_as_phone(text: str, start: int, end: int) -> bool:
    """Whether `text[start:end]` reads as a phone number a person wrote, not a number in code or a table.

    >>> [written_as_phone(t, 0, len(t)) for t in ["+49 30 901820", "030 901820", "2147483647", "1 2 3 4 5 6 7"]]
    [True, True, False, False]
    >>> written_as_phone("Call me at 13800138000", 11, 22), written_as_phone("seed=3652260728", 5, 15)
    (True, False)
    """
    raw = text[start:end]
    before = text[start - 1] if start else " "
    if before.isalnum() or before in "/\\._+-" or _DOTTED_QUAD.fullmatch(raw) or _ZIP4.fullmatch(raw):
        return False  # glued to a word or a path (`bpo-1696199`, `net/1895.22/1013`, `E+12345680`)
    if _PHONE_WORD.search(text, max(text.rfind("\n", 0, start) + 1, start - 30), start):
        return True
    if re.match(r"\+\(?\d", raw) and before not in ")]":  # `+49 ...`, not `x + 907133923`
        return True
    groups = re.findall(r"\d+", raw)
    return (
        len(groups) > 1  # a bare run of digits is an integer, an id, a time
        and max(map(len, groups)) <= 6  # `0 160133733`: a table's columns
        and sum(len(g) == 1 for g in groups) <= 1  # `1 2 3 4 5 6 7 8 9 10`
        and not ("." in raw and re.search(r"[-/]", raw))  # dotted numbers use dots alone: `169.254/16`
    )


def _windows(text: str) -> list[tuple[int, int, list[tuple[int, int]]]]:
    """Merged (start, end, digit runs inside) around each run of 7+ digits that is not a date."""
    out: list[tuple[int, int, list[tuple[int, int]]]] = []
    for m in _PHONE_RUN.finditer(text):
        if (
            _DATE.fullmatch(m.group(0))
            or _DECIMAL.fullmatch(m.group(0))
            or _ID_BEFORE.search(text, max(0, m.start() - 30), m.start())
            or not written_as_phone(text, *m.span())  # the matcher's span may differ: checked again there
        ):
            continue
        a, b = max(0, m.start() - _CONTEXT), m.end() + _CONTEXT
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], b, [*out[-1][2], m.span()])
        else:
            out.append((a, b, [m.span()]))
    return out
