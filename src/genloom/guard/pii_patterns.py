"""PII found by checked patterns: a regular expression proposes a candidate, a validator (checksum, number
plan, registry rule) accepts it. No model, no download, microseconds per text.

Entities (the span categories): EMAIL, PHONE, CREDIT_CARD (Luhn + issuer prefix), IBAN (ISO 13616 mod-97 and
the country's length), US_SSN, UK_NINO, ES_NIF (DNI and NIE, check letter), PL_PESEL (checksum + birth
date), IP_ADDRESS (v4 and v6, parsed by :mod:`ipaddress`), PERSON (only after an honorific or "my name is":
names in general need the NER engine, see :mod:`genloom.guard.pii`).

What is deliberately *not* matched (docs/benchmarks.md "PII and moderation" measures it): ISBNs and other
digit strings that fail a checksum, dates, version strings (``v1.2.3.4``), order numbers.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from genloom.guard.base import Span

ENTITIES: tuple[str, ...] = ("EMAIL", "PHONE", "CREDIT_CARD", "IBAN", "US_SSN", "UK_NINO", "ES_NIF",
                             "PL_PESEL", "IP_ADDRESS", "PERSON")  # fmt: skip


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


# issuer identification numbers of the networks in use (Visa, Mastercard, Amex, Diners, Discover, JCB, UnionPay)
_CARD_PREFIX = re.compile(
    r"4|5[1-5]|2(?:2[2-9]|[3-6]\d|7[01]|720)|3[47]|3(?:0[0-5]|[68])|6(?:011|5|4[4-9]|2)|35"
)


def _card(m: re.Match[str]) -> bool:
    raw = m.group()
    seps = {c for c in raw if not c.isdigit()}
    digits = re.sub(r"\D", "", raw)
    return len(seps) <= 1 and 13 <= len(digits) <= 19 and bool(_CARD_PREFIX.match(digits)) and luhn_ok(digits)


# ISO 13616 lengths of the countries most often seen (others: mod-97 and 15..34 characters)
_IBAN_LEN = {"AD": 24, "AT": 20, "BE": 16, "BG": 22, "CH": 21, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "EE": 20,
             "ES": 24, "FI": 18, "FR": 27, "GB": 22, "GR": 27, "HR": 21, "HU": 28, "IE": 22, "IS": 26, "IT": 27,
             "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MT": 31, "NL": 18, "NO": 15, "PL": 28, "PT": 25,
             "RO": 24, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "TR": 26}  # fmt: skip


def iban_ok(iban: str) -> bool:
    moved = iban[4:] + iban[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")


def _iban_spans(text: str) -> Iterator[tuple[int, int]]:
    """IBAN candidates cut to the country's length (a candidate may run on into the next word)."""
    for m in _IBAN.finditer(text):
        raw = m.group()
        compact = raw.replace(" ", "")
        want = _IBAN_LEN.get(raw[:2])
        lengths = [want] if want else range(min(len(compact), 34), 14, -1)
        for n in lengths:
            if n <= len(compact) and iban_ok(compact[:n]):
                # map n compact characters back onto the raw text (spaces included)
                seen, end = 0, 0
                while seen < n:
                    seen += raw[end] != " "
                    end += 1
                yield m.start(), m.start() + end
                break


_PHONE_CONTEXT = re.compile(
    r"\b(?:phone|tel|telephone|mobile|cell|fax|whatsapp|call|ring|text|móvil|teléfono|telefon|tél)\b[\w.]*\W{0,3}$",
    re.IGNORECASE,
)


def _phone(m: re.Match[str]) -> bool:
    raw = m.group()
    digits = re.sub(r"\D", "", raw)
    if raw.startswith("+"):
        return 8 <= len(digits) <= 15
    if "(" in raw:
        return 9 <= len(digits) <= 11
    if re.fullmatch(r"(?:1[-. ])?[2-9]\d{2}([-. ])\d{3}\1\d{4}", raw):  # North American (1-)555-123-4567
        return True
    if _PHONE_CONTEXT.search(m.string, max(0, m.start() - 24), m.start()):  # "phone: 2125550143"
        return 9 <= len(digits) <= 15
    trunk = re.fullmatch(r"0\d{1,4}(?:[ -]\d{3,4}){1,2}|0\d{4}[ -]\d{6}", raw)  # national: 020 7946 0958
    return bool(trunk) and 10 <= len(digits) <= 11


_PHONE = re.compile(
    r"(?<![\w+.-])(?:\+\d{1,3}[ .-]?(?:\(\d{1,4}\)|\d{1,4})|(?:1[ .-])?(?:\(\d{1,4}\)|\d{2,5}))(?:[ .-]?\d{2,6}){1,4}(?![\w.-]\w|\w)"
)


def _ssn(m: re.Match[str]) -> bool:
    area, group, serial = m.group(1), m.group(3), m.group(4)
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


_NINO_BAD_PREFIX = {"BG", "GB", "NK", "KN", "TN", "NT", "ZZ"}


def _nino(m: re.Match[str]) -> bool:
    return m.group(1) not in _NINO_BAD_PREFIX


_NIF_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"


def _nif(m: re.Match[str]) -> bool:
    number = m.group(1)
    if number[0] in "XYZ":  # NIE: the letter stands for a leading digit
        number = str("XYZ".index(number[0])) + number[1:]
    return _NIF_LETTERS[int(number) % 23] == m.group(2)


def _pesel(m: re.Match[str]) -> bool:
    d = [int(c) for c in m.group()]
    if (10 - sum(w * x for w, x in zip((1, 3, 7, 9, 1, 3, 7, 9, 1, 3), d, strict=False)) % 10) % 10 != d[10]:
        return False
    month, day = (d[2] * 10 + d[3]) % 20, d[4] * 10 + d[5]
    return 1 <= month <= 12 and 1 <= day <= 31


def _ipv4(m: re.Match[str]) -> bool:
    before = m.string[max(0, m.start() - 9) : m.start()].lower()
    if re.search(r"(?:\bv|version\s?)$", before):  # v1.2.3.4, version 10.0.0.1
        return False
    try:
        ipaddress.IPv4Address(m.group())
    except ValueError:
        return False
    return True


def _ipv6(m: re.Match[str]) -> bool:
    raw = m.group()
    if raw.count(":") < 2 or len(raw) < 6:
        return False
    try:
        ipaddress.IPv6Address(raw)
    except ValueError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class Recognizer:
    entity: str
    pattern: re.Pattern[str]
    valid: Callable[[re.Match[str]], bool] | None = None
    group: int = 0  # the group that is the PII (0 = the whole match)
    reason: str = ""
    finder: Callable[[str], Iterator[tuple[int, int]]] | None = None  # instead of pattern + valid
    needs: str = "0"  # a text without this never matches: "@", ":", "0" = a digit, "" = anything

    def spans(self, text: str) -> Iterator[Span]:
        if self.finder is not None:
            for a, b in self.finder(text):
                yield Span(a, b, self.entity, self.reason)
            return
        for m in self.pattern.finditer(text):
            if self.valid is None or self.valid(m):
                yield Span(m.start(self.group), m.end(self.group), self.entity, self.reason)


_NAME = r"[A-Z][a-z]+(?:-[A-Z][a-z]+)?(?: (?:van |de |von |O')?[A-Z][a-z]+(?:-[A-Z][a-z]+)?){0,2}"

RECOGNIZERS: tuple[Recognizer, ...] = (
    Recognizer(
        "EMAIL",
        re.compile(
            r"(?<![\w.%+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*"
            r"[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![\w-])"
        ),
        reason="address pattern",
        needs="@",
    ),
    Recognizer("IBAN", _IBAN, reason="mod-97 and country length", finder=_iban_spans),
    Recognizer(
        "CREDIT_CARD",
        re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])"),
        _card,
        reason="Luhn checksum and issuer prefix",
    ),
    Recognizer(
        "US_SSN",
        re.compile(r"(?<![\d-])(\d{3})([- ])(\d{2})\2(\d{4})(?![\d-])"),
        _ssn,
        reason="SSA area/group/serial rules",
    ),
    Recognizer(
        "UK_NINO",
        re.compile(r"\b([A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]) ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b"),
        _nino,
        reason="HMRC prefix rules",
    ),
    Recognizer("ES_NIF", re.compile(r"\b(\d{8}|[XYZ]\d{7})-?([A-Z])\b"), _nif, reason="check letter"),
    Recognizer("PL_PESEL", re.compile(r"(?<!\d)\d{11}(?!\d)"), _pesel, reason="checksum and birth date"),
    Recognizer("IP_ADDRESS", re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?!\.?\w)"), _ipv4, reason="IPv4"),
    Recognizer(
        "IP_ADDRESS",
        re.compile(r"(?<![\w:])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:])"),
        _ipv6,
        reason="IPv6",
        needs=":",
    ),
    Recognizer("PHONE", _PHONE, _phone, reason="international or national number plan"),
    Recognizer(
        "PERSON",
        re.compile(r"\b(?:Mr|Mrs|Ms|Mx|Miss|Dr|Prof|Sir|Dame)\.? (" + _NAME + r")\b"),
        group=1,
        reason="after an honorific",
        needs="",
    ),
    Recognizer(
        "PERSON",
        re.compile(r"\b(?:[Mm]y name is|[Ii]ch heiße|[Mm]e llamo) (" + _NAME + r")\b"),
        group=1,
        reason="introduces themself",
        needs="",
    ),
)

# when two entities overlap the earlier one here wins (a card number also looks like a phone number)
PRIORITY: dict[str, int] = {e: i for i, e in enumerate(("EMAIL", "IBAN", "CREDIT_CARD", "US_SSN", "UK_NINO",
                                                        "ES_NIF", "PL_PESEL", "IP_ADDRESS", "PHONE", "PERSON"))}  # fmt: skip


_DIGIT = re.compile(r"\d")


def find(text: str, entities: frozenset[str] | None = None) -> list[Span]:
    """Every checked PII span in ``text`` (of ``entities``, None = all), non-overlapping, in text order."""
    found: list[Span] = []
    has = {"": True, "0": _DIGIT.search(text) is not None, "@": "@" in text, ":": ":" in text}
    for r in RECOGNIZERS:
        if (entities is None or r.entity in entities) and has[r.needs]:
            found.extend(r.spans(text))
    return resolve(found)


def resolve(spans: list[Span]) -> list[Span]:
    """Drop spans that overlap a stronger one (by :data:`PRIORITY`, then the longer); text order."""
    kept: list[Span] = []
    for s in sorted(spans, key=lambda s: (PRIORITY.get(s.category, 99), s.start - s.end, s.start)):
        if all(s.end <= k.start or s.start >= k.end for k in kept):
            kept.append(s)
    return sorted(kept, key=lambda s: s.start)
