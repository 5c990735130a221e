"""How values travel in the v1 contract: money as decimal strings, times as UTC ISO 8601 strings.

`Record` is the base of every record: immutable, unknown fields ignored (a system may send more than the
contract names), and `to_wire()` gives the JSON-ready dict the demo shop answers with.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel, Extra


class Money(Decimal):
    """An amount of money: a decimal string such as "49.95" on the wire, a `Decimal` in Python.

    Floats are refused, since they cannot hold cents exactly; so are NaN and infinities.
    """

    @classmethod
    def __get_validators__(cls) -> Iterator[Callable[[Any], Decimal]]:
        yield cls.validate

    @classmethod
    def __modify_schema__(cls, field_schema: dict[str, Any]) -> None:
        field_schema.update(type="string", format="decimal", examples=["49.95"])

    @classmethod
    def validate(cls, value: Any) -> Decimal:
        """Read an amount from a string, an int or a `Decimal`."""
        if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
            raise TypeError('money must be a decimal string such as "49.95"')
        try:
            amount = Decimal(value)
        except InvalidOperation:
            raise ValueError('money must be a decimal string such as "49.95"') from None
        if not amount.is_finite():
            raise ValueError("money must be a finite amount")
        return amount


class UtcDateTime(datetime):
    """A moment in UTC: "2024-11-26T09:30:00Z" on the wire, a naive UTC `datetime` in Python.

    An offset other than Z is converted to UTC; whole seconds go on the wire.
    """

    @classmethod
    def __get_validators__(cls) -> Iterator[Callable[[Any], datetime]]:
        yield cls.validate

    @classmethod
    def __modify_schema__(cls, field_schema: dict[str, Any]) -> None:
        field_schema.update(type="string", format="date-time", examples=["2024-11-26T09:30:00Z"])

    @classmethod
    def validate(cls, value: Any) -> datetime:
        """Read a moment from an ISO 8601 string or a `datetime`."""
        if isinstance(value, str):
            text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
            try:
                value = datetime.fromisoformat(text)
            except ValueError:
                raise ValueError("not an ISO 8601 date and time") from None
        if not isinstance(value, datetime):
            raise TypeError("a date and time must be an ISO 8601 string")
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return value


class IsoDate(date):
    """A calendar day: "2024-11-26" on the wire, a `date` in Python."""

    @classmethod
    def __get_validators__(cls) -> Iterator[Callable[[Any], date]]:
        yield cls.validate

    @classmethod
    def __modify_schema__(cls, field_schema: dict[str, Any]) -> None:
        field_schema.update(type="string", format="date", examples=["2024-11-26"])

    @classmethod
    def validate(cls, value: Any) -> date:
        """Read a day from an ISO 8601 string or a `date` (a `datetime` is refused: it is not a day)."""
        if isinstance(value, str):
            try:
                return date.fromisoformat(value)
            except ValueError:
                raise ValueError("not an ISO 8601 date (YYYY-MM-DD)") from None
        if isinstance(value, datetime) or not isinstance(value, date):
            raise TypeError("a date must be an ISO 8601 string (YYYY-MM-DD)")
        return value


def datetime_to_wire(value: datetime) -> str:
    """A moment as the contract writes it: UTC, whole seconds, a trailing Z."""
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value.replace(microsecond=0).isoformat() + "Z"


def money_to_wire(value: Decimal) -> str:
    """An amount as the contract writes it: a plain decimal string, never an exponent."""
    return format(value, "f")


class Record(BaseModel):
    """Base of every v1 record: immutable, tolerant of extra fields, written to JSON the contract's way."""

    class Config:
        frozen = True
        extra = Extra.ignore
        json_encoders = {datetime: datetime_to_wire, Decimal: money_to_wire}

    def to_wire(self, **options: Any) -> dict[str, Any]:
        """The record as a JSON-ready dict (money and times as strings); `options` go to pydantic's `json()`."""
        return json.loads(self.json(**options))
