"""Recognising and normalising email addresses and phone numbers as shoppers type them.

Emails may carry accented or non-Latin letters (`emma.garcía@example.com`, `δοκιμή@παράδειγμα.ελ`): letters are
Unicode letters here, not only A-Z. Phone numbers come in every national and international format
("+31 6 1234 5678", "0044 7700 900123", "06-12345678", "(020) 555 0101"): Google's libphonenumber
(`phonenumbers`) finds and validates them, and they are stored in E.164 form.
"""

from __future__ import annotations

import re

import phonenumbers

# local part: letters, digits and . _ % + - in any script; domain: labels of letters, digits and hyphens; the
# top-level domain: two or more letters.
EMAIL = re.compile(r"[\w.%+\-]+@(?:[^\W_](?:[^\W_]|-)*\.)+[^\W\d_]{2,}")
# Numbers without a country code are read as Dutch ones (the shop's home market).
DEFAULT_REGION = "NL"


def find_email(text: str) -> str | None:
    """The first whole email address in the text, lower-cased, or None."""
    found = EMAIL.search(text or "")
    return found.group(0).lower() if found else None


def looks_like_partial_email(text: str) -> bool:
    """True when the text has an @ but no whole address: the shopper meant one and it did not come through."""
    return "@" in (text or "") and find_email(text) is None


def normalise_phone(text: str) -> str | None:
    """The first valid phone number in the text, as E.164 (`+31612345678`), or None."""
    for match in phonenumbers.PhoneNumberMatcher(text or "", DEFAULT_REGION, leniency=phonenumbers.Leniency.VALID):
        return phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
    return None


def classify_contact(text: str) -> tuple[str | None, str | None]:
    """("email", value) or ("phone", value) or (None, None)."""
    email = find_email(text)
    if email:
        return "email", email
    phone = normalise_phone(text)
    if phone:
        return "phone", phone
    return None, None
