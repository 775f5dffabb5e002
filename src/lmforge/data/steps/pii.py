"""pii: find emails, phone numbers, IP addresses, credit cards (Luhn) and IBANs (mod 97); redact or drop.

Phone numbers come from libphonenumber (pii_phone: numbers written as phones, never a bare integer in
code); IP addresses from `ipaddress` (pii_ip: versions and documentation examples left alone). The other
kinds are regexes that a checksum confirms (Luhn, IBAN mod 97), so order numbers and dates are not cards.

In a conversation with tool calls, the calls' arguments are redacted too: each string value inside them
(keys, numbers and the JSON's shape untouched), like the turns' text and tool results.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

import phonenumbers

from lmforge.data.record import Record
from lmforge.data.steps import pii_ip
from lmforge.data.steps.base import Step
from lmforge.data.steps.pii_phone import phone_spans

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
    # passes Luhn but is a phone number; digits after a decimal point (`5.666666666666667`) or in a path
    # (web.archive.org's `/web/20180410025338/`) are no card
    "credit_card": re.compile(r"(?<![\d+.,/-])[2-6](?:[ -]?\d){12,18}(?![\d-]|[.,]\d)"),
    "ip": pii_ip.PATTERN,
}
REGIONS = ["US", "GB", "DE", "FR", "CN", "IN"]  # national formats (trunk 0, no +) are read in these


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


CHECKS: dict[str, Callable[[re.Match], bool]] = {
    "email": lambda m: True,
    "iban": lambda m: iban_ok(m.group(0)),
    "credit_card": lambda m: luhn_ok(re.sub(r"\D", "", m.group(0))),
    "ip": pii_ip.is_address,
}


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
        if self.on is None or "messages" in self.on:
            self._redact_calls(rec, found)
        if not found:
            return True
        if self.action == "drop":
            return False, f"contains PII ({', '.join(f'{k} x{n}' for k, n in found.items())})"
        rec.meta["pii"] = found
        return True

    def _redact_calls(self, rec: Record, found: dict[str, int]) -> None:
        """The string values in each tool call's arguments (and a thinking trace), in place."""
        turns = rec.fields.get("messages")
        for turn in turns if isinstance(turns, list) else []:
            if not isinstance(turn, dict):
                continue
            slots = [(turn, "reasoning_content")] + [
                (call["function"], "arguments")
                for call in turn.get("tool_calls") or []
                if isinstance(call, dict) and isinstance(call.get("function"), dict)
            ]
            for holder, key in slots:
                if key not in holder:
                    continue
                clean = redact_values(holder[key], lambda text: self.redact(text, found))
                if self.action == "redact" and clean != holder[key]:
                    if rec.orig is None:  # rejects.jsonl shows the record as read (Record.set does the same)
                        rec.orig = copy.deepcopy(rec.fields)
                    rec.changes += 1
                    holder[key] = clean


def redact_values(value: Any, redact: Callable[[str], str]) -> Any:
    """`value` with `redact` applied to every string inside it; keys, numbers and the shape kept.

    >>> redact_values({"to": ["a@b.io"], "a@b.io": 5}, lambda s: s.replace("a@b.io", "<EMAIL>"))
    {'to': ['<EMAIL>'], 'a@b.io': 5}
    """
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_values(v, redact) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_values(v, redact) for v in value]
    return value
