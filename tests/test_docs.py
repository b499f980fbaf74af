"""Every documentation pointer in the project resolves inside the repository.

Docstrings, comments, tests, notebooks and docs once pointed to notes that only the project's
authors had (a methods file and a stack-notes file beside the repository). Their content now
lives in `docs/methods.md` and `docs/stack-notes.md`; these tests keep it that way:

- no file under the scanned folders (and the README) names the old files or their folder;
- every `docs/<name>.md` mentioned there exists;
- every "docs/<name>.md, section N" (or "sections N and M") names a numbered heading of that
  page, so renumbering a page without updating its pointers fails here.

Reads about a megabyte of text: well under a second.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCANNED_FOLDERS = ("explore", "tests", "notebooks", "apps", "benchmarks", "docs")
SCANNED_FILES = ("README.md",)
SKIPPED_FOLDERS = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache", ".ruff_cache"}
THIS_FILE = Path(__file__).resolve()

# Spelled in pieces so that this file does not hold the strings it looks for.
FORBIDDEN = ("METHODS" + ".md", "STACK" + "_NOTES", "shared" + "/docs")

DOC_PATH = re.compile(r"(?<![\w.-])docs/((?:[\w.-]+/)*[\w.-]+)\.md")
# "docs/methods.md, section 3", "(docs/methods.md, sections 3 and 6.4)",
# "``docs/stack-notes.md``, sections 4 and 5", "docs/methods.md (section 3)".
SECTION_REFERENCE = re.compile(
    r"(?<![\w.-])docs/(?P<page>(?:[\w.-]+/)*[\w.-]+)\.md[`,\s(]*sections?\s+"
    r"(?P<numbers>\d+(?:\.\d+)*(?:(?:\s*,\s*|\s+and\s+|\s*-\s*)\d+(?:\.\d+)*)*)"
)
NUMBER = re.compile(r"\d+(?:\.\d+)*")
NUMBERED_HEADING = re.compile(r"^#{1,6}\s+(\d+(?:\.\d+)*)\.?\s", re.MULTILINE)


def _scanned_paths() -> list[Path]:
    paths = [REPO / name for name in SCANNED_FILES if (REPO / name).is_file()]
    for folder in SCANNED_FOLDERS:
        root = REPO / folder
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*")):
            relative = path.relative_to(REPO).parts
            if any(part in SKIPPED_FOLDERS or part.startswith(".") for part in relative):
                continue
            if path.is_file():
                paths.append(path)
    return paths


def _text(path: Path) -> str | None:
    """The file's text, or None for a binary file."""
    data = path.read_bytes()
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _prose(path: Path, text: str) -> str:
    """What a reader sees: a notebook's cell sources joined (a pointer may span two lines of a
    cell, which the JSON splits into two strings), any other file as it is."""
    if path.suffix != ".ipynb":
        return text
    cells = json.loads(text).get("cells", [])
    return "\n".join("".join(cell.get("source", [])) for cell in cells)


@pytest.fixture(scope="module")
def texts() -> dict[Path, str]:
    found = {}
    for path in _scanned_paths():
        text = _text(path)
        if text is not None:
            found[path] = text
    return found


def _where(path: Path, text: str, index: int) -> str:
    return f"{path.relative_to(REPO)}:{text.count(chr(10), 0, index) + 1}"


def test_the_scan_sees_the_project(texts: dict[Path, str]) -> None:
    names = {path.relative_to(REPO).as_posix() for path in texts}
    for expected in ("README.md", "docs/methods.md", "docs/stack-notes.md", "explore/losses.py"):
        assert expected in names
    assert any(name.endswith(".ipynb") for name in names)


def test_no_pointer_leaves_the_repository(texts: dict[Path, str]) -> None:
    offenders = []
    for path, text in texts.items():
        if path.resolve() == THIS_FILE:
            continue
        for needle in FORBIDDEN:
            start = text.find(needle)
            while start != -1:
                offenders.append(f"{_where(path, text, start)}: {needle}")
                start = text.find(needle, start + 1)
    assert not offenders, (
        "pointers to notes outside the repository (use docs/methods.md, section N, or "
        "docs/stack-notes.md):\n" + "\n".join(offenders)
    )


def test_every_docs_page_mentioned_exists(texts: dict[Path, str]) -> None:
    missing = []
    for path, text in texts.items():
        for match in DOC_PATH.finditer(text):
            page = REPO / "docs" / f"{match.group(1)}.md"
            if not page.is_file():
                missing.append(f"{_where(path, text, match.start())}: {match.group(0)}")
    assert not missing, "docs pages mentioned but missing:\n" + "\n".join(missing)


def test_every_section_pointer_names_a_numbered_heading(texts: dict[Path, str]) -> None:
    headings: dict[str, set[str]] = {}
    bad = []
    checked = 0
    for path, text in texts.items():
        prose = _prose(path, text)
        for match in SECTION_REFERENCE.finditer(prose):
            page = REPO / "docs" / f"{match.group('page')}.md"
            if not page.is_file():
                continue  # reported by test_every_docs_page_mentioned_exists
            key = page.as_posix()
            if key not in headings:
                headings[key] = set(NUMBERED_HEADING.findall(page.read_text(encoding="utf-8")))
            for number in NUMBER.findall(match.group("numbers")):
                checked += 1
                if number not in headings[key]:
                    where = f"{path.relative_to(REPO)}"
                    bad.append(f"{where}: {match.group(0)!r} (no heading {number} in {key})")
    assert checked > 0, "no section pointer found: the pattern no longer matches the pointers"
    assert not bad, "section pointers without a matching heading:\n" + "\n".join(bad)
