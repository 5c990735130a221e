"""Recognising and normalising email addresses and phone numbers that shoppers type."""

from __future__ import annotations

import re
from typing import Optional, Tuple

EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
PHONE = re.compile(r"\+?\(?\d[\d ()\-]{5,20}\d")


def find_email(text: str) -> Optional[str]:
    found = EMAIL.search(text or "")
    return found.group(0).lower() if found else None


def normalise_phone(text: str) -> Optional[str]:
    found = PHONE.search(text or "")
    if not found:
        return None
    value = found.group(0)
    digits = re.sub(r"\D", "", value)
    if not 7 <= len(digits) <= 15:
        return None
    return ("+" if value.startswith("+") else "") + " ".join(value.lstrip("+").replace("-", " ").split())


def classify_contact(text: str) -> Tuple[Optional[str], Optional[str]]:
    """("email", value) or ("phone", value) or (None, None)."""
    email = find_email(text)
    if email:
        return "email", email
    phone = normalise_phone(text)
    if phone:
        return "phone", phone
    return None, None
