"""Replace values that are different in every message (order numbers, codes, emails) with their shape.

"has 10234 shipped?" and "has 10871 shipped?" say the same thing; the classifier should not have to see every
order number to learn that. Shapes follow data/nlu/regex.yml.
"""

from __future__ import annotations

import re

_EMAIL = re.compile(r"[a-z0-9._%+\-]+@[a-z0-9.\-]+\.[a-z]{2,}")
_ORDER_NUMBER = re.compile(r"#?(?<![\d.,])\d{5}(?![\d.,])")
_CODE = re.compile(r"(?<![\d.,])\d{6}(?![\d.,])")
_DIGITS = re.compile(r"\d+")


def shape_text(text: str) -> str:
    """Lower-case text with emails, order numbers and one-time codes replaced by a placeholder word."""
    text = text.lower()
    text = _EMAIL.sub(" emailaddress ", text)
    text = _ORDER_NUMBER.sub(" ordernumber ", text)
    text = _CODE.sub(" onetimecode ", text)
    return _DIGITS.sub("0", text)
