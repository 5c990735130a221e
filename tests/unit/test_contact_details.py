"""Guards actions/contact_details: an email address is found anywhere in a message and lower-cased, a phone
number (7 to 15 digits, optional leading +) is normalised to single spaces, and an email wins over a phone."""

from __future__ import annotations

import pytest

from actions.contact_details import classify_contact, find_email, normalise_phone


@pytest.mark.parametrize("text, expected", [
    ("jane@example.com", "jane@example.com"),
    ("Mail me at Jane.Doe@Example.COM.", "jane.doe@example.com"),
    ("it's a.b+tag@sub.example.co.uk please", "a.b+tag@sub.example.co.uk"),
    ("first x_y-z%1@mail-host.nl then other@example.org", "x_y-z%1@mail-host.nl"),
])
def test_find_email(text, expected):
    assert find_email(text) == expected


@pytest.mark.parametrize("text", ["", None, "jane@example", "jane.example.com", "@example.com", "no email here",
                                  "jane@example.c"])
def test_find_email_finds_nothing(text):
    assert find_email(text) is None


@pytest.mark.parametrize("text, expected", [
    ("+31 6 12345678", "+31 6 12345678"),
    ("+31-6-1234-5678", "+31 6 1234 5678"),
    ("06-1234 5678", "06 1234 5678"),
    ("call 0612345678 please", "0612345678"),
    ("+31   6   12345678", "+31 6 12345678"),
    ("1234567", "1234567"),                    # 7 digits: the shortest accepted
    ("123456789012345", "123456789012345"),    # 15 digits: the longest accepted
    ("+44 (0)20 7946 0958", "+44 (0)20 7946 0958"),
])
def test_normalise_phone(text, expected):
    assert normalise_phone(text) == expected


@pytest.mark.parametrize("text", ["", None, "12345", "123456", "1234567890123456", "no digits", "+31"])
def test_normalise_phone_rejects(text):
    assert normalise_phone(text) is None


def test_normalise_phone_keeps_brackets_balanced():
    assert normalise_phone("(020) 123 4567") in ("(020) 123 4567", "020 123 4567")


@pytest.mark.parametrize("text, expected", [
    ("Jane@Example.com", ("email", "jane@example.com")),
    ("+31 6 12345678", ("phone", "+31 6 12345678")),
    ("my email is jane@example.com and phone +31 6 12345678", ("email", "jane@example.com")),
    ("phone +31 6 12345678 or jane@example.com", ("email", "jane@example.com")),
    ("hello there", (None, None)),
    ("12345", (None, None)),
    ("", (None, None)),
])
def test_classify_contact(text, expected):
    assert classify_contact(text) == expected
