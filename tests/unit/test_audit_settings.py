"""The audit trail's settings: every variable is in .env.example with the code's default."""

from __future__ import annotations

import shutil

from audit.settings import AuditSettings
from foundation import REPO


def test_env_example_lists_the_audit_variables_with_their_defaults(tmp_path, monkeypatch):
    for name in AuditSettings.__fields__:
        monkeypatch.delenv(AuditSettings.variable(name), raising=False)
    shutil.copyfile(REPO / ".env.example", tmp_path / ".env")
    from_file = AuditSettings.from_env(env_file=tmp_path / ".env")
    assert from_file == AuditSettings.from_env({})
    assert from_file.database_url == "sqlite:///var/audit.sqlite"
    listed = (REPO / ".env.example").read_text()
    assert all(f"\n{AuditSettings.variable(name)}=" in listed for name in AuditSettings.__fields__)
