"""Guards actions/contact_details: an email address (letters of any script) is found anywhere in a message and
lower-cased, a phone number in any national or international format is validated and given in E.164 form, and
an email wins over a phone."""

from __future__ import annotations

import pytest

from actions.contact_details import classify_contact, find_email, looks_like_partial_email, normalise_phone


@pytest.mark.parametrize(
    "text, expected",
    [
        ("jane@example.com", "jane@example.com"),
        ("Mail me at Jane.Doe@Example.COM.", "jane.doe@example.com"),
        ("it's a.b+tag@sub.example.co.uk please", "a.b+tag@sub.example.co.uk"),
        ("first x_y-z%1@mail-host.nl then other@example.org", "x_y-z%1@mail-host.nl"),
    ],
)
def test_find_email(text, expected):
    assert find_email(text) == expected


@pytest.mark.parametrize(
    "text", ["", None, "jane@example", "jane.example.com", "@example.com", "no email here", "jane@example.c"]
)
def test_find_email_finds_nothing(text):
    assert find_email(text) is None


@pytest.mark.parametrize(
    "text, expected",
    [
        ("emma.garcía@example.com", "emma.garcía@example.com"),  # a seeded customer: accents are letters
        ("Mail: JOSÉ.Núñez@Correo.es!", "josé.núñez@correo.es"),
        ("δοκιμή@παράδειγμα.ελ", "δοκιμή@παράδειγμα.ελ"),
        ("müller@straße.de.", "müller@straße.de"),
    ],
)
def test_find_email_takes_letters_of_any_script(text, expected):
    assert find_email(text) == expected


@pytest.mark.parametrize("text", ["jose@exam_ple.com", "a@b", "x@@y.com", "name@-host.com"])
def test_find_email_refuses_malformed_domains(text):
    assert find_email(text) is None


@pytest.mark.parametrize("text, partial", [("a@b", True), ("x@", True), ("jane@example.com", False), ("no at", False)])
def test_looks_like_partial_email(text, partial):
    assert looks_like_partial_email(text) is partial


@pytest.mark.parametrize(
    "text, expected",
    [
        ("+31 6 12345678", "+31612345678"),
        ("+31-6-1234-5678", "+31612345678"),
        ("06-1234 5678", "+31612345678"),  # national Dutch format: the shop's home market
        ("call 0612345678 please", "+31612345678"),
        ("(020) 555 0101", "+31205550101"),
        ("+44 (0)20 7946 0958", "+442079460958"),  # the UK's "(0)" trunk prefix
        ("0044 7911 123456", "+447911123456"),  # 00 instead of +
        ("+1 415-555-0100", "+14155550100"),
        ("0033 6 12 34 56 78", "+33612345678"),
        ("+49 30 901820", "+4930901820"),
    ],
)
def test_normalise_phone_gives_e164(text, expected):
    assert normalise_phone(text) == expected


@pytest.mark.parametrize(
    "text", ["", None, "12345", "123456", "1234567890123456", "no digits", "+31", "07911 123456"]
)  # a UK number without its country code is not Dutch
def test_normalise_phone_rejects(text):
    assert normalise_phone(text) is None


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Jane@Example.com", ("email", "jane@example.com")),
        ("+31 6 12345678", ("phone", "+31612345678")),
        ("my email is jane@example.com and phone +31 6 12345678", ("email", "jane@example.com")),
        ("phone +31 6 12345678 or jane@example.com", ("email", "jane@example.com")),
        ("hello there", (None, None)),
        ("12345", (None, None)),
        ("", (None, None)),
    ],
)
def test_classify_contact(text, expected):
    assert classify_contact(text) == expected
