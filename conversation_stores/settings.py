"""How patient the project's stores are with their servers, from the environment (or `.env`) of a Rasa replica.

Rasa builds the stores from `endpoints.yml`; these variables are the defaults for what that file does not say
(`lock_lease` and `retry_seconds` there win).
"""

from __future__ import annotations

from pydantic import Field

from foundation.settings import ProcessSettings


class StoreSettings(ProcessSettings):
    """The tracker and lock stores' variables: the lock lease and how long a store retries a lost server.

    `LOCK_LEASE_SECONDS`: how long a conversation's lock outlives a replica that stopped renewing it (a live
    replica renews it while the turn runs). `STORE_RETRY_SECONDS`: how long a store call is retried while
    PostgreSQL or Redis cannot be reached (a restart) before the turn fails.
    """

    lock_lease_seconds: float = Field(5.0, gt=0, env="LOCK_LEASE_SECONDS")
    store_retry_seconds: float = Field(10.0, ge=0, env="STORE_RETRY_SECONDS")
