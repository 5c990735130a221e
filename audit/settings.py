"""Where the audit trail lives: read by the action server (which writes it) and by `python -m audit`."""

from __future__ import annotations

from pydantic import Field

from foundation.settings import ProcessSettings


class AuditSettings(ProcessSettings):
    """The audit store's database and the local spool of records it could not take yet."""

    database_url: str = Field("sqlite:///var/audit.sqlite", env="AUDIT_DATABASE_URL")
    spool_path: str = Field("var/audit-spool.jsonl", env="AUDIT_SPOOL_PATH")
