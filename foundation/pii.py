"""The one redaction layer for personal data in texts kept for analysis: `redact(text, known_values)`.

What a shopper types can carry their email, phone number, card number, IBAN, one-time code or street address.
Analytics (analytics/) keeps texts only after this function, which replaces each of them with a placeholder
naming its kind (`[email]`, `[phone]`, `[iban]`, `[address]`, `[postcode]`, `[url]`), and the masks of
foundation/redaction.py for codes and cards (`[code]`, `[card ending 1234]`), which the tracker store and the
logs already use. Order numbers (five digits), amounts, dates and product names stay as they are.

The finding is scrubadub's (emails, URLs, phone numbers through Google's libphonenumber, UK postcodes) with three
detectors of ours on its extension point: IBANs (checked with python-stdnum), the postcodes of the shop's other
markets, and a house number next to a street name. A street address is only found that far: a street without a
recognisable street word, or a city alone, is not; the verified customer's own values (`known_values`: their
email, phone number, address lines, postcode) are removed wherever they appear, in any case and spacing.

Every sink uses this one layer: analytics and helpdesk tickets through `redact`, the event broker's payloads
through `redact_payload` (rasa_runtime/secret_masking.py), log records through `redact_for_logs`
(foundation/logging.py), which leaves URLs alone (a log line names the endpoints it called). All of scrubadub's
and our detectors need an `@`, a digit, a URL's `http(s)://` or `www.`, or the word "at" between spaces (an
email spelled out) to find anything, so a text with none of them is not handed to scrubadub at all
(`might_hold_personal_data`, foundation/redaction.py): most log lines, intent and action names.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import phonenumbers
import scrubadub
import scrubadub.detectors
import scrubadub.filth
from stdnum import iban

from foundation.redaction import CODE_IN_LOG, CODE_MASK, mask_cards, mask_typed_code, might_hold_personal_data

# Numbers without a country code are read as Dutch ones, the shop's home market (actions/contact_details.py).
PHONE_REGION = "NL"
# What each kind of finding becomes. A kind not listed becomes `[personal data]`.
PLACEHOLDERS = {
    "email": "[email]",
    "phone": "[phone]",
    "iban": "[iban]",
    "address": "[address]",
    "postalcode": "[postcode]",
    "url": "[url]",
}
OTHER_PLACEHOLDER = "[personal data]"
# The slots in which a conversation keeps what the shopper said about themselves (domain.yml): the email they
# verified with, a new phone number or email, a new address. Their values are a conversation's known values.
PERSONAL_SLOTS = ("login_email", "new_contact", "new_address")


class IbanFilth(scrubadub.filth.Filth):
    """An international bank account number found in a text."""

    type = "iban"


class IbanDetector(scrubadub.detectors.Detector):
    """IBANs, typed in one run or in groups of four, kept only when python-stdnum says their check digits are
    right (so that product codes and order references are left alone)."""

    name = "iban"
    filth_cls = IbanFilth
    # A country code, two check digits, then 11 to 30 letters and digits, spaces allowed between groups.
    candidate = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{1,4}){3,8}\b", re.IGNORECASE)

    def iter_filth(self, text: str, document_name: str | None = None) -> Iterator[scrubadub.filth.Filth]:
        """The valid IBANs in the text: each candidate, shortened group by group until one is valid."""
        position = 0
        while found := self.candidate.search(text, position):
            groups = found.group(0).split(" ")
            while len(groups) > 1 and not iban.is_valid("".join(groups)):
                groups.pop()
            value = " ".join(groups)
            if not iban.is_valid(value):
                position = found.start() + 1
                continue
            position = found.start() + len(value)
            yield IbanFilth(
                beg=found.start(),
                end=position,
                text=value,
                detector_name=self.name,
                document_name=document_name,
                locale=self.locale,
            )


class MarketPostcodeDetector(scrubadub.detectors.RegexDetector):
    """The Dutch postcode (`1015 CJ`), the shop's home market; scrubadub's own detector knows UK postcodes only."""

    name = "market_postcode"
    filth_cls = scrubadub.filth.PostalCodeFilth
    regex = re.compile(r"\b[1-9]\d{3} ?(?!SA|SD|SS)[A-Z]{2}\b")


class StreetAddressDetector(scrubadub.detectors.RegexDetector):
    """A house number next to a street name: `Keizersgracht 12`, `Witte de Withstraat 40a`, `12 High Street`.

    The street must end in a street word (straat, gracht, weg, laan, Street, Road, ...), so that `order 10007` and
    `2 mugs` are left alone.
    """

    name = "street_address"
    filth_cls = scrubadub.filth.AddressFilth
    _DUTCH_GERMAN = r"(?i:straat|gracht|weg|laan|plein|kade|singel|dijk|markt|steeg|stra(?:ss|ß)e|gasse|allee)"
    _ENGLISH = r"(?i:street|st|road|rd|avenue|ave|lane|ln|drive|dr|way|close|place|square|court|crescent|terrace)"
    regex = re.compile(
        # Keizersgracht 12, Witte de Withstraat 40a, Grote Markt 5
        rf"(?:\b[A-Z][\w'-]*\s+(?:(?:de|van|der|den|het)\s+)*)?\b[\w'-]*{_DUTCH_GERMAN}\s+\d{{1,4}}(?:\s?[a-zA-Z]\b)?"
        # 12 High Street, 4b Old Kent Rd.
        rf"|\b\d{{1,4}}[a-zA-Z]?,?\s+(?:[A-Z][\w'-]*\s+){{1,3}}{_ENGLISH}\b\.?"
    )


# What libphonenumber needs to find a valid number: five digits at least (the shortest of its metadata, a
# country code with a four-digit number or a five-digit Dutch one), with only its punctuation between them
# (which holds no letter but `x`). A text without such a run skips the phone detector, the costly one.
PHONE_CANDIDATE = re.compile(r"\d(?:[\W_xX]*\d){4}")


@functools.lru_cache(maxsize=4)
def _scrubber(urls: bool = True, phones: bool = True) -> scrubadub.Scrubber:
    """scrubadub with the detectors that matter for a shop's chat (made once: building it loads its catalogue);
    without URLs for log lines, without phone numbers for a text that cannot hold one."""
    return scrubadub.Scrubber(
        detector_list=[
            scrubadub.detectors.EmailDetector(),
            *([scrubadub.detectors.UrlDetector()] if urls else []),
            *([scrubadub.detectors.PhoneDetector(locale=f"nl_{PHONE_REGION}")] if phones else []),
            scrubadub.detectors.PostalCodeDetector(locale="en_GB"),
            MarketPostcodeDetector(),
            StreetAddressDetector(),
        ],
        locale="en_GB",
    )


@functools.lru_cache(maxsize=1)
def _iban_scrubber() -> scrubadub.Scrubber:
    return scrubadub.Scrubber(detector_list=[IbanDetector()], locale="en_GB")


def _kind_of(value: str) -> str:
    """The kind of one of the customer's known values, read from its shape."""
    if "@" in value:
        return "email"
    if re.fullmatch(r"[\d\s()+./-]{6,}", value):
        return "phone"
    return "address"


def _phone_pattern(value: str) -> re.Pattern[str] | None:
    """A known phone number however it is typed: with its country code (`+31`, `0031`) or the trunk `0`, and any
    spaces, dots or dashes between its digits."""
    try:
        number = phonenumbers.parse(value, PHONE_REGION)
    except phonenumbers.NumberParseException:
        return None
    digits = r"[\s.-]*".join(str(phonenumbers.national_significant_number(number)))
    prefix = rf"(?:(?:\+|00)\s*{number.country_code}[\s.-]*(?:\(0\)[\s.-]*)?|0[\s.-]*)?"
    return re.compile(rf"(?<![\d+]){prefix}{digits}(?!\d)")


def _known_value_items(known_values: Iterable[str]) -> tuple[list[dict[str, Any]], list[re.Pattern[str]]]:
    """scrubadub's known-filth items for the emails and addresses, and a pattern for each phone number."""
    items, phones = [], []
    for value in known_values:
        value = (value or "").strip()
        if len(value) < 3:  # a value this short would remove ordinary words
            continue
        kind = _kind_of(value)
        pattern = _phone_pattern(value) if kind == "phone" else None
        if pattern is not None:
            phones.append(pattern)
        else:
            items.append({"match": value, "filth_type": kind, "ignore_case": True, "ignore_whitespace": True})
    return items, phones


def _placeholder(filth: scrubadub.filth.Filth) -> str:
    kinds = [part.type for part in getattr(filth, "filths", [filth])]
    for kind in ("email", "iban", "phone", "address", "postalcode", "url"):
        if kind in kinds:
            return PLACEHOLDERS[kind]
    return OTHER_PLACEHOLDER


def _replace(text: str, scrubber: scrubadub.Scrubber) -> str:
    pieces, position = [], 0
    for filth in sorted(scrubber.iter_filth(text), key=lambda found: found.beg):
        if filth.beg < position:
            continue
        pieces += [text[position : filth.beg], _placeholder(filth)]
        position = filth.end
    return "".join([*pieces, text[position:]])


def redact(text: str, known_values: Iterable[str] = (), *, code_expected: bool = False, urls: bool = True) -> str:
    """The text with personal data replaced by placeholders (the module's docstring says which).

    `known_values` are the verified customer's own email, phone number and address lines, removed wherever
    they appear. `code_expected` says the message answers "type the code": every six-digit group in it is a
    one-time code, spaces between digits included (`386 278`); otherwise a six-digit group standing alone is.
    `urls=False` leaves URLs as they are (log lines).
    """
    if not text:
        return text
    items, phones = _known_value_items(known_values)
    for pattern in phones:
        text = pattern.sub(PLACEHOLDERS["phone"], text)
    if items:
        text = _replace(text, scrubadub.Scrubber(detector_list=[scrubadub.detectors.UserSuppliedFilthDetector(items)]))
    if not might_hold_personal_data(text):
        return text
    text = _replace(text, _iban_scrubber())  # first: an IBAN's digits could pass for a card number or a code
    text = mask_cards(text)
    may_hold_phone = PHONE_CANDIDATE.search(text) is not None
    text = _replace(text, _scrubber(urls, may_hold_phone))  # phone numbers before codes: a code is no valid number
    return mask_typed_code(text) if code_expected else CODE_IN_LOG.sub(CODE_MASK, text)


def redact_for_logs(text: str) -> str:
    """A log line's text with emails, phone numbers, addresses, postcodes, IBANs, cards and codes masked, its
    URLs kept (foundation/logging.py masks conversation ids around it)."""
    return redact(text, urls=False)


def known_values(events: Iterable[Mapping[str, Any]]) -> list[str]:
    """What the shopper said about themselves in these events (Rasa's event dicts): the string values of the
    personal slots, however nested."""
    found: list[str] = []
    for event in events:
        if event.get("event") == "slot" and event.get("name") in PERSONAL_SLOTS:
            found.extend(_strings(event.get("value")))
    return found


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [text for item in value.values() for text in _strings(item)]
    if isinstance(value, (list, tuple)):
        return [text for item in value for text in _strings(item)]
    return []


# The fields of an event dict that name things (event types, intents, actions, slots, entities), never what a
# shopper typed: left as they are, so a payload's consumers read it as before.
STRUCTURAL_KEYS = frozenset(
    {
        "event",
        "timestamp",
        "sender_id",
        "name",
        "policy",
        "confidence",
        "intent_ranking",
        "input_channel",
        "message_id",
        "entity",
        "extractor",
        "start",
        "end",
        "action_text",
        "action_name",
        "model_id",
        "assistant_id",
        "correlation_id",
        "response_selector",
    }
)


def redact_payload(event: Mapping[str, Any], known: Iterable[str] = (), *, code_expected: bool = False) -> dict:
    """A copy of one event dict with every string a shopper or the bot wrote redacted (`redact`), the personal
    slots' values included; the event's structure (its type, intent, action and slot names, timestamps) stays.
    The event itself is not changed: the tracker store keeps it as it is."""
    return dict(redact_value(event, list(known), code_expected))


def redact_value(value: Any, known: Iterable[str] = (), code_expected: bool = False) -> Any:
    """Every string in a JSON-like value redacted (`redact`), the names of `STRUCTURAL_KEYS` kept; a copy."""
    known = known if isinstance(known, list) else list(known)
    if isinstance(value, str):
        return redact(value, known, code_expected=code_expected)
    if isinstance(value, Mapping):
        return {
            key: item if key in STRUCTURAL_KEYS else redact_value(item, known, code_expected)
            for key, item in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [redact_value(item, known, code_expected) for item in value]
    return value
