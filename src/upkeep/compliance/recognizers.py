"""Responsible for recognising personal data, offline: a column's name (`kind_by_name`: e-mail,
phone, IP address, IBAN, card, national id, name, birth date, postal address) and the kinds of
personal value a text holds (`kinds_in_text`): e-mail addresses, Luhn-valid card numbers and IP
addresses as `upkeep.masking` recognises them, phone numbers valid in their country's numbering
plan (phonenumbers), IBANs and national ids whose check digits hold (python-stdnum). Only the
kind is returned, never the value."""

from __future__ import annotations

import re
from collections.abc import Callable

import phonenumbers
from stdnum import iban
from stdnum.dk import cpr
from stdnum.es import dni
from stdnum.fi import hetu
from stdnum.fr import nir
from stdnum.it import codicefiscale
from stdnum.se import personnummer
from stdnum.us import ssn

from upkeep.masking import marker, mask_sensitive

__all__ = ["KINDS", "VALUE_KINDS", "kind_by_name", "kinds_in_text"]

# The kinds a value can be recognised as, then those only a column's name tells.
VALUE_KINDS = ("email", "phone", "ip", "iban", "card", "national-id")
KINDS = (*VALUE_KINDS, "name", "birth-date", "postal-address")
_KIND_WORDS = {
    "email": "e-mail addresses",
    "phone": "phone numbers",
    "ip": "IP addresses",
    "iban": "IBANs",
    "card": "card numbers",
    "national-id": "national ids",
    "name": "person names",
    "birth-date": "birth dates",
    "postal-address": "postal addresses",
}

# Column names, as lower-case words split at `_`, `-` and case changes.
_NAME_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("email", re.compile(r"\b(?:e ?mail|mail|email address)\b")),
    ("phone", re.compile(r"\b(?:phone|telephone|tel|mobile|cell|fax|msisdn)\b")),
    ("ip", re.compile(r"\b(?:ip|ipv4|ipv6|ip ?addr(?:ess)?|remote addr|client addr)\b")),
    ("iban", re.compile(r"\b(?:iban|bank account|account number)\b")),
    ("card", re.compile(r"\b(?:card|card number|cc|pan|credit card)\b")),
    (
        "national-id",
        re.compile(
            r"\b(?:ssn|nino|national id|tax id|passport|personnummer|bsn|nir|dni|nif|"
            r"social security|id number)\b"
        ),
    ),
    ("name", re.compile(r"\b(?:first name|last name|full name|surname|given name|family name)\b")),
    ("birth-date", re.compile(r"\b(?:birth|birthday|dob|date of birth|birth date)\b")),
    ("postal-address", re.compile(r"\b(?:street|postcode|postal code|zip|zip code|address)\b")),
)

_MASKED_KINDS = {marker("email"): "email", marker("card"): "card", marker("ip"): "ip"}
_PHONE = re.compile(r"(?<![\w+])\+[1-9][\d ()./\-]{6,20}\d(?!\d)")
_IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}(?![A-Za-z0-9])")
# National ids whose form and check digits are distinctive; shapes first, then the check.
_NATIONAL_IDS: tuple[tuple[re.Pattern[str], Callable[[str], bool]], ...] = (
    (re.compile(r"(?<![\d-])\d{3}-\d{2}-\d{4}(?![\d-])"), ssn.is_valid),
    (re.compile(r"(?<![\w-])\d{6}[-+A]\d{3}[0-9A-Y](?![\w-])"), hetu.is_valid),
    (
        re.compile(r"(?<![\d-])\d{6}-\d{4}(?![\d-])"),
        lambda t: cpr.is_valid(t) or personnummer.is_valid(t),
    ),
    (re.compile(r"(?<![\w-])\d{8}-?[A-Z](?![\w-])"), dni.is_valid),
    (
        re.compile(r"(?<![A-Z0-9])[A-Z]{6}\d{2}[A-Z]\d{2}[A-Z]\d{3}[A-Z](?![A-Z0-9])"),
        codicefiscale.is_valid,
    ),
    (
        re.compile(r"(?<![\d ])[12] ?\d{2} ?\d{2} ?(?:\d{2}|2A|2B) ?\d{3} ?\d{3} ?\d{2}(?![\d])"),
        nir.is_valid,
    ),
)
# What any recognisable value needs somewhere in the text: one search rules out most lines
# (timestamps, numbers, prose) before the recognizers proper run.
_CANDIDATE = re.compile(
    r"@|\+[1-9]|\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}|::|(?:[0-9A-Fa-f]{1,4}:){5,}"
    r"|\d[ \-]?(?:\d[ \-]?){11}|[A-Z]{2}\d{2}|\d{6}[-+A]|\d{3}-\d{2}-\d{4}|\d{8}-?[A-Z]"
    r"|[A-Z]{6}\d{2}"
)
_WORD_BREAK = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|[_\-.\s]+")


def describe(kind: str) -> str:
    """The kind in words, plural: `e-mail addresses`."""
    return _KIND_WORDS.get(kind, kind)


def kind_by_name(column: str) -> str | None:
    """The kind of personal data a column's name says it holds, or None."""
    words = " ".join(part.lower() for part in _WORD_BREAK.split(column) if part)
    for kind, rule in _NAME_RULES:
        if rule.search(words):
            return kind
    return None


def kinds_in_text(text: str) -> set[str]:
    """The kinds of personal value `text` holds (empty: none recognised)."""
    found: set[str] = set()
    if not text or len(text) < 6 or not _CANDIDATE.search(text):
        return found
    masked = mask_sensitive(text, ip_addresses=True)
    if masked != text:
        found.update(kind for mark, kind in _MASKED_KINDS.items() if mark in masked)
    if "+" in text and any(_valid_phone(match[0]) for match in _PHONE.finditer(text)):
        found.add("phone")
    if any(iban.is_valid(match[0]) for match in _IBAN.finditer(text)):
        found.add("iban")
    for shape, valid in _NATIONAL_IDS:
        if any(valid(match[0]) for match in shape.finditer(text)):
            found.add("national-id")
            break
    return found


def _valid_phone(candidate: str) -> bool:
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(candidate, None))
    except phonenumbers.NumberParseException:
        return False
