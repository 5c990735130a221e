"""Mutations that act once: the same `Idempotency-Key` replays the stored answer instead of acting again."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from demoshop.db import Database
from demoshop.errors import ApiError
from demoshop.models import IdempotencyRecord

Outcome = tuple[int, dict]
MAX_KEY_LENGTH = 200


def run_mutation(
    db: Database,
    key: str | None,
    scope: str,
    payload: dict,
    action: Callable[[Session], Outcome],
) -> tuple[int, dict, bool]:
    """Run `action` in one transaction and remember its answer under `key`.

    Returns (status, body, replayed). Errors the action raises roll everything back and are not
    remembered, so a retry after a conflict is judged afresh. A key reused with a different request
    body is refused, since replaying the first answer would hide the mistake.
    """
    if key is not None and not (0 < len(key) <= MAX_KEY_LENGTH):
        raise ApiError(400, "invalid_idempotency_key", f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters.")
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()
    for attempt in (1, 2):
        try:
            with db.write() as session:
                if key is not None:
                    stored = _find(session, key, scope)
                    if stored is not None:
                        if stored.request_hash != digest:
                            raise ApiError(
                                422,
                                "idempotency_key_reused",
                                "This Idempotency-Key was already used with a different request.",
                            )
                        return stored.status_code, stored.response, True
                status, body = action(session)
                if key is not None:
                    session.add(
                        IdempotencyRecord(
                            key=key,
                            scope=scope,
                            request_hash=digest,
                            status_code=status,
                            response=body,
                            created_at=datetime.utcnow(),
                        )
                    )
                    session.flush()
            return status, body, False
        except IntegrityError:
            # A concurrent request with the same key committed first: replay its answer.
            if key is None or attempt == 2:
                raise
    raise AssertionError("unreachable")


def _find(session: Session, key: str, scope: str) -> IdempotencyRecord | None:
    query = select(IdempotencyRecord).where(IdempotencyRecord.key == key, IdempotencyRecord.scope == scope)
    return session.execute(query).scalar_one_or_none()
