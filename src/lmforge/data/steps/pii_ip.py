"""IP addresses for the pii step: what `ipaddress` parses, less the versions and reserved examples that
look like addresses.

A dotted quad is an address unless it is a version: after a version word (`version 4.2.1.0`, `build
10.0.0.1`, `__version__ = "0.5.1.2"`, `section "8.2.4.44"`), or after a product's name when every part
has one or two digits (`[GCC 2.7.2.2]`, `User-Agent: Thunderbird 1.5.0.9`, `built with Python 3.11.2.1`).
The name must be a product's, not a person's or a sentence's: an all-caps word (`GCC`, `PP`), or a
capitalised one after an opening bracket, quote or label colon, or after a word that introduces software
(`with`, `using`, `by`, ...), or any word right after a bracket (`(zlib 1.2.0.1)`); or after a word of
time (`since`, `fixed in 1.5.4.1.`); or it numbers a heading (`3.3.2.1. Customizing ...`). `Then Bob
10.0.0.1`, `from Alice 10.0.0.1`, `Use 10.0.0.1` and the words that announce an address (`Host 10.0.0.1`,
`IP 10.1.2.3`) leave it an address.

The ranges reserved for documentation (RFC 5737's 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, RFC
3849's 2001:db8::/32) name no one, so examples keep them (`ipaddress.ip_address('192.0.2.1')` in Python's
docs); private and loopback addresses are redacted like the others.
"""

from __future__ import annotations

import ipaddress
import re

PATTERN = re.compile(
    # IPv4: not inside a longer dotted number, nor after `12:`, nor a package's version (`novas-3.1.1.3`,
    # `novas==3.1.1.3`); a sentence's full stop or a port may follow
    r"(?<![\w.])(?<!\d:)(?<!\w-)(?<![=<>~]=)\d{1,3}(?:\.\d{1,3}){3}(?!\w|\.\w)"
    r"|(?<![\w.:])[0-9a-fA-F]{0,4}(?::[0-9a-fA-F]{0,4}){2,7}(?![\w.:])"
)
DOCUMENTATION = [
    ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
]
_VERSION_WORD = re.compile(
    r"(?:\b(?:v|ver\.?|build|release|firmware|sections?|chapter)|version\w*)\W{0,4}$", re.IGNORECASE
)
_HEADING = re.compile(r"[ \t]*(?:#+[ \t]*)?[\d.]+\.[ \t]")  # `3.3.2.1. Customizing attribute access`
_SMALL_PARTS = re.compile(r"\d{1,2}(?:\.\d{1,2}){3}")
_NAME = re.compile(
    r"(?:\b([A-Z][A-Z0-9+-]+)"  # all caps: GCC, PP, JDK
    r"|(?:[\[(\"'/:=]\s*|\b(?:with|using|by|of|for|in|under|requires|built|compiled|running|runs|uses)\s+)"
    r"([A-Z][\w+-]*)"  # capitalised, after `[`, `: `, `with `, ...
    r"|[\[(]([a-z][\w+-]*)"  # any name right after a bracket: `(zlib 1.2.0.1)`
    r"|\b(since|until|before|after|(?:fixed|added|new|changed|introduced|removed|deprecated|released)\s+in))"
    r"\s+\(?$"  # `fixed in 1.5.4.1.` (git's release notes): a time, so a release
)
_ADDRESS_WORDS = set(
    "ip ipv4 inet address addr host hostname server nameserver dns gateway router proxy peer client ping telnet "
    "ssh ftp http https connect bind listen route netmask mask subnet broadcast localhost from to at on via".split()
)


def is_address(m: re.Match) -> bool:
    """Whether a PATTERN match is an address to redact.

    >>> [is_address(PATTERN.search(t)) for t in ["ping 10.0.0.1.", "Then Bob 10.0.0.1", "[GCC 2.7.2.2]"]]
    [True, True, False]
    """
    text = m.group(0)
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return False
    if any(address in net for net in DOCUMENTATION):
        return False
    if "." in text:
        return not (
            _VERSION_WORD.search(m.string, max(0, m.start() - 16), m.start())
            or _named_version(m)
            or _HEADING.match(m.string, m.string.rfind("\n", 0, m.start()) + 1, m.end() + 2)
        )
    return text.count(":") >= 2 and len(text) > 6


def _named_version(m: re.Match) -> bool:
    """`[GCC 2.7.2.2]`, `with Python 3.11.2.1`: small parts right after a product's name."""
    if not _SMALL_PARTS.fullmatch(m.group(0)):
        return False
    line_start = m.string.rfind("\n", 0, m.start()) + 1
    name = _NAME.search(m.string, max(line_start, m.start() - 40), m.start())
    return bool(name) and next(g for g in name.groups() if g).lower() not in _ADDRESS_WORDS
