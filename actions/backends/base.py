"""What every typed client shares: its HTTP core, construction from the environment, safe parsing."""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar
from urllib.parse import quote

from pydantic import ValidationError

from actions.backends.errors import Unavailable
from actions.backends.http import HttpCore
from actions.backends.settings import SystemSettings
from contract.v1 import Record

R = TypeVar("R", bound=Record)


class BackendClient:
    """Base of the CRM, orders, payments and helpdesk clients."""

    system: ClassVar[str]

    def __init__(self, core: HttpCore):
        if core.system != self.system:
            raise ValueError(f"{type(self).__name__} needs a {self.system} core, got {core.system}")
        self.core = core

    @classmethod
    def from_env(cls, environ=None):
        """A client configured from `<SYSTEM>_BASE_URL`, `<SYSTEM>_API_KEY` and `BACKEND_*`."""
        return cls(HttpCore(SystemSettings.from_env(cls.system, environ)))

    def _parse(self, record: type[R], data: Any) -> R:
        """Read a JSON answer as a contract record; an answer of the wrong shape counts as an unavailable system.

        The message names the record and the first field that is missing or mistyped, never its value.
        """
        try:
            return record.parse_obj(data)
        except ValidationError as exc:
            problem = _first_problem(record, exc)
        except (TypeError, ValueError, ArithmeticError) as exc:
            problem = exc.__class__.__name__
        raise Unavailable(self.system, f"unexpected answer: {problem}", code="bad_response")


def _first_problem(record: type[Record], exc: ValidationError) -> str:
    errors = exc.errors()
    first = errors[0]
    where = ".".join(str(part) for part in (record.__name__, *first["loc"]) if part != "__root__")
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {first['msg']}{more}"


def segment(value: Any) -> str:
    """One URL path segment, escaped so user input can never change the path."""
    text = str(value).strip()
    if not text:
        raise ValueError("an id must not be empty")
    return quote(text, safe="")


def optional(value: Any | None) -> str | None:
    return None if value is None else str(value)
