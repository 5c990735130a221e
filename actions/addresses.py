"""Reading a postal address a shopper typed in one line, such as
"Keizersgracht 123, 1015 CJ Amsterdam, Netherlands"."""

from __future__ import annotations

import re
from dataclasses import dataclass

from actions.backends.models import Address

COUNTRIES = {
    "nl": "NL",
    "netherlands": "NL",
    "the netherlands": "NL",
    "holland": "NL",
    "nederland": "NL",
    "be": "BE",
    "belgium": "BE",
    "belgië": "BE",
    "belgique": "BE",
    "de": "DE",
    "germany": "DE",
    "deutschland": "DE",
    "fr": "FR",
    "france": "FR",
    "lu": "LU",
    "luxembourg": "LU",
    "at": "AT",
    "austria": "AT",
    "dk": "DK",
    "denmark": "DK",
    "es": "ES",
    "spain": "ES",
    "it": "IT",
    "italy": "IT",
    "ie": "IE",
    "ireland": "IE",
    "pt": "PT",
    "portugal": "PT",
    "se": "SE",
    "sweden": "SE",
    "fi": "FI",
    "finland": "FI",
    "pl": "PL",
    "poland": "PL",
    "gb": "GB",
    "uk": "GB",
    "united kingdom": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
}
POSTCODES = {
    "NL": r"\d{4}\s?[A-Za-z]{2}",
    "GB": r"[A-Za-z]{1,2}\d[A-Za-z\d]?\s?\d[A-Za-z]{2}",
    "IE": r"[A-Za-z][\dWw]{2}\s?[A-Za-z\d]{4}",
    "PT": r"\d{4}-\d{3}",
    "PL": r"\d{2}-\d{3}",
    "any": r"\d{4,5}",
}


@dataclass(frozen=True)
class ParsedAddress:
    """An address, or what is missing from the text."""

    address: Address | None
    missing: str | None = None


def parse_address(text: str, default_country: str = "NL") -> ParsedAddress:
    """Find street, postcode, city and country in free text.

    The country comes from the text (a name at the end, or a postcode only one country writes that way)
    and otherwise defaults to the order's. Street first; the city may stand before or after the postcode,
    in the same part or its own ("10 Downing Street, London, SW1A 2AA, UK").
    """
    cleaned = " ".join(text.replace("\n", ", ").split()).strip(" .")
    parts = [p.strip() for p in cleaned.split(",") if p.strip()]
    if not parts:
        return ParsedAddress(None, "street")
    named = None
    if len(parts) > 1 and parts[-1].lower() in COUNTRIES:
        named = COUNTRIES[parts.pop().lower()]
    street, others = parts[0], parts[1:]
    if not re.search(r"\d", street) or not re.search(r"[A-Za-zÀ-ÿ]", street):
        return ParsedAddress(None, "street")
    if not others:
        return ParsedAddress(None, "postcode")
    for index in range(len(others) - 1, -1, -1):  # the postcode is usually in the last part
        found = _postcode(others[index], named or default_country, allow_other=named is None)
        if found:
            break
    else:
        return ParsedAddress(None, "postcode")
    match, country = found
    part = others[index]
    city = (part[: match.start()] + part[match.end() :]).strip(" ,-")
    before, tail = others[:index], others[index + 1 :]
    if not city and tail:
        city, tail = tail[0], tail[1:]
    if not city and before and len(before) >= 1 and not re.search(r"\d", before[-1][:3]):
        city, before = before[-1], before[:-1]
    if not city or tail:
        return ParsedAddress(None, "city")
    line2 = ", ".join(before) or None
    postcode = match.group("code").upper()
    return ParsedAddress(Address(line1=street, line2=line2, city=city, postcode=postcode, country=country))


def _postcode(text: str, country: str, allow_other: bool) -> tuple[re.Match, str] | None:
    """The postcode in `text` and the country it belongs to: the expected country's format first."""
    candidates = [country] + ([c for c in POSTCODES if c not in (country, "any")] if allow_other else []) + ["any"]
    for code in candidates:
        pattern = POSTCODES.get(code)
        if pattern:
            found = re.search(rf"(?<![\w-])(?:[A-Z]-)?(?P<code>{pattern})(?![\w-])", text)
            if found:
                return found, (country if code in (country, "any") else code)
    return None
