"""`rasa data validate`, failing on any warning that tests/data_validation/allowed_warnings.txt does not
document (Rasa's own --fail-on-warnings cannot tell known warnings from new ones)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ALLOWED = Path("tests/data_validation/allowed_warnings.txt")


def allowed_patterns() -> list:
    lines = ALLOWED.read_text().splitlines()
    return [re.compile(line.strip()) for line in lines if line.strip() and not line.startswith("#")]


def warnings_of(output: str) -> list:
    found = []
    for match in re.finditer(r"UserWarning: (.*?)(?:\n  More info at|\n\x1b|\n\[0m|\Z)", output, re.S):
        text = " ".join(match.group(1).split())
        if text and text not in found:
            found.append(text)
    return found


def main() -> int:
    rasa = str(Path(sys.executable).with_name("rasa"))
    proc = subprocess.run([rasa, "data", "validate"], capture_output=True, text=True)
    output = proc.stdout + proc.stderr
    patterns = allowed_patterns()
    found = warnings_of(output)
    unexpected = [w for w in found if not any(p.fullmatch(w) for p in patterns)]
    for w in found:
        print(("documented: " if w not in unexpected else "UNEXPECTED: ") + w)
    if proc.returncode != 0:
        print(output[-4000:])
        print(f"rasa data validate failed (exit {proc.returncode})")
        return 1
    if unexpected:
        print(f"{len(unexpected)} warning(s) not documented in {ALLOWED}")
        return 1
    print(f"rasa data validate: passed, {len(found)} documented warning(s), none new")
    return 0


if __name__ == "__main__":
    sys.exit(main())
