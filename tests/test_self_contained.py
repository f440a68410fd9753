"""The project explains itself: nothing in its text files (README, docs, docstrings, comments, scripts) points to
a file outside the repository or to a document it does not hold, so a clone reads whole."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEXT_SUFFIXES = {".md", ".py", ".toml", ".ini", ".mako", ".cfg", ".txt", ".sh", ".yml", ".yaml", ".html", ""}
# The one reference allowed to leave the tree: .ci/run runs the team's layer checker where it is installed
# (`if [ -x ...]`), and a clean clone skips it.
ALLOWED = {(".ci/run", "../shared/tools/check-layers")}

_URL = re.compile(r"[a-z][a-z0-9+.-]*://\S+")
_UP = re.compile(r"(?<![\w./-])((?:\.\./)+[\w.-]+(?:/[\w.-]+)*)")
_DOC = re.compile(r"(?<![\w./-])((?:[\w.-]+/)*[\w-]+\.md)\b")
_SEEDS = re.compile(r"(?<![\w.-])seeds/")


def _files() -> list[Path]:
    try:
        listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                                capture_output=True, text=True, check=True).stdout.splitlines()
        paths = [ROOT / name for name in listed]
    except (OSError, subprocess.CalledProcessError):  # not a git checkout: walk it
        paths = [p for p in ROOT.rglob("*") if not {".git", ".venv", "__pycache__"} & set(p.parts)]
    return sorted(p for p in paths if p.is_file() and p.suffix in TEXT_SUFFIXES
                  and p != Path(__file__).resolve() and p.stat().st_size < 2_000_000)


def _inside(path: Path) -> bool:
    return path.resolve().is_relative_to(ROOT) and path.exists()


def outside_references() -> list[str]:
    files = _files()
    docs = {p.name for p in files if p.suffix == ".md"}
    found = []
    for path in files:
        rel = path.relative_to(ROOT).as_posix()
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            line = _URL.sub("", line)
            for ref in _UP.findall(line):
                if (rel, ref) not in ALLOWED and not (_inside(path.parent / ref) or _inside(ROOT / ref)):
                    found.append(f"{rel}:{number}: {ref} leaves the repository")
            for ref in _DOC.findall(line):
                if ref.startswith("../"):
                    continue  # judged above
                held = _inside(path.parent / ref) or _inside(ROOT / ref) if "/" in ref else ref in docs
                if not held:
                    found.append(f"{rel}:{number}: {ref} is not in the repository")
            if _SEEDS.search(line) and not (ROOT / "seeds").is_dir():
                found.append(f"{rel}:{number}: seeds/ is not in the repository")
    return found


def test_no_text_in_the_repository_points_outside_it() -> None:
    assert outside_references() == []


def test_the_check_finds_what_it_is_for() -> None:
    bad = ROOT / "docs" / "_probe_outside.md"
    bad.write_text("See `../shared/docs/domain.md` and architecture.md, and the seeds/ folder.\n", encoding="utf-8")
    try:
        said = [line for line in outside_references() if line.startswith("docs/_probe_outside.md")]
    finally:
        bad.unlink()
    assert said == ["docs/_probe_outside.md:1: ../shared/docs/domain.md leaves the repository",
                    "docs/_probe_outside.md:1: architecture.md is not in the repository",
                    "docs/_probe_outside.md:1: seeds/ is not in the repository"]
