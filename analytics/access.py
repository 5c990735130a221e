"""Who may open the report page: the operator's token (`REPORT_TOKEN`), as a bearer token or an HTTP Basic password.

The page shows what shoppers asked and where they gave up; it is for operators only. It fails closed: with no
token configured nobody gets in (the server answers 503 and logs why), never an open page. A browser opens it
through HTTP Basic (any user name, the token as the password), scripts send `Authorization: Bearer <token>`.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hmac


class Access(enum.Enum):
    """The answer to one request's credentials."""

    NOT_CONFIGURED = "not_configured"  # no REPORT_TOKEN: the page is switched off
    REFUSED = "refused"  # no credentials, or the wrong ones
    ALLOWED = "allowed"


def presented_token(authorization: str | None) -> str | None:
    """The token an `Authorization` header carries: a bearer token, or the password of HTTP Basic."""
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer":
        return value or None
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        _, colon, password = decoded.partition(":")
        return password if colon and password else None
    return None


def check(authorization: str | None, token: str) -> Access:
    """Whether this `Authorization` header opens the page guarded by `token` (compared in constant time)."""
    if not token:
        return Access.NOT_CONFIGURED
    presented = presented_token(authorization)
    if presented is None or not hmac.compare_digest(presented.encode(), token.encode()):
        return Access.REFUSED
    return Access.ALLOWED
