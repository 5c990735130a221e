"""The base of every process's settings: one pydantic `BaseSettings` class per process, read once at its start.

Each process defines its class next to itself (demoshop/config.py, actions/__main__.py, actions/backends/settings.py,
actions/customer_token.py, channels/common.py, webchat/server.py, launcher/services.py, bench/serve.py); every
field names its variable, as `.env.example` lists them, with the variable's default. Values come from, in order
of precedence: the environment, then a `.env` file in the working directory (a copy of `.env.example`), then the
default. A blank value counts as unset, as it does in `.env.example` (`CRM_BASE_URL=`).

A value that cannot be used stops the process at its start with a `SettingsError` naming the variable, what it
must be and what it was (secrets are not repeated).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any, TypeVar, Union

from dotenv import dotenv_values
from pydantic import BaseSettings, Extra, ValidationError, validator
from pydantic.fields import ModelField

ENV_FILE = ".env"
# Words in a variable's name that make its value a secret, never repeated in an error message.
SECRET_MARKERS = ("KEY", "SECRET", "TOKEN", "PASSWORD", "DATABASE_URL")

Settings = TypeVar("Settings", bound="ProcessSettings")
PathLike = Union[str, "os.PathLike[str]"]


def is_secret(variable: str) -> bool:
    """True for a variable whose value must not appear in logs or error messages (keys, tokens, passwords)."""
    return any(marker in variable.upper() for marker in SECRET_MARKERS)


class SettingsError(ValueError):
    """A setting's value cannot be used; the message names the variable, so the operator knows what to fix."""


class Port(int):
    """A TCP port to listen on or connect to: a whole number from 1 to 65535."""

    minimum = 1
    meaning = "a TCP port, a whole number from 1 to 65535"

    @classmethod
    def __get_validators__(cls):
        yield cls.validate

    @classmethod
    def validate(cls, value: Any) -> int:
        """The port as an int; ValueError (pydantic names the field) when it is not one."""
        text = str(value).strip()
        if isinstance(value, bool) or not text.isdigit() or not cls.minimum <= int(text) <= 65535:
            raise ValueError(f"must be {cls.meaning}")
        return int(text)


class PortOrZero(Port):
    """A TCP port, or 0: an ephemeral port for a listener, or the feature turned off (ACTIONS_METRICS_PORT)."""

    minimum = 0
    meaning = "0 or a TCP port, a whole number from 0 to 65535"


class LogLevel(str):
    """A Python logging level name (DEBUG, INFO, WARNING, ERROR, CRITICAL, or an alias such as WARN), any case."""

    NAMES = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

    @classmethod
    def __get_validators__(cls):
        yield cls.validate

    @classmethod
    def validate(cls, value: Any) -> str:
        """The level's canonical name in capitals; ValueError for any other word."""
        number = value if isinstance(value, int) else logging.getLevelName(str(value).strip().upper())
        name = logging.getLevelName(number) if isinstance(number, int) else None
        if name not in cls.NAMES:
            raise ValueError(f"must be one of {', '.join(cls.NAMES)}")
        return name


_CURRENT: dict[type, tuple[tuple[str | None, ...], ProcessSettings]] = {}


class ProcessSettings(BaseSettings):
    """What one process reads from its environment, validated once at its start.

    Subclasses declare each variable as `name: type = Field(default, env="VARIABLE")`; a field without `env`
    is refused when the class is defined, so no field is read from a variable nobody meant (`HOST`, `PORT`).
    Instances are immutable: a process reads its settings once and passes them on.
    """

    class Config:
        env_file = ENV_FILE
        env_file_encoding = "utf-8"
        extra = Extra.ignore
        allow_mutation = False
        anystr_strip_whitespace = True

        @classmethod
        def prepare_field(cls, field: ModelField) -> None:
            variable = field.field_info.extra.get("env")
            if not isinstance(variable, str):
                raise TypeError(f"setting {field.name!r} must name its environment variable: Field(..., env='NAME')")
            if is_secret(variable):
                field.field_info.repr = False  # a logged or printed settings object does not show it
            super().prepare_field(field)  # type: ignore[misc]

    @validator("*", pre=True)
    def _blank_is_unset(cls, value: Any, field: ModelField) -> Any:
        if isinstance(value, str) and not value.strip():
            return field.get_default()
        return value

    @classmethod
    def from_env(
        cls: type[Settings], environ: Mapping[str, str] | None = None, *, env_file: PathLike | None = ENV_FILE
    ) -> Settings:
        """Read the settings now: the environment over `env_file` over the defaults; SettingsError if one is bad.

        With `environ`, that mapping is the whole environment and no file is read (for tests, and for
        callers that hold the environment of another process).
        """
        try:
            if environ is None:
                return cls(_env_file=env_file)
            return cls(_env_file=None, **cls._values_in(environ))
        except ValidationError as error:
            raise SettingsError(cls._explain(error, environ, env_file)) from None

    @classmethod
    def current(cls: type[Settings]) -> Settings:
        """This process's settings of this class, read on first use and kept for the life of the process.

        For code a framework calls without a way to hand it settings (rasa-sdk's actions, Rasa's channels). The
        process's entry point calls it first, so that a bad value stops the start instead of the first request.
        They are read again only if the process itself changes one of their variables (a test's monkeypatch).
        """
        fingerprint = tuple(os.environ.get(cls.variable(name)) for name in cls.__fields__)
        kept = _CURRENT.get(cls)
        if kept is None or kept[0] != fingerprint:
            kept = _CURRENT[cls] = (fingerprint, cls.from_env())
        return kept[1]  # type: ignore[return-value]

    @classmethod
    def variable(cls, field_name: str) -> str:
        """The environment variable a field is read from."""
        return cls.__fields__[field_name].field_info.extra["env"]

    @classmethod
    def _values_in(cls, environ: Mapping[str, str]) -> dict[str, Any]:
        """Every field's value from `environ` (names in any case, as in the environment) or its default."""
        lowered = {name.lower(): value for name, value in environ.items()}
        values = {}
        for field in cls.__fields__.values():
            name = field.field_info.extra["env"].lower()
            values[field.alias] = lowered[name] if name in lowered else field.get_default()
        return values

    @classmethod
    def _explain(cls, error: ValidationError, environ: Mapping[str, str] | None, env_file: PathLike | None) -> str:
        read: Mapping[str, str | None]
        if environ is None:
            file_values = dotenv_values(env_file) if env_file and os.path.isfile(env_file) else {}
            read = {**file_values, **os.environ}
        else:
            read = environ
        given = {name.lower(): value for name, value in read.items()}
        problems = []
        for item in error.errors():
            field = cls.__fields__.get(str(item["loc"][0]))
            variable = field.field_info.extra["env"] if field else str(item["loc"][0])
            value = given.get(variable.lower())
            if value is None:
                problems.append(f"{variable}: {item['msg']}")
            elif is_secret(variable):
                problems.append(f"{variable} (value not shown): {item['msg']}")
            else:
                problems.append(f"{variable}={value!r}: {item['msg']}")
        return "invalid setting: " + "; ".join(problems) + " (see .env.example)"
