"""`python -m dashboards [FOLDER]` (`make dashboards`): writes the five dashboards' JSON into FOLDER (by default
docker/grafana/dashboards/, which is committed) and removes any other dashboard file left there."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dashboards.catalogue import OUTPUT_FOLDER, rendered


def write(folder: Path) -> list[Path]:
    """Writes every dashboard into `folder` and deletes the `*.json` files no dashboard has any more."""
    folder.mkdir(parents=True, exist_ok=True)
    files = rendered()
    for stale in sorted(folder.glob("*.json")):
        if stale.name not in files:
            stale.unlink()
    written = []
    for name, text in files.items():
        path = folder / name
        path.write_text(text)
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboards", description=__doc__)
    parser.add_argument("folder", nargs="?", type=Path, default=OUTPUT_FOLDER, help="where to write the JSON")
    args = parser.parse_args(argv)
    for path in write(args.folder):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
