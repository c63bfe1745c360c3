"""Tests for upkeep.compliance.recognizers: each kind recognised in a column's name and in values
(with the check digits or numbering plan that tell a real one), and look-alikes left alone."""

from __future__ import annotations

import pytest

from upkeep.compliance.recognizers import kind_by_name, kinds_in_text


@pytest.mark.parametrize(
    ("column", "kind"),
    [
        ("email", "email"),
        ("customer_email", "email"),
        ("EmailAddress", "email"),
        ("phone", "phone"),
        ("mobile_number", "phone"),
        ("signup_ip", "ip"),
        ("remote_addr", "ip"),
        ("iban", "iban"),
        ("card_number", "card"),
        ("ssn", "national-id"),
        ("passport_no", "national-id"),
        ("last_name", "name"),
        ("dateOfBirth", "birth-date"),
        ("shipping_address", "postal-address"),
        ("zip", "postal-address"),
    ],
)
def test_a_personal_column_name_says_its_kind(column: str, kind: str) -> None:
    assert kind_by_name(column) == kind


@pytest.mark.parametrize(
    "column", ["id", "name", "created_at", "description", "status", "total_cents", "zipped", "tip"]
)
def test_ordinary_column_names_say_nothing(column: str) -> None:
    assert kind_by_name(column) is None


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("jonas.1@mail.example", "email"),
        ("write to Jonas.Doe@shop.example, thanks", "email"),
        ("+44 20 7946 0188", "phone"),
        ("call +49 151 23456789 after 5", "phone"),
        ("198.51.100.219", "ip"),
        ('{"ip": "10.0.3.7"}', "ip"),
        ("2001:db8::1", "ip"),
        ("DE89 3704 0044 0532 0130 00", "iban"),
        ("refund to NL91ABNA0417164300", "iban"),
        ("4111 1111 1111 1111", "card"),
        ("536-90-4399", "national-id"),  # US SSN
        ("131052-308T", "national-id"),  # Finnish HETU
        ("RCCMNL83S18D969H", "national-id"),  # Italian codice fiscale
        ("54362315-K", "national-id"),  # Spanish DNI
    ],
)
def test_personal_values_are_recognised_by_kind(text: str, kind: str) -> None:
    assert kind in kinds_in_text(text)


@pytest.mark.parametrize(
    "text",
    [
        "2026-09-28 02:19:08",
        "12345",
        "Hello, about my order 3: parcel late.",
        "version 1.2.3",
        "ab12cd34ef56ab12cd34ef56ab12cd34",
        "+44 12",  # too short for any numbering plan
        "DE00 3704 0044 0532 0130 00",  # IBAN shape, wrong check digits
        "4111 1111 1111 1112",  # card shape, fails Luhn
        "000-00-0000",  # SSN shape, never issued
        "999.300.1.2",  # not an address
        "«email» «ip»",  # what masking leaves
    ],
)
def test_look_alikes_are_not_personal_values(text: str) -> None:
    assert kinds_in_text(text) == set()
