"""`make test-conversations`: every story in tests/conversations through the Rasa we serve, then one verdict.

The stories run as `python -m rasa_runtime test core ...`: `rasa test core` with the runtime `make run` serves
(its patches, and no TensorFlow for a model that uses none; rasa_runtime/), so what passes here is what is
served. Rasa's own --fail-on-prediction-errors stops at the first wrong prediction; this runs them all, so a
failing run lists every failed story (results/conversations/failed_test_stories.yml), then fails.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = Path("results/conversations")
STORIES = Path("tests/conversations")
MODEL = Path("models/larkspur.tar.gz")


def command() -> list[str]:
    """The `rasa test core` command line, through the served runtime (run from the repository's root)."""
    return [
        sys.executable,
        "-m",
        "rasa_runtime",
        "test",
        "core",
        "--stories",
        str(STORIES),
        "--model",
        str(MODEL),
        "--out",
        str(OUT),
    ]


def main() -> int:
    proc = subprocess.run(command(), capture_output=True, text=True, cwd=REPO)
    output = proc.stdout + proc.stderr
    counts = re.findall(r"Correct:\s+(\d+) / (\d+)", output)
    if proc.returncode != 0 or len(counts) < 2:
        print(output[-4000:])
        print("rasa test failed to run")
        return 1
    (stories_ok, stories), (actions_ok, actions) = counts[0], counts[1]
    failed = REPO / OUT / "failed_test_stories.yml"
    names = re.findall(r"^- story: (.*)$", failed.read_text(), re.M) if failed.exists() else []
    print(
        f"conversation tests: {stories_ok} of {stories} stories and {actions_ok} of {actions} actions predicted right"
    )
    for name in names:
        print(f"  FAILED: {name}")
    if names or stories_ok != stories:
        print(f"see {OUT / 'failed_test_stories.yml'}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
