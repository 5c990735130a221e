"""Where the conversations `python -m privacy` acts on are kept, and for how long they are kept."""

from __future__ import annotations

from pydantic import Field

from foundation.settings import ProcessSettings


class PrivacySettings(ProcessSettings):
    """The tracker store's and the SQL event broker's databases (those of `make run` by default), retention,
    and whether the customer's helpdesk tickets are exported and erased too."""

    tracker_db_url: str = Field("sqlite:///var/rasa-tracker.sqlite", env="PRIVACY_TRACKER_DB_URL")
    events_db_url: str = Field("sqlite:///var/rasa-events.sqlite", env="PRIVACY_EVENTS_DB_URL")  # "": no SQL broker
    retention_days: int = Field(365, ge=1, env="CHAT_RETENTION_DAYS")  # the privacy FAQ's 12 months
    # Whether gdpr-export and gdpr-delete also reach the customer's helpdesk tickets (privacy/tickets.py).
    tickets: bool = Field(True, env="PRIVACY_TICKETS")
