"""pii: phone numbers of many countries found in every common format, and number look-alikes left alone."""

from __future__ import annotations

import pytest

from lmforge.data.record import Record
from lmforge.data.steps import StepContext, build_steps
from lmforge.errors import UserError

# Public numbers (offices, switchboards) and plausible mobiles, as people write them: spaces, dots,
# dashes, parentheses, +CC, 00CC (or 001 from the US), national trunk 0 in the default regions.
PHONES = {
    "US": ["(212) 736-5000", "+1 202-456-1111", "212.736.5000", "212-736-5000", "011 49 30 901820"],
    "CA": ["+1 613-992-4793"],
    "GB": ["020 7219 3000", "+44 20 7219 3000", "0044 161 496 0000", "(020) 7219-3000", "07700 900123"],
    "DE": ["+49 30 901820", "030 901820", "0049 89 2180 0", "+49 (0)40 428 410", "030-22 73 21 13"],
    "FR": ["01 42 68 53 00", "+33 1 42 68 53 00", "01.42.68.53.00", "0033 6 12 34 56 78", "06-12-34-56-78"],
    "CN": ["+86 10 6552 9988", "138 0013 8000", "010-6552-9988", "0086 21 6321 5000", "13800138000"],
    "IN": ["+91 98765 43210", "011 2309 2000", "098765 43210", "+91-22-2202-8888"],
    "JP": ["+81 3-3581-0101", "0081 3 3581 0101"],
    "KR": ["+82 2-730-5800"],
    "BR": ["+55 11 3071-0000", "+55 (11) 98765-4321"],
    "MX": ["+52 55 5728 0000"],
    "AU": ["+61 2 6277 7111", "0061 412 345 678"],
    "IT": ["+39 06 6982 1234", "+39 347 123 4567"],
    "ES": ["+34 913 21 76 00", "0034 612 34 56 78"],
    "NL": ["+31 20 552 9111", "+31 6 1234 5678"],
    "SE": ["+46 8 786 40 00"],
    "CH": ["+41 31 322 21 11", "0041 79 123 45 67"],
    "PL": ["+48 22 694 25 00"],
    "RU": ["+7 495 606-36-02", "+7 (916) 123-45-67"],
    "ZA": ["+27 21 464 1500"],
    "NG": ["+234 803 123 4567"],
    "EG": ["+20 2 27956290"],
    "TR": ["+90 312 414 00 00"],
    "AR": ["+54 11 4344-3600"],
    "KE": ["+254 20 2227411", "+254 712 345678"],
    "SG": ["+65 6332 7800"],
    "IE": ["+353 1 618 3000"],
    "NZ": ["+64 4 817 9999"],
}
ALL_PHONES = [(country, p) for country, numbers in PHONES.items() for p in numbers]
LOOK_ALIKES = [
    "2024-01-02",
    "02/01/2024",
    "12.03.2024",
    "2024/01/02",
    "on 2024-01-02 10:30:45",
    "at 10:30:45",
    "Python 3.10.12",
    "version 4.2.1.0",
    "build 10.0.19041.1",
    "v1.2.3.4",
    "release 2.3.4.5",
    "order #71824",
    "order #12345678",
    "Order No. 2024-000123",
    "ticket 4567890",
    "ISBN 978-3-16-148410-0",
    "ISBN 0-306-40615-2",
    "ISBN 9780306406157",
    "SKU-4821-XL",
    "SKU 48213377",
    "part AB-12345-678",
    "model X1234567",
    "$1,299.99",
    ">>> 17 / 3\n5.666666666666667",  # a float's 15 digits pass Luhn (Python's tutorial, bench/prep_docs)
    "EUR 1.299.000,00",
    "1 299 000 RUB",
    "population 1,412,000,000",
    "pi 3.14159265",
    "id 123e4567-e89b-12d3-a456-426614174000",
    "tracking 1Z999AA10123456784",
    "pages 1234-1240",
    "20240102",
    "1234 5678 90 12",
    "48.8566, 2.3522",
    "sha a3f5c2e9b1d47788",
    "zip 90210-1234",
    # versions after a product's name, from Debian's documentation (python3.11-doc, valgrind)
    '"[GCC 2.7.2.2]"',
    "User-Agent: Thunderbird 1.5.0.9 (X11/20061227)",
    "PP 1.1.1.1/2 {",
    "built with Python 3.11.2.1 today",
    ">>> Decimal('3.1415926535')",  # decimal numbers in python3.11-doc's examples were read as phones
    "from print_time 1652342830.3640375",
]


def pii(**opts):
    return build_steps([{"pii": opts}], StepContext())[0]


def redact(step, text: str) -> str:
    rec = Record(id="x:1", fields={"text": text}, meta={})
    step.process(rec)
    return rec.fields["text"]


def test_planted_phones_of_28_countries_all_found():
    assert len(PHONES) >= 20
    step = pii()
    missed = []
    for country, number in ALL_PHONES:
        text = f"Hi, it is Ana ({country}). Call me at {number} after 5pm, thanks."
        if redact(step, text) != text.replace(number, "<PHONE>"):
            missed.append((country, number, redact(step, text)))
    assert missed == []  # recall 100% on this set


def test_the_issue_number_and_several_in_one_text():
    step = pii()
    assert redact(step, "Ruf an: +49 30 901820.") == "Ruf an: <PHONE>."
    text = "Office 020 7219 3000, mobile +33 6 12 34 56 78, fax 030 901820; order #71824 on 2024-01-02."
    assert redact(step, text) == "Office <PHONE>, mobile <PHONE>, fax <PHONE>; order #71824 on 2024-01-02."


@pytest.mark.parametrize("text", LOOK_ALIKES)
def test_look_alikes_are_not_redacted(text):
    sentence = f"Note: {text} was in the message."
    assert redact(pii(), sentence) == sentence


def test_national_formats_follow_regions():
    # "06 12 34 56 78" is a French mobile in national form: found with FR in regions, not without
    assert redact(pii(regions=["FR"]), "tel 06 12 34 56 78") == "tel <PHONE>"
    assert redact(pii(regions=["US"]), "tel 06 12 34 56 78") == "tel 06 12 34 56 78"
    assert redact(pii(regions=[]), "tel +33 6 12 34 56 78") == "tel <PHONE>"  # +CC: any region
    assert redact(pii(regions=["JP"]), "tel 03-3581-0101") == "tel <PHONE>"
    with pytest.raises(UserError, match="regions: 'XX'"):
        pii(regions=["XX"])


@pytest.mark.parametrize(
    "text",
    [
        "sheila 192.168.2.21",  # python3.11-doc's logging cookbook
        "telnet 127.0.0.1",
        "use 10.0.0.1 here",  # no capital: no product name
        "Use 10.0.0.1 here",  # a sentence's first word is no name
        "Host 10.0.0.1",  # a word that announces an address
        "IP 10.1.2.3",
        "GCC 4.8.5 on 10.1.1.1",  # the name is not right before it
        "Google DNS 8.8.8.8",
    ],
)
def test_addresses_next_to_names_still_redacted(text):
    ip = text.split()[-2 if text.endswith("here") else -1]
    assert redact(pii(), text) == text.replace(ip, "<IP_ADDRESS>")


def test_other_kinds_still_checked():
    step = pii()
    text = "mail a.b@example.org, card 4111 1111 1111 1111, iban DE89 3704 0044 0532 0130 00, ip 10.0.0.7"
    assert redact(step, text) == "mail <EMAIL>, card <CREDIT_CARD>, iban <IBAN>, ip <IP_ADDRESS>"
    assert redact(step, "card 4111 1111 1111 1112") == "card 4111 1111 1111 1112"  # fails Luhn
    rec = Record(id="x:1", fields={"text": "call +44 20 7219 3000 or 020 7219 3000"}, meta={})
    assert pii(action="drop").process(rec) == (False, "contains PII (phone x2)")


# Numbers in real code and documentation (found by bench/pii_real.py in Python's standard library and
# python3.11-doc): valid numbers in some country, but not written as phones. Code keeps its bytes.
CODE_NUMBERS = [
    'bitness = {2147483647:"32bit", 9223372036854775807:"64bit"}',  # distutils/util.py
    "h = h * 69069 + 907133923",  # _collections_abc.py
    "h ^= (hx ^ (hx << 16) ^ 89869747)  * 3644798167",
    ">>> Decimal('1.2345E+12345680')",  # _pydecimal.py
    ">>> ExtendedContext.quantize(Decimal('+35236450.6'), Decimal('1e-2'))",
    "#2      fa.bc.de.f7.62.4 110854824     0 160133733     0     0",  # uuid.py's netstat sample
    "ts = 1700000000  # a Unix time",
    ">>> ipaddress.ip_address(3221225985)",
    '>>> ipaddress.ip_address("192.168.0.256")',
    "X = NormalDist(10, 2.5).samples(n, seed=3652260728)",
    "the default is 1000000000",
    "http://hdl.handle.net/1895.22/1013.",
    "strings like these: *.local, 169.254/16",
    "1 2 3 4 5 6 7 8 9 10",
    "(bpo-1696199)",
    "could hash to 1142331976.",
    "https://web.archive.org/web/20180410025338/http://starship.python.net/",  # passes Luhn
    "Boston, MA 02110-1301, USA",  # a ZIP+4 code, in 356 of Debian's copyright files
]


@pytest.mark.parametrize("text", CODE_NUMBERS)
def test_numbers_in_code_keep_their_bytes(text):
    assert redact(pii(), text) == text
    fenced = f"Some prose, mail a@b.io.\n\n```python\n{text}\n```\n"
    assert redact(pii(), fenced) == fenced.replace("a@b.io", "<EMAIL>")


@pytest.mark.parametrize(
    "text,number",
    [
        ("Call me at 13800138000 tonight", "13800138000"),  # a bare run after a phone word
        ("Tel. 02072193000", "02072193000"),
        ("mobile: 07700900123", "07700900123"),
        ("phone=+4930901820", "+4930901820"),
        ('{"phone": "+44 20 7219 3000"}', "+44 20 7219 3000"),  # in code, written as a phone
        ("手机 13800138000", "13800138000"),
        ("Indianapolis, IN 46202, phone 317-278-4100, fax", "317-278-4100"),  # Debian copyright files
        ("800-29-29-AMD (800-292-9263) in the USA, or", "800-292-9263"),
        ("or 0800-89-1131  in  the  UK,", "0800-89-1131"),
    ],
)
def test_phones_written_as_phones_still_found(text, number):
    assert redact(pii(), text) == text.replace(number, "<PHONE>")


def test_stdlib_source_has_no_phone_numbers():
    """Real code nobody wrote for lmforge: five standard-library modules full of big integers."""
    import sysconfig
    from pathlib import Path

    stdlib = Path(sysconfig.get_paths()["stdlib"])
    for name in ("_collections_abc.py", "_pydecimal.py", "statistics.py", "random.py", "uuid.py"):
        source = (stdlib / name).read_text(encoding="utf-8")
        assert "<PHONE>" not in redact(pii(kinds=["phone"]), source), name


@pytest.mark.parametrize(
    "text,ip",
    [
        ("ping 10.0.0.1.", "10.0.0.1"),  # a sentence's full stop
        ("The server is 192.168.1.20. It answers.", "192.168.1.20"),
        ("Then Bob 10.0.0.1", "10.0.0.1"),  # a name, but a sentence's second word
        ("Ask Bob 10.0.0.1", "10.0.0.1"),
        ("from Alice 10.0.0.2 and", "10.0.0.2"),
        ("IP:192.168.11.33", "192.168.11.33"),  # BFCL's live_simple
        ("curl http://127.0.0.1:8000/v1", "127.0.0.1"),  # with a port
        ("Mozilla Thunderbird 1.5.0.9", "1.5.0.9"),  # after a capitalised word: read as a sentence
    ],
)
def test_addresses_at_sentence_ends_and_after_people(text, ip):
    assert redact(pii(), text) == text.replace(ip, "<IP_ADDRESS>")


@pytest.mark.parametrize(
    "text",
    [
        '__version__ = "0.5.1.2"',  # logging/__init__.py
        'the HTML5 specs sections "8.2.4.44 Bogus comment state"',  # _markupbase.py
        ">>> ipaddress.ip_address('192.0.2.1')",  # RFC 5737's documentation range (howto/ipaddress)
        "IPv6Address('2001:db8::1')",  # RFC 3849's
        "1.3.6.1.4.1.311",  # an OID, not an address followed by more
        "`Z_RLE` (zlib 1.2.0.1) and",  # library/zlib.html
        "This was fixed in 1.5.4.1.",  # git's RelNotes
        "Successfully installed novas-3.1.1.3 numpy-1.9.2",  # tutorial/venv.html
        "novas==3.1.1.3",
        "3.3.2.1. Customizing module attribute access",  # a numbered heading (reference/datamodel.html)
    ],
)
def test_versions_and_documentation_addresses_kept(text):
    assert redact(pii(), text) == text
