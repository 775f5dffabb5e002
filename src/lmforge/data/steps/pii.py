"""pii: find emails, phone numbers, IP addresses, credit cards (Luhn) and IBANs (mod 97); redact or drop.

Phone numbers come from libphonenumber (the `phonenumbers` port): its PhoneNumberMatcher, which knows
every country's numbering plan and leaves dates, times and page ranges alone. The other kinds are
regexes that a checksum confirms (Luhn, IBAN mod 97, IP octets via `ipaddress`), so order numbers and
dates are not redacted as cards.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any

import phonenumbers
from phonenumbers import Leniency, PhoneNumberMatcher

from lmforge.data.record import Record
from lmforge.data.steps.base import Step

_DIGIT = re.compile(r"\d")
KINDS = ("email", "iban", "credit_card", "ip", "phone")  # in this order: the more specific kinds first
PLACEHOLDER = {
    "email": "<EMAIL>",
    "phone": "<PHONE>",
    "ip": "<IP_ADDRESS>",
    "credit_card": "<CREDIT_CARD>",
    "iban": "<IBAN>",
}
PATTERNS = {
    "email": re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[a-zA-Z]{2,}\b"),
    "iban": re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b"),
    # cards start with 2-6 (Mastercard 2/5, Amex 3, Visa 4, Discover/UnionPay 6): `0086 21 6321 5000`
    # passes Luhn but is a phone number; digits after a decimal point (`5.666666666666667`) are no card
    "credit_card": re.compile(r"(?<![\d+.,-])[2-6](?:[ -]?\d){12,18}(?![\d-]|[.,]\d)"),
    "ip": re.compile(
        r"(?<![\w.:])(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9a-fA-F]{0,4}(?::[0-9a-fA-F]{0,4}){2,7})(?![\w.:])"
    ),
}
REGIONS = ["US", "GB", "DE", "FR", "CN", "IN"]  # national formats (trunk 0, no +) are read in these
# A run of 7+ digits (the shortest numbers with an area code): the only text worth libphonenumber's time
_PHONE_RUN = re.compile(r"\+?\(?\d(?:[ \t.\-/()]{0,3}\d){6,}")
# dates the matcher would parse and reject anyway, at 40 us a region: skipped before it
_DATE = re.compile(r"(?:19|20)\d\d[-./]\d\d?[-./]\d\d?|\d\d?[-./]\d\d?[-./](?:19|20)\d\d")
# one decimal point and nothing else between the digits: a number (`Decimal('3.1415926535')`, a timestamp
# `1652342830.3640375` in Python's docs), no phone; dotted phone numbers have two dots or more
_DECIMAL = re.compile(r"\d+\.\d+")
_CONTEXT = 8  # characters around a run that the matcher sees (it checks the neighbours of a number)
# an identifier word right before the digits: `order no. 2024-000123`, `ISBN 0-306-40615-2` are no phones
_ID_BEFORE = re.compile(
    r"(?:\b(?:isbn(?:-1[03])?|issn|sku|order|invoice|ticket|case|ref(?:erence)?|serial|tracking|booking|"
    r"confirmation|transaction|account|acct|po)\s*(?:no\.?|nr\.?|number|id)?\s*(?:is|was|:)?\s*|#\s*)$",
    re.IGNORECASE,
)
_VERSION = re.compile(r"\b(?:v|version|ver\.?|build|release|firmware|section|chapter)\s*$", re.IGNORECASE)
# a product's name before it: `[GCC 2.7.2.2]`, `Thunderbird 1.5.0.9`, valgrind's `PP 1.1.1.1/2` read as a version
# when every part has one or two digits. A capital marks the name (`use 10.0.0.1` stays an address), and a
# capitalised word counts only inside a sentence (`Use 10.0.0.1` begins one), an all-caps one anywhere; the
# words that announce an address never do (`Host 10.0.0.1`, `IP 10.1.2.3`)
_NAME = re.compile(r"(?:\b([A-Z][A-Z0-9+-]+)|(?:[^\w.!?\s]\s*|[\w,;]\s+)([A-Z][\w+-]*))\s+\(?$")
_SMALL_PARTS = re.compile(r"\d{1,2}(?:\.\d{1,2}){3}")
_ADDRESS_WORDS = set(
    "ip ipv4 inet address addr host hostname server nameserver dns gateway router proxy peer client ping telnet "
    "ssh ftp http https connect bind listen route netmask mask subnet broadcast localhost from to at on via".split()
)


def luhn_ok(digits: str) -> bool:
    """`luhn_ok("4111111111111111")` -> True."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def iban_ok(text: str) -> bool:
    """`iban_ok("GB82 WEST 1234 5698 7654 32")` -> True (ISO 13616 mod-97 check)."""
    s = text.replace(" ", "")
    if not 15 <= len(s) <= 34:
        return False
    moved = s[4:] + s[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def _ip_ok(m: re.Match) -> bool:
    text = m.group(0)
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    if "." in text:  # "version 1.2.3.4", "build 10.0.0.1", "[GCC 2.7.2.2]": a version that happens to parse
        return not (_VERSION.search(m.string, max(0, m.start() - 12), m.start()) or _named_version(m))
    return text.count(":") >= 2 and len(text) > 6


def _named_version(m: re.Match) -> bool:
    """`[GCC 2.7.2.2]`, `Python 3.11.2.1`: small parts after a capitalised name that starts no sentence."""
    if not _SMALL_PARTS.fullmatch(m.group(0)):
        return False
    line_start = m.string.rfind("\n", 0, m.start()) + 1
    name = _NAME.search(m.string, max(line_start, m.start() - 40), m.start())
    return bool(name) and (name.group(1) or name.group(2)).lower() not in _ADDRESS_WORDS


CHECKS: dict[str, Callable[[re.Match], bool]] = {
    "email": lambda m: True,
    "iban": lambda m: iban_ok(m.group(0)),
    "credit_card": lambda m: luhn_ok(re.sub(r"\D", "", m.group(0))),
    "ip": _ip_ok,
}


def phone_spans(text: str, regions: list[str]) -> list[tuple[int, int]]:
    """Spans of phone numbers: `+CC` numbers of any country that have a possible length, and numbers
    without `+` (`030 901820`, `0049 30 901820`) valid in one of `regions`, tried in order.

    >>> phone_spans("call +49 30 901820 or 020 7219 3000, not 2024-01-02", ["US", "GB"])
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
                if any(s < re_ and rs < e for rs, re_ in runs) and not any(
                    s < fe and fs < e for fs, fe in found
                ):
                    found.append((s, e))
            if all(any(rs < fe and fs < re_ for fs, fe in found) for rs, re_ in runs):
                break  # every run of digits is a number: the other regions have nothing left
        spans.extend(found)
    return sorted(spans)


def _windows(text: str) -> list[tuple[int, int, list[tuple[int, int]]]]:
    """Merged (start, end, digit runs inside) around each run of 7+ digits that is not a date."""
    out: list[tuple[int, int, list[tuple[int, int]]]] = []
    for m in _PHONE_RUN.finditer(text):
        if (
            _DATE.fullmatch(m.group(0))
            or _DECIMAL.fullmatch(m.group(0))
            or _ID_BEFORE.search(text, max(0, m.start() - 30), m.start())
        ):
            continue
        a, b = max(0, m.start() - _CONTEXT), m.end() + _CONTEXT
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], b, [*out[-1][2], m.span()])
        else:
            out.append((a, b, [m.span()]))
    return out


class Pii(Step):
    """`{pii: {kinds: [email, phone], action: redact}}`: "mail a@b.io" -> "mail <EMAIL>"; action drop rejects.

    `regions` are the countries whose national formats (no `+`) count as phone numbers; a `+CC` number
    of any country always does. The counts found per kind go to meta.pii (e.g. {"email": 1}).
    """

    name = "pii"

    def __init__(
        self,
        kinds: list[str] | None = None,
        action: str = "redact",
        regions: list[str] | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(**kw)
        kinds = kinds or list(KINDS)
        unknown = [k for k in kinds if k not in KINDS]
        if unknown or action not in ("redact", "drop"):
            from lmforge.errors import UserError

            raise UserError(
                f"pii: kinds must be among {list(KINDS)} and action redact|drop (got {unknown or action})"
            )
        self.kinds = [k for k in KINDS if k in kinds]
        self.action = action
        self.regions = [r.upper() for r in (REGIONS if regions is None else regions)]
        bad = [r for r in self.regions if r not in phonenumbers.SUPPORTED_REGIONS]
        if bad:
            raise ValueError(f"regions: {bad[0]!r} is not an ISO 3166 region libphonenumber knows (e.g. DE)")

    def redact(self, text: str, found: dict[str, int]) -> str:
        # cheap gates first: most text has no "@" and many texts no digit, so most patterns never run
        has_at, has_digit = "@" in text, _DIGIT.search(text) is not None
        for kind in self.kinds:
            if not (has_at if kind == "email" else has_digit):
                continue
            if kind == "phone":
                text = self._redact_phones(text, found)
                continue

            def sub(m: re.Match, kind: str = kind) -> str:
                if not CHECKS[kind](m):
                    return m.group(0)
                found[kind] = found.get(kind, 0) + 1
                return PLACEHOLDER[kind]

            text = PATTERNS[kind].sub(sub, text)
        return text

    def _redact_phones(self, text: str, found: dict[str, int]) -> str:
        spans = phone_spans(text, self.regions)
        if spans:
            found["phone"] = found.get("phone", 0) + len(spans)
        for s, e in reversed(spans):
            text = text[:s] + PLACEHOLDER["phone"] + text[e:]
        return text

    def process(self, rec: Record) -> Any:
        found: dict[str, int] = {}
        for key in rec.text_keys(self.on):
            clean = self.redact(rec.get(key), found)
            if self.action == "redact":
                rec.set(key, clean)
        if not found:
            return True
        if self.action == "drop":
            return False, f"contains PII ({', '.join(f'{k} x{n}' for k, n in found.items())})"
        rec.meta["pii"] = found
        return True
