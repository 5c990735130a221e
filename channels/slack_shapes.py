"""The shapes of the Slack bodies Rasa's SlackInput reads, checked before it reads them.

SlackInput assumes every field it touches has Slack's type (`authorizations[0].get`, `event.get`, `payload["user"]
["id"]`); a signed body of any other shape made it answer 500, and Slack retries a 500. These records name only the
fields it reads, each with the type it needs; anything else in a body passes untouched.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, StrictStr, ValidationError


class _Open(BaseModel):
    """A record that lets other fields pass and, unlike pydantic's default, takes only a JSON object."""

    class Config:
        extra = "allow"

    @classmethod
    def validate(cls, value: Any) -> Any:
        if not isinstance(value, (dict, cls)):  # pydantic would turn a list of pairs into a record
            raise TypeError("must be a JSON object")
        if isinstance(value, dict):  # SlackInput reads a field that is there as its type: null is not
            nulls = [name for name in cls.__fields__ if name in value and value[name] is None]
            if nulls:
                raise TypeError(f"`{nulls[0]}` must not be null")
        return super().validate(value)


class SlackMessageEvent(_Open):
    """`event` of an Events API body."""

    text: StrictStr | None = None
    user: StrictStr | None = None
    channel: StrictStr | None = None
    ts: StrictStr | None = None
    thread_ts: StrictStr | None = None
    subtype: StrictStr | None = None
    bot_id: StrictStr | None = None
    type: StrictStr | None = None


class SlackAuthorization(_Open):
    user_id: StrictStr | None = None
    is_bot: bool | None = None


class SlackEventsBody(_Open):
    """An Events API body (`application/json`)."""

    event: SlackMessageEvent | None = None
    event_id: StrictStr | None = None
    challenge: StrictStr | None = None
    authed_users: list[StrictStr] | None = None
    authorizations: list[SlackAuthorization] | None = None


class SlackId(_Open):
    id: StrictStr | None = None


class SlackMessage(_Open):
    ts: StrictStr | None = None
    thread_ts: StrictStr | None = None


class SlackInteractivePayload(_Open):
    """The `payload` of an interactive request (`application/x-www-form-urlencoded`)."""

    user: SlackId | None = None
    channel: SlackId | None = None
    message: SlackMessage | None = None
    actions: list[dict[str, Any]] | None = None


def shape_problem(model: type[BaseModel], body: Any) -> str | None:
    """What is wrong with `body` for `model` (the first field), or None when SlackInput can read it."""
    if not isinstance(body, dict):
        return "must be a JSON object"
    try:
        model.validate(body)
    except TypeError as problem:  # the top level's own check (nested ones arrive as ValidationError)
        return str(problem)
    except ValidationError as problem:
        first = problem.errors()[0]
        return f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
    return None
