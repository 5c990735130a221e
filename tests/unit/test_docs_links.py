"""Guards the documentation: every relative link in README.md, CHANGELOG.md and docs/ names a file of the
repository (and, with #, a heading of it), and nothing the repository tracks cites a path outside it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PAGES = [REPO / "README.md", REPO / "CHANGELOG.md", *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
OUTSIDE = re.compile(r"\.\./shared|DESIGN\.md")


def anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set:
    return {anchor(line.lstrip("#")) for line in page.read_text().splitlines() if line.startswith("#")}


def links() -> list[tuple[Path, str]]:
    found = []
    for page in PAGES:
        for target in LINK.findall(page.read_text()):
            if not re.match(r"^(https?:|mailto:)", target):
                found.append((page, target))
    return found


def test_the_documentation_pages_exist():
    assert all(page.exists() for page in PAGES) and len(PAGES) >= 8


@pytest.mark.parametrize("page, target", links(), ids=lambda value: str(value)[-60:])
def test_a_relative_link_names_a_file_and_heading_of_the_repository(page, target):
    path, _, fragment = target.partition("#")
    resolved = (page.parent / path).resolve() if path else page
    assert resolved.exists(), f"{page.name}: {target} does not exist"
    assert REPO in resolved.parents or resolved == REPO, f"{page.name}: {target} is outside the repository"
    if fragment and resolved.suffix == ".md":
        assert fragment in anchors(resolved), f"{page.name}: no heading #{fragment} in {path or page.name}"


def test_no_tracked_file_cites_a_path_outside_the_repository():
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    citing = []
    for name in tracked.splitlines():
        path = REPO / name
        if name.endswith((".lock", ".csv", ".json", ".onnx")) or not path.is_file() or path.stat().st_size > 2**20:
            continue
        if name == "tests/unit/test_docs_links.py":
            continue
        try:
            if OUTSIDE.search(path.read_text()):
                citing.append(name)
        except UnicodeDecodeError:
            continue
    assert citing == []


def test_the_anchor_rule_can_fail():
    assert anchor("## Measuring understanding".lstrip("#")) == "measuring-understanding"
    assert anchor("The fallback that clarifies") != "the-fallback"
