"""Money in the API is a decimal string ("49.95"); in the database it is whole cents."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from demoshop.errors import ApiError


def to_str(cents: int) -> str:
    return str((Decimal(cents) / 100).quantize(Decimal("0.01")))


def to_cents(value: object, field: str = "amount") -> int:
    """Parse an amount a client sent; refuse anything that is not a positive sum of cents."""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ApiError(422, "invalid_amount", f"{field} must be a decimal number such as 19.95.") from None
    if not amount.is_finite() or amount <= 0:
        raise ApiError(422, "invalid_amount", f"{field} must be greater than zero.")
    if amount != amount.quantize(Decimal("0.01")):
        raise ApiError(422, "invalid_amount", f"{field} has more than two decimals.")
    return int((amount * 100).quantize(Decimal("1"), rounding=ROUND_HALF_UP))
