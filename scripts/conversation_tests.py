"""`make test-conversations`: every story in tests/conversations through `rasa test`, then one verdict.

Rasa's own --fail-on-prediction-errors stops at the first wrong prediction; this runs them all, so a
failing run lists every failed story (results/conversations/failed_test_stories.yml), then fails.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

OUT = Path("results/conversations")


def main() -> int:
    rasa = str(Path(sys.executable).with_name("rasa"))
    proc = subprocess.run([rasa, "test", "core", "--stories", "tests/conversations", "--model",
                           "models/larkspur.tar.gz", "--out", str(OUT)], capture_output=True, text=True)
    output = proc.stdout + proc.stderr
    counts = re.findall(r"Correct:\s+(\d+) / (\d+)", output)
    if proc.returncode != 0 or len(counts) < 2:
        print(output[-4000:])
        print("rasa test failed to run")
        return 1
    (stories_ok, stories), (actions_ok, actions) = counts[0], counts[1]
    failed = OUT / "failed_test_stories.yml"
    names = re.findall(r"^- story: (.*)$", failed.read_text(), re.M) if failed.exists() else []
    print(f"conversation tests: {stories_ok} of {stories} stories and {actions_ok} of {actions} actions predicted right")
    for name in names:
        print(f"  FAILED: {name}")
    if names or stories_ok != stories:
        print(f"see {failed}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
