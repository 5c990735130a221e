"""analytics/settings.py: every variable is in .env.example with the code's default, and a bad value is refused."""

from __future__ import annotations

import pytest
from dotenv import dotenv_values

from analytics.settings import AnalyticsSettings
from foundation import REPO
from foundation.settings import SettingsError


def test_every_analytics_variable_is_in_env_example_with_its_default():
    listed = dotenv_values(REPO / ".env.example")
    defaults = AnalyticsSettings.from_env({})
    for name in AnalyticsSettings.__fields__:
        variable = AnalyticsSettings.variable(name)
        assert variable in listed, f"{variable} is missing from .env.example"
        from_file = AnalyticsSettings.from_env({variable: listed[variable] or ""})
        assert getattr(from_file, name) == getattr(defaults, name), variable


def test_the_store_url_is_a_secret_never_repeated_and_a_bad_poll_interval_is_refused():
    with pytest.raises(SettingsError, match="ANALYTICS_POLL_SECONDS"):
        AnalyticsSettings.from_env({"ANALYTICS_POLL_SECONDS": "0"})
    settings = AnalyticsSettings.from_env({"ANALYTICS_DATABASE_URL": "postgresql://u:hunter2@db/analytics"})
    assert "hunter2" not in repr(settings)
