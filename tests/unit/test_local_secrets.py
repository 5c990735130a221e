"""The secrets `make run` sets up by itself (foundation/local_secrets.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from foundation.local_secrets import local_secret
from tests.support.processes import REPO


def test_the_environment_wins_over_the_generated_file(tmp_path, monkeypatch):
    monkeypatch.setenv("LOCAL_SECRET_TEST", "from-the-environment")
    assert local_secret("LOCAL_SECRET_TEST", tmp_path) == "from-the-environment"
    assert not (tmp_path / "LOCAL_SECRET_TEST").exists()


def test_a_generated_secret_is_private_long_and_kept(tmp_path, monkeypatch):
    monkeypatch.delenv("LOCAL_SECRET_TEST", raising=False)
    first = local_secret("LOCAL_SECRET_TEST", tmp_path)
    assert len(first) >= 43 and local_secret("LOCAL_SECRET_TEST", tmp_path) == first
    assert (tmp_path / "LOCAL_SECRET_TEST").stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["LOCAL_SECRET_TEST"]  # no draft left behind


def test_processes_starting_at_once_agree_on_one_secret(tmp_path):
    script = (
        "from pathlib import Path; from foundation.local_secrets import local_secret; "
        f"print(local_secret('LOCAL_SECRET_TEST', Path({str(tmp_path)!r})))"
    )
    env = {"PATH": "/usr/bin:/bin"}
    runs = [
        subprocess.Popen([sys.executable, "-c", script], cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(6)
    ]
    values = {run.communicate(timeout=60)[0].strip() for run in runs}
    assert len(values) == 1 and "" not in values


def test_only_variable_names_are_taken(tmp_path):
    with pytest.raises(ValueError):
        local_secret("../etc/passwd", tmp_path)
