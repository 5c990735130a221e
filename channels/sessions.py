"""Who may speak in a REST conversation: sender ids nobody can guess, or a session token the deployment signed.

The REST webhook takes its conversation key from the request, so a sender id someone else can guess (a phone
number, "alice", a counter, a UUID4 with its 122 random bits) would let a stranger read and continue that
conversation. The webhook therefore accepts a sender id only when

- it carries at least 128 random bits by its form (`random_enough`): 22 or more URL-safe base64 characters
  (`secrets.token_urlsafe(16)` or longer; the web widget sends 32 random bytes), or 40 or more hex digits; and
  never the form of a UUID; or
- the message carries a **session token** for exactly that sender id, signed by the deployment
  (`REST_SESSION_SECRET`): a JWT, HS256, with claims `sub` (the sender id), `aud` ("larkspur-rest"), `iat` and
  `exp` (at most `REST_SESSION_MAX_AGE` seconds after `iat`), sent as `metadata.session_token`. A shop whose
  logged-in pages use their own ids ("customer-1001") issues these; `issue()` (and the web chat server's
  `/session`) makes one.
"""

from __future__ import annotations

import re
import string
import time
from collections.abc import Mapping

import jwt
from pydantic import Field, SecretStr

from foundation.settings import ProcessSettings

AUDIENCE = "larkspur-rest"
ALGORITHM = "HS256"
METADATA_KEY = "session_token"
URL_SAFE = re.compile(r"^[A-Za-z0-9_-]{22,128}$")
HEX_AND_DASHES = frozenset(string.hexdigits + "-")
UUID_FORM = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")
MIN_RANDOM_BITS = 128
MIN_DISTINCT_CHARACTERS = 8


class SessionSettings(ProcessSettings):
    """The secret that signs REST session tokens (unset: only unguessable sender ids are accepted)."""

    secret: SecretStr | None = Field(None, env="REST_SESSION_SECRET")
    max_age: int = Field(86400, ge=60, env="REST_SESSION_MAX_AGE")


def random_enough(sender: str) -> bool:
    """Whether the sender id's form holds at least 128 random bits (it cannot tell how it was made, only
    refuse the forms that are guessable: short, one repeated character, a UUID, a phone number, a name)."""
    if not URL_SAFE.match(sender) or UUID_FORM.match(sender) or len(set(sender)) < MIN_DISTINCT_CHARACTERS:
        return False
    if set(sender) <= HEX_AND_DASHES:  # hex ids must be 40+ digits, so a UUID's 32 never pass
        return 4 * sum(1 for c in sender if c != "-") - 32 >= MIN_RANDOM_BITS
    return 6 * len(sender) - 4 >= MIN_RANDOM_BITS  # 22 base64 characters of 16 bytes: the last carries 2 bits


def issue(sender: str, *, secret: str, max_age: int = 86400, now: float | None = None) -> str:
    """A session token for `sender`, valid for `max_age` seconds."""
    issued = int(time.time() if now is None else now)
    claims = {"sub": sender, "aud": AUDIENCE, "iat": issued, "exp": issued + max_age}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def token_vouches_for(token: object, sender: str, settings: SessionSettings) -> bool:
    """Whether `token` is a valid, unexpired session token of this deployment for exactly this sender id."""
    if not isinstance(token, str) or settings.secret is None or len(token) > 4096:
        return False
    try:
        claims = jwt.decode(
            token,
            settings.secret.get_secret_value(),
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            options={"require": ["sub", "exp", "iat"]},
        )
    except jwt.PyJWTError:
        return False
    lifetime = claims["exp"] - claims["iat"] if all(isinstance(claims[k], int) for k in ("exp", "iat")) else None
    return claims["sub"] == sender and lifetime is not None and 0 < lifetime <= settings.max_age


def admissible(sender: str, metadata: Mapping[str, object], settings: SessionSettings) -> bool:
    """Whether a REST message from `sender` may enter that conversation."""
    return random_enough(sender) or token_vouches_for(metadata.get(METADATA_KEY), sender, settings)
