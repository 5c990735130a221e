"""What must not be kept as typed, and its mask: one-time codes, payment card numbers, conversation ids.

The patterns every process shares: rasa_runtime/secret_masking.py masks the events before the tracker store and
the event broker see them, and foundation/logging.py masks every log record with them. In the stores a code is
masked only where the conversation says it is one (the form asked for it); in log lines, which carry no such
context, any group of six digits standing alone counts as one. Order numbers (five digits), amounts (with their
decimals), postcodes and timestamps are left as they are.
"""

from __future__ import annotations

import re
from collections.abc import Callable

CODE_MASK = "[code]"
CONVERSATION_PREFIX = "conversation:"

# A one-time code as the service form accepts it (actions/service_form.py): six digits, spaces allowed between.
CODE_AS_TYPED = re.compile(r"(?<!\d)\d(?: ?\d){5}(?!\d)")
# A code in a log line: six digits (or three and three) standing alone, not part of an id, a path, a decimal
# fraction or a longer number.
CODE_IN_LOG = re.compile(r"(?<![\w.,/#:+-])\d{3} ?\d{3}(?![\w]|[.,]\d)")
# A payment card number: 13 to 19 digits, written in one run or in the groups cards print (4-4-4-4[-3],
# 4-6-5, 4-6-4), starting with a major network's first digit (2 to 6), so that millisecond timestamps and
# other long ids starting with 1 are not taken for one. The Luhn check then decides.
CARD_CANDIDATE = re.compile(
    r"(?<![\d])(?:"
    r"[2-6]\d{12,18}"
    r"|[2-6]\d{3}(?P<s1>[ -])\d{4}(?P=s1)\d{4}(?P=s1)\d{1,4}(?:(?P=s1)\d{1,3})?"
    r"|[2-6]\d{3}(?P<s2>[ -])\d{6}(?P=s2)\d{4,5}"
    r")(?![\d])"
)
# The channel-namespaced conversation ids (`rest:<id>`, `slack:<...>`, `teams:<...>`, `whatsapp:+<number>`).
# A sentence's full stop after one is not part of it.
CONVERSATION_ID = re.compile(r"\b(?:rest|slack|teams|whatsapp):[^\s'\"\\,;()\[\]{}<>]*[^\s'\"\\,;()\[\]{}<>.:!?]")


# What every finding of foundation/pii.py's detectors contains: an `@` (or its full-width form), a digit, the
# start of a URL, or " at " (scrubadub reads `anna at example dot com` as an email). Here, with the other
# patterns, so that the log filter can test it without loading scrubadub.
MIGHT_HOLD_PERSONAL_DATA = re.compile(r"[@\uff20\d]|https?://|www\.|\sat\s", re.IGNORECASE)


def might_hold_personal_data(text: str) -> bool:
    """False when no detector of foundation/pii.py can find anything in the text, so it can skip scrubadub."""
    return MIGHT_HOLD_PERSONAL_DATA.search(text) is not None


def luhn_valid(digits: str) -> bool:
    """True when the digits pass the Luhn check every payment card number passes."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = int(char)
        if position % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def card_mask(digits: str) -> str:
    """What a card number becomes: its last four digits only, which is what support needs to tell cards apart."""
    return f"[card ending {digits[-4:]}]"


def _masked_card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    if 13 <= len(digits) <= 19 and luhn_valid(digits):
        return card_mask(digits)
    return match.group(0)


def mask_cards(text: str) -> str:
    """The text with every Luhn-valid card number replaced by its mask."""
    return CARD_CANDIDATE.sub(_masked_card, text)


def mask_typed_code(text: str) -> str:
    """A message known to answer "type the code": every six-digit group in it masked (cards first)."""
    return CODE_AS_TYPED.sub(CODE_MASK, mask_cards(text))


def mask_conversation_ids(text: str, ref: Callable[[str], str]) -> str:
    """The text with every namespaced conversation id replaced by `conversation:<ref(id)>`."""
    return CONVERSATION_ID.sub(lambda found: CONVERSATION_PREFIX + ref(found.group(0)), text)


def redact_log_text(text: str, ref: Callable[[str], str] | None = None) -> str:
    """A log line's text with cards, codes and (given `ref`) conversation ids masked."""
    text = CODE_IN_LOG.sub(CODE_MASK, mask_cards(text))
    return mask_conversation_ids(text, ref) if ref is not None else text
