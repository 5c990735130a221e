"""What every typed client shares: its HTTP core, construction from the environment, safe parsing."""

from __future__ import annotations

from typing import Any, Callable, ClassVar, Optional, TypeVar
from urllib.parse import quote

from actions.backends.errors import Unavailable
from actions.backends.http import HttpCore
from actions.backends.settings import SystemSettings

T = TypeVar("T")


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

    def _parse(self, build: Callable[[Any], T], data: Any) -> T:
        """Turn a JSON answer into a record; an answer of the wrong shape counts as an unavailable system."""
        try:
            return build(data)
        except (KeyError, TypeError, ValueError, ArithmeticError, AttributeError) as exc:
            raise Unavailable(self.system, f"unexpected answer: {exc.__class__.__name__}", code="bad_response") from None


def segment(value: Any) -> str:
    """One URL path segment, escaped so user input can never change the path."""
    text = str(value).strip()
    if not text:
        raise ValueError("an id must not be empty")
    return quote(text, safe="")


def optional(value: Optional[Any]) -> Optional[str]:
    return None if value is None else str(value)
