"""pii: find emails, phone numbers, IP addresses, credit cards (Luhn) and IBANs (mod 97); redact or drop.

Regexes find candidates; checksums (Luhn, IBAN mod 97, IP octets via `ipaddress`) confirm them, so order
numbers and dates are not redacted as cards.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any

from lmforge.data.record import Record
from lmforge.data.steps.base import Step

_DIGIT = re.compile(r"\d")
PLACEHOLDER = {
    "email": "<EMAIL>",
    "phone": "<PHONE>",
    "ip": "<IP_ADDRESS>",
    "credit_card": "<CREDIT_CARD>",
    "iban": "<IBAN>",
}
PATTERNS = {  # checked in this order: the more specific kinds first
    "email": re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[a-zA-Z]{2,}\b"),
    "iban": re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b"),
    "credit_card": re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])"),
    "ip": re.compile(
        r"(?<![\w.:])(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9a-fA-F]{0,4}(?::[0-9a-fA-F]{0,4}){2,7})(?![\w.:])"
    ),
    # not inside a longer run of digit groups (an account number is not a phone number)
    "phone": re.compile(
        r"(?<![\w+])(?<!\d[ .-])(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,4}\)[ .-]?)?\d{2,4}(?:[ .-]\d{2,4}){1,4}"
        r"(?!\w|[ .-]\d)"
    ),
}


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


def _ip_ok(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return "." in text or text.count(":") >= 2 and len(text) > 6


def _phone_ok(text: str) -> bool:
    """10-15 digits, and an international prefix, an area code in parentheses, or local groups ending in
    3-4 digits (`020 7946 0958`, `555-123-4567`); `1234 5678 90 12` is left alone."""
    digits = sum(c.isdigit() for c in text)
    if not 10 <= digits <= 15:
        return False
    if text.startswith("+") or "(" in text:
        return True
    groups = re.split(r"[ .-]", text)
    return 3 <= len(groups) <= 4 and len(groups[-1]) >= 3


CHECKS: dict[str, Callable[[str], bool]] = {
    "email": lambda s: True,
    "iban": iban_ok,
    "credit_card": lambda s: luhn_ok(re.sub(r"\D", "", s)),
    "ip": _ip_ok,
    "phone": _phone_ok,
}


class Pii(Step):
    """`{pii: {kinds: [email, phone], action: redact}}`: "mail a@b.io" -> "mail <EMAIL>"; action drop rejects.

    The counts found per kind go to meta.pii (e.g. {"email": 1}).
    """

    name = "pii"

    def __init__(self, kinds: list[str] | None = None, action: str = "redact", **kw) -> None:
        super().__init__(**kw)
        kinds = kinds or list(PATTERNS)
        unknown = [k for k in kinds if k not in PATTERNS]
        if unknown or action not in ("redact", "drop"):
            from lmforge.errors import UserError

            raise UserError(
                f"pii: kinds must be among {list(PATTERNS)} and action redact|drop (got {unknown or action})"
            )
        self.kinds = [k for k in PATTERNS if k in kinds]
        self.action = action

    def redact(self, text: str, found: dict[str, int]) -> str:
        # cheap gates first: most text has no "@" and many texts no digit, so most patterns never run
        has_at, has_digit = "@" in text, _DIGIT.search(text) is not None
        for kind in self.kinds:
            if not (has_at if kind == "email" else has_digit):
                continue

            def sub(m: re.Match, kind: str = kind) -> str:
                if not CHECKS[kind](m.group(0)):
                    return m.group(0)
                found[kind] = found.get(kind, 0) + 1
                return PLACEHOLDER[kind]

            text = PATTERNS[kind].sub(sub, text)
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
