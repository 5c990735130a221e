"""The browser the browser tests drive: Debian's Chromium, headless, through Playwright (one per test module)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))


@pytest.fixture(scope="module")
def browser():
    """A real headless Chromium; a clear failure, not a skip, when it or Playwright is missing."""
    if not CHROMIUM.exists() or not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: install it with `sudo apt-get install -y chromium` "
            "(or `sudo make system-deps`); the browser tests need a real Chromium",
            pytrace=False,
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail(
            "the playwright package is missing: run `make install` (it is pinned in requirements-dev.txt)",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield chromium
        chromium.close()
