"""docs/security.md names, for every check of the design checklist and every finding of
issue 16, the test that proves it: each named test file and test function must exist."""

from __future__ import annotations

import ast
import re

from service.settings import REPO_ROOT

DOC = REPO_ROOT / "docs" / "security.md"
#: `tests/x.py::name`, `::name` (same file as the reference before it) and `tests/x.py`
REFERENCE = re.compile(r"`(tests/[\w/]+\.py)?(?:::(\w+))?`")


def _named() -> list[tuple[str, str | None]]:
    out: list[tuple[str, str | None]] = []
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if not line.startswith("|"):
            continue
        current = None
        for path, name in REFERENCE.findall(line):
            if path:
                current = path
            if current is None:
                continue
            out.append((current, name or None))
    return out


def _functions(path: str) -> set[str]:
    tree = ast.parse((REPO_ROOT / path).read_text(encoding="utf-8"))
    return {n.name for n in ast.walk(tree)
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}


def test_every_test_named_in_the_security_checklist_exists():
    named = _named()
    assert len(named) > 60  # the checklist and the issue 16 table were read
    missing = []
    for path, name in named:
        if not (REPO_ROOT / path).exists():
            missing.append(path)
        elif name is not None and name not in _functions(path):
            missing.append(f"{path}::{name}")
    assert missing == []


def test_every_attack_test_is_named_in_the_checklist():
    """The reverse: a test of the attack suite that the checklist does not list is a check
    nobody can find."""
    named = {(p, n) for p, n in _named()}
    whole_files = {p for p, n in named if n is None}
    unlisted = []
    for path in sorted((REPO_ROOT / "tests").glob("test_attacks_*.py")):
        rel = f"tests/{path.name}"
        if rel in whole_files:
            continue
        for name in sorted(_functions(rel)):
            if name.startswith("test_") and (rel, name) not in named:
                unlisted.append(f"{rel}::{name}")
    assert unlisted == []
