"""Signed customer tokens: how a channel that already knows the shopper (a logged-in web shop, an app)
vouches for them, so the assistant does not ask them to verify again.

Format: a JWT signed with HS256 by the shared secret `CUSTOMER_TOKEN_SECRET`, with claims
`sub` (the CRM customer id, e.g. "C1001"), `exp` (expiry, at most `CUSTOMER_TOKEN_MAX_AGE` seconds after
`iat`) and `iat`. The channel sends it in the REST message metadata: `{"metadata": {"customer_token": "<jwt>"}}`.
Without the secret set, tokens are ignored and shoppers verify in chat.

`python -m actions.customer_token C1001` prints a token for local testing (uses the secret from the env).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from typing import Any

import jwt
from pydantic import Field

from foundation.settings import ProcessSettings, SettingsError

METADATA_KEY = "customer_token"
ALGORITHM = "HS256"
DEFAULT_MAX_AGE = 3600


class CustomerTokenSettings(ProcessSettings):
    """The secret that signs customer tokens (unset: tokens are ignored) and the longest lifetime one may have."""

    secret: str | None = Field(None, env="CUSTOMER_TOKEN_SECRET")
    max_age: int = Field(DEFAULT_MAX_AGE, ge=1, env="CUSTOMER_TOKEN_MAX_AGE")


def _settings(environ: Mapping[str, str] | None = None) -> CustomerTokenSettings:
    """The action server's token settings (read once), or those of `environ` when given."""
    return CustomerTokenSettings.current() if environ is None else CustomerTokenSettings.from_env(environ)


def issue(customer_id: str, *, secret: str, ttl_seconds: int = DEFAULT_MAX_AGE, now: float | None = None) -> str:
    """Sign a token for a customer (what a shop's login would do)."""
    issued = int(now if now is not None else time.time())
    return jwt.encode({"sub": customer_id, "iat": issued, "exp": issued + ttl_seconds}, secret, algorithm=ALGORITHM)


def verify(token: Any, environ: Mapping[str, str] | None = None) -> str | None:
    """The customer id a valid token vouches for, or None for a missing, forged, expired or too-long-lived one."""
    settings = _settings(environ)
    secret, max_age = settings.secret, settings.max_age
    if not secret or not isinstance(token, str) or not token:
        return None
    try:
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], options={"require": ["sub", "exp", "iat"]}, leeway=30
        )
    except jwt.PyJWTError:
        return None
    if int(claims["exp"]) - int(claims["iat"]) > max_age or not isinstance(claims["sub"], str):
        return None
    return claims["sub"]


def main(argv: list) -> int:
    """Print a token for a customer id, signed with the configured secret (local testing)."""
    if len(argv) != 2:
        print("usage: python -m actions.customer_token CUSTOMER_ID", file=sys.stderr)
        return 2
    try:
        secret = _settings().secret
    except SettingsError as problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    if not secret:
        print("error: set CUSTOMER_TOKEN_SECRET first (see .env.example)", file=sys.stderr)
        return 2
    print(issue(argv[1], secret=secret))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
