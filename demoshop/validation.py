"""Field rules shared by the demo shop's request bodies."""

from __future__ import annotations

import re

from pydantic import constr, validator

from contract import v1

EMAIL_RE = re.compile(r"^[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}$")
PHONE_RE = re.compile(r"^\+?[0-9][0-9 ()\-]{5,22}[0-9]$")
SUPPORTED_COUNTRIES = {"NL", "BE", "DE", "FR", "LU", "AT", "DK", "ES", "IT", "IE", "PT", "SE", "FI", "PL", "GB"}

Text = constr(strip_whitespace=True, min_length=1, max_length=200)
NUL = "\x00"


def contains_nul(value: object) -> bool:
    """Whether a NUL character hides anywhere in a request value (keys included): PostgreSQL cannot store one, so
    the shop refuses it up front instead of failing in the database driver."""
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, dict):
        return any(contains_nul(k) or contains_nul(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(contains_nul(item) for item in value)
    return False


def check_email(value: str) -> str:
    value = value.strip().lower()
    if not EMAIL_RE.match(value):
        raise ValueError("not a valid email address")
    return value


def check_phone(value: str) -> str:
    value = value.strip()
    digits = re.sub(r"\D", "", value)
    if not PHONE_RE.match(value) or not 7 <= len(digits) <= 15:
        raise ValueError("not a valid phone number")
    return value


class AddressIn(v1.Address):
    """A postal address as the shop accepts it: the contract's `Address`, each field within the shop's limits."""

    name: Text | None = None
    line1: Text
    line2: constr(strip_whitespace=True, max_length=200) | None = None
    city: Text
    postcode: constr(strip_whitespace=True, min_length=2, max_length=12)
    country: constr(strip_whitespace=True, to_upper=True, min_length=2, max_length=2)

    @validator("country")
    def _supported_country(cls, value: str) -> str:
        if value not in SUPPORTED_COUNTRIES:
            raise ValueError(f"we do not ship to {value}")
        return value

    class Config:
        extra = "forbid"
