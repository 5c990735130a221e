"""The reference logs carry instead of a conversation's id: a keyed hash (HMAC-SHA256) of the id.

A sender id can be a phone number (`whatsapp:+31...`) or an email, and a plain hash of a phone number is undone
by hashing every number; a keyed one is not, without the key. The key is `CONVERSATION_REF_SECRET`, read by
every process that logs conversations (the action server and the Rasa server), so that one conversation has
one reference in all their logs. Unset, a per-install key is made once and kept in
`var/conversation-ref.secret` (mode 0600), so `make run` needs nothing set and its processes agree.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import os
import secrets
import stat
from pathlib import Path

from pydantic import Field

from foundation import REPO
from foundation.settings import ProcessSettings

SECRET_FILE = REPO / "var" / "conversation-ref.secret"
REF_LENGTH = 16


class ConversationRefSettings(ProcessSettings):
    """The key of the conversation references; blank means the per-install key in `var/`."""

    secret: str = Field("", env="CONVERSATION_REF_SECRET")


@functools.lru_cache(maxsize=4)
def per_install_secret(path: Path = SECRET_FILE) -> str:
    """The key kept in `path`, made on first use (random, readable by its owner only).

    Processes starting at once agree: the key is written to a private file first and linked into place, so a
    reader never sees half a key and only the first writer's key is kept.
    """
    with contextlib.suppress(FileNotFoundError):
        return _read_private(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}")
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(secrets.token_hex(32))
    try:
        os.link(draft, path)
    except FileExistsError:
        pass  # another process made it first: its key is the one
    finally:
        draft.unlink()
    return _read_private(path)


def _read_private(path: Path) -> str:
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        os.chmod(path, 0o600)
    key = path.read_text().strip()
    if not key:
        raise RuntimeError(f"{path} is empty: delete it to make a new key, or set CONVERSATION_REF_SECRET")
    return key


def conversation_secret() -> str:
    """This process's key: `CONVERSATION_REF_SECRET`, or the per-install one."""
    return ConversationRefSettings.current().secret or per_install_secret()


def conversation_ref(sender_id: str, secret: str | None = None) -> str:
    """A stable reference for a conversation that does not reveal its id (a phone number, an email)."""
    key = (secret if secret is not None else conversation_secret()).encode()
    return hmac.new(key, sender_id.encode(), hashlib.sha256).hexdigest()[:REF_LENGTH]
